import Testing
@testable import PolicyEngine

// MARK: - Parsing and canonical text

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("1.2.3.4", "1.2.3.4"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("::1", "::1"),
        ("::", "::"),
        ("[::1]", "::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),       // first of two equal runs is compressed
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),    // a single zero group is not compressed
        ("fe80::1", "fe80::1"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
        ("::127.0.0.1", "::7f00:1"),
        ("64:ff9b::7f00:1", "64:ff9b::7f00:1"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1::", "1::"),
    ])
    func parsesAndPrintsCanonically(input: String, canonical: String) throws {
        let address = try #require(IPAddress(input))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "127.1", "1.2.3.-4", " 1.2.3.4",
        "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "fe80::1%eth0", "[1.2.3.4]", "12345::", "g::1",
        "::1.2.3", "1:2:3:4:5:6:7::8:9", "localhost", "[::1",
    ])
    func rejectsMalformedText(input: String) {
        #expect(IPAddress(input) == nil)
    }

    @Test func bytesRoundTrip() throws {
        let v4 = IPAddress(v4: (10, 0, 0, 1))
        #expect(v4.bytes == [10, 0, 0, 1])
        #expect(v4.family == .v4)
        let v6 = ip("2001:db8::ff00:42:8329")
        #expect(v6.bytes.count == 16)
        #expect(IPAddress(bytes: v6.bytes) == v6)
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        #expect(IPAddress(bytes: [127, 0, 0, 1])?.description == "127.0.0.1")
    }

    @Test func familiesDiffer() throws {
        // 0.0.0.1 and ::1 have the same low bits but are different addresses.
        #expect(IPAddress("0.0.0.1") != IPAddress("::1"))
        #expect(IPAddress("::ffff:1.2.3.4")?.family == .v6)
    }
}

// MARK: - CIDR

@Suite struct CIDRTests {
    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("1.2.3.4", "1.2.3.4/32"),
        ("::1", "::1/128"),
        ("fe80::/10", "fe80::/10"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("::/0", "::/0"),
    ])
    func parses(input: String, canonical: String) throws {
        let block = try CIDR.parse(input).get()
        #expect(block.description == canonical)
    }

    @Test(arguments: [
        ("10.0.0.0/33", "prefix length must be 0-32"),
        ("::/129", "prefix length must be 0-128"),
        ("10.0.0.1/8", "host bits are set; did you mean '10.0.0.0/8'?"),
        ("10.0.0.0/", "prefix length"),
        ("10.0.0.0/8/8", "more than one '/'"),
        ("example.com/8", "is not an IPv4 or IPv6 address"),
        ("10.0.0.0/+8", "prefix length"),
    ])
    func rejects(input: String, message: String) {
        guard case .failure(let error) = CIDR.parse(input) else {
            Issue.record("\(input) parsed")
            return
        }
        #expect(error.message.contains(message))
    }

    @Test func containment() throws {
        let block = try CIDR.parse("172.16.0.0/12").get()
        #expect(block.contains(ip("172.31.255.255")))
        #expect(!block.contains(ip("172.32.0.0")))
        #expect(!block.contains(ip("::ffff:172.16.0.1")))
        #expect(block.contains(try CIDR.parse("172.20.0.0/16").get()))
        #expect(!block.contains(try CIDR.parse("172.0.0.0/8").get()))
    }

    @Test func tableReturnsTheFirstPolicyEntry() throws {
        var table = CIDRTable(family: .v4)
        table.insert(try CIDR.parse("10.0.0.0/8").get(), id: 3)
        table.insert(try CIDR.parse("10.1.0.0/16").get(), id: 1)
        table.insert(try CIDR.parse("0.0.0.0/0").get(), id: 7)
        #expect(table.lookup(ip("10.1.2.3")) == 1)
        #expect(table.lookup(ip("10.2.2.3")) == 3)
        #expect(table.lookup(ip("8.8.8.8")) == 7)
        // Only blocks with at least 9 fixed bits: 10.0.0.0/8 and 0.0.0.0/0 no longer count.
        #expect(table.lookup(ip("10.2.2.3"), minimumPrefixLength: 9) == nil)
        #expect(table.lookup(ip("10.1.2.3"), minimumPrefixLength: 9) == 1)
        #expect(table.lookup(ip("::1")) == nil)
    }
}
