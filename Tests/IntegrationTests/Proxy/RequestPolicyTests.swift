import Foundation
import Testing

/// L7 rules (SPEC section 3), secrets in the query and body (SPEC section 5), and the
/// connection timeouts of `limits`.
@Suite("Proxy: rules, query/body secrets, timeouts")
struct RequestPolicyTests {
    static let rules = """
        rules:
          - name: read-only-repos
            match: {host: api.test, method: [GET, HEAD], path: "/hel*"}
            action: allow
          - match: {host: api.test}
            action: deny

        """

    @Test("L7 rules: the first match wins; a deny rule answers 403 rule_denied with its rule path")
    func rulesFirstMatchWins() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(sections: Self.rules))) { proxy in
                let (_, allowed) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"), [])
                #expect(allowed.status == 200)
                let (_, denied) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"), ["-X", "DELETE"])
                expectDenial(denied, reason: "rule_denied", rule: "rules[1]")
                let (_, other) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/headers"), [])
                expectDenial(other, reason: "rule_denied", rule: "rules[1]")
                #expect(upstream.log.all.map(\.method) == ["GET"], "only the allowed request reached the upstream")
                let record = try await expectAudit(proxy, "rule_denied DELETE") {
                    $0.reason == "rule_denied" && $0.method == "DELETE"
                }
                #expect(record?.rule == "rules[1]")
            }
        }
    }

    static let querySecret = """
        secrets:
          entries:
            TOKEN:
              value: env:REAL_TOKEN
              placeholder: PH_TOKEN
              allowed_hosts: [api.test]
              inject_in: [headers, query, body]

        """

    @Test("inject_in query and body: the upstream gets the real value in both; the audit names TOKEN")
    func queryAndBodySubstitution() async throws {
        let pki = try await TestPKI.shared()
        let secret = TestSecret()
        var configuration = ProxyConfiguration(policy: PolicyYAML.make(sections: Self.querySecret))
        configuration.environment = secret.environment
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(configuration) { proxy in
                let (result, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/upload?key=PH_TOKEN&x=1"),
                    ["--data-binary", "{\"api_key\":\"PH_TOKEN\"}", "-H", "Content-Type: application/json"])
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(transfer.status == 200)
                let received = try #require(upstream.log.requests(path: "/upload").first)
                #expect(received.uri == "/upload?key=\(secret.value)&x=1")
                let body = String(decoding: received.bodyPrefix, as: UTF8.self)
                #expect(body == "{\"api_key\":\"\(secret.value)\"}")
                let record = try await expectAudit(proxy, "request /upload") { $0.event == "request" }
                #expect(record?.secrets == [TestSecret.name])
                #expect(record?.path == "/upload?key=&x=")
                expectNoSecret(secret, in: proxyOutputs(proxy))
            }
        }
    }

    @Test("a placeholder in the body of a request to another host is refused (403), and not sent on")
    func bodyPlaceholderToOtherHost() async throws {
        let pki = try await TestPKI.shared()
        let secret = TestSecret()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(secret.configuration()) { proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/upload", host: "other.test"),
                    ["--data-binary", "token=PH_TOKEN"])
                expectDenial(transfer, reason: "secret_host_mismatch")
                // The chunk holding the placeholder is never forwarded: whatever the upstream
                // logged of the aborted request carries no body byte.
                #expect(upstream.log.requests(path: "/upload").allSatisfy { $0.bodyLength == 0 })
                let record = try await expectAudit(proxy, "secret_host_mismatch in body") {
                    $0.reason == "secret_host_mismatch"
                }
                #expect(record?.secrets.contains(TestSecret.name) == true)
            }
        }
    }

    @Test("max_connections: a closed client frees its slot at once (MITM, tunnel and plain HTTP), an extra one is refused")
    func closedClientsFreeTheirSlots() async throws {
        let pki = try await TestPKI.shared()
        let policy = PolicyYAML.make(mitm: "auto", sections: """
            rules:
              - match: {host: api.test}
                action: allow
            limits:
              max_connections: 3

            """)
        try await withUpstream(.tls(pki.leaf)) { tls in
            try await withUpstream(.plain) { plain in
                try await withProxy(ProxyConfiguration(policy: policy)) { proxy in
                    // 3 x 4 clients one after the other, each on a new connection it closes: a
                    // proxy that kept half-closed connections would be full after the third.
                    for round in 0..<4 {
                        let (m, mitm) = try await Curl.fetch(proxy: proxy, caFile: proxy.caCertificatePath, tls.url("/hello"))
                        #expect(mitm.status == 200, "MITM round \(round): \(m.stderr)")
                        let (t, tunnel) = try await Curl.fetch(proxy: proxy, caFile: pki.caCertificatePath, tls.url("/hello", host: "ws.test"))
                        #expect(tunnel.status == 200, "tunnel round \(round): \(t.stderr)")
                        let (h, http) = try await Curl.fetch(proxy: proxy, caFile: nil, plain.url("/hello"))
                        #expect(http.status == 200, "plain HTTP round \(round): \(h.stderr)")
                    }
                    // The bound itself: 3 idle connections held open, the 4th is closed unanswered.
                    var held: [RawConnection] = []
                    for _ in 0..<3 { held.append(try await RawConnection.open(port: proxy.port)) }
                    let fourth = try await RawClient.send("GET \(plain.url("/hello")) HTTP/1.1\r\nHost: api.test\r\n\r\n", port: proxy.port, timeout: 5)
                    // Closed unanswered: seen as EOF, or as a reset when the request was still being sent.
                    let refused = fourth.closed || fourth.sendError != nil || fourth.receiveError != nil
                    #expect(fourth.status == nil && refused, "the connection over max_connections is refused: \(fourth)")
                    for c in held { c.close() }
                }
            }
        }
    }

    @Test("MITM clients that send Connection: close and hang up without close_notify (Go's http client) free their slots")
    func tlsClientsWithoutCloseNotifyFreeTheirSlots() async throws {
        let pki = try await TestPKI.shared()
        let policy = PolicyYAML.make(mitm: "true", sections: "limits:\n  max_connections: 2\n")
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: policy)) { proxy in
                let output = try await Subprocess.run(
                    TestEnvironment.python3,
                    [try PythonScripts.path("tls_close_client.py"), "--proxy-port", String(proxy.port), "--host", "api.test",
                     "--port", String(upstream.port), "--cafile", proxy.caCertificatePath, "--count", "6"],
                    timeout: .seconds(60))
                let statuses = try JSONValue.parse(output.stdout)["statuses"]?.arrayValue?.compactMap(\.intValue)
                #expect(statuses == Array(repeating: 200, count: 6), "\(output.combinedText)")
            }
        }
    }

    @Test("idle_timeout_seconds: an idle keep-alive connection is closed after the timeout, not before")
    func idleKeepAliveConnectionIsClosed() async throws {
        let policy = PolicyYAML.make(sections: "limits:\n  idle_timeout_seconds: 1.5\n")
        try await withUpstream(.plain) { upstream in
            try await withProxy(ProxyConfiguration(policy: policy)) { proxy in
                let output = try await Subprocess.run(
                    TestEnvironment.python3,
                    [try PythonScripts.path("idle_probe.py"), "--proxy-port", String(proxy.port), "--url", upstream.url("/hello"), "--wait", "10"],
                    timeout: .seconds(30))
                let result = try JSONValue.parse(output.stdout)
                #expect(result["status"]?.intValue == 200, "\(output.combinedText)")
                let closedAfter = try #require(result["closed_after_s"]?.doubleValue, "the proxy kept the idle connection open: \(output.combinedText)")
                #expect(closedAfter >= 1.2 && closedAfter < 5, "closed after \(closedAfter) s")
            }
        }
    }

    @Test("an upstream that does not answer within idle_timeout_seconds: 504 upstream_timeout and an audit record")
    func upstreamResponseTimeout() async throws {
        let pki = try await TestPKI.shared()
        let policy = PolicyYAML.make(sections: "limits:\n  idle_timeout_seconds: 1\n")
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: policy)) { proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/slow?ms=4000"), maxTime: 20)
                #expect(transfer.status == 504)
                #expect((try? JSONValue.parse(transfer.body))?["reason"]?.stringValue == "upstream_timeout", "\(transfer.bodyText)")
                let record = try await expectAudit(proxy, "upstream_timeout") { $0.reason == "upstream_timeout" }
                #expect(record?.status == 504)
            }
        }
    }

    @Test("limits.requests_per_second in the sidecar: requests over the rate get 429 rate_limited")
    func sidecarRequestsPerSecond() async throws {
        let policy = PolicyYAML.make(sections: "limits:\n  requests_per_second: 2\n")
        try await withUpstream(.plain) { upstream in
            try await withProxy(ProxyConfiguration(policy: policy)) { proxy in
                let result = try await Curl.run(proxy: proxy, caFile: nil, (0..<8).map { CurlRequest(upstream.url("/hello?i=\($0)")) })
                let statuses = result.transfers.map(\.status)
                #expect(statuses.filter { $0 == 200 }.count >= 2, "\(statuses)")
                let limited = try #require(result.transfers.first { $0.status == 429 }, "\(statuses)")
                expectDenial(limited, reason: "rate_limited", expectedStatus: 429)
                try await expectAudit(proxy, "rate_limited") { $0.reason == "rate_limited" }
            }
        }
    }

    @Test("a client that never finishes its request head is closed after header_timeout_seconds")
    func headerTimeoutClosesSlowClient() async throws {
        let policy = PolicyYAML.make(sections: "limits:\n  header_timeout_seconds: 1\n")
        try await withProxy(ProxyConfiguration(policy: policy)) { proxy in
            // Half a request head, then silence: the proxy must hang up (no response at all).
            let response = try await RawClient.send("GET http://api.test/ HTTP/1.1\r\nHost: api", port: proxy.port, timeout: 8)
            #expect(response.closed, "the proxy closed the connection")
            #expect(response.status == nil)
            // The proxy still serves others.
            let again = try await RawClient.send("GARBAGE\r\n\r\n", port: proxy.port, timeout: 8)
            #expect(again.status == 400)
        }
    }
}
