import Testing
@testable import PolicyEngine

// MARK: - Classifier table: rows just inside and just outside every range

@Suite struct SpecialRangeTests {
    struct Row: Sendable, CustomStringConvertible {
        let address: String
        let range: SpecialRange?
        let form: SpecialRange.Form
        var description: String { "\(address) -> \(range?.rawValue ?? "public")" }

        init(_ address: String, _ range: SpecialRange?, _ form: SpecialRange.Form = .native) {
            self.address = address
            self.range = range
            self.form = form
        }
    }

    static let rows: [Row] = [
        // 0.0.0.0/8
        Row("0.0.0.0", .thisNetwork), Row("0.255.255.255", .thisNetwork), Row("1.0.0.0", nil),
        // 10.0.0.0/8
        Row("9.255.255.255", nil), Row("10.0.0.0", .privateNetwork), Row("10.255.255.255", .privateNetwork), Row("11.0.0.0", nil),
        // 100.64.0.0/10
        Row("100.63.255.255", nil), Row("100.64.0.0", .sharedAddressSpace), Row("100.127.255.255", .sharedAddressSpace), Row("100.128.0.0", nil),
        // 127.0.0.0/8
        Row("126.255.255.255", nil), Row("127.0.0.0", .loopback), Row("127.0.0.1", .loopback), Row("127.255.255.255", .loopback), Row("128.0.0.0", nil),
        // 169.254.0.0/16
        Row("169.253.255.255", nil), Row("169.254.0.0", .linkLocal), Row("169.254.169.254", .linkLocal), Row("169.254.255.255", .linkLocal), Row("169.255.0.0", nil),
        // 172.16.0.0/12
        Row("172.15.255.255", nil), Row("172.16.0.0", .privateNetwork), Row("172.31.255.255", .privateNetwork), Row("172.32.0.0", nil),
        // 192.168.0.0/16
        Row("192.167.255.255", nil), Row("192.168.0.0", .privateNetwork), Row("192.168.255.255", .privateNetwork), Row("192.169.0.0", nil),
        // 224.0.0.0/4, 240.0.0.0/4, 255.255.255.255
        Row("223.255.255.255", nil), Row("224.0.0.0", .multicast), Row("239.255.255.255", .multicast),
        Row("240.0.0.0", .reserved), Row("255.255.255.254", .reserved), Row("255.255.255.255", .broadcast),
        // Ordinary public addresses
        Row("8.8.8.8", nil), Row("1.1.1.1", nil), Row("2001:4860:4860::8888", nil),
        // ::/128 and ::1/128
        Row("::", .unspecified), Row("::1", .loopback),
        // fe80::/10
        Row("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nil), Row("fe80::", .linkLocal), Row("fe80::1", .linkLocal),
        Row("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .linkLocal), Row("fec0::", nil),
        // fc00::/7
        Row("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nil), Row("fc00::", .uniqueLocal), Row("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .uniqueLocal), Row("fe00::", nil),
        // ff00::/8
        Row("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nil), Row("ff00::", .multicast), Row("ff02::1", .multicast), Row("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", .multicast),
        // IPv4-mapped ::ffff:0:0/96
        Row("::ffff:127.0.0.1", .loopback, .ipv4Mapped), Row("::ffff:10.0.0.1", .privateNetwork, .ipv4Mapped),
        Row("::ffff:169.254.169.254", .linkLocal, .ipv4Mapped), Row("::ffff:8.8.8.8", nil), Row("::fffe:127.0.0.1", nil),
        Row("::1:ffff:7f00:1", nil),
        // IPv4-compatible ::/96
        Row("::127.0.0.1", .loopback, .ipv4Compatible), Row("::2", .thisNetwork, .ipv4Compatible),
        Row("::192.168.1.1", .privateNetwork, .ipv4Compatible), Row("::8.8.8.8", nil),
        // NAT64 64:ff9b::/96
        Row("64:ff9b::7f00:1", .loopback, .nat64), Row("64:ff9b::a9fe:a9fe", .linkLocal, .nat64),
        Row("64:ff9b::6440:1", .sharedAddressSpace, .nat64), Row("64:ff9b::808:808", nil),
        Row("64:ff9a:ffff:ffff:ffff:ffff:7f00:1", nil), Row("64:ff9b:0:0:0:1:7f00:1", nil),
        // NAT64 local use 64:ff9b:1::/48: the /96 layout (last 32 bits) and the /48 layout
        // (bits 48-63, 72-87) are both checked, since the address does not say which is in use.
        Row("64:ff9b:1::7f00:1", .loopback, .nat64),                  // /96 layout: 127.0.0.1
        Row("64:ff9b:1:7f00:1:0:808:808", .loopback, .nat64),         // /96: 8.8.8.8, /48: 127.0.0.1
        Row("64:ff9b:1:808:8:800:808:808", nil),                      // 8.8.8.8 either way
        Row("64:ff9b:1:808:8:800::", .thisNetwork, .nat64),           // /96 reading is 0.0.0.0
        Row("64:ff9b:2::7f00:1", nil),
    ]

    @Test(arguments: rows)
    func classifies(row: Row) throws {
        let address = try #require(IPAddress(row.address))
        let match = SpecialRange.classify(address)
        #expect(match?.range == row.range)
        if row.range != nil {
            #expect(match?.form == row.form)
        }
    }

    @Test func everyRangeHasARow() {
        let covered = Set(Self.rows.compactMap(\.range))
        #expect(covered == Set(SpecialRange.allCases))
    }

    @Test func embeddedFormsCarryTheIPv4Address() throws {
        let match = try #require(SpecialRange.classify(ip("64:ff9b::7f00:1")))
        #expect(match.embeddedV4 == IPAddress("127.0.0.1"))
        #expect(match.block.description == "127.0.0.0/8")
        #expect(match.v6PrefixLengthInOriginal == 104)
    }
}
