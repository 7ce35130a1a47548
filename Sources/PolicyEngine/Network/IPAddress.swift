// MARK: - IPAddress

/// An IPv4 or IPv6 address as a value: parsed strictly, printed canonically.
///
/// Parsing is deliberately strict (dotted-quad only, no octal or shortened IPv4 forms, no zone
/// ids) so that the text a policy or a client gives and the address the proxy dials can never
/// disagree about which machine is meant.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address family.
    public enum Family: Sendable { case v4, v6 }

    /// Storage: IPv4 in the low 32 bits of `low` with `high == 0`, IPv6 as two 64-bit halves.
    @usableFromInline let high: UInt64
    @usableFromInline let low: UInt64
    /// The address family.
    public let family: Family

    // MARK: Initialisers

    /// Parses `"1.2.3.4"`, `"::1"`, `"::ffff:127.0.0.1"` or `"[::1]"`. Zone ids (`fe80::1%eth0`),
    /// shortened or octal IPv4 forms (`127.1`, `010.0.0.1`) and surrounding spaces are rejected.
    public init?(_ string: String) {
        var text = Substring(string)
        if text.hasPrefix("[") {
            // Brackets only make sense around an IPv6 literal.
            guard text.hasSuffix("]"), text.count >= 2 else { return nil }
            text = text.dropFirst().dropLast()
            guard text.contains(":") else { return nil }
        }
        if let v4 = Self.parseV4(text) {
            self.init(v4Value: v4)
        } else if let (high, low) = Self.parseV6(text) {
            self.init(v6High: high, low: low)
        } else {
            return nil
        }
    }

    /// An IPv4 address from its four bytes.
    public init(v4 bytes: (UInt8, UInt8, UInt8, UInt8)) {
        let value = UInt32(bytes.0) << 24 | UInt32(bytes.1) << 16 | UInt32(bytes.2) << 8 | UInt32(bytes.3)
        self.init(v4Value: value)
    }

    /// An address from 4 (IPv4) or 16 (IPv6) network-order bytes.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self.init(v4: (bytes[0], bytes[1], bytes[2], bytes[3]))
        case 16:
            var high: UInt64 = 0
            var low: UInt64 = 0
            for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
            for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
            self.init(v6High: high, low: low)
        default:
            return nil
        }
    }

    /// An IPv4 address from its 32-bit value.
    public init(v4Value: UInt32) {
        self.family = .v4
        self.high = 0
        self.low = UInt64(v4Value)
    }

    /// An IPv6 address from its two 64-bit halves.
    public init(v6High high: UInt64, low: UInt64) {
        self.family = .v6
        self.high = high
        self.low = low
    }

    // MARK: Accessors

    /// The address in network order: 4 bytes for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch family {
        case .v4:
            let value = UInt32(truncatingIfNeeded: low)
            return [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16),
                    UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
        case .v6:
            var result = [UInt8](repeating: 0, count: 16)
            for index in 0..<8 { result[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(index))) }
            for index in 0..<8 { result[8 + index] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(index))) }
            return result
        }
    }

    /// The IPv4 value (only meaningful for `.v4`).
    public var v4Value: UInt32 { UInt32(truncatingIfNeeded: low) }

    /// The number of bits of the address: 32 or 128.
    public var bitWidth: Int { family == .v4 ? 32 : 128 }

    /// Bit `index` counted from the most significant bit (0-based).
    @inlinable
    func bit(_ index: Int) -> Bool {
        switch family {
        case .v4:
            return (low >> UInt64(31 - index)) & 1 == 1
        case .v6:
            if index < 64 { return (high >> UInt64(63 - index)) & 1 == 1 }
            return (low >> UInt64(127 - index)) & 1 == 1
        }
    }

    // MARK: Text

    /// Canonical text: dotted quad for IPv4, RFC 5952 for IPv6 (lower case, longest run of zero
    /// groups compressed, IPv4-mapped addresses as `::ffff:a.b.c.d`).
    public var description: String {
        switch family {
        case .v4:
            return Self.formatV4(v4Value)
        case .v6:
            return Self.formatV6(high: high, low: low)
        }
    }

    static func formatV4(_ value: UInt32) -> String {
        "\(value >> 24).\((value >> 16) & 0xff).\((value >> 8) & 0xff).\(value & 0xff)"
    }

    static func formatV6(high: UInt64, low: UInt64) -> String {
        // RFC 5952 section 5: IPv4-mapped addresses keep the dotted tail.
        if high == 0, low >> 32 == 0xffff {
            return "::ffff:" + formatV4(UInt32(truncatingIfNeeded: low))
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for index in 0..<4 {
            groups[index] = UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64(index)))
            groups[4 + index] = UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64(index)))
        }
        // Longest run of two or more zero groups; the first one wins a tie.
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8, groups[end] == 0 { end += 1 }
                if end - index > bestLength, end - index >= 2 {
                    bestStart = index
                    bestLength = end - index
                }
                index = end
            } else {
                index += 1
            }
        }
        func hex(_ group: UInt16) -> String { String(group, radix: 16) }
        if bestStart < 0 {
            return groups.map(hex).joined(separator: ":")
        }
        let head = groups[0..<bestStart].map(hex).joined(separator: ":")
        let tail = groups[(bestStart + bestLength)...].map(hex).joined(separator: ":")
        return head + "::" + tail
    }

    // MARK: Parsing

    /// Strict dotted quad: four decimal octets 0-255, no leading zeros.
    static func parseV4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            // A leading zero would be octal to inet_aton: refuse the ambiguity.
            if part.count > 1, part.first == "0" { return nil }
            guard let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    /// RFC 4291 text forms, including `::` and a trailing dotted quad.
    static func parseV6(_ text: Substring) -> (UInt64, UInt64)? {
        guard text.contains(":"), !text.contains("%"), text.utf8.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false

        if let range = text.range(of: "::") {
            sawDoubleColon = true
            let before = text[text.startIndex..<range.lowerBound]
            let after = text[range.upperBound...]
            // A second "::" is invalid.
            if after.contains("::") || before.contains("::") { return nil }
            guard let headGroups = parseGroups(before, allowV4Tail: false),
                  let tailGroups = parseGroups(after, allowV4Tail: true) else { return nil }
            head = headGroups
            tail = tailGroups
        } else {
            guard let groups = parseGroups(text, allowV4Tail: true) else { return nil }
            head = groups
        }
        let total = head.count + tail.count
        if sawDoubleColon {
            // "::" stands for at least one zero group.
            guard total <= 7 else { return nil }
        } else {
            guard total == 8 else { return nil }
        }
        let groups = head + [UInt16](repeating: 0, count: 8 - total) + tail
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<4 { high = high << 16 | UInt64(groups[index]) }
        for index in 4..<8 { low = low << 16 | UInt64(groups[index]) }
        return (high, low)
    }

    /// Colon-separated hex groups; an empty text is zero groups. The last piece may be a
    /// dotted quad (two groups) when `allowV4Tail`.
    private static func parseGroups(_ text: Substring, allowV4Tail: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if index == parts.count - 1, allowV4Tail, part.contains(".") {
                guard let v4 = parseV4(part) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(truncatingIfNeeded: v4))
                continue
            }
            guard !part.isEmpty, part.count <= 4,
                  part.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }),
                  let group = UInt16(part, radix: 16) else { return nil }
            groups.append(group)
        }
        return groups
    }
}
