import Foundation
import Testing

/// Bad input from the sandbox gets a defined answer and does not take the proxy down.
@Suite("Proxy: malformed requests")
struct MalformedRequestTests {
    @Test("a garbage request line gets 400, and the proxy serves the next request")
    func garbageLine() async throws {
        try await withUpstream(.plain) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "auto"))) { proxy in
                let response = try await RawClient.send("\u{1}\u{2} this is not http\r\n\r\n", port: proxy.port)
                #expect(response.status == 400, "\(response.rawText)")

                let (result, transfer) = try await Curl.fetch(proxy: proxy, caFile: nil, upstream.url("/hello"))
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(transfer.status == 200)
                #expect(transfer.bodyText == Upstream.helloBody)
                #expect(proxy.isRunning)
            }
        }
    }

    @Test("a 64 KiB header in a plain-HTTP request gets 431 and is not forwarded")
    func oversizedHeaderPlain() async throws {
        try await withUpstream(.plain) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "auto"))) { proxy in
                let big = String(repeating: "a", count: 64 * 1024)
                let request =
                    "GET http://api.test:\(upstream.port)/hello HTTP/1.1\r\nHost: api.test:\(upstream.port)\r\n"
                    + "X-Big: \(big)\r\n\r\n"
                let response = try await RawClient.send(request, port: proxy.port)
                #expect(response.status == 431, "\(response.rawText.prefix(300))")
                #expect(upstream.log.all.isEmpty)
                // Still serving.
                let (_, transfer) = try await Curl.fetch(proxy: proxy, caFile: nil, upstream.url("/hello"))
                #expect(transfer.status == 200)
            }
        }
    }

    @Test("a 64 KiB header inside an intercepted connection gets 431")
    func oversizedHeaderMITM() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                let big = String(repeating: "b", count: 64 * 1024)
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"), ["-H", "X-Big: \(big)"])
                #expect(transfer.status == 431)
                #expect(upstream.log.all.isEmpty)
            }
        }
    }
}
