import Foundation
import Testing

/// The upstream server driven by curl with no proxy in between: every route must behave as
/// documented, or the proxy tests would measure the harness instead of the proxy.
@Suite("Harness: upstream server")
struct UpstreamTests {
    /// curl straight to a TLS upstream, `--resolve` mapping the test names to 127.0.0.1.
    private func direct(
        _ upstream: Upstream, _ requests: [CurlRequest], maxTime: Int = 60
    ) async throws -> CurlResult {
        let pki = try await TestPKI.shared()
        let resolve = TestPKI.leafNames.flatMap { ["--resolve", "\($0):\(upstream.port):127.0.0.1"] }
        return try await Curl.run(
            proxy: nil, caFile: upstream.isTLS ? pki.caCertificatePath : nil, requests, commonArguments: resolve,
            maxTime: maxTime)
    }

    @Test("GET /hello and /headers reuse one keep-alive connection")
    func keepAlive() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let result = try await direct(
                upstream,
                [CurlRequest(upstream.url("/hello")), CurlRequest(upstream.url("/headers"), ["-H", "X-Probe: one"])])
            #expect(result.exitCode == 0, "\(result.stderr)")
            #expect(result.transfers.count == 2)
            let (first, second) = (try result.first(), result.transfers[1])
            #expect(first.status == 200)
            #expect(first.bodyText == Upstream.helloBody)
            #expect(first.numConnects == 1)
            #expect(second.status == 200)
            #expect(second.numConnects == 0)
            let headers = try JSONValue.parse(second.body)
            #expect(headers["x-probe"]?.stringValue == "one")
            #expect(headers["host"]?.stringValue == "api.test:\(upstream.port)")
            let log = upstream.log.all
            #expect(log.map(\.path) == ["/hello", "/headers"])
            #expect(Set(log.map(\.connection)).count == 1)
        }
    }

    @Test("POST /echo returns the body; /upload reports its length and SHA-256; the log records both")
    func echoAndUpload() async throws {
        let pki = try await TestPKI.shared()
        let scratch = try TemporaryDirectory(prefix: "upload")
        defer { scratch.remove() }
        let file = scratch.file("payload.bin")
        let count = 3 * 1024 * 1024 + 17
        try BytePattern.writeFile(file, count: count)
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let result = try await direct(
                upstream,
                [
                    CurlRequest(upstream.url("/echo"), ["--data-binary", "echo me please"]),
                    CurlRequest(upstream.url("/upload"), ["-T", file, "-X", "POST"]),
                    CurlRequest(upstream.url("/echo"), ["-T", file, "-X", "POST"]),
                ])
            #expect(result.exitCode == 0, "\(result.stderr)")
            #expect(result.transfers.count == 3)
            guard result.transfers.count == 3 else { return }
            #expect(result.transfers[0].bodyText == "echo me please")
            let upload = try JSONValue.parse(result.transfers[1].body)
            #expect(upload["bytes"]?.intValue == count)
            #expect(upload["sha256"]?.stringValue == BytePattern.sha256Hex(count: count))
            let echoed = try sha256HexOfFile(result.transfers[2].bodyPath)
            #expect(echoed.count == count)
            #expect(echoed.sha256 == BytePattern.sha256Hex(count: count))
            let recorded = upstream.log.requests(path: "/upload")
            #expect(recorded.first?.bodyLength == count)
            #expect(recorded.first?.bodySHA256 == BytePattern.sha256Hex(count: count))
            #expect(recorded.first?.bodyPrefix.count == RecordedRequest.bodyPrefixLimit)
            #expect(upstream.log.requests(path: "/echo").first?.bodyPrefix == Array("echo me please".utf8))
        }
    }

    @Test("/bytes streams exactly N bytes of the pattern")
    func bytes() async throws {
        let pki = try await TestPKI.shared()
        let count = 5 * 1024 * 1024 + 3
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let result = try await direct(upstream, [CurlRequest(upstream.url("/bytes?n=\(count)"))])
            let transfer = try result.first()
            #expect(transfer.status == 200)
            #expect(transfer.header("content-length") == String(count))
            let file = try sha256HexOfFile(transfer.bodyPath)
            #expect(file.count == count)
            #expect(file.sha256 == BytePattern.sha256Hex(count: count))
        }
    }

    @Test("/chunked and /sse arrive whole, chunked and as an event stream")
    func streamingRoutes() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let result = try await direct(
                upstream, [CurlRequest(upstream.url("/chunked")), CurlRequest(upstream.url("/sse"))])
            #expect(result.exitCode == 0, "\(result.stderr)")
            let chunked = try result.first()
            #expect(chunked.bodyText == Upstream.chunkedBody)
            #expect(chunked.header("transfer-encoding") == "chunked")
            guard result.transfers.count == 2 else { return }
            let sse = result.transfers[1]
            #expect(sse.bodyText == Upstream.sseBody)
            #expect(sse.header("content-type") == "text/event-stream")
        }
    }

    @Test("/reflect-split sends a header's value back (raw or base64) and its base64 in x-reflect-b64")
    func reflectSplit() async throws {
        let pki = try await TestPKI.shared()
        let value = "reflected-value-0123456789"
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let result = try await direct(
                upstream,
                [
                    CurlRequest(upstream.url("/reflect-split?h=x-token"), ["-H", "X-Token: \(value)"]),
                    CurlRequest(upstream.url("/reflect-split?h=x-token&enc=base64"), ["-H", "X-Token: \(value)"]),
                ])
            let raw = try result.first()
            #expect(raw.bodyText == value)
            #expect(raw.header("x-reflect-b64") == Data(value.utf8).base64EncodedString())
            guard result.transfers.count == 2 else { return }
            #expect(result.transfers[1].bodyText == Data(value.utf8).base64EncodedString())
        }
    }

    @Test("/slow answers after its delay; unknown paths get 404")
    func slowAndNotFound() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let result = try await direct(
                upstream, [CurlRequest(upstream.url("/slow?ms=100")), CurlRequest(upstream.url("/nope"))])
            #expect(try result.first().bodyText == Upstream.slowBody)
            #expect(result.transfers.last?.status == 404)
        }
    }

    @Test("Expect: 100-continue gets an interim 100 (curl would otherwise wait out its 20 s timeout)")
    func expectContinue() async throws {
        let pki = try await TestPKI.shared()
        let scratch = try TemporaryDirectory(prefix: "expect")
        defer { scratch.remove() }
        let file = scratch.file("body.bin")
        try BytePattern.writeFile(file, count: 200_000)
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let result = try await direct(
                upstream,
                [
                    CurlRequest(
                        upstream.url("/upload"),
                        ["-H", "Expect: 100-continue", "--expect100-timeout", "20", "--data-binary", "@\(file)"])
                ],
                maxTime: 10)
            let transfer = try result.first()
            #expect(transfer.status == 200, "\(result.stderr)")
            #expect(try JSONValue.parse(transfer.body)["bytes"]?.intValue == 200_000)
        }
    }

    @Test("a plain-HTTP upstream serves /hello")
    func plainUpstream() async throws {
        try await withUpstream(.plain) { upstream in
            let result = try await direct(upstream, [CurlRequest(upstream.url("/hello"))])
            #expect(try result.first().bodyText == Upstream.helloBody)
        }
    }

    @Test("the upstream answers malformed bytes with 400 (seen through the raw client)")
    func rawClientMalformed() async throws {
        try await withUpstream(.plain) { upstream in
            let response = try await RawClient.send("\u{1}\u{2} garbage line\r\n\r\n", port: upstream.port)
            #expect(response.status == 400, "\(response.rawText)")
            let valid = try await RawClient.send(
                "GET /hello HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n", port: upstream.port)
            #expect(valid.status == 200)
            #expect(valid.bodyText == Upstream.helloBody)
        }
    }

    @Test("the WebSocket client gets its messages echoed over TLS")
    func webSocketDirect() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let long = String(repeating: "w", count: 1000)
            let conversation = try await WebSocketClient.converse(
                proxyPort: nil, host: "ws.test", port: upstream.port, tls: true, caFile: pki.caCertificatePath,
                messages: ["hello websocket", long])
            #expect(conversation.error == nil)
            #expect(conversation.upgradeStatus == 101)
            #expect(conversation.acceptKeyValid)
            #expect(conversation.echoes == ["hello websocket", long])
            #expect(conversation.echoesUnmasked)
            #expect(conversation.closeCode == 1000)
            #expect(upstream.log.requests(path: "/ws").first?.header("host") == ["ws.test:\(upstream.port)"])
        }
    }

    @Test("openssl s_client completes a handshake with the upstream")
    func sClientDirect() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            let output = try await Subprocess.run(
                TestEnvironment.openssl,
                [
                    "s_client", "-connect", "127.0.0.1:\(upstream.port)", "-servername", "api.test",
                    "-CAfile", pki.caCertificatePath, "-verify_return_error", "-verify_hostname", "api.test", "-brief",
                ],
                timeout: .seconds(20))
            #expect(output.exitCode == 0, "\(output.combinedText)")
        }
    }
}
