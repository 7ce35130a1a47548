import Foundation
import Testing

/// SPEC section 4: every CONNECT and plain-HTTP request is decided on the host and every
/// address it resolves to; a denial is a 403 with `X-Egress-Decision` and a JSON body, and an
/// audit record.
@Suite("Proxy: network decisions")
struct NetworkDecisionTests {
    /// One denied CONNECT.
    struct DenialCase: Sendable, CustomTestStringConvertible {
        let label: String
        let allowOut: [String]
        var denyOut: [String] = []
        var networkExtra: [String] = []
        var resolve: [String] = []
        /// The CONNECT authority.
        let target: String
        let reason: String
        /// Checked in the body and the audit record when given.
        var host: String? = nil
        var rule: String? = nil

        var testDescription: String { "\(label): CONNECT \(target) → \(reason)" }
    }

    static let denials: [DenialCase] = [
        DenialCase(
            label: "deny_out names the host", allowOut: ["127.0.0.1/32"], denyOut: ["other.test"],
            target: "other.test:443", reason: "host_denied", host: "other.test", rule: "network.deny_out[0]"),
        DenialCase(
            label: "wildcard, any depth, case and trailing dot normalised", allowOut: ["127.0.0.1/32"],
            denyOut: ["192.0.2.1/32", "*.evil.test"], resolve: ["deep.sub.evil.test:127.0.0.1"],
            target: "Deep.Sub.EVIL.test.:443", reason: "host_denied", host: "deep.sub.evil.test",
            rule: "network.deny_out[1]"),
        DenialCase(
            label: "loopback by name, only a host pattern in allow_out", allowOut: ["api.test"],
            resolve: ["api.test:127.0.0.1"], target: "api.test:443", reason: "special_range", host: "api.test"),
        DenialCase(
            label: "loopback literal, 0.0.0.0/0 unlocks nothing", allowOut: ["0.0.0.0/0"],
            target: "127.0.0.1:443", reason: "special_range"),
        DenialCase(
            label: "127.0.0.2 is just outside the 127.0.0.1/32 unlock", allowOut: ["127.0.0.1/32"],
            target: "127.0.0.2:443", reason: "special_range"),
        DenialCase(
            label: "cloud metadata address", allowOut: ["127.0.0.1/32"],
            target: "169.254.169.254:80", reason: "special_range"),
        DenialCase(
            label: "IPv4-mapped loopback", allowOut: ["api.test"],
            target: "[::ffff:127.0.0.1]:443", reason: "special_range"),
        DenialCase(
            label: "IPv4-mapped metadata address", allowOut: ["127.0.0.1/32"],
            target: "[::ffff:169.254.169.254]:80", reason: "special_range"),
        DenialCase(
            label: "RFC 1918 by name", allowOut: ["127.0.0.1/32"], resolve: ["intranet.test:10.1.2.3"],
            target: "intranet.test:443", reason: "special_range", host: "intranet.test"),
        DenialCase(
            label: "deny_out CIDR holds the resolved address", allowOut: ["127.0.0.1/32"],
            denyOut: ["203.0.113.0/24"], resolve: ["blocked.test:203.0.113.7"],
            target: "blocked.test:443", reason: "cidr_denied", host: "blocked.test", rule: "network.deny_out[0]"),
        DenialCase(
            label: "deny_out CIDR holds the literal", allowOut: ["127.0.0.1/32"], denyOut: ["198.51.100.0/24"],
            target: "198.51.100.20:443", reason: "cidr_denied", rule: "network.deny_out[0]"),
        DenialCase(
            label: "allow_internet_access: false", allowOut: ["127.0.0.1/32"],
            networkExtra: ["allow_internet_access: false"], target: "203.0.113.9:443", reason: "cidr_denied"),
    ]

    @Test("a denied CONNECT: 403, X-Egress-Decision, JSON body, audit record", arguments: denials)
    func deniedConnect(_ denial: DenialCase) async throws {
        var configuration = ProxyConfiguration(
            policy: PolicyYAML.make(
                mitm: "true", allowOut: denial.allowOut, denyOut: denial.denyOut, networkExtra: denial.networkExtra))
        configuration.resolve += denial.resolve
        try await withProxy(configuration) { proxy in
            let response = try await RawClient.connect(denial.target, port: proxy.port)
            expectDenial(response, reason: denial.reason, host: denial.host, rule: denial.rule)

            let record = try await expectAudit(proxy, denial.testDescription) { $0.reason == denial.reason }
            guard let record else { return }
            expectRequiredAuditFields(record)
            #expect(record.event == "connect")
            #expect(record.decision == "deny")
            if let host = denial.host {
                #expect(record.host == host)
            }
            if let rule = denial.rule {
                #expect(record.rule == rule)
            }
        }
    }

    @Test("the same policy lets the unlocked address through (control for the denials)")
    func allowedConnect() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let policy = PolicyYAML.make(
                mitm: "true", allowOut: ["127.0.0.1/32"], denyOut: ["192.0.2.1/32", "*.evil.test", "203.0.113.0/24"])
            try await withProxy(ProxyConfiguration(policy: policy)) { proxy in
                let response = try await RawClient.connect("api.test:\(upstream.port)", port: proxy.port)
                #expect(response.status == 200)
                #expect(response.header("x-egress-decision") == nil)
            }
        }
    }

    @Test("curl sees a denied CONNECT as its CONNECT status, and nothing reaches the upstream")
    func curlSeesDeniedConnect() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let policy = PolicyYAML.make(mitm: "true", denyOut: ["other.test"])
            try await withProxy(ProxyConfiguration(policy: policy)) { proxy in
                let (result, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello", host: "other.test"))
                #expect(transfer.connectStatus == 403)
                #expect(result.exitCode == 56, "curl exit \(result.exitCode): \(result.stderr)")
                #expect(upstream.log.all.isEmpty)
                // The allowed host on the same proxy still works.
                let (_, allowed) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"))
                #expect(allowed.status == 200)
                #expect(allowed.bodyText == Upstream.helloBody)
            }
        }
    }

    @Test("plain HTTP to the metadata address: 403 JSON body for curl, audited as http")
    func plainHTTPDenied() async throws {
        try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "auto"))) { proxy in
            let (_, transfer) = try await Curl.fetch(
                proxy: proxy, caFile: nil, "http://169.254.169.254/latest/meta-data/", maxTime: 20)
            expectDenial(transfer, reason: "special_range")
            let record = try await expectAudit(proxy, "plain http special_range") { $0.reason == "special_range" }
            #expect(record?.mode == "http")
            #expect(record?.decision == "deny")
            #expect(record?.event == "request")
        }
    }

    @Test("plain HTTP to an IPv4-mapped loopback literal is denied too")
    func plainHTTPMappedLoopback() async throws {
        try await withUpstream(.plain) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "auto", allowOut: ["api.test"]))) {
                proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: nil, "http://[::ffff:127.0.0.1]:\(upstream.port)/hello", maxTime: 20)
                expectDenial(transfer, reason: "special_range")
                #expect(upstream.log.all.isEmpty)
            }
        }
    }

    @Test("MITM: an inner Host naming another host than CONNECT gets 421 (host_mismatch)")
    func hostMismatch() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"),
                    ["-H", "Host: other.test:\(upstream.port)"])
                #expect(transfer.connectStatus == 200)
                #expect(transfer.status == 421)
                #expect(upstream.log.requests(path: "/hello").isEmpty)
                let record = try await expectAudit(proxy, "host_mismatch") { $0.reason == "host_mismatch" }
                #expect(record?.decision == "deny")
                #expect(record?.mode == "mitm")
            }
        }
    }
}
