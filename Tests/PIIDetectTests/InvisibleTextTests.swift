import Testing
@testable import PIIDetect

// MARK: - Invisible text stripper

@Suite struct InvisibleTextTests {
    func strip(_ s: String) -> (String, Int) {
        let (b, n) = InvisibleText.strip(Array(s.utf8))
        return (String(decoding: b, as: UTF8.self), n)
    }

    @Test(arguments: [
        ("ig\u{200B}no\u{200B}re", "ignore", 2),
        ("a\u{2060}b\u{2061}c", "abc", 2),
        ("x\u{FEFF}y", "xy", 1),
        ("hidden\u{E0041}\u{E0049}!", "hidden!", 2),
        ("in\u{200D}struc\u{200C}tions", "instructions", 2),
    ])
    func removesInvisibleCharacters(input: String, expected: String, count: Int) {
        let (out, n) = strip(input)
        #expect(out == expected)
        #expect(n == count)
    }

    @Test(arguments: [
        "👩\u{200D}💻 and 👨\u{200D}👩\u{200D}👧",           // emoji ZWJ sequences
        "می\u{200C}خواهم فارسی بنويسم",                          // Persian ZWNJ
        "co\u{AD}op\u{AD}er\u{AD}ate",                           // soft hyphens
        "\u{FEFF}leading byte-order mark",                       // BOM at the start
        "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} England",   // flag tag sequence
        "❤\u{FE0F} variation selector",
    ])
    func keepsBenignInvisibles(text: String) {
        let (out, n) = strip(text)
        #expect(out == text)
        #expect(n == 0)
    }

    @Test func jsonEscapesAreStrippedToo() {
        let (out, n) = strip(#"{"t":"ig\u200bnore \udb40\udc41\udb40\udc49 x"}"#)
        #expect(out == #"{"t":"ignore  x"}"#)
        #expect(n == 3)
        // An escaped backslash is text, not an escape.
        let (kept, k) = strip(#"path C:\\u200b"#)
        #expect(kept == #"path C:\\u200b"#)
        #expect(k == 0)
    }

    @Test func untouchedTextIsReturnedAsIs() {
        let (out, n) = strip("nothing to see here")
        #expect(out == "nothing to see here")
        #expect(n == 0)
    }
}
