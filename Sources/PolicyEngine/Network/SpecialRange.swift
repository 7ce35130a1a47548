// MARK: - SpecialRange

/// The address ranges that are denied unless a policy unlocks them explicitly (SPEC 4 step 4):
/// everything that reaches the proxy's own machine, its local networks or cloud metadata
/// services rather than the public internet. A closed enum so that every range is named in the
/// table test.
public enum SpecialRange: String, Sendable, CaseIterable {
    /// `0.0.0.0/8`: "this network"; connecting to 0.0.0.0 reaches the local host on Linux.
    case thisNetwork = "this_network"
    /// `::/128`: the unspecified address (also reaches the local host).
    case unspecified
    /// `127.0.0.0/8`, `::1/128`.
    case loopback
    /// `169.254.0.0/16` (incl. the 169.254.169.254 metadata service), `fe80::/10`.
    case linkLocal = "link_local"
    /// RFC 1918: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    case privateNetwork = "private"
    /// RFC 6598 carrier-grade NAT: `100.64.0.0/10`.
    case sharedAddressSpace = "shared_address_space"
    /// `fc00::/7` unique local addresses.
    case uniqueLocal = "unique_local"
    /// `224.0.0.0/4`, `ff00::/8`.
    case multicast
    /// `240.0.0.0/4` (reserved), except the broadcast address.
    case reserved
    /// `255.255.255.255/32`.
    case broadcast

    /// How an address carries the IPv4 address that was classified.
    public enum Form: String, Sendable {
        /// The address itself is in the range.
        case native
        /// `::ffff:a.b.c.d` (`::ffff:0:0/96`).
        case ipv4Mapped = "ipv4_mapped"
        /// `::a.b.c.d` (`::/96`, deprecated IPv4-compatible form).
        case ipv4Compatible = "ipv4_compatible"
        /// `64:ff9b::a.b.c.d` (`64:ff9b::/96`) or inside the local-use prefix `64:ff9b:1::/48`.
        case nat64
    }

    /// What the classifier found for one address.
    public struct Match: Sendable, Equatable {
        /// The range.
        public let range: SpecialRange
        /// The block of the range that contains the (embedded) address, in that address's family.
        public let block: CIDR
        /// How the address carries it.
        public let form: Form
        /// The embedded IPv4 address for the non-native forms.
        public let embeddedV4: IPAddress?
        /// The prefix length, in the original IPv6 address, that the block corresponds to; an
        /// allow_out IPv6 CIDR unlocks the address only with at least this many fixed bits.
        public let v6PrefixLengthInOriginal: Int?
    }

    // MARK: Tables

    static let v4Blocks: [(CIDR, SpecialRange)] = [
        (block("0.0.0.0/8"), .thisNetwork),
        (block("10.0.0.0/8"), .privateNetwork),
        (block("100.64.0.0/10"), .sharedAddressSpace),
        (block("127.0.0.0/8"), .loopback),
        (block("169.254.0.0/16"), .linkLocal),
        (block("172.16.0.0/12"), .privateNetwork),
        (block("192.168.0.0/16"), .privateNetwork),
        (block("224.0.0.0/4"), .multicast),
        // Broadcast before the reserved block that contains it: the more specific name wins.
        (block("255.255.255.255/32"), .broadcast),
        (block("240.0.0.0/4"), .reserved),
    ]

    static let v6Blocks: [(CIDR, SpecialRange)] = [
        (block("::/128"), .unspecified),
        (block("::1/128"), .loopback),
        (block("fe80::/10"), .linkLocal),
        (block("fc00::/7"), .uniqueLocal),
        (block("ff00::/8"), .multicast),
    ]

    static let mappedPrefix = block("::ffff:0:0/96")
    static let compatiblePrefix = block("::/96")
    static let nat64WellKnown = block("64:ff9b::/96")
    static let nat64LocalUse = block("64:ff9b:1::/48")

    private static func block(_ text: String) -> CIDR {
        guard case .success(let block) = CIDR.parse(text) else {
            preconditionFailure("built-in special range \(text) does not parse")
        }
        return block
    }

    // MARK: Classification

    /// The special range `address` falls in, directly or through an IPv4-embedding IPv6 form;
    /// nil for an ordinary public address.
    public static func classify(_ address: IPAddress) -> Match? {
        switch address.family {
        case .v4:
            return classifyV4(address).map {
                Match(range: $0.1, block: $0.0, form: .native, embeddedV4: nil, v6PrefixLengthInOriginal: nil)
            }
        case .v6:
            // Native IPv6 ranges first: ::1 and :: are also inside ::/96.
            for (block, range) in v6Blocks where block.contains(address) {
                return Match(range: range, block: block, form: .native, embeddedV4: nil, v6PrefixLengthInOriginal: block.prefixLength)
            }
            for (embedded, form, offset) in embeddings(of: address) {
                if let (block, range) = classifyV4(embedded) {
                    return Match(range: range, block: block, form: form, embeddedV4: embedded,
                                 v6PrefixLengthInOriginal: offset.map { $0 + block.prefixLength } ?? 128)
                }
            }
            return nil
        }
    }

    /// The IPv4 addresses an IPv6 address may carry, with the bit offset of the IPv4 part when
    /// it is the contiguous last 32 bits (nil when the layout is not contiguous).
    static func embeddings(of address: IPAddress) -> [(IPAddress, Form, Int?)] {
        let last32 = IPAddress(v4Value: UInt32(truncatingIfNeeded: address.low))
        if mappedPrefix.contains(address) { return [(last32, .ipv4Mapped, 96)] }
        if compatiblePrefix.contains(address) { return [(last32, .ipv4Compatible, 96)] }
        if nat64WellKnown.contains(address) { return [(last32, .nat64, 96)] }
        if nat64LocalUse.contains(address) {
            // RFC 6052 allows several layouts inside a local-use prefix and the address does
            // not say which one the operator uses: check the /96 layout (last 32 bits) and the
            // /48 layout (bits 48-63 and 72-87); either being special makes the address special.
            let upper = UInt32(truncatingIfNeeded: address.high & 0xffff) << 16
            let lower = UInt32(truncatingIfNeeded: (address.low >> 40) & 0xffff)
            let layout48 = IPAddress(v4Value: upper | lower)
            return [(last32, .nat64, 96), (layout48, .nat64, nil)]
        }
        return []
    }

    private static func classifyV4(_ address: IPAddress) -> (CIDR, SpecialRange)? {
        for (block, range) in v4Blocks where block.contains(address) {
            return (block, range)
        }
        return nil
    }
}
