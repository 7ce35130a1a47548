import Crypto
import Foundation
import Testing

/// Intercepted (MITM) and plain-HTTP forwarding: what curl gets back through the proxy, what
/// the upstream really received, and the audit record of each request.
@Suite("Proxy: forwarding")
struct ForwardingTests {
    @Test("MITM GET: two URLs in one curl share a connection, both bodies arrive, both are audited")
    func mitmGetKeepAlive() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                let result = try await Curl.run(
                    proxy: proxy, caFile: proxy.caCertificatePath,
                    [CurlRequest(upstream.url("/hello")), CurlRequest(upstream.url("/headers"), ["-H", "X-Probe: 2"])])
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(result.transfers.count == 2)
                guard result.transfers.count == 2 else { return }
                let (hello, headers) = (result.transfers[0], result.transfers[1])
                #expect(hello.connectStatus == 200)
                #expect(hello.status == 200)
                #expect(hello.bodyText == Upstream.helloBody)
                #expect(hello.numConnects == 1)
                #expect(headers.status == 200)
                #expect(headers.numConnects == 0, "the second URL must reuse the first connection")
                let received = try JSONValue.parse(headers.body)
                #expect(received["x-probe"]?.stringValue == "2")
                #expect(received["host"]?.stringValue == "api.test:\(upstream.port)")

                for path in ["/hello", "/headers"] {
                    let record = try await expectAudit(proxy, "request \(path)") {
                        $0.event == "request" && $0.path == path
                    }
                    guard let record else { continue }
                    expectRequiredAuditFields(record)
                    #expect(record.decision == "allow")
                    #expect(record.reason == "allowed")
                    #expect(record.mode == "mitm")
                    #expect(record.method == "GET")
                    #expect(record.host == "api.test")
                    #expect(record.port == upstream.port)
                    #expect(record.status == 200)
                }
            }
        }
    }

    @Test("MITM: the client sees the sandbox CA's certificate, not the upstream's")
    func mitmPresentsSandboxCertificate() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                // Trusting only the upstream CA fails: the proxy presents a leaf of its own CA.
                let (result, _) = try await Curl.fetch(
                    proxy: proxy, caFile: pki.caCertificatePath, upstream.url("/hello"))
                #expect(result.exitCode == 60, "curl exit \(result.exitCode): \(result.stderr)")
                #expect(upstream.log.requests(path: "/hello").isEmpty)
                let issuer = try await Subprocess.run(
                    TestEnvironment.openssl, ["x509", "-noout", "-subject", "-in", proxy.caCertificatePath])
                #expect(issuer.exitCode == 0, "the sandbox CA at \(proxy.caCertificatePath) is a PEM certificate")
            }
        }
    }

    @Test("MITM POST: two bodies over one connection reach the upstream and come back")
    func mitmPostKeepAlive() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                let result = try await Curl.run(
                    proxy: proxy, caFile: proxy.caCertificatePath,
                    [
                        CurlRequest(upstream.url("/echo"), ["--data-binary", "first body"]),
                        CurlRequest(upstream.url("/echo"), ["--data-binary", "second, longer body"]),
                    ])
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(result.transfers.map(\.status) == [200, 200])
                #expect(result.transfers.map(\.bodyText) == ["first body", "second, longer body"])
                #expect(result.transfers.map(\.numConnects) == [1, 0])
                let received = upstream.log.requests(path: "/echo")
                #expect(received.map(\.method) == ["POST", "POST"])
                #expect(
                    received.map { String(decoding: $0.bodyPrefix, as: UTF8.self) } == [
                        "first body", "second, longer body",
                    ])
                let record = try await expectAudit(proxy, "POST /echo") {
                    $0.event == "request" && $0.method == "POST" && $0.path == "/echo"
                }
                #expect(record?.status == 200)
            }
        }
    }

    @Test("chunked and event-stream responses arrive whole and keep their content type")
    func streamingResponses() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                let result = try await Curl.run(
                    proxy: proxy, caFile: proxy.caCertificatePath,
                    [CurlRequest(upstream.url("/chunked")), CurlRequest(upstream.url("/sse"))])
                #expect(result.exitCode == 0, "\(result.stderr)")
                guard result.transfers.count == 2 else {
                    Issue.record("expected two transfers: \(result.stderr)")
                    return
                }
                #expect(result.transfers[0].status == 200)
                #expect(result.transfers[0].bodyText == Upstream.chunkedBody)
                #expect(result.transfers[1].status == 200)
                #expect(result.transfers[1].bodyText == Upstream.sseBody)
                #expect(result.transfers[1].header("content-type")?.hasPrefix("text/event-stream") == true)
            }
        }
    }

    @Test("Expect: 100-continue: the body is sent after an interim 100 and arrives intact")
    func expectContinue() async throws {
        let pki = try await TestPKI.shared()
        let scratch = try TemporaryDirectory(prefix: "expect")
        defer { scratch.remove() }
        let file = scratch.file("body.bin")
        let count = 300_000
        try BytePattern.writeFile(file, count: count)
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                // curl waits up to 20 s for the 100 but gives up at 15 s in all: finishing at all
                // means someone (proxy or upstream through it) answered 100 Continue.
                let (result, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/upload"),
                    ["-H", "Expect: 100-continue", "--expect100-timeout", "20", "--data-binary", "@\(file)"],
                    maxTime: 15)
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(transfer.status == 200)
                let answer = try? JSONValue.parse(transfer.body)
                #expect(answer?["bytes"]?.intValue == count)
                #expect(answer?["sha256"]?.stringValue == BytePattern.sha256Hex(count: count))
            }
        }
    }

    @Test("plain HTTP: an absolute-form request reaches the upstream in origin form and is audited as http")
    func plainHTTP() async throws {
        try await withUpstream(.plain) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "auto"))) { proxy in
                let queryValue = "confidential-query-value"
                let (result, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: nil, upstream.url("/hello?q=\(queryValue)"))
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(transfer.status == 200)
                #expect(transfer.bodyText == Upstream.helloBody)
                let received = upstream.log.requests(path: "/hello").first
                #expect(received?.uri == "/hello?q=\(queryValue)")
                #expect(received?.header("host") == ["api.test:\(upstream.port)"])

                let record = try await expectAudit(proxy, "plain GET /hello") {
                    $0.event == "request" && $0.path?.hasPrefix("/hello") == true
                }
                guard let record else { return }
                expectRequiredAuditFields(record)
                #expect(record.mode == "http")
                #expect(record.decision == "allow")
                #expect(record.method == "GET")
                #expect(record.host == "api.test")
                #expect(record.port == upstream.port)
                #expect(record.status == 200)
                #expect(!record.raw.contains(queryValue), "audit paths carry no query values: \(record)")
            }
        }
    }

    @Test("WebSocket: upgrade and echo through the intercepting proxy")
    func webSocket() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                // Over 125 bytes: exercises the 16-bit extended payload length.
                let long = String(repeating: "0123456789", count: 30)
                let conversation = try await WebSocketClient.converse(
                    proxyPort: proxy.port, host: "ws.test", port: upstream.port, tls: true,
                    caFile: proxy.caCertificatePath, messages: ["hello through the proxy", long])
                #expect(conversation.error == nil, "\(conversation)")
                #expect(conversation.connectStatus == 200)
                #expect(conversation.upgradeStatus == 101)
                #expect(conversation.acceptKeyValid)
                #expect(conversation.echoes == ["hello through the proxy", long])
                #expect(conversation.echoesUnmasked)
                #expect(upstream.log.requests(path: "/ws").first?.header("host") == ["ws.test:\(upstream.port)"])
                try await expectAudit(proxy, "request /ws") { $0.host == "ws.test" && $0.path == "/ws" }
            }
        }
    }

    @Test("WebSocket with secrets in the policy: a real value in an upstream frame reaches the sandbox as its placeholder; other frames unchanged")
    func webSocketFramesAreMasked() async throws {
        let pki = try await TestPKI.shared()
        let secret = TestSecret()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(secret.configuration()) { proxy in
                let long = "prefix " + String(repeating: "0123456789", count: 30) + " \(secret.value) suffix"
                let conversation = try await WebSocketClient.converse(
                    proxyPort: proxy.port, host: "ws.test", port: upstream.port, tls: true,
                    caFile: proxy.caCertificatePath,
                    messages: ["plain text", "key=\(secret.value)", "b64=\(secret.base64)", long])
                #expect(conversation.error == nil, "\(conversation)")
                #expect(conversation.upgradeStatus == 101)
                #expect(conversation.echoes.count == 4)
                #expect(conversation.echoes.first == "plain text")
                for echo in conversation.echoes {
                    for form in secret.forbiddenForms {
                        #expect(!echo.contains(form), "a real value reached the sandbox in a frame: \(echo)")
                    }
                }
                #expect(conversation.echoes.dropFirst(1).first == "key=\(TestSecret.placeholder)")
                #expect(conversation.echoes.last == long.replacingOccurrences(of: secret.value, with: TestSecret.placeholder))
                #expect(conversation.echoesUnmasked)
                #expect(conversation.closeCode == 1000)
                #expect(upstream.log.requests(path: "/ws").first?.header("sec-websocket-extensions") ?? [] == [])
            }
        }
    }

    @Test("WebSocket frame size: masking decodes upstream frames up to 16 MiB; a larger one ends the connection; without secrets a 17 MiB frame passes unchanged")
    func webSocketFrameLimit() async throws {
        let pki = try await TestPKI.shared()
        let secret = TestSecret()
        let below = 15 << 20, above = 17 << 20
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(secret.configuration()) { proxy in
                let conversation = try await WebSocketClient.converse(
                    proxyPort: proxy.port, host: "ws.test", port: upstream.port, tls: true,
                    caFile: proxy.caCertificatePath, messages: ["big:\(below)", "big:\(above)", "after"])
                #expect(conversation.upgradeStatus == 101)
                #expect(conversation.echoLengths == [below], "only the frame under the limit arrives: \(conversation.echoLengths)")
                #expect(conversation.error != nil, "the connection ends at the oversized frame")
                // The proxy itself goes on serving.
                let (result, transfer) = try await Curl.fetch(proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"))
                #expect(result.exitCode == 0 && transfer.status == 200)
            }
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                let conversation = try await WebSocketClient.converse(
                    proxyPort: proxy.port, host: "ws.test", port: upstream.port, tls: true,
                    caFile: proxy.caCertificatePath, messages: ["big:\(above)"])
                #expect(conversation.error == nil, "\(conversation)")
                #expect(conversation.echoLengths == [above])
                #expect(conversation.closeCode == 1000)
            }
        }
    }

    @Test("SIGTERM with a request in flight (sidecar and gateway): it completes, new connections are refused, its audit record is flushed, exit 0", arguments: [false, true])
    func sigtermDrainsInFlightRequests(gateway: Bool) async throws {
        let token = "drain-token"
        let policy = PolicyYAML.make(mitm: "true")
        let configuration: ProxyConfiguration
        if gateway {
            let hash = SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
            configuration = .gateway([
                "sb-drain": policy.replacingOccurrences(of: "sandbox: \(PolicyYAML.sandbox)\n", with: "")
                    + "gateway:\n  token_sha256: \"\(hash)\"\n"
            ])
        } else {
            configuration = ProxyConfiguration(policy: policy)
        }
        let credentials = gateway ? ["--proxy-user", "sb-drain:\(token)"] : []
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let proxy = try await ProxyProcess.start(configuration)
            defer { if !TestRun.keepFiles { proxy.directory.remove() } }
            let caFile = gateway ? proxy.caCertificatePath(sandbox: "sb-drain") : proxy.caCertificatePath
            let slowURL = upstream.url("/slow?ms=1500")
            async let slow = Curl.fetch(proxy: proxy, caFile: caFile, slowURL, credentials)
            // The request is in flight (the upstream holds it for 1.5 s) when SIGTERM comes.
            _ = await upstream.log.waitForRequest(path: "/slow", timeout: .seconds(10))
            kill(proxy.pid, SIGTERM)
            try await Task.sleep(for: .milliseconds(300))
            // The listener is closed: connecting fails (the raw client reports it as an error).
            do {
                let late = try await RawClient.send("GET \(upstream.url("/hello")) HTTP/1.1\r\nHost: api.test\r\n\r\n", port: proxy.port, timeout: 5)
                #expect(late.status == nil, "no new connection is served while draining: \(late.rawText)")
            } catch {
                #expect("\(error)".contains("ConnectionRefused"), "\(error)")
            }
            let (result, transfer) = try await slow
            #expect(result.exitCode == 0, "\(result.stderr)")
            #expect(transfer.status == 200)
            #expect(transfer.bodyText == Upstream.slowBody)
            let exit = await proxy.stop()
            #expect(exit?.isClean == true, "\(exit.map(\.description) ?? "needed SIGKILL")")
            #expect(try proxy.auditRecords().contains { $0.path?.hasPrefix("/slow") == true && $0.status == 200 }, "the drained request's audit record is flushed")
            #expect(proxy.stderrText.contains("event-loop lag:"))
        }
    }

    @Test("SIGTERM: the proxy exits 0")
    func sigtermExitsZero() async throws {
        let proxy = try await ProxyProcess.start(ProxyConfiguration(policy: PolicyYAML.make()))
        defer { proxy.directory.remove() }
        let exit = await proxy.stop()
        #expect(exit?.isClean == true, "\(exit.map(\.description) ?? "needed SIGKILL")")
    }
}
