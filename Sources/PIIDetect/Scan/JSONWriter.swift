// MARK: - JSON writer for `scan` records

/// Writes the `scan` output (the input is read with `JSONParser`).
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
        case .number(let n):
            // Integers (record ids) print without a fraction, as they were given.
            if n.rounded() == n, abs(n) < 9_007_199_254_740_992 { return String(Int64(n)) }
            return n.isFinite ? "\(n)" : "null"
        case .bool(let x): return x ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(write).joined(separator: ",") + "]"
        case .object(let m): return "{" + m.map { quote($0.0) + ":" + write($0.1) }.joined(separator: ",") + "}"
        }
    }
}
