import Foundation

// MARK: - JSON writing

/// Minimal JSON string quoting and numbers (RFC 8259): what the audit log, the admin API,
/// captures and `scan` output need, without Foundation's JSONSerialization on the hot path.
public enum JSONText {
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    /// Numbers with at most 3 decimals; never NaN or infinity (JSON has neither).
    public static func number(_ d: Double) -> String {
        guard d.isFinite else { return "0" }
        let rounded = (d * 1000).rounded() / 1000
        if rounded == rounded.rounded() && abs(rounded) < 1e15 { return String(Int64(rounded)) }
        return String(rounded)
    }
}


extension JSONValue {
    /// The value as compact JSON text (`scan` echoes record ids with it). Integral numbers
    /// print without a fraction, as they were most likely given.
    public var jsonText: String {
        switch self {
        case .string(let s): return JSONText.quote(s)
        case .number(let n):
            if n.rounded() == n, abs(n) < 9_007_199_254_740_992 { return String(Int64(n)) }
            return n.isFinite ? "\(n)" : "null"
        case .bool(let x): return x ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.jsonText).joined(separator: ",") + "]"
        case .object(let m): return "{" + m.map { JSONText.quote($0.0) + ":" + $0.1.jsonText }.joined(separator: ",") + "}"
        }
    }
}
