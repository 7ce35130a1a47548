// MARK: - CIDR

/// An address block: a network address and a prefix length (`10.0.0.0/8`, `fe80::/10`).
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    /// The network address (host bits are always zero).
    public let network: IPAddress
    /// The number of leading bits that are fixed: 0-32 for IPv4, 0-128 for IPv6.
    public let prefixLength: Int

    /// Why a CIDR text was refused; the message is meant for a policy diagnostic.
    public struct ParseError: Error, Sendable, Equatable {
        public let message: String
    }

    /// A block from an address and a prefix length; host bits are cleared.
    public init(_ address: IPAddress, prefixLength: Int) {
        let width = address.bitWidth
        let length = max(0, min(prefixLength, width))
        self.network = Self.mask(address, prefixLength: length)
        self.prefixLength = length
    }

    /// Parses `"10.0.0.0/8"`, `"::1/128"`, or a bare address (a `/32` or `/128` block).
    /// Host bits set (`10.0.0.1/8`) are an error: the author probably meant something else.
    public static func parse(_ text: String) -> Result<CIDR, ParseError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            return .failure(ParseError(message: "bad CIDR '\(text)': more than one '/'"))
        }
        guard let address = IPAddress(String(parts[0])), !parts[0].hasPrefix("[") else {
            return .failure(ParseError(message: "bad CIDR '\(text)': '\(parts[0])' is not an IPv4 or IPv6 address"))
        }
        let width = address.bitWidth
        guard parts.count == 2 else { return .success(CIDR(address, prefixLength: width)) }
        let lengthText = parts[1]
        guard !lengthText.isEmpty, lengthText.count <= 3,
              lengthText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let length = Int(lengthText), length <= width else {
            return .failure(ParseError(message: "bad CIDR '\(text)': prefix length must be 0-\(width)"))
        }
        let block = CIDR(address, prefixLength: length)
        guard block.network == address else {
            return .failure(ParseError(message: "bad CIDR '\(text)': host bits are set; did you mean '\(block)'?"))
        }
        return .success(block)
    }

    /// Whether `address` lies in this block (always false across families).
    public func contains(_ address: IPAddress) -> Bool {
        address.family == network.family && Self.mask(address, prefixLength: prefixLength) == network
    }

    /// Whether every address of `other` lies in this block.
    public func contains(_ other: CIDR) -> Bool {
        other.network.family == network.family && other.prefixLength >= prefixLength && contains(other.network)
    }

    /// `"10.0.0.0/8"`.
    public var description: String { "\(network)/\(prefixLength)" }

    static func mask(_ address: IPAddress, prefixLength: Int) -> IPAddress {
        switch address.family {
        case .v4:
            let maskBits: UInt32 = prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength)
            return IPAddress(v4Value: address.v4Value & maskBits)
        case .v6:
            let highMask: UInt64 = prefixLength >= 64 ? .max : (prefixLength == 0 ? 0 : UInt64.max << UInt64(64 - prefixLength))
            let lowMask: UInt64 = prefixLength <= 64 ? 0 : (prefixLength == 128 ? .max : UInt64.max << UInt64(128 - prefixLength))
            return IPAddress(v6High: address.high & highMask, low: address.low & lowMask)
        }
    }
}
