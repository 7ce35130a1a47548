import Crypto
import Foundation
import Testing

/// `egress-proxy gateway` (SPEC section 8) driven with curl: tenancy by
/// `Proxy-Authorization`, isolation of policies, CAs, secrets and pooled upstream connections,
/// live reload, per-sandbox limits, metrics that move with traffic, per-sandbox capture.
@Suite("Gateway: many sandboxes on one listener")
struct GatewayTests {
    static let tokenA = "token-a-" + UUID().uuidString
    static let tokenB = "token-b-" + UUID().uuidString
    static let adminToken = "admin-" + UUID().uuidString
    static let realA = "ra" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(28)
    static let realB = "rb" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(28)

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A sandbox policy: MITM everything on 127.0.0.1, the secret TOKEN from `env` bound to
    /// api.test, extra sections, and the sandbox's token hash.
    static func policy(token: String, env: String, sections: String = "") -> String {
        PolicyYAML.make(mitm: "true", sections: """
            secrets:
              entries:
                TOKEN:
                  value: env:\(env)
                  placeholder: PH_TOKEN
                  allowed_hosts: [api.test]
            gateway:
              token_sha256: "\(sha256(token))"
            \(sections)
            """).replacingOccurrences(of: "sandbox: \(PolicyYAML.sandbox)\n", with: "")
    }

    static let denyOther = """
        rules:
          - match: {host: other.test}
            action: deny
        """

    static func configuration(_ policies: [String: String]) -> ProxyConfiguration {
        var configuration = ProxyConfiguration.gateway(policies, adminToken: adminToken)
        configuration.environment = ["REAL_A": String(realA), "REAL_B": String(realB)]
        return configuration
    }

    static func credentials(_ sandbox: String, _ token: String) -> [String] { ["--proxy-user", "\(sandbox):\(token)"] }

    @Test("two sandboxes: each gets its own decisions, CA, secret values and upstream connections; wrong or missing credentials get 407")
    func twoSandboxesAreIsolated() async throws {
        let pki = try await TestPKI.shared()
        let policies = [
            "sb-a": Self.policy(token: Self.tokenA, env: "REAL_A", sections: Self.denyOther),
            "sb-b": Self.policy(token: Self.tokenB, env: "REAL_B"),
        ]
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(Self.configuration(policies)) { gateway in
                let caA = gateway.caCertificatePath(sandbox: "sb-a")
                let caB = gateway.caCertificatePath(sandbox: "sb-b")
                let auth = ["-H", "Authorization: Bearer PH_TOKEN"]

                // Each sandbox's placeholder becomes its own value.
                let (_, a) = try await Curl.fetch(proxy: gateway, caFile: caA, upstream.url("/headers?who=a"), Self.credentials("sb-a", Self.tokenA) + auth)
                let (_, b) = try await Curl.fetch(proxy: gateway, caFile: caB, upstream.url("/headers?who=b"), Self.credentials("sb-b", Self.tokenB) + auth)
                #expect(a.status == 200 && b.status == 200)
                let seenA = try #require(upstream.log.requests(path: "/headers").first { $0.uri.hasSuffix("who=a") })
                let seenB = try #require(upstream.log.requests(path: "/headers").first { $0.uri.hasSuffix("who=b") })
                #expect(seenA.header("authorization") == ["Bearer \(Self.realA)"])
                #expect(seenB.header("authorization") == ["Bearer \(Self.realB)"])
                #expect(seenA.connection != seenB.connection, "no pooled upstream connection crosses sandboxes")
                #expect(!a.bodyText.contains(Self.realA) && !b.bodyText.contains(Self.realB), "responses are masked")

                // Their own policies.
                let (_, deniedA) = try await Curl.fetch(proxy: gateway, caFile: caA, upstream.url("/hello", host: "other.test"), Self.credentials("sb-a", Self.tokenA))
                expectDenial(deniedA, reason: "rule_denied")
                let (_, allowedB) = try await Curl.fetch(proxy: gateway, caFile: caB, upstream.url("/hello", host: "other.test"), Self.credentials("sb-b", Self.tokenB))
                #expect(allowedB.status == 200)

                // Their own CAs: A's traffic is signed by A's CA only.
                let (crossCA, _) = try await Curl.fetch(proxy: gateway, caFile: caB, upstream.url("/hello"), Self.credentials("sb-a", Self.tokenA))
                #expect(crossCA.exitCode == 60, "sb-a's leaf does not verify against sb-b's CA: \(crossCA.stderr)")
                #expect(try String(contentsOfFile: caA, encoding: .utf8) != String(contentsOfFile: caB, encoding: .utf8))

                // Credentials: wrong token, another sandbox's token, none at all.
                for args in [Self.credentials("sb-a", "wrong"), Self.credentials("sb-a", Self.tokenB), [String]()] {
                    let (_, refused) = try await Curl.fetch(proxy: gateway, caFile: nil, "http://api.test:\(upstream.port)/hello", args)
                    #expect(refused.status == 407, "\(args)")
                    #expect(refused.header("proxy-authenticate")?.hasPrefix("Basic") == true)
                    #expect(!refused.bodyText.contains("token"), "no hint which part was wrong: \(refused.bodyText)")
                }
                let (_, refusedConnect) = try await Curl.fetch(proxy: gateway, caFile: caA, upstream.url("/hello"), Self.credentials("sb-a", Self.tokenB))
                #expect(refusedConnect.connectStatus == 407)

                // Audit records name their sandbox; no secret value or token anywhere.
                let recordA = try await expectAudit(gateway, "sb-a request") { $0.path?.hasPrefix("/headers") == true && $0.string("sandbox") == "sb-a" }
                let recordB = try await expectAudit(gateway, "sb-b request") { $0.path?.hasPrefix("/headers") == true && $0.string("sandbox") == "sb-b" }
                #expect(recordA?.secrets == ["TOKEN"] && recordB?.secrets == ["TOKEN"])
                for (label, text) in proxyOutputs(gateway) {
                    for forbidden in [String(Self.realA), String(Self.realB), Self.tokenA, Self.tokenB] {
                        #expect(!text.contains(forbidden), "\(label)")
                    }
                }
            }
        }
    }

    @Test("reload: a policy changed during a streaming download; the download completes, new requests see the new policy within 2 s; a broken file keeps it")
    func reloadDuringStreamingDownload() async throws {
        let pki = try await TestPKI.shared()
        let size = 30 * 1024 * 1024
        let policies = ["sb-a": Self.policy(token: Self.tokenA, env: "REAL_A")]
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(Self.configuration(policies)) { gateway in
                let caA = gateway.caCertificatePath(sandbox: "sb-a")
                let file = gateway.policiesDirectory + "/sb-a.yaml"
                // About 6 s at 5 MB/s: the policy changes under it.
                async let download = Curl.fetch(
                    proxy: gateway, caFile: caA, upstream.url("/bytes?n=\(size)"),
                    Self.credentials("sb-a", Self.tokenA) + ["--limit-rate", "5M"], maxTime: 120)
                try await Task.sleep(for: .seconds(1))
                try Data(Self.policy(token: Self.tokenA, env: "REAL_A", sections: """
                    rules:
                      - match: {host: api.test, path: "/hello"}
                        action: deny
                    """).utf8).write(to: URL(fileURLWithPath: file))
                let changed = ContinuousClock.now
                var denied = false
                while ContinuousClock.now - changed < .seconds(5) {
                    let (_, probe) = try await Curl.fetch(proxy: gateway, caFile: caA, upstream.url("/hello"), Self.credentials("sb-a", Self.tokenA))
                    if probe.status == 403 { denied = true; break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                let took = ContinuousClock.now - changed
                #expect(denied, "the new policy took effect")
                #expect(took < .seconds(2), "within 2 s (took \(took))")

                let (result, transfer) = try await download
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(transfer.status == 200)
                let body = try sha256HexOfFile(transfer.bodyPath)
                #expect(body.count == size && body.sha256 == BytePattern.sha256Hex(count: size), "the download kept its policy and completed")

                // A broken file: logged with FILE:LINE:COLUMN, the last good policy stays.
                try Data("version: 1\nnetwork:\n  allow_out: [\"127.0.0.1/33\"]\n".utf8).write(to: URL(fileURLWithPath: file))
                let broken = ContinuousClock.now
                var logged = false
                while ContinuousClock.now - broken < .seconds(5) {
                    if gateway.stderrText.contains("sb-a.yaml:3:") { logged = true; break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(logged, "the refusal names FILE:LINE:COLUMN: \(gateway.stderrTail())")
                let (_, stillDenied) = try await Curl.fetch(proxy: gateway, caFile: caA, upstream.url("/hello"), Self.credentials("sb-a", Self.tokenA))
                expectDenial(stillDenied, reason: "rule_denied")
                let (_, stillAllowed) = try await Curl.fetch(proxy: gateway, caFile: caA, upstream.url("/headers"), Self.credentials("sb-a", Self.tokenA))
                #expect(stillAllowed.status == 200)
            }
        }
    }

    @Test("per-sandbox limits: requests_per_second over its burst gets 429 rate_limited; the other sandbox is not affected")
    func requestsPerSecondLimit() async throws {
        let pki = try await TestPKI.shared()
        let policies = [
            "sb-a": Self.policy(token: Self.tokenA, env: "REAL_A", sections: "limits:\n  requests_per_second: 2\n"),
            "sb-b": Self.policy(token: Self.tokenB, env: "REAL_B"),
        ]
        try await withUpstream(.plain) { upstream in
            try await withProxy(Self.configuration(policies)) { gateway in
                let requests = (0..<8).map { CurlRequest(upstream.url("/hello?i=\($0)"), Self.credentials("sb-a", Self.tokenA)) }
                let a = try await Curl.run(proxy: gateway, caFile: nil, requests)
                let statuses = a.transfers.map(\.status)
                #expect(statuses.filter { $0 == 200 }.count >= 2, "\(statuses)")
                #expect(statuses.contains(429), "\(statuses)")
                if let limited = a.transfers.first(where: { $0.status == 429 }) {
                    expectDenial(limited, reason: "rate_limited", expectedStatus: 429)
                }
                let b = try await Curl.run(proxy: gateway, caFile: nil, (0..<8).map {
                    CurlRequest(upstream.url("/hello?b=\($0)"), Self.credentials("sb-b", Self.tokenB))
                })
                #expect(b.transfers.allSatisfy { $0.status == 200 }, "\(b.transfers.map(\.status))")
                let record = try await expectAudit(gateway, "rate_limited") { $0.reason == "rate_limited" }
                #expect(record?.string("sandbox") == "sb-a")
                // The gateway credential is the proxy's: never forwarded to an upstream.
                #expect(!upstream.log.all.isEmpty)
                #expect(upstream.log.all.allSatisfy { $0.header("proxy-authorization").isEmpty })
            }
        }
    }

    @Test("/metrics over the real gateway: 401 without the token, Prometheus text whose request counter moves with traffic")
    func metricsMoveWithTraffic() async throws {
        let policies = ["sb-a": Self.policy(token: Self.tokenA, env: "REAL_A")]
        try await withUpstream(.plain) { upstream in
            try await withProxy(Self.configuration(policies)) { gateway in
                let admin = "http://127.0.0.1:\(try #require(gateway.adminPort))"
                let (_, noToken) = try await Curl.fetch(proxy: nil, caFile: nil, admin + "/metrics")
                #expect(noToken.status == 401)
                let bearer = ["-H", "Authorization: Bearer \(Self.adminToken)"]
                func allowedRequests() async throws -> Double {
                    let (_, m) = try await Curl.fetch(proxy: nil, caFile: nil, admin + "/metrics", bearer)
                    #expect(m.status == 200)
                    var total = 0.0
                    for line in m.bodyText.split(separator: "\n") where line.hasPrefix("egress_requests_total{") {
                        guard line.contains("sb-a"), line.contains("decision=\"allow\""), let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
                        total += value
                    }
                    return total
                }
                let before = try await allowedRequests()
                let r = try await Curl.run(proxy: gateway, caFile: nil, (0..<3).map {
                    CurlRequest(upstream.url("/hello?m=\($0)"), Self.credentials("sb-a", Self.tokenA))
                })
                #expect(r.transfers.allSatisfy { $0.status == 200 })
                try await Task.sleep(for: .milliseconds(300))
                let after = try await allowedRequests()
                #expect(after - before == 3, "counter moved by 3: \(before) -> \(after)")
                let (_, health) = try await Curl.fetch(proxy: nil, caFile: nil, admin + "/healthz")
                #expect(health.status == 200)
                // Refused credentials are counted as well (no sandbox label of their own).
                _ = try await Curl.fetch(proxy: gateway, caFile: nil, upstream.url("/hello"), Self.credentials("sb-a", "wrong"))
                try await Task.sleep(for: .milliseconds(300))
                let (_, m) = try await Curl.fetch(proxy: nil, caFile: nil, admin + "/metrics", bearer)
                #expect(m.bodyText.split(separator: "\n").contains { $0.hasPrefix("egress_requests_total{") && $0.contains("proxy_auth_required") },
                        "407s are in the request counter")
            }
        }
    }

    @Test("--capture-dir: each sandbox's traffic in its own HAR, no secret value in either")
    func capturePerSandbox() async throws {
        let pki = try await TestPKI.shared()
        let scratch = try TemporaryDirectory(prefix: "gw-capture")
        defer { scratch.remove() }
        let policies = [
            "sb-a": Self.policy(token: Self.tokenA, env: "REAL_A"),
            "sb-b": Self.policy(token: Self.tokenB, env: "REAL_B"),
        ]
        var configuration = Self.configuration(policies)
        configuration.extraArguments = ["--capture-dir", scratch.path]
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(configuration) { gateway in
                let auth = ["-H", "Authorization: Bearer PH_TOKEN"]
                _ = try await Curl.fetch(proxy: gateway, caFile: gateway.caCertificatePath(sandbox: "sb-a"), upstream.url("/headers?from=a"), Self.credentials("sb-a", Self.tokenA) + auth)
                _ = try await Curl.fetch(proxy: gateway, caFile: gateway.caCertificatePath(sandbox: "sb-b"), upstream.url("/headers?from=b"), Self.credentials("sb-b", Self.tokenB) + auth)
            }
        }
        let harA = try String(contentsOfFile: scratch.file("sb-a.har"), encoding: .utf8)
        let harB = try String(contentsOfFile: scratch.file("sb-b.har"), encoding: .utf8)
        #expect(harA.contains("from=a") && !harA.contains("from=b"))
        #expect(harB.contains("from=b") && !harB.contains("from=a"))
        for text in [harA, harB] {
            #expect(!text.contains(String(Self.realA)) && !text.contains(String(Self.realB)))
            #expect(!text.contains(Self.tokenA) && !text.contains(Self.tokenB), "the gateway credential is redacted")
            #expect((try? JSONValue.parse(text)) != nil, "a complete HAR file")
        }
    }

    @Test("env.mask_patterns in the gateway: the values in <policies>/<sandbox>.env are masked for that sandbox only")
    func environmentMaskingPerSandbox() async throws {
        let pki = try await TestPKI.shared()
        let masking = "env:\n  mask_patterns: [\"*_KEY\"]\n"
        let policies = [
            "sb-a": Self.policy(token: Self.tokenA, env: "REAL_A", sections: masking),
            "sb-b": Self.policy(token: Self.tokenB, env: "REAL_B", sections: masking),
        ]
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(Self.configuration(policies)) { gateway in
                // Read when the sandbox is first used.
                try Data("VENDOR_API_KEY=\(Upstream.sandboxKeyValue)\n".utf8)
                    .write(to: URL(fileURLWithPath: gateway.policiesDirectory + "/sb-a.env"))
                let (_, a) = try await Curl.fetch(
                    proxy: gateway, caFile: gateway.caCertificatePath(sandbox: "sb-a"), upstream.url("/fixture?name=env-leak"),
                    Self.credentials("sb-a", Self.tokenA))
                #expect(a.status == 200)
                #expect(!a.bodyText.contains(Upstream.sandboxKeyValue), "sb-a's own key is masked: \(a.bodyText)")
                #expect(a.bodyText.hasPrefix("debug dump: VENDOR_API_KEY="))
                let (_, b) = try await Curl.fetch(
                    proxy: gateway, caFile: gateway.caCertificatePath(sandbox: "sb-b"), upstream.url("/fixture?name=env-leak"),
                    Self.credentials("sb-b", Self.tokenB))
                #expect(b.bodyText.contains(Upstream.sandboxKeyValue), "sb-b has no such variable: nothing of sb-a's applies")
                #expect(gateway.stderrText.contains("sb-b.env is missing or empty"), "the operator is told: \(gateway.stderrTail())")
            }
        }
    }

    @Test("redaction tokens stay the same across a policy reload (the sandbox's token vault is kept)")
    func tokensSurviveReload() async throws {
        let pki = try await TestPKI.shared()
        let pii = "pii:\n  enabled: true\n  types: [email]\n  action: redact\n  hosts: [api.test]\n"
        let policies = ["sb-a": Self.policy(token: Self.tokenA, env: "REAL_A", sections: pii)]
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(Self.configuration(policies)) { gateway in
                let ca = gateway.caCertificatePath(sandbox: "sb-a")
                func tokenSent(_ tag: String) async throws -> String? {
                    _ = try await Curl.fetch(proxy: gateway, caFile: ca, upstream.url("/upload?t=\(tag)"),
                                             Self.credentials("sb-a", Self.tokenA) + ["--data-binary", "mail jane.doe@acme-mail.net please", "-H", "Content-Type: text/plain"])
                    let body = upstream.log.requests(path: "/upload").last.map { String(decoding: $0.bodyPrefix, as: UTF8.self) } ?? ""
                    return body.range(of: #"\[EMAIL_ADDRESS_[0-9a-f]{6}\]"#, options: .regularExpression).map { String(body[$0]) }
                }
                let before = try #require(try await tokenSent("before"))
                // A changed policy (one more rule) is swapped in; wait until it answers.
                try Data(Self.policy(token: Self.tokenA, env: "REAL_A", sections: pii + "rules:\n  - {match: {host: api.test, path: \"/blocked\"}, action: deny}\n").utf8)
                    .write(to: URL(fileURLWithPath: gateway.policiesDirectory + "/sb-a.yaml"))
                var reloaded = false
                let start = ContinuousClock.now
                while ContinuousClock.now - start < .seconds(5) {
                    let (_, probe) = try await Curl.fetch(proxy: gateway, caFile: ca, upstream.url("/blocked"), Self.credentials("sb-a", Self.tokenA))
                    if probe.status == 403 { reloaded = true; break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(reloaded)
                let after = try await tokenSent("after")
                #expect(after == before, "the same value keeps its token: \(before) / \(after ?? "none")")
            }
        }
    }
}
