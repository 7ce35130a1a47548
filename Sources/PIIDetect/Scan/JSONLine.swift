// MARK: - Minimal JSON reader and writer for `scan` records

/// A JSON value, as much as the `scan` command needs: records are small objects.
enum JSONValue: Equatable {
    case string(String)
    case number(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)), (.number(let x), .number(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members.first { $0.0 == key }?.1 }
        return nil
    }
}

/// Parses one JSON text. Strings with lone surrogate escapes decode to U+FFFD (one code
/// point, as in Python, so offsets in code points still agree).
struct JSONReader {
    enum Failure: Error { case syntax(Int), depth }

    private let b: [UInt8]
    private var i = 0
    private var depth = 0

    static func parse(_ text: String) throws -> JSONValue {
        var r = JSONReader(b: Array(text.utf8))
        r.skipSpace()
        let v = try r.value()
        r.skipSpace()
        guard r.i == r.b.count else { throw Failure.syntax(r.i) }
        return v
    }

    private init(b: [UInt8]) { self.b = b }

    private mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
    }

    private mutating func value() throws -> JSONValue {
        guard i < b.count else { throw Failure.syntax(i) }
        switch b[i] {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "{"):
            depth += 1
            guard depth < 256 else { throw Failure.depth }
            defer { depth -= 1 }
            i += 1
            var members: [(String, JSONValue)] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw Failure.syntax(i) }
                let key = try string()
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw Failure.syntax(i) }
                i += 1
                skipSpace()
                members.append((key, try value()))
                skipSpace()
                guard i < b.count else { throw Failure.syntax(i) }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw Failure.syntax(i)
            }
        case UInt8(ascii: "["):
            depth += 1
            guard depth < 256 else { throw Failure.depth }
            defer { depth -= 1 }
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value())
                skipSpace()
                guard i < b.count else { throw Failure.syntax(i) }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw Failure.syntax(i)
            }
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            let s = i
            while i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: ".")
                    || b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") || isDigit(b[i]) { i += 1 }
            guard i > s else { throw Failure.syntax(i) }
            return .number(String(decoding: b[s..<i], as: UTF8.self))
        }
    }

    private mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= b.count, Array(b[i..<(i + w.count)]) == w else { throw Failure.syntax(i) }
        i += w.count
    }

    private mutating func hex4(at k: Int) -> UInt32? {
        guard k + 4 <= b.count else { return nil }
        var v: UInt32 = 0
        for j in k..<(k + 4) {
            guard isHexDigit(b[j]) else { return nil }
            v = v << 4 | hexValue(b[j])
        }
        return v
    }

    private mutating func string() throws -> String {
        i += 1
        var out = [UInt8]()
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            guard i + 1 < b.count else { throw Failure.syntax(i) }
            let e = b[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard var cp = hex4(at: i) else { throw Failure.syntax(i) }
                i += 4
                if (0xD800...0xDBFF).contains(cp), i + 6 <= b.count, b[i] == 0x5C, b[i + 1] == UInt8(ascii: "u"),
                   let lo = hex4(at: i + 2), (0xDC00...0xDFFF).contains(lo) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    i += 6
                }
                _ = UTF8Scalar.encode(cp, into: &out)
            default: out.append(e)
            }
        }
        throw Failure.syntax(i)
    }
}

enum JSONWriter {
    /// A JSON string literal for `s` (non-ASCII kept as UTF-8, controls escaped).
    static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    static func write(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return quote(s)
        case .number(let n): return n
        case .bool(let x): return x ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(write).joined(separator: ",") + "]"
        case .object(let m): return "{" + m.map { quote($0.0) + ":" + write($0.1) }.joined(separator: ",") + "}"
        }
    }
}
