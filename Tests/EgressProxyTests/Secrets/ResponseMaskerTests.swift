import Foundation
import NIOCore
import Testing

@testable import EgressProxy

@Suite("SecretForms and ResponseMasker")
struct ResponseMaskerTests {
    typealias S = SecretsTestSupport

    /// A value with characters that every encoding treats differently.
    static let value = S.bytes("?>?sk-live/4eC39+Hq \"LyT\"\\end")
    static let placeholder = S.bytes("PH_STRIPE_KEY")

    // MARK: Forms

    @Test func formsCoverEveryEncodingThatDiffers() {
        let forms = SecretForms(name: "STRIPE", value: Self.value, placeholder: Self.placeholder)
        #expect(forms.forms.map(\.encoding) == SecretEncoding.allCases)
        for form in forms.forms {
            #expect(form.pattern == form.encoding.encode(Self.value))
            #expect(form.replacement == form.encoding.encode(Self.placeholder))
        }
    }

    @Test func encodingsAreTheStandardOnes() {
        let value = S.bytes("a/b+c?d")  // 7 bytes: base64 needs padding, has + and /
        #expect(SecretEncoding.base64.encode(value) == S.bytes(Data(value).base64EncodedString()))
        #expect(SecretEncoding.base64.encode(S.bytes("ab?>?")) == S.bytes("YWI/Pj8="))
        #expect(SecretEncoding.base64Unpadded.encode(S.bytes("ab?>?")) == S.bytes("YWI/Pj8"))
        #expect(SecretEncoding.base64URL.encode(S.bytes("ab?>?")) == S.bytes("YWI_Pj8="))
        #expect(SecretEncoding.base64URLUnpadded.encode(S.bytes("ab?>?")) == S.bytes("YWI_Pj8"))
        #expect(SecretEncoding.percent.encode(S.bytes("a b/~é")) == S.bytes("a%20b%2F~%C3%A9"))
        #expect(SecretEncoding.percentLowercase.encode(S.bytes("a b/~é")) == S.bytes("a%20b%2f~%c3%a9"))
        #expect(SecretEncoding.json.encode(S.bytes("q\"b\\s/n\n\u{1}")) == S.bytes(#"q\"b\\s/n\n\u0001"#))
        #expect(SecretEncoding.jsonEscapedSlash.encode(S.bytes("s/n")) == S.bytes(#"s\/n"#))
    }

    @Test func formsThatEqualRawAreLeftOut() {
        // Only unreserved characters, length a multiple of 3: no percent, JSON or padding variants.
        let forms = SecretForms(name: "K", value: S.bytes("abcDEF123456"), placeholder: Self.placeholder)
        #expect(forms.forms.map(\.encoding) == [.raw, .base64])
    }

    @Test func formsShorterThanEightBytesAreLeftOut() {
        // 5 bytes raw (dropped); base64 is 8 bytes (kept); unpadded is 7 (dropped).
        let forms = SecretForms(name: "SHORT", value: S.bytes("abcde"), placeholder: S.bytes("PH_SHORT"))
        #expect(forms.forms.map(\.encoding) == [.base64])
        #expect(forms.forms.allSatisfy { $0.pattern.count >= SecretForms.minimumLength })
        let tiny = SecretForms(name: "TINY", value: S.bytes("ab"), placeholder: S.bytes("PH_TINY"))
        #expect(tiny.forms.isEmpty)
    }

    // MARK: Bodies

    static func masker() -> ResponseMasker {
        ResponseMasker([
            (name: "STRIPE", value: Self.value, placeholder: Self.placeholder),
            (name: "GITHUB", value: S.bytes("ghp_0123456789abcdefABCDEF"), placeholder: S.bytes("PH_GITHUB")),
        ])
    }

    @Test("every encoded form in a body becomes the placeholder in that encoding", arguments: SecretEncoding.allCases)
    func bodyFormIsMasked(_ encoding: SecretEncoding) {
        let body = S.bytes("{\"echo\": \"") + encoding.encode(Self.value) + S.bytes("\"}")
        let expected = S.bytes("{\"echo\": \"") + encoding.encode(Self.placeholder) + S.bytes("\"}")
        // Whole, and split at every point.
        for cut in 0...body.count {
            var stream = Self.masker().makeStream()
            #expect(S.run(&stream, body, cuts: [cut]) == expected, "cut at \(cut)")
            #expect(stream.matchedLabels == ["STRIPE"])
        }
    }

    @Test func bodyWithSeveralSecretsNamesThemAll() {
        let body = S.bytes("a=ghp_0123456789abcdefABCDEF&b=") + Self.value
        let (out, masked) = Self.masker().mask(S.buffer(body))
        #expect(String(buffer: out) == "a=PH_GITHUB&b=PH_STRIPE_KEY")
        #expect(masked == ["STRIPE", "GITHUB"])
    }

    @Test func bodyWithoutSecretsIsUnchanged() {
        let (out, masked) = Self.masker().mask(S.buffer("nothing to see: sk-live/4eC39"))
        #expect(String(buffer: out) == "nothing to see: sk-live/4eC39")
        #expect(masked.isEmpty)
    }

    @Test func emptyMaskerIsEmpty() {
        let masker = ResponseMasker([(name: "TINY", value: S.bytes("ab"), placeholder: S.bytes("PH"))])
        #expect(masker.isEmpty)
        #expect(Self.masker().isEmpty == false)
    }

    // MARK: Headers

    @Test func headerValueIsMasked() {
        let header = "Bearer ghp_0123456789abcdefABCDEF, id=" + String(decoding: SecretEncoding.base64.encode(Self.value), as: UTF8.self)
        let (masked, names) = Self.masker().maskHeaderValue(header)
        #expect(masked == "Bearer PH_GITHUB, id=" + String(decoding: SecretEncoding.base64.encode(Self.placeholder), as: UTF8.self))
        #expect(names == ["STRIPE", "GITHUB"])
    }

    @Test func headerValueWithoutSecretIsUnchanged() {
        let (masked, names) = Self.masker().maskHeaderValue("text/html; charset=utf-8")
        #expect(masked == "text/html; charset=utf-8")
        #expect(names.isEmpty)
    }

    // MARK: Redaction

    @Test func noDescriptionShowsTheSecret() {
        let masker = Self.masker()
        var stream = masker.makeStream()
        // Leave part of the secret in the carry: it must not print either.
        _ = stream.feed(S.buffer(S.bytes("x ") + Array(Self.value.prefix(10))))
        #expect(stream.carriedByteCount == 10)
        let forms = SecretForms(name: "STRIPE", value: Self.value, placeholder: Self.placeholder)
        let substituter = PlaceholderSubstituter([
            (name: "STRIPE", placeholder: Self.placeholder, value: Self.value, allowed: true,
             injectIn: [.headers, .body], headerNames: nil),
        ])
        let detector = substituter.makeRefusalDetector()
        let subjects: [Any] = [masker, stream, forms, forms.forms[0], substituter, substituter.makeBodyStream(), detector]
        let needles = SecretEncoding.allCases.map { String(decoding: $0.encode(Self.value), as: UTF8.self) }
            + ["sk-live", "4eC39", "\(Self.value)", "\(Self.value.prefix(10))"]
        for subject in subjects {
            #expect(S.reflectedByteHolders(subject) == 0, "\(type(of: subject)) reflects its bytes")
            var dumped = ""
            dump(subject, to: &dumped)
            let texts = [String(describing: subject), String(reflecting: subject), "\(subject)", dumped]
            for text in texts {
                #expect(text.contains("redacted") || text.contains("STRIPE"), "\(text)")
                for needle in needles {
                    #expect(!S.contains(text, needle), "\(type(of: subject)) printed a secret form")
                }
            }
        }
    }
}
