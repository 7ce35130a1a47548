import Foundation
import Testing

/// `mitm: false`: CONNECT becomes a byte tunnel to the pinned address, still under the host
/// and IP rules, and the ClientHello's SNI must name the CONNECT host.
@Suite("Proxy: tunnel mode")
struct TunnelTests {
    static let policy = PolicyYAML.make(mitm: "false")

    @Test("curl trusting only the upstream CA gets the upstream's answer; the audit says tunnel")
    func tunnel() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.policy)) { proxy in
                let (result, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: pki.caCertificatePath, upstream.url("/hello"))
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(transfer.connectStatus == 200)
                #expect(transfer.status == 200)
                #expect(transfer.bodyText == Upstream.helloBody)

                let record = try await expectAudit(proxy, "tunnel to api.test") {
                    $0.mode == "tunnel" && $0.host == "api.test"
                }
                guard let record else { return }
                expectRequiredAuditFields(record)
                #expect(record.event == "connect")
                #expect(record.decision == "allow")
                #expect(record.port == upstream.port)
                #expect(record.string("ip") == nil || record.string("ip") == "127.0.0.1")
            }
        }
    }

    @Test("a tunnel is not intercepted: trusting only the sandbox CA fails verification")
    func tunnelIsNotIntercepted() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.policy)) { proxy in
                let (result, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"))
                #expect(transfer.connectStatus == 200)
                #expect(result.exitCode == 60, "curl exit \(result.exitCode): \(result.stderr)")
            }
        }
    }

    @Test("SNI naming another host than CONNECT is refused (sni_mismatch); the matching SNI works")
    func sniMismatch() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.policy)) { proxy in
                func handshake(serverName: String) async throws -> ProcessOutput {
                    try await Subprocess.run(
                        TestEnvironment.openssl,
                        [
                            "s_client", "-proxy", "127.0.0.1:\(proxy.port)", "-connect", "api.test:\(upstream.port)",
                            "-servername", serverName, "-CAfile", pki.caCertificatePath, "-verify_return_error",
                            "-brief",
                        ],
                        timeout: .seconds(30))
                }
                // Control first: the same command with the right name completes its handshake.
                let matching = try await handshake(serverName: "api.test")
                #expect(matching.exitCode == 0, "\(matching.combinedText)")

                let mismatching = try await handshake(serverName: "other.test")
                #expect(mismatching.exitCode != 0, "the handshake with SNI other.test must fail")
                #expect(!mismatching.timedOut)
                let record = try await expectAudit(proxy, "sni_mismatch") { $0.reason == "sni_mismatch" }
                #expect(record?.decision == "deny")
                #expect(record?.host == "api.test")
            }
        }
    }
}
