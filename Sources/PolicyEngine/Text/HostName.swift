import Foundation

// MARK: - HostName

/// The one place host names are normalised, so that policy patterns, CONNECT targets, `Host`
/// headers and SNI values are compared in the same form.
public enum HostName {
    /// Lower case, no trailing dot, IDN labels in their `xn--` form, IPv6 literals without `[]`.
    /// A name that cannot be converted keeps its lower-cased form (it then matches nothing that
    /// a valid pattern names).
    public static func normalize(_ host: String) -> String {
        var text = Substring(host)
        if text.hasPrefix("["), text.hasSuffix("]"), text.count >= 2 {
            text = text.dropFirst().dropLast()
            // An IPv6 literal is compared in its canonical (RFC 5952) text.
            return IPAddress(String(text))?.description ?? text.lowercased()
        }
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            // Fast path: the common case never touches Foundation's Unicode machinery.
            if text.hasSuffix(".") { text = text.dropLast() }
            if let first = text.utf8.first, (first >= 0x30 && first <= 0x39) || text.contains(":"),
               let address = IPAddress(String(text)) {
                return address.description
            }
            return String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }, as: UTF8.self)
        }
        return normalizeUnicode(String(text))
    }

    /// IDNA-style mapping for names with non-ASCII characters: full stops of other scripts map
    /// to ".", then lower case, NFC, and Punycode per label.
    private static func normalizeUnicode(_ host: String) -> String {
        var mapped = String.UnicodeScalarView()
        for scalar in host.unicodeScalars {
            switch scalar.value {
            case 0x3002, 0xFF0E, 0xFF61: mapped.append(".")   // ideographic and fullwidth full stops
            default: mapped.append(scalar)
            }
        }
        var text = String(mapped).lowercased().precomposedStringWithCanonicalMapping
        if text.hasSuffix(".") { text.removeLast() }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        var result: [String] = []
        result.reserveCapacity(labels.count)
        for label in labels {
            if label.utf8.allSatisfy({ $0 < 0x80 }) {
                result.append(String(label))
            } else if let encoded = Punycode.encode(String(label)) {
                result.append(Punycode.acePrefix + encoded)
            } else {
                return text
            }
        }
        return result.joined(separator: ".")
    }

    /// Whether a normalised name is a syntactically valid DNS host name: labels of 1-63
    /// characters from `a-z 0-9 - _`, not starting or ending with `-`, at most 253 characters,
    /// and a last label that is not all digits (that would be a mistyped IPv4 address).
    public static func isValid(_ normalized: String) -> Bool {
        guard !normalized.isEmpty, normalized.utf8.count <= 253 else { return false }
        let labels = normalized.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            let bytes = label.utf8
            guard (1...63).contains(bytes.count),
                  bytes.allSatisfy(isLabelByte),
                  bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
        }
        if let last = labels.last, last.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return false }
        return true
    }

    private static func isLabelByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }
}
