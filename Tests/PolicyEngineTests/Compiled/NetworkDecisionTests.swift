import Testing
@testable import PolicyEngine

// MARK: - SPEC 4: the network decision

@Suite struct NetworkDecisionTests {
    static let policy = """
        sandbox: sb-test
        network:
          allow_out:
            - 127.0.0.1/32          # [0] unlocks exactly this loopback address
            - 0.0.0.0/0             # [1] unlocks no special range
            - internal.example.com  # [2] a host pattern unlocks no special range
            - 10.0.5.0/24           # [3] unlocks part of RFC 1918
            - 203.0.113.7           # [4] beats deny_out[1]
            - "*.allowed.example"   # [5] beats deny_out[0] for its hosts
            - "fd00::/64"           # [6] unlocks part of fc00::/7
          deny_out:
            - "*.example"           # [0]
            - 203.0.113.0/24        # [1]
            - blocked.test          # [2]
        """

    struct Row: Sendable, CustomStringConvertible {
        let host: String
        let address: String
        let decision: Decision
        var description: String { "\(host) @ \(address) -> \(decision)" }
        init(_ host: String, _ address: String, _ decision: Decision) {
            self.host = host
            self.address = address
            self.decision = decision
        }
    }

    static let rows: [Row] = [
        // special_range, and what unlocks it
        Row("localhost", "127.0.0.1", .allow(rule: "network.allow_out[0]")),
        Row("localhost", "127.0.0.2", .deny(.special_range)),
        Row("localhost", "::ffff:127.0.0.1", .allow(rule: "network.allow_out[0]")),
        Row("localhost", "::ffff:127.0.0.2", .deny(.special_range)),
        Row("localhost", "::127.0.0.2", .deny(.special_range)),
        Row("localhost", "64:ff9b::7f00:2", .deny(.special_range)),
        Row("metadata", "169.254.169.254", .deny(.special_range)),
        Row("metadata", "::ffff:169.254.169.254", .deny(.special_range)),
        Row("link", "fe80::1", .deny(.special_range)),
        Row("loop6", "::1", .deny(.special_range)),
        Row("zero", "0.0.0.0", .deny(.special_range)),
        Row("cgnat", "100.64.0.1", .deny(.special_range)),
        Row("rfc1918", "10.0.0.1", .deny(.special_range)),
        Row("rfc1918", "10.0.5.9", .allow(rule: "network.allow_out[3]")),
        Row("rfc1918", "::ffff:10.0.5.9", .allow(rule: "network.allow_out[3]")),
        Row("rfc1918", "192.168.1.1", .deny(.special_range)),
        Row("internal.example.com", "10.1.1.1", .deny(.special_range)),
        Row("ula", "fd00::1", .allow(rule: "network.allow_out[6]")),
        Row("ula", "fd00:0:0:1::1", .deny(.special_range)),
        Row("mcast", "224.0.0.1", .deny(.special_range)),
        Row("bcast", "255.255.255.255", .deny(.special_range)),
        // allow_out beats deny_out
        Row("x.test", "203.0.113.7", .allow(rule: "network.allow_out[1]")),
        Row("x.test", "8.8.8.8", .allow(rule: "network.allow_out[1]")),
    ]

    @Test(arguments: rows)
    func addressDecisions(row: Row) throws {
        let compiled = try compiledPolicy(Self.policy)
        #expect(compiled.addressDecision(host: row.host, address: ip(row.address)) == row.decision)
    }

    @Test func hostPatternsInDenyOut() throws {
        let compiled = try compiledPolicy(Self.policy)
        #expect(compiled.hostDecision(host: "api.example") == .deny(.host_denied, rule: "network.deny_out[0]"))
        #expect(compiled.hostDecision(host: "BLOCKED.test.") == .deny(.host_denied, rule: "network.deny_out[2]"))
        // allow_out beats deny_out for host patterns too.
        #expect(compiled.hostDecision(host: "a.allowed.example") == nil)
        #expect(compiled.hostDecision(host: "pypi.org") == nil)
    }

    @Test func cidrDenied() throws {
        let compiled = try compiledPolicy("""
            sandbox: sb-test
            network:
              allow_out: [203.0.113.7]
              deny_out: [blocked.test, 203.0.113.0/24, "2001:db8::/32"]
            """)
        #expect(compiled.addressDecision(host: "x.test", address: ip("203.0.113.8")) == .deny(.cidr_denied, rule: "network.deny_out[1]"))
        #expect(compiled.addressDecision(host: "x.test", address: ip("203.0.113.7")) == .allow(rule: "network.allow_out[0]"))
        #expect(compiled.addressDecision(host: "x.test", address: ip("2001:db8::5")) == .deny(.cidr_denied, rule: "network.deny_out[2]"))
        // The same IPv4 host through its mapped and NAT64 forms.
        #expect(compiled.addressDecision(host: "x.test", address: ip("::ffff:203.0.113.8")) == .deny(.cidr_denied, rule: "network.deny_out[1]"))
        #expect(compiled.addressDecision(host: "x.test", address: ip("64:ff9b::cb00:7108")) == .deny(.cidr_denied, rule: "network.deny_out[1]"))
        #expect(compiled.addressDecision(host: "x.test", address: ip("8.8.8.8")) == .allow())
        #expect(compiled.addressDecision(host: "x.test", address: ip("2606:4700::1111")) == .allow())
    }

    @Test func allOutDeniesIPv6Too() throws {
        let compiled = try compiledPolicy("""
            sandbox: sb-test
            network:
              deny_out: ["0.0.0.0/0"]
            """)
        #expect(compiled.addressDecision(host: "x.test", address: ip("8.8.8.8")) == .deny(.cidr_denied, rule: "network.deny_out[0]"))
        #expect(compiled.addressDecision(host: "x.test", address: ip("2606:4700::1111")) == .deny(.cidr_denied, rule: "network.deny_out[0]"))
    }

    @Test func allowInternetAccessFalse() throws {
        let compiled = try compiledPolicy("""
            sandbox: sb-test
            network:
              allow_internet_access: false
              allow_out: [pypi.org, "2a04:4e42::/32"]
            """)
        #expect(compiled.addressDecision(host: "example.org", address: ip("93.184.216.34")) == .deny(.cidr_denied, rule: "network.allow_internet_access"))
        #expect(compiled.addressDecision(host: "example.org", address: ip("2606:2800::1")) == .deny(.cidr_denied, rule: "network.allow_internet_access"))
        // An allow_out host pattern allows every non-special address of that host.
        #expect(compiled.addressDecision(host: "pypi.org", address: ip("151.101.0.223")) == .allow(rule: "network.allow_out[0]"))
        #expect(compiled.addressDecision(host: "pypi.org", address: ip("2a04:4e42::223")) == .allow(rule: "network.allow_out[0]"))
        #expect(compiled.addressDecision(host: "other.org", address: ip("2a04:4e42::1")) == .allow(rule: "network.allow_out[1]"))
        // ... but never a special one.
        #expect(compiled.addressDecision(host: "pypi.org", address: ip("127.0.0.1")) == .deny(.special_range))
    }

    @Test func defaultPolicyAllowsPublicAndDeniesSpecial() throws {
        let compiled = try compiledPolicy("sandbox: sb-test")
        #expect(compiled.addressDecision(host: "example.org", address: ip("93.184.216.34")) == .allow())
        #expect(compiled.addressDecision(host: "example.org", address: ip("127.0.0.1")) == .deny(.special_range))
    }

    // MARK: connectDecision

    @Test func connectKeepsOnlyAllowedAddressesInOrder() throws {
        let compiled = try compiledPolicy(Self.policy)
        let result = compiled.connectDecision(host: "mixed.test", addresses: [ip("10.0.0.1"), ip("8.8.8.8"), ip("127.0.0.1"), ip("1.1.1.1")])
        #expect(result.decision == .allow(rule: "network.allow_out[1]"))
        #expect(result.allowedAddresses == [ip("8.8.8.8"), ip("127.0.0.1"), ip("1.1.1.1")])
    }

    @Test func connectDeniesWithTheFirstReasonMet() throws {
        let compiled = try compiledPolicy("""
            sandbox: sb-test
            network:
              deny_out: [blocked.test, 203.0.113.0/24]
            """)
        let denied = compiled.connectDecision(host: "x.test", addresses: [ip("169.254.169.254"), ip("203.0.113.1")])
        #expect(denied.decision == .deny(.special_range))
        #expect(denied.allowedAddresses.isEmpty)
        let second = compiled.connectDecision(host: "x.test", addresses: [ip("203.0.113.1"), ip("169.254.169.254")])
        #expect(second.decision == .deny(.cidr_denied, rule: "network.deny_out[1]"))
        // Host patterns are checked before any address.
        let byName = compiled.connectDecision(host: "blocked.test", addresses: [ip("8.8.8.8")])
        #expect(byName.decision == .deny(.host_denied, rule: "network.deny_out[0]"))
        #expect(byName.allowedAddresses.isEmpty)
        // Nothing resolved.
        #expect(compiled.connectDecision(host: "x.test", addresses: []).decision == .deny(.dns_failure))
    }
}
