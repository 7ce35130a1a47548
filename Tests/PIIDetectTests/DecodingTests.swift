import Testing
@testable import PIIDetect

// MARK: - Decoding layer and its offset map

@Suite struct DecodingTests {
    /// The raw text a finding of `type` covers.
    func rawSpan(_ text: String, _ type: EntityType) -> String? {
        let bytes = Array(text.utf8)
        guard let f = sharedDetector.scan(bytes).first(where: { $0.type == type }) else { return nil }
        return String(decoding: bytes[f.range], as: UTF8.self)
    }

    @Test func jsonUnicodeEscapesMapBackToTheEscapes() {
        let text = #"{"to":"\u006a\u0061\u006e\u0065\u0040\u0067\u006d\u0061\u0069\u006c\u002e\u0063\u006f\u006d","x":1}"#
        #expect(rawSpan(text, .EMAIL_ADDRESS) == #"\u006a\u0061\u006e\u0065\u0040\u0067\u006d\u0061\u0069\u006c\u002e\u0063\u006f\u006d"#)
    }

    @Test func jsonEscapedNewlinesInsidePEM() {
        let text = #"{"k":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIjoZb0nJvG9NVGpesmuw2uARXzWFM0Jyv\n-----END EC PRIVATE KEY-----"}"#
        #expect(rawSpan(text, .PRIVATE_KEY) == #"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIjoZb0nJvG9NVGpesmuw2uARXzWFM0Jyv\n-----END EC PRIVATE KEY-----"#)
    }

    @Test func percentAndPlusEncodingMapBack() {
        #expect(rawSpan("ssn=536%2022%201234&x=1", .US_SSN) == "536%2022%201234")
        #expect(rawSpan("ssn=536+22+1234&x=1", .US_SSN) == "536+22+1234")
        #expect(rawSpan("tel=%28212%29+736-1234&x=1", .PHONE_NUMBER) == "%28212%29+736-1234")
        // Percent-encoded UTF-8 (a zero-width joiner) inside a number.
        #expect(rawSpan("card=4111%E2%80%8D1111+1111+1111&x=1", .CREDIT_CARD) == "4111%E2%80%8D1111+1111+1111")
    }

    @Test func plusIsLiteralOutsideFormSegments() {
        // In a .env line the `+` of a base64 secret is data, not a space.
        let text = "aws_secret_access_key=w+vc64mH2BEQ10dETaU5pG9BSgo2nHkxh+jEKbgP"
        #expect(rawSpan(text, .AWS_SECRET_KEY) == "w+vc64mH2BEQ10dETaU5pG9BSgo2nHkxh+jEKbgP")
    }

    @Test func htmlEntitiesAndInvisiblesMapBack() {
        #expect(rawSpan("mail jane&#64;proton&#46;me!", .EMAIL_ADDRESS) == "jane&#64;proton&#46;me")
        #expect(rawSpan("ip 10.\u{200B}1.\u{200B}2.3 ok", .IP_ADDRESS) == "10.\u{200B}1.\u{200B}2.3")
        #expect(rawSpan("p\u{AD}a\u{AD}t@gmail.com", .EMAIL_ADDRESS) == "p\u{AD}a\u{AD}t@gmail.com")
    }

    @Test func obfuscatedAddressesKeepTheirSpelling() {
        #expect(rawSpan("send to jane [at] proton [dot] me please", .EMAIL_ADDRESS) == "jane [at] proton [dot] me")
        #expect(rawSpan("ioc 10[.]2[.]3[.]4 seen", .IP_ADDRESS) == "10[.]2[.]3[.]4")
    }

    @Test func decodedTextAndRawRanges() {
        let d = TextDecoder.decode(Array(#"a\u0040b %41 &amp; ４"#.utf8))
        #expect(String(decoding: d.bytes, as: UTF8.self) == "a@b A & 4")
        // "@" came from the six bytes of \u0040.
        #expect(d.rawRange(1..<2) == 1..<7)
        // "4" came from the fullwidth digit (three bytes).
        let four = d.bytes.firstIndex(of: UInt8(ascii: "4"))!
        #expect(d.rawRange(four..<(four + 1)).count == 3)
    }

    @Test func decimalDigitsOfEveryScriptFold() {
        for (s, v) in [("٣", 3), ("۷", 7), ("९", 9), ("๕", 5), ("𝟘", 0), ("７", 7)] {
            let cp = s.unicodeScalars.first!.value
            #expect(UnicodeFolding.foldForDetection(cp) == .ascii(0x30 + UInt8(v)), "\(s)")
        }
        #expect(UnicodeFolding.foldForDetection(0x200B) == .drop)
        #expect(UnicodeFolding.foldForDetection(0xE9) == .keep)
    }

    @Test func plainTextIsNotCopied() {
        #expect(TextDecoder.decodeIfNeeded(UnsafeBufferPointer(start: nil, count: 0)) == nil)
        let plain = Array("plain ascii text without anything special".utf8)
        #expect(plain.withUnsafeBufferPointer { TextDecoder.decodeIfNeeded($0) } == nil)
    }
}
