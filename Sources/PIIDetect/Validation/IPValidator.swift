// MARK: - IP addresses

/// Parses IPv4/IPv6 text and decides which addresses identify a host (and so are PII).
///
/// Excluded: loopback, unspecified, documentation ranges (RFC 5737, RFC 3849), broadcast and
/// network addresses like `x.0.0.0`. Private RFC 1918 and link-local addresses count.
public enum IPValidator {
    /// Parses dotted-quad IPv4 (no leading `+`, octets 0-255, no leading zeros beyond one).
    public static func parseIPv4<S: Collection<UInt8>>(_ s: S) -> [UInt8]? {
        var octets: [UInt8] = []
        var value = 0
        var digits = 0
        var leadingZero = false
        for c in s {
            if isDigit(c) {
                if digits == 0 { leadingZero = c == 0x30 } else if leadingZero { return nil }
                value = value * 10 + Int(c - 0x30)
                digits += 1
                guard digits <= 3, value <= 255 else { return nil }
            } else if c == 0x2E {
                guard digits > 0, octets.count < 3 else { return nil }
                octets.append(UInt8(value)); value = 0; digits = 0
            } else {
                return nil
            }
        }
        guard digits > 0, octets.count == 3 else { return nil }
        octets.append(UInt8(value))
        return octets
    }

    /// Whether an IPv4 address identifies a host.
    public static func isHostIPv4(_ o: [UInt8]) -> Bool {
        guard o.count == 4 else { return false }
        if o[0] == 0 || o[0] == 127 { return false }                      // unspecified, loopback
        if o[0] == 192 && o[1] == 0 && o[2] == 2 { return false }         // TEST-NET-1
        if o[0] == 198 && o[1] == 51 && o[2] == 100 { return false }      // TEST-NET-2
        if o[0] == 203 && o[1] == 0 && o[2] == 113 { return false }       // TEST-NET-3
        if o[0] >= 224 { return false }                                    // multicast, reserved, broadcast
        if o[1] == 0 && o[2] == 0 && o[3] == 0 { return false }           // x.0.0.0: a network, or a version
        if o[3] == 255 && o[2] == 255 { return false }                     // masks and broadcasts
        return true
    }

    /// Parses IPv6 text (with `::` compression, an optional embedded IPv4 tail and an
    /// optional `%zone`) into 16 bytes.
    public static func parseIPv6<S: RandomAccessCollection<UInt8>>(_ s: S) -> [UInt8]? where S.Index == Int {
        // The address without its zone, indexed from 0 (IPv6 candidates are rare: one copy).
        let text = Array(s.prefix { $0 != 0x25 })
        guard text.count >= 2, text.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false
        var i = 0
        let n = text.count
        if text[0] == 0x3A {
            guard n > 1, text[1] == 0x3A else { return nil }
            sawDoubleColon = true
            i = 2
        }
        while i < n {
            // Embedded IPv4 tail.
            var j = i
            while j < n, isHexDigit(text[j]) { j += 1 }
            if j < n, text[j] == 0x2E {
                guard let v4 = parseIPv4(text[i..<n]) else { return nil }
                let a = UInt16(v4[0]) << 8 | UInt16(v4[1]), b = UInt16(v4[2]) << 8 | UInt16(v4[3])
                if sawDoubleColon { tail += [a, b] } else { head += [a, b] }
                i = n
                break
            }
            guard j > i, j - i <= 4 else { return nil }
            var v: UInt16 = 0
            for k in i..<j { v = v << 4 | UInt16(hexValue(text[k])) }
            if sawDoubleColon { tail.append(v) } else { head.append(v) }
            i = j
            if i == n { break }
            guard text[i] == 0x3A else { return nil }
            if i + 1 < n, text[i + 1] == 0x3A {
                guard !sawDoubleColon else { return nil }
                sawDoubleColon = true
                i += 2
                if i == n { break }
            } else {
                i += 1
                guard i < n else { return nil }
            }
        }
        let total = head.count + tail.count
        if sawDoubleColon { guard total <= 7 else { return nil } } else { guard total == 8 else { return nil } }
        let groups = head + [UInt16](repeating: 0, count: 8 - total) + tail
        var bytes: [UInt8] = []
        for g in groups { bytes.append(UInt8(g >> 8)); bytes.append(UInt8(g & 0xFF)) }
        return bytes
    }

    /// Whether an IPv6 address identifies a host.
    public static func isHostIPv6(_ b: [UInt8]) -> Bool {
        guard b.count == 16 else { return false }
        if b.allSatisfy({ $0 == 0 }) { return false }                                  // ::
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return false }             // ::1
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return false } // 2001:db8::/32
        if b[0] == 0xFF { return false }                                               // multicast
        // IPv4-mapped: judge the IPv4 address.
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF {
            return isHostIPv4(Array(b[12..<16]))
        }
        return true
    }
}
