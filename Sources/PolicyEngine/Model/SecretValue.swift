// MARK: - SecretValue

/// A real secret value. It cannot print itself: `description`, `debugDescription`, string
/// interpolation, `dump` and mirrors all show `<redacted>`, so a secret that ends up in a log
/// line, an error or an audit record by accident shows nothing.
public struct SecretValue: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The raw bytes; only the substitution code should read them.
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The bytes, under a name that stands out in review.
    public var reveal: [UInt8] { bytes }

    /// The number of bytes.
    public var count: Int { bytes.count }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// Constant-time comparison: equality checks must not leak how many leading bytes match.
    public static func == (lhs: SecretValue, rhs: SecretValue) -> Bool {
        guard lhs.bytes.count == rhs.bytes.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.bytes.indices { difference |= lhs.bytes[index] ^ rhs.bytes[index] }
        return difference == 0
    }
}
