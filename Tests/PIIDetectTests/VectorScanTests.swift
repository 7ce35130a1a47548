import Testing
@testable import PIIDetect

/// The passes that look at 16 bytes at a time must see exactly what a byte-by-byte scan
/// sees, at every alignment and at the edges of short bodies.
@Suite struct VectorScanTests {
    /// Bodies mixing the bytes the passes act on, at every length up to 80.
    static func bodies() -> [[UInt8]] {
        let pieces: [[UInt8]] = ["a", "7", "42", " ", ":", "::", "fe", "+", "(", "@", ".", "-", "\\", "%", "&",
                                 "[", "{", "é", "\u{200B}", "ghp_", "sk-", "ecret", "AKIA", "eyJ", "xox", "_live_",
                                 "-----BEGIN ", "hooks.slack.com", "DE", " dot ", " DOT ", "\"", "\n"].map { Array($0.utf8) }
            + SecretPatterns.specs.flatMap(\.needles).map { Array(UnsafeBufferPointer(start: $0.utf8Start, count: $0.utf8CodeUnitCount)) }
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        var out: [[UInt8]] = []
        for length in 0...80 {
            for _ in 0..<12 {
                var body: [UInt8] = []
                while body.count < length {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17
                    body += pieces[Int(state % UInt64(pieces.count))]
                }
                out.append(Array(body.prefix(length)))
            }
        }
        // One piece at every offset of a neutral background: block edges, the last block.
        for length in 14...40 {
            for piece in ["::", "sk-", "ghp_", "12", "a@"].map({ Array($0.utf8) }) {
                for offset in 0...(length - piece.count) {
                    var body = [UInt8](repeating: UInt8(ascii: "z"), count: length)
                    body.replaceSubrange(offset..<(offset + piece.count), with: piece)
                    out.append(body)
                }
            }
        }
        return out
    }

    @Test func startsAndLiteralsMatchAByteByByteScan() throws {
        let detector = try Detector()
        var workspace = Detector.Starts()
        for body in Self.bodies() {
            body.withUnsafeBufferPointer { p in
                let literals = detector.findStarts(p, into: &workspace)
                var expected = Detector.Starts()
                var expectedLiterals: UInt32 = 0
                for i in 0..<p.count {
                    expected.consider(p.baseAddress!, p.count, i, Detector.startRoles)
                    for (k, needle) in detector.needleFinder.needles.enumerated()
                    where i + needle.count <= p.count && Array(p[i..<(i + needle.count)]) == needle {
                        expectedLiterals |= 1 << UInt32(k)
                    }
                }
                let text = String(decoding: body, as: UTF8.self)
                #expect(Array(workspace.numbers.elements) == Array(expected.numbers.elements), "numbers in \(text.debugDescription)")
                #expect(Array(workspace.iban.elements) == Array(expected.iban.elements), "iban in \(text.debugDescription)")
                #expect(Array(workspace.ipv6.elements) == Array(expected.ipv6.elements), "ipv6 in \(text.debugDescription)")
                #expect(Array(workspace.email.elements) == Array(expected.email.elements), "email in \(text.debugDescription)")
                #expect(literals == expectedLiterals, "literals in \(text.debugDescription)")
            }
        }
    }

    @Test func literalLanesCoverEverySecretPrefix() {
        for spec in SecretPatterns.specs {
            for needle in spec.needles {
                let bytes = Array(UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount))
                #expect(NeedleFinder.lanesCover(bytes), "\(needle) is not marked by NeedleFinder.lanes")
            }
        }
        #expect(!NeedleFinder.lanesCover(Array("zz".utf8)))
    }

    /// Sets of every size the search has a loop for (one to eight values, with and
    /// without non-ASCII bytes).
    @Test(arguments: ["%", "\\%", "\\%+", "&[({", "&[({ ", "\\%+&[({"], [false, true])
    func byteSetFindsTheFirstMember(members: String, nonASCII: Bool) {
        let values = Array(members.utf8)
        let set = ByteSet(values, nonASCII: nonASCII)
        for body in Self.bodies() {
            body.withUnsafeBufferPointer { p in
                guard let base = p.baseAddress else { return }
                for start in 0...p.count {
                    let expected = (start..<p.count).first { i in
                        let b = p[i]
                        return (nonASCII && b >= 0x80) || values.contains(b)
                    } ?? p.count
                    #expect(set.next(in: base, p.count, from: start) == expected, "\(members) from \(start)")
                }
            }
        }
    }

    @Test func wordSearchMatchesAByteByByteSearch() {
        for body in Self.bodies() {
            body.withUnsafeBufferPointer { p in
                for word in ["dot", "at"] as [StaticString] {
                    let w = Array(UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount))
                    var expected = false
                    if p.count >= w.count + 2 {
                        for i in 1..<(p.count - w.count) where p[i - 1] == 0x20 && p[i + w.count] == 0x20 {
                            let s = Array(p[i..<(i + w.count)])
                            if s == w || s == w.map({ $0 - 0x20 }) { expected = true }
                        }
                    }
                    #expect(ByteFlags.containsWord(p, word) == expected, "\(String(decoding: body, as: UTF8.self).debugDescription)")
                }
            }
        }
    }
}
