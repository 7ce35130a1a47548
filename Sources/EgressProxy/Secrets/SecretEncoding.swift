import Foundation

/// The byte encodings under which a secret (or its placeholder) can travel inside a message.
///
/// Each case is a pure function of the bytes, so the same encoding can be applied to a value
/// and to its placeholder: a base64 value is masked by the base64 placeholder, and so on.
public enum SecretEncoding: String, Sendable, Hashable, CaseIterable {
    /// The bytes as they are.
    case raw
    /// RFC 4648 base64 with `=` padding.
    case base64
    /// RFC 4648 base64 without padding.
    case base64Unpadded
    /// RFC 4648 base64url (`-`, `_`) with padding.
    case base64URL
    /// RFC 4648 base64url without padding (JWT, many tokens).
    case base64URLUnpadded
    /// RFC 3986 percent-encoding: unreserved characters kept, every other byte `%XX` (upper case).
    case percent
    /// The same with lower-case hex digits, which some encoders emit.
    case percentLowercase
    /// A JSON string body (no quotes): `"` `\` and control characters escaped.
    case json
    /// The same with `/` escaped as `\/`, which some encoders emit.
    case jsonEscapedSlash

    /// Encodes `bytes`.
    public func encode(_ bytes: [UInt8]) -> [UInt8] {
        switch self {
        case .raw:
            return bytes
        case .base64:
            return Array(Data(bytes).base64EncodedString().utf8)
        case .base64Unpadded:
            return Self.base64.encode(bytes).filter { $0 != UInt8(ascii: "=") }
        case .base64URL:
            return Self.base64.encode(bytes).map { byte in
                switch byte {
                case UInt8(ascii: "+"): UInt8(ascii: "-")
                case UInt8(ascii: "/"): UInt8(ascii: "_")
                default: byte
                }
            }
        case .base64URLUnpadded:
            return Self.base64URL.encode(bytes).filter { $0 != UInt8(ascii: "=") }
        case .percent:
            return Self.percentEncode(bytes, hexDigits: Self.upperHex)
        case .percentLowercase:
            return Self.percentEncode(bytes, hexDigits: Self.lowerHex)
        case .json:
            return Self.jsonEscape(bytes, escapeSlash: false)
        case .jsonEscapedSlash:
            return Self.jsonEscape(bytes, escapeSlash: true)
        }
    }

    // MARK: Percent-encoding

    private static let upperHex = Array("0123456789ABCDEF".utf8)
    private static let lowerHex = Array("0123456789abcdef".utf8)

    /// RFC 3986 section 2.3: ALPHA / DIGIT / "-" / "." / "_" / "~".
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func percentEncode(_ bytes: [UInt8], hexDigits: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for byte in bytes {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return out
    }

    // MARK: JSON

    /// RFC 8259 section 7: the characters that must be escaped; bytes >= 0x80 are kept (UTF-8).
    private static func jsonEscape(_ bytes: [UInt8], escapeSlash: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "/") where escapeSlash: out += [UInt8(ascii: "\\"), UInt8(ascii: "/")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x00..<0x20:
                out += Array("\\u00".utf8)
                out.append(lowerHex[Int(byte >> 4)])
                out.append(lowerHex[Int(byte & 0x0F)])
            default:
                out.append(byte)
            }
        }
        return out
    }
}
