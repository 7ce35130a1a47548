import Testing
@testable import PolicyEngine

// MARK: - Punycode (RFC 3492)

@Suite struct PunycodeTests {
    @Test(arguments: [
        ("bücher", "bcher-kva"),
        ("münchen", "mnchen-3ya"),
        ("ü", "tda"),
        ("例え", "r8jz45g"),
        // RFC 3492 section 7.1 (A) Arabic (Egyptian)
        ("\u{0644}\u{064A}\u{0647}\u{0645}\u{0627}\u{0628}\u{062A}\u{0643}\u{0644}\u{0645}\u{0648}\u{0634}\u{0639}\u{0631}\u{0628}\u{064A}\u{061F}", "egbpdaj6bu4bxfgehfvwxn"),
        // RFC 3492 section 7.1 (L) 3<nen>B<gumi><kinpachi><sensei>
        ("3\u{5E74}B\u{7D44}\u{91D1}\u{516B}\u{5148}\u{751F}", "3B-ww4c5e180e575a65lsy2b"),
    ])
    func encodesAndDecodes(unicode: String, encoded: String) throws {
        #expect(Punycode.encode(unicode) == encoded)
        #expect(Punycode.decode(encoded) == unicode)
    }

    @Test func rejectsBadInput() {
        #expect(Punycode.decode("ab!") == nil)
        #expect(Punycode.decode("99999999999999999999") == nil)
    }
}

// MARK: - HostName.normalize

@Suite struct HostNameTests {
    @Test(arguments: [
        ("API.OpenAI.com", "api.openai.com"),
        ("api.openai.com.", "api.openai.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("München.DE", "xn--mnchen-3ya.de"),
        ("münchen.de.", "xn--mnchen-3ya.de"),
        ("bücher。example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("[::1]", "::1"),
        ("[2001:DB8::0:1]", "2001:db8::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("::FFFF:7f00:1", "::ffff:127.0.0.1"),
    ])
    func normalizes(input: String, expected: String) {
        #expect(HostName.normalize(input) == expected)
    }

    @Test(arguments: [
        ("example.com", true), ("a-b.example", true), ("_dmarc.example.com", true),
        ("-a.example", false), ("a-.example", false), ("a..example", false), ("", false),
        ("1.2.3.4", false), ("example.123", false), ("exa mple.com", false),
        (String(repeating: "a", count: 64) + ".com", false),
    ])
    func validity(name: String, valid: Bool) {
        #expect(HostName.isValid(name) == valid)
    }
}

// MARK: - HostPatternSet

@Suite struct HostPatternSetTests {
    @Test func exactAndWildcard() throws {
        let set = try HostPatternSet(["api.openai.com", "*.github.com", "Bücher.Example"])
        #expect(set.patterns == ["api.openai.com", "*.github.com", "xn--bcher-kva.example"])
        #expect(set.firstMatch("API.OPENAI.COM.") == 0)
        #expect(set.firstMatch("api.github.com") == 1)
        #expect(set.firstMatch("a.b.c.github.com") == 1)
        // "*.suffix" matches sub-domains, not the suffix itself.
        #expect(set.firstMatch("github.com") == nil)
        #expect(set.firstMatch("evilgithub.com") == nil)
        #expect(set.firstMatch("github.com.evil.org") == nil)
        #expect(set.firstMatch("xn--bcher-kva.example") == 2)
        #expect(set.firstMatch("bücher.example") == 2)
        #expect(set.firstMatch("openai.com") == nil)
    }

    @Test func starMatchesEverythingAndTheSmallestIndexWins() throws {
        let set = try HostPatternSet(["*.example.com", "api.example.com", "*"])
        #expect(set.firstMatch("api.example.com") == 0)
        #expect(set.firstMatch("other.org") == 2)
        #expect(set.firstMatch("10.0.0.1") == 2)
    }

    @Test func ipLiteralPatterns() throws {
        let set = try HostPatternSet(["10.0.0.5", "[::1]"])
        #expect(set.matches("10.0.0.5"))
        #expect(set.matches("[::1]"))
        #expect(set.matches("::1"))
        #expect(!set.matches("10.0.0.6"))
    }

    @Test(arguments: [
        ("api.*.com", "'*' is allowed only"),
        ("*foo.com", "'*' is allowed only"),
        ("https://api.openai.com", "not a URL"),
        ("api.openai.com:443", "ports are not part"),
        ("bad..host", "not a valid host name"),
        ("", "empty host pattern"),
    ])
    func rejectsBadPatterns(pattern: String, message: String) {
        #expect(throws: HostPatternSet.PatternError.self) { try HostPatternSet([pattern]) }
        if case .failure(let error) = HostPatternSet.validate(pattern) {
            #expect(error.message.contains(message))
        } else {
            Issue.record("\(pattern) was accepted")
        }
    }
}
