import Foundation
import Testing

/// `run --capture` and `dry-run` (SPEC section 9): what the live proxy decided and what the
/// dry-run of its own capture decides must be the same, entry by entry.
@Suite("Capture and dry-run: live decisions equal dry-run decisions")
struct CaptureDryRunTests {
    /// Hosts named by a secret and rules are intercepted (`mitm: auto`), `ws.test` is tunnelled;
    /// `evil.test`, `blocked.test` (198.51.100.7, in `deny_out`) and `meta.test` (169.254.169.254) are denied at
    /// the network stage, by host, CIDR and special range.
    static let policy = PolicyYAML.make(
        mitm: "auto", allowOut: ["127.0.0.1/32"], denyOut: ["evil.test", "198.51.100.0/24"],
        sections: """
            rules:
              - name: no-delete
                match: {host: api.test, method: [DELETE]}
                action: deny
              - name: no-admin
                match: {host: api.test, path: "/admin/**"}
                action: deny
              - name: other-read-only
                match: {host: other.test, method: [POST, PUT, PATCH, DELETE]}
                action: deny
            secrets:
              entries:
                TOKEN:
                  value: env:REAL_TOKEN
                  placeholder: PH_TOKEN
                  allowed_hosts: [api.test]

            """)

    static let resolve = [
        "api.test:127.0.0.1", "other.test:127.0.0.1", "ws.test:127.0.0.1", "evil.test:127.0.0.1",
        "blocked.test:198.51.100.7", "meta.test:169.254.169.254",
    ]

    @Test("30+ varied requests through the live proxy with --capture; dry-run of that capture gives the same decision, reason and rule for every entry")
    func liveEqualsDryRun() async throws {
        let pki = try await TestPKI.shared()
        let secret = TestSecret()
        let scratch = try TemporaryDirectory(prefix: "capture")
        defer { if !TestRun.keepFiles { scratch.remove() } }
        let capturePath = scratch.file("session.har")
        let policyPath = try scratch.write("policy.yaml", Self.policy)

        var configuration = ProxyConfiguration(policy: Self.policy)
        configuration.environment = secret.environment
        configuration.resolve = Self.resolve
        configuration.extraArguments = ["--capture", capturePath]
        let auth = ["-H", "Authorization: Bearer PH_TOKEN"]

        var sent = 0
        try await withUpstream(.tls(pki.leaf)) { tls in
            try await withUpstream(.plain) { plain in
                try await withProxy(configuration) { proxy in
                    // Intercepted (MITM) requests, on one keep-alive connection per host.
                    let mitm: [CurlRequest] = [
                        CurlRequest(tls.url("/hello")),
                        CurlRequest(tls.url("/hello?x=1")),
                        CurlRequest(tls.url("/upload"), ["--data-binary", "{\"a\":1}"]),
                        CurlRequest(tls.url("/items/1"), ["-X", "PUT", "--data-binary", "x"]),
                        CurlRequest(tls.url("/hello"), auth),
                        CurlRequest(tls.url("/upload"), auth + ["--data-binary", "key=PH_TOKEN"]),
                        CurlRequest(tls.url("/items/1"), ["-X", "DELETE"]),
                        CurlRequest(tls.url("/admin/users")),
                        CurlRequest(tls.url("/hello"), ["-I"]),
                        CurlRequest(tls.url("/items/2"), ["-X", "PATCH", "--data-binary", "y"]),
                        CurlRequest(tls.url("/hello", host: "other.test")),
                        CurlRequest(tls.url("/upload", host: "other.test"), ["--data-binary", "z"]),
                        CurlRequest(tls.url("/hello", host: "other.test"), auth),
                        CurlRequest(tls.url("/hello?key=PH_TOKEN", host: "other.test")),
                        CurlRequest(tls.url("/headers", host: "other.test")),
                    ]
                    let mitmResult = try await Curl.run(proxy: proxy, caFile: proxy.caCertificatePath, mitm)
                    #expect(mitmResult.transfers.count == mitm.count)
                    sent += mitm.count

                    // Tunnelled: the client checks the upstream's own certificate.
                    let tunnel = [CurlRequest(tls.url("/hello", host: "ws.test")), CurlRequest(tls.url("/headers", host: "ws.test"), ["--no-keepalive"])]
                    for request in tunnel {
                        let r = try await Curl.run(proxy: proxy, caFile: pki.caCertificatePath, [request])
                        #expect(try r.first().status == 200, "tunnel to ws.test")
                    }
                    sent += tunnel.count

                    // CONNECTs denied before any byte goes upstream.
                    let deniedConnects = [
                        tls.url("/", host: "evil.test"), tls.url("/", host: "blocked.test"),
                        tls.url("/", host: "meta.test"), "https://10.1.2.3:\(tls.port)/",
                    ]
                    for url in deniedConnects {
                        let r = try await Curl.run(proxy: proxy, caFile: proxy.caCertificatePath, [CurlRequest(url)])
                        #expect(try r.first().connectStatus == 403, "CONNECT \(url) is denied")
                    }
                    sent += deniedConnects.count

                    // Plain HTTP (absolute-form).
                    let http: [CurlRequest] = [
                        CurlRequest(plain.url("/hello")),
                        CurlRequest(plain.url("/upload"), ["--data-binary", "abc"]),
                        CurlRequest(plain.url("/hello"), auth),
                        CurlRequest(plain.url("/x"), ["-X", "DELETE"]),
                        CurlRequest(plain.url("/admin/x")),
                        CurlRequest(plain.url("/hello", host: "evil.test")),
                        CurlRequest(plain.url("/hello", host: "blocked.test")),
                        CurlRequest(plain.url("/hello", host: "meta.test")),
                        CurlRequest(plain.url("/hello", host: "other.test")),
                        CurlRequest(plain.url("/upload", host: "other.test"), ["--data-binary", "q"]),
                        CurlRequest("http://127.0.0.1:\(plain.port)/hello"),
                        CurlRequest(plain.url("/headers"), ["-H", "X-Note: plain"]),
                    ]
                    let httpResult = try await Curl.run(proxy: proxy, caFile: nil, http)
                    #expect(httpResult.transfers.count == http.count)
                    sent += http.count
                }
            }
        }

        // The capture is complete once the proxy stopped (SIGTERM closes it).
        let harText = try String(contentsOfFile: capturePath, encoding: .utf8)
        for form in secret.forbiddenForms {
            #expect(!harText.contains(form), "the capture holds no form of the real secret value")
        }
        let har = try JSONValue.parse(harText)
        let entries = try #require(har["log"]?["entries"]?.arrayValue)
        #expect(entries.count == sent, "one entry per inner request and per denied or tunnelled CONNECT")
        #expect(entries.count >= 30)

        let dry = try await Subprocess.run(
            TestEnvironment.requireProxyBinary(), ["dry-run", "--policy", policyPath, capturePath, "--format", "json"],
            timeout: .seconds(60))
        #expect(dry.exitCode == 0, "\(dry.stderrText)")
        let report = try JSONValue.parse(dry.stdoutText)
        let rows = try #require(report["entries"]?.arrayValue)
        #expect(rows.count == entries.count)

        var allowed = 0
        var reasons = Set<String>()
        for (index, (entry, row)) in zip(entries, rows).enumerated() {
            let live = try #require(entry["_egress"], "entry \(index) carries the live decision")
            let what = "\(entry["request"]?["method"]?.stringValue ?? "?") \(entry["request"]?["url"]?.stringValue ?? "?")"
            #expect(row["decision"]?.stringValue == live["decision"]?.stringValue, "decision of \(index): \(what)")
            #expect(row["reason"]?.stringValue == live["reason"]?.stringValue, "reason of \(index): \(what)")
            #expect(row["rule"] == live["rule"], "rule of \(index): \(what)")
            if live["decision"]?.stringValue == "allow" { allowed += 1 }
            if let r = live["reason"]?.stringValue { reasons.insert(r) }
        }
        #expect(allowed >= 10 && entries.count - allowed >= 10, "both allowed and denied entries: \(allowed) of \(entries.count) allowed")
        #expect(reasons.isSuperset(of: ["allowed", "rule_denied", "secret_host_mismatch", "host_denied", "cidr_denied", "special_range"]), "\(reasons)")
    }

    @Test("a 100 MB HAR is decided in bounded memory (peak RSS far below the file size)")
    func bigHARBoundedMemory() async throws {
        let scratch = try TemporaryDirectory(prefix: "big-har")
        defer { scratch.remove() }
        let policy = try scratch.write("policy.yaml", "version: 1\nsandbox: sb-big\nnetwork:\n  deny_out: [\"h1.example.org\"]\n")
        let output = try await Subprocess.run(
            TestEnvironment.python3,
            [try PythonScripts.path("big_har_dry_run.py"), "--bin", try TestEnvironment.requireProxyBinary(),
             "--policy", policy, "--har", scratch.file("big.har"), "--entries", "2000", "--body-kb", "50"],
            timeout: .seconds(300))
        let result = try JSONValue.parse(output.stdout)
        #expect(result["exit"]?.intValue == 0, "\(output.combinedText)")
        #expect(result["entries"]?.intValue == 2000)
        #expect(result["deny"]?.intValue == 40, "h1.example.org: every 50th entry")
        let harBytes = try #require(result["har_bytes"]?.intValue)
        #expect(harBytes > 100_000_000)
        let peak = try #require(result["max_rss_kib"]?.intValue) * 1024
        print("dry-run of a \(harBytes / 1_048_576) MiB HAR: peak RSS \(peak / 1_048_576) MiB")
        #expect(peak < 80 * 1024 * 1024, "peak RSS \(peak / 1_048_576) MiB: the HAR is streamed, not loaded")
    }

    @Test("the capture is written as the proxy goes: after SIGKILL every finished request is in it and dry-run reads it")
    func captureSurvivesACrash() async throws {
        let pki = try await TestPKI.shared()
        let scratch = try TemporaryDirectory(prefix: "capture-crash")
        defer { scratch.remove() }
        let capturePath = scratch.file("crash.har")
        var configuration = ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))
        configuration.extraArguments = ["--capture", capturePath]
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let proxy = try await ProxyProcess.start(configuration)
            defer { if !TestRun.keepFiles { proxy.directory.remove() } }
            let result = try await Curl.run(proxy: proxy, caFile: proxy.caCertificatePath, (0..<5).map { CurlRequest(upstream.url("/hello?n=\($0)")) })
            #expect(result.transfers.allSatisfy { $0.status == 200 })
            _ = try await proxy.waitForAudit { $0.path == "/hello?n=" && $0.raw.contains("\"status\":200") }
            // Entries go to disk on a writer queue right after each request: wait until all 5 are.
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                let text = (try? String(contentsOfFile: capturePath, encoding: .utf8)) ?? ""
                if text.components(separatedBy: "\"_egress\"").count - 1 >= 5 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            kill(proxy.pid, SIGKILL)
            _ = await proxy.stop()
        }
        let text = try String(contentsOfFile: capturePath, encoding: .utf8)
        #expect(!text.hasSuffix("]}}\n"), "the file has no tail: the proxy was killed")
        let policyPath = try scratch.write("policy.yaml", PolicyYAML.make(mitm: "true"))
        let dry = try await Subprocess.run(
            TestEnvironment.requireProxyBinary(), ["dry-run", "--policy", policyPath, capturePath, "--format", "json"])
        #expect(dry.exitCode == 0, "\(dry.stderrText)")
        let rows = try JSONValue.parse(dry.stdoutText)["entries"]?.arrayValue ?? []
        #expect(rows.count == 5, "\(dry.stdoutText)")
    }

    @Test("PII in captured request bodies follows the policy: redact keeps tokens, never the values")
    func captureFollowsPIIAction() async throws {
        let pki = try await TestPKI.shared()
        let scratch = try TemporaryDirectory(prefix: "capture-pii")
        defer { scratch.remove() }
        let capturePath = scratch.file("pii.har")
        var configuration = ProxyConfiguration(policy: InspectionTests.piiPolicy(action: "redact")
            + "rules:\n  - {match: {host: api.test, path: \"/admin/**\"}, action: deny}\n")
        configuration.extraArguments = ["--capture", capturePath]
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(configuration) { proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/echo"),
                    ["--data-binary", InspectionTests.chatBody, "-H", "Content-Type: application/json"])
                #expect(transfer.status == 200)
                // A denied request's body is never forwarded, so never inspected: on a host
                // a PII scope covers, it stays out of the capture.
                let (_, denied) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/admin/import"),
                    ["--data-binary", InspectionTests.chatBody, "-H", "Content-Type: application/json"])
                expectDenial(denied, reason: "rule_denied")
            }
        }
        let text = try String(contentsOfFile: capturePath, encoding: .utf8)
        let har = try JSONValue.parse(text)
        let entry = try #require(har["log"]?["entries"]?.arrayValue?.first)
        let sent = entry["request"]?["postData"]?["text"]?.stringValue ?? ""
        #expect(InspectionTests.tokens(in: sent).count == 3, "the captured body holds the tokens: \(sent)")
        for value in [InspectionTests.card, InspectionTests.email] {
            #expect(!text.contains(value), "no PII value anywhere in the capture")
        }
    }
}
