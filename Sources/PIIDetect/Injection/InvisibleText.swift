// MARK: - Invisible text stripper

/// Removes characters a reader cannot see but a model reads: zero-width spaces and joiners,
/// word joiners and invisible operators, stray byte-order marks, the Mongolian vowel
/// separator, and Unicode tag characters (U+E0000–U+E007F, which can spell out whole
/// hidden sentences). Works on UTF-8 and on JSON `\uXXXX` escapes of the same characters.
///
/// Left alone, because they are ordinary text:
/// - a zero-width joiner inside an emoji sequence (👩‍💻),
/// - a zero-width non-joiner between Persian/Arabic or Indic letters (می‌خواهم),
/// - soft hyphens, variation selectors, a byte-order mark at the very start,
/// - tag characters that form an emoji tag sequence after 🏴 (the flags of England,
///   Scotland, Wales).
public enum InvisibleText {
    /// The stripped bytes and how many characters were removed.
    public static func strip(_ bytes: [UInt8]) -> (bytes: [UInt8], removed: Int) {
        bytes.withUnsafeBufferPointer { strip($0) }
    }

    /// The stripped bytes and how many characters were removed.
    public static func strip(_ p: UnsafeBufferPointer<UInt8>) -> (bytes: [UInt8], removed: Int) {
        let n = p.count
        // Fast path: no byte that could start a candidate (UTF-8 lead bytes CD/E1/E2/EF/F3,
        // or a backslash for escapes).
        var candidate = false
        for b in p where b == 0xCD || b == 0xE1 || b == 0xE2 || b == 0xEF || b == 0xF3 || b == 0x5C { candidate = true; break }
        guard candidate else { return (Array(p), 0) }

        var out: [UInt8] = []
        out.reserveCapacity(n)
        var removed = 0
        var i = 0
        var runStart = 0
        var previous: UInt32 = 0            // last scalar kept
        var inEmojiTagSequence = false
        while i < n {
            let b = p[i]
            guard b >= 0x80 || b == 0x5C else { i += 1; previous = UInt32(b); continue }
            var scalar: UInt32
            var length: Int
            if b == 0x5C {
                guard let (cp, len) = jsonEscape(p, at: i) else { i += 1; previous = 0x5C; continue }
                scalar = cp
                length = len
            } else {
                guard let (cp, len) = UTF8Scalar.decode(p, at: i) else { i += 1; continue }
                scalar = cp
                length = len
            }
            let next = i + length < n ? peekScalar(p, at: i + length) : 0
            if shouldRemove(scalar, previous: previous, next: next, atStart: i == 0, inEmojiTagSequence: &inEmojiTagSequence) {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<i]))
                removed += 1
                i += length
                runStart = i
                continue
            }
            if !(0xE0000...0xE007F).contains(scalar) { inEmojiTagSequence = false }
            if scalar == 0x1F3F4 { inEmojiTagSequence = true }
            previous = scalar
            i += length
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<n]))
        return (out, removed)
    }

    /// `\uXXXX` (and a surrogate pair) at `i`, only for characters this stripper handles:
    /// other escapes stay untouched.
    static func jsonEscape(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int)? {
        guard i + 5 < p.count, p[i + 1] == UInt8(ascii: "u") else { return nil }
        // An escaped backslash (`\\u200b`) is literal text, not an escape.
        var k = i
        var backslashes = 0
        while k > 0, p[k - 1] == 0x5C { backslashes += 1; k -= 1 }
        guard backslashes % 2 == 0 else { return nil }
        return EscapePass.unicodeEscape(p, at: i)
    }

    static func peekScalar(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> UInt32 {
        if p[i] == 0x5C, let (cp, _) = jsonEscape(p, at: i) { return cp }
        if let (cp, _) = UTF8Scalar.decode(p, at: i) { return cp }
        return 0
    }

    static func isEmojiLike(_ cp: UInt32) -> Bool {
        (0x1F000...0x1FAFF).contains(cp) || (0x2600...0x27BF).contains(cp) || cp == 0xFE0F
            || (0x1F3FB...0x1F3FF).contains(cp) || cp == 0x20E3 || (0x2190...0x21FF).contains(cp)
            || (0x2B00...0x2BFF).contains(cp) || cp == 0x00A9 || cp == 0x00AE
    }

    static func isJoiningScript(_ cp: UInt32) -> Bool {
        (0x0600...0x06FF).contains(cp) || (0x0750...0x077F).contains(cp) || (0x08A0...0x08FF).contains(cp)
            || (0xFB50...0xFDFF).contains(cp) || (0xFE70...0xFEFE).contains(cp) || (0x0900...0x0DFF).contains(cp)
            || (0x0590...0x05FF).contains(cp) || (0x0700...0x074F).contains(cp)
    }

    static func shouldRemove(_ cp: UInt32, previous: UInt32, next: UInt32, atStart: Bool,
                             inEmojiTagSequence: inout Bool) -> Bool {
        switch cp {
        case 0x200B, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x180E, 0x034F:
            return true
        case 0xFEFF:
            return !atStart
        case 0x200D:
            // Keep inside emoji sequences (👩‍💻, 👨‍👩‍👧).
            return !(isEmojiLike(previous) && isEmojiLike(next))
        case 0x200C:
            // Keep between letters of scripts that use it (Persian, Arabic, Indic).
            return !(isJoiningScript(previous) && isJoiningScript(next))
        case 0xE0000...0xE007F:
            // Emoji tag sequences (🏴 + tags + cancel tag) are flags, not hidden text.
            if inEmojiTagSequence {
                if cp == 0xE007F { inEmojiTagSequence = false }
                return false
            }
            return true
        default:
            return false
        }
    }
}
