import Foundation
import Testing

/// SPEC section 4 step 7: failures after an allow decision are answered by the proxy (502)
/// and audited with their reason.
@Suite("Proxy: upstream failures")
struct UpstreamFailureTests {
    /// An upstream certificate the proxy must reject.
    struct BadCertificate: Sendable, CustomTestStringConvertible {
        let label: String
        let pair: @Sendable (TestPKI) -> CertificatePair
        var testDescription: String { label }
    }

    static let badCertificates: [BadCertificate] = [
        BadCertificate(label: "signed by an untrusted CA", pair: { $0.untrustedLeaf }),
        BadCertificate(label: "host named only in the subject CN, no subjectAltName", pair: { $0.commonNameOnlyLeaf }),
    ]

    @Test(
        "MITM to an upstream with a bad certificate: 502 and an upstream_tls audit record", arguments: badCertificates)
    func upstreamTLS(_ certificate: BadCertificate) async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(certificate.pair(pki))) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"))
                // The proxy may dial the upstream at CONNECT time or at the first request:
                // either way the user sees a 502 from the proxy, never the upstream's answer.
                #expect(transfer.effectiveStatus == 502, "CONNECT \(transfer.connectStatus), status \(transfer.status)")
                #expect(upstream.log.all.isEmpty)
                let record = try await expectAudit(proxy, "upstream_tls") { $0.reason == "upstream_tls" }
                #expect(record?.host == "api.test")
                #expect(record?.port == upstream.port)
            }
        }
    }

    @Test("the same proxy reaches a good upstream (control for the upstream_tls cases)")
    func goodCertificateControl() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"))
                #expect(transfer.status == 200)
            }
        }
    }

    @Test("an upstream that refuses connections: 502 and an upstream_error audit record", arguments: [false, true])
    func upstreamRefused(tls: Bool) async throws {
        // Bound but not listening (and held, so no parallel test can take it): refused.
        let refusing = try RefusingPort()
        let port = refusing.port
        defer { withExtendedLifetime(refusing) {} }
        try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
            let scheme = tls ? "https" : "http"
            let (_, transfer) = try await Curl.fetch(
                proxy: proxy, caFile: proxy.caCertificatePath, "\(scheme)://api.test:\(port)/hello", maxTime: 30)
            #expect(transfer.effectiveStatus == 502, "CONNECT \(transfer.connectStatus), status \(transfer.status)")
            let record = try await expectAudit(proxy, "upstream_error") { $0.reason == "upstream_error" }
            #expect(record?.port == port)
        }
    }
}
