// MARK: - InvisibleTextFilter

/// Finds (and with `strip` removes) characters a human reader does not see but a model reads:
/// zero-width characters (U+200B–U+200F, U+2060–U+2064, U+FEFF, U+180E), bidirectional
/// controls (U+202A–U+202E, U+2066–U+2069) and Unicode tag characters (U+E0000–U+E007F,
/// which can spell out a whole hidden instruction).
///
/// A zero-width joiner right after an emoji is kept: it builds emoji sequences (👩‍💻).
/// Streaming: a character cut by a chunk boundary is held back (at most three bytes).
struct InvisibleTextFilter {
    /// Remove what is found; otherwise only count.
    let strip: Bool
    /// Invisible characters found so far.
    private(set) var found = 0
    private var carry: [UInt8] = []
    /// The last bytes emitted, to tell whether a joiner follows an emoji.
    private var tail: [UInt8] = []

    init(strip: Bool) {
        self.strip = strip
    }

    var retainedByteCount: Int { carry.count }

    mutating func feed(_ bytes: [UInt8]) -> [UInt8] {
        var data = carry
        data.append(contentsOf: bytes)
        carry = []
        return process(data, final: false)
    }

    mutating func finish() -> [UInt8] {
        let data = carry
        carry = []
        return process(data, final: true)
    }

    private mutating func process(_ p: [UInt8], final: Bool) -> [UInt8] {
        // Fast path: none of the lead bytes of the characters looked for.
        if !p.contains(where: { $0 == 0xE1 || $0 == 0xE2 || $0 == 0xEF || $0 == 0xF3 }) {
            remember(p[...])
            return p
        }
        var out: [UInt8] = []
        out.reserveCapacity(p.count)
        var i = 0
        let n = p.count
        var literalStart = 0
        while i < n {
            let b = p[i]
            guard b == 0xE1 || b == 0xE2 || b == 0xEF || b == 0xF3 else { i += 1; continue }
            let length = b == 0xF3 ? 4 : 3
            if i + length > n {
                if final { break }
                // Possibly cut: decide with the next chunk.
                out.append(contentsOf: p[literalStart..<i])
                carry = Array(p[i...])
                remember(out[...])
                return out
            }
            if Self.isInvisible(p, i), !(Self.isJoiner(p, i) && followsEmoji(out, p, literalStart, i)) {
                found += 1
                if strip {
                    out.append(contentsOf: p[literalStart..<i])
                    literalStart = i + length
                }
            }
            i += length
        }
        out.append(contentsOf: p[literalStart..<n])
        remember(out[...])
        return out
    }

    /// Whether the UTF-8 sequence at `p[i]` is one of the invisible characters.
    private static func isInvisible(_ p: [UInt8], _ i: Int) -> Bool {
        let b0 = p[i], b1 = p[i + 1], b2 = p[i + 2]
        switch b0 {
        case 0xE1: return b1 == 0xA0 && b2 == 0x8E                                  // U+180E
        case 0xE2:
            if b1 == 0x80 { return (0x8B...0x8F).contains(b2) || (0xAA...0xAE).contains(b2) }   // U+200B–200F, U+202A–202E
            if b1 == 0x81 { return (0xA0...0xA4).contains(b2) || (0xA6...0xA9).contains(b2) }   // U+2060–2064, U+2066–2069
            return false
        case 0xEF: return b1 == 0xBB && b2 == 0xBF                                  // U+FEFF
        case 0xF3: return b1 == 0xA0 && (b2 == 0x80 || b2 == 0x81)                  // U+E0000–E007F
        default: return false
        }
    }

    private static func isJoiner(_ p: [UInt8], _ i: Int) -> Bool {
        p[i] == 0xE2 && p[i + 1] == 0x80 && p[i + 2] == 0x8D
    }

    /// Whether the character before `p[i]` is an emoji (or an emoji presentation selector).
    private func followsEmoji(_ out: [UInt8], _ p: [UInt8], _ literalStart: Int, _ i: Int) -> Bool {
        // The bytes before i as they will be emitted.
        var before = Array(out.suffix(4))
        before.append(contentsOf: p[max(literalStart, i - 4)..<i])
        if before.count < 4 { before = Array(tail.suffix(4 - before.count)) + before }
        let last4 = Array(before.suffix(4))
        if last4.count == 4, last4[0] == 0xF0, last4[1] == 0x9F { return true }                    // U+1Fxxx
        let last3 = Array(before.suffix(3))
        if last3.count == 3 {
            if last3 == [0xEF, 0xB8, 0x8F] { return true }                                       // U+FE0F
            if last3[0] == 0xE2, (0x98...0x9E).contains(last3[1]) { return true }                 // U+2600–27BF
        }
        return false
    }

    private mutating func remember(_ emitted: ArraySlice<UInt8>) {
        if emitted.count >= 4 {
            tail = Array(emitted.suffix(4))
        } else {
            tail = Array((tail + emitted).suffix(4))
        }
    }
}
