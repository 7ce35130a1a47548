// MARK: - Redaction token syntax

/// The written form of a redaction token, `[TYPE_xxxxxx]` (TYPE upper-case letters and `_`,
/// six lower-case hex digits), also percent-encoded as `%5BTYPE_xxxxxx%5D` where it went into
/// a URL query or a form body; and how values are read from and written back into the
/// encodings around them.
enum RedactionToken {
    /// The longest type name accepted in a token.
    static let maxTypeLength = 24
    /// The longest raw token (`[` + type + `_` + 6 + `]`).
    static let maxRawLength = 1 + maxTypeLength + 1 + 6 + 1
    /// The longest percent-encoded token.
    static let maxLength = 3 + maxTypeLength + 1 + 6 + 3

    /// The token as it is written into a body or query.
    static func encoded(_ token: String, percent: Bool) -> [UInt8] {
        guard percent else { return Array(token.utf8) }
        var out: [UInt8] = []
        for b in token.utf8 {
            switch b {
            case UInt8(ascii: "["): out += Array("%5B".utf8)
            case UInt8(ascii: "]"): out += Array("%5D".utf8)
            default: out.append(b)
            }
        }
        return out
    }

    // MARK: Reading tokens

    enum Scan: Equatable {
        /// A whole token: the bytes it covers, its canonical (raw) spelling, whether it was
        /// percent-encoded.
        case token(length: Int, canonical: String, percent: Bool)
        /// The bytes from the start to the end of the data are a token's beginning.
        case partial
        /// Not a token.
        case none
    }

    /// Reads a token starting at `p[start]` (which must be `[` or `%`).
    static func scan(_ p: UnsafeBufferPointer<UInt8>, at start: Int) -> Scan {
        let n = p.count
        var i = start
        var percent = false
        // Opener.
        if p[i] == UInt8(ascii: "[") {
            i += 1
        } else if p[i] == UInt8(ascii: "%") {
            percent = true
            if i + 1 >= n { return .partial }
            guard p[i + 1] == UInt8(ascii: "5") else { return .none }
            if i + 2 >= n { return .partial }
            guard p[i + 2] == UInt8(ascii: "B") || p[i + 2] == UInt8(ascii: "b") else { return .none }
            i += 3
        } else {
            return .none
        }
        // TYPE_ : upper-case letters and underscores, ending with the separator.
        let typeStart = i
        while i < n, i - typeStart <= maxTypeLength + 1, isTypeByte(p[i]) { i += 1 }
        if i == n { return i - typeStart <= maxTypeLength + 1 ? .partial : .none }
        let typeLength = i - typeStart
        guard typeLength >= 2, typeLength <= maxTypeLength + 1, p[i - 1] == UInt8(ascii: "_"),
              isUpper(p[typeStart]) else { return .none }
        // Six hex digits.
        let hexStart = i
        while i < n, i - hexStart < 6, isHex(p[i]) { i += 1 }
        if i == n { return .partial }
        guard i - hexStart == 6 else { return .none }
        // Closer.
        if percent {
            if i >= n { return .partial }
            guard p[i] == UInt8(ascii: "%") else { return .none }
            if i + 1 >= n { return .partial }
            guard p[i + 1] == UInt8(ascii: "5") else { return .none }
            if i + 2 >= n { return .partial }
            guard p[i + 2] == UInt8(ascii: "D") || p[i + 2] == UInt8(ascii: "d") else { return .none }
            i += 3
        } else {
            guard p[i] == UInt8(ascii: "]") else { return .none }
            i += 1
        }
        var canonical: [UInt8] = [UInt8(ascii: "[")]
        canonical.append(contentsOf: UnsafeBufferPointer(rebasing: p[typeStart..<(hexStart + 6)]))
        canonical.append(UInt8(ascii: "]"))
        return .token(length: i - start, canonical: String(decoding: canonical, as: UTF8.self), percent: percent)
    }

    /// Whether `bytes` (the text so far) could still grow into a token.
    static func isPrefix(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let first = bytes.first, first == UInt8(ascii: "[") || first == UInt8(ascii: "%") else { return false }
        let copy = Array(bytes)
        return copy.withUnsafeBufferPointer { scan($0, at: 0) == .partial }
    }

    @inline(__always) static func isTypeByte(_ b: UInt8) -> Bool { isUpper(b) || b == UInt8(ascii: "_") }
    @inline(__always) static func isUpper(_ b: UInt8) -> Bool { b >= 0x41 && b <= 0x5A }
    @inline(__always) static func isHex(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) }

    // MARK: Values

    /// The value behind the bytes a finding covered, with the encodings around it undone
    /// (percent-encoding, `+` in forms, JSON string escapes), so `a%40b.example` and
    /// `a@b.example` are one value with one token.
    static func canonicalValue(_ raw: ArraySlice<UInt8>, form: Bool) -> [UInt8] {
        guard raw.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "\\") || (form && $0 == UInt8(ascii: "+")) }) else {
            return Array(raw)
        }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        let b = Array(raw)
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "%"), i + 2 < b.count, let hi = hexValue(b[i + 1]), let lo = hexValue(b[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else if form, c == UInt8(ascii: "+") {
                out.append(0x20)
                i += 1
            } else if c == UInt8(ascii: "\\"), i + 1 < b.count {
                let e = b[i + 1]
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A); i += 2
                case UInt8(ascii: "r"): out.append(0x0D); i += 2
                case UInt8(ascii: "t"): out.append(0x09); i += 2
                case UInt8(ascii: "b"): out.append(0x08); i += 2
                case UInt8(ascii: "f"): out.append(0x0C); i += 2
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e); i += 2
                case UInt8(ascii: "u"):
                    if let (scalar, used) = unicodeEscape(b, at: i) {
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                        i += used
                    } else {
                        out.append(c)
                        i += 1
                    }
                default:
                    out.append(c)
                    i += 1
                }
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }

    /// How a restored value is written where its token stood.
    enum Context {
        case raw, json, percent
    }

    /// `value` written for `context`.
    static func render(_ value: [UInt8], for context: Context) -> [UInt8] {
        switch context {
        case .raw:
            return value
        case .json:
            guard value.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return value }
            var out: [UInt8] = []
            let hex = Array("0123456789abcdef".utf8)
            for b in value {
                switch b {
                case UInt8(ascii: "\""): out += [0x5C, b]
                case UInt8(ascii: "\\"): out += [0x5C, b]
                case 0x0A: out += Array("\\n".utf8)
                case 0x0D: out += Array("\\r".utf8)
                case 0x09: out += Array("\\t".utf8)
                case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
                default: out.append(b)
                }
            }
            return out
        case .percent:
            var out: [UInt8] = []
            let hex = Array("0123456789ABCDEF".utf8)
            for b in value {
                let unreserved = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "~")
                if unreserved { out.append(b) } else { out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 0xF)]] }
            }
            return out
        }
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// `\uXXXX` (with a following low surrogate when XXXX is a high one) at `b[i]`.
    private static func unicodeEscape(_ b: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        func quad(_ at: Int) -> UInt32? {
            guard at + 4 <= b.count else { return nil }
            var v: UInt32 = 0
            for k in at..<(at + 4) {
                guard let d = hexValue(b[k]) else { return nil }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        guard let first = quad(i + 2) else { return nil }
        if (0xD800..<0xDC00).contains(first) {
            guard i + 12 <= b.count, b[i + 6] == 0x5C, b[i + 7] == UInt8(ascii: "u"), let low = quad(i + 8),
                  (0xDC00..<0xE000).contains(low),
                  let scalar = Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)) else { return nil }
            return (scalar, 12)
        }
        guard let scalar = Unicode.Scalar(first) else { return nil }
        return (scalar, 6)
    }
}
