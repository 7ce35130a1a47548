import Foundation
import Testing

/// SPEC section 5: placeholders become the real value only on the secret's allowed host over
/// TLS; anywhere else the request is refused; real values coming back are masked; and no real
/// value is ever written anywhere.
@Suite("Proxy: secrets")
struct SecretTests {
    @Test("the placeholder in Authorization reaches api.test as the real value; the audit names only TOKEN")
    func substitutedOnAllowedHost() async throws {
        let pki = try await TestPKI.shared()
        let secret = TestSecret()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(secret.configuration()) { proxy in
                let (result, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/headers"),
                    ["-H", "Authorization: Bearer \(TestSecret.placeholder)"])
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(transfer.status == 200)
                let received = upstream.log.requests(path: "/headers").first
                #expect(received?.header("authorization") == ["Bearer \(secret.value)"])
                // /headers echoes what the upstream got; the proxy masks the value on the way back.
                let echoed = try? JSONValue.parse(transfer.body)
                #expect(echoed?["authorization"]?.stringValue == "Bearer \(TestSecret.placeholder)")

                let record = try await expectAudit(proxy, "request /headers") {
                    $0.event == "request" && $0.path == "/headers"
                }
                #expect(record?.secrets == [TestSecret.name])
                #expect(record?.decision == "allow")
                expectNoSecret(secret, in: proxyOutputs(proxy) + [("curl body", transfer.bodyText)])
            }
        }
    }

    @Test("the placeholder sent to other.test is refused: 403 secret_host_mismatch, the audit names TOKEN")
    func refusedOnOtherHost() async throws {
        let pki = try await TestPKI.shared()
        let secret = TestSecret()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(secret.configuration()) { proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello", host: "other.test"),
                    ["-H", "Authorization: Bearer \(TestSecret.placeholder)"])
                expectDenial(transfer, reason: "secret_host_mismatch")
                #expect(upstream.log.all.isEmpty, "nothing may reach the upstream")

                let record = try await expectAudit(proxy, "secret_host_mismatch") {
                    $0.reason == "secret_host_mismatch"
                }
                #expect(record?.host == "other.test")
                #expect(record?.decision == "deny")
                #expect(
                    record?.secrets.contains(TestSecret.name) == true
                        || record?.rule?.contains(TestSecret.name) == true,
                    "the audit record names the secret: \(record.map(\.raw) ?? "none")")
                expectNoSecret(secret, in: proxyOutputs(proxy) + [("error body", transfer.bodyText)])
            }
        }
    }

    @Test("the placeholder over plain HTTP, even to api.test, is refused")
    func refusedOverPlainHTTP() async throws {
        let secret = TestSecret()
        try await withUpstream(.plain) { upstream in
            try await withProxy(secret.configuration()) { proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: nil, upstream.url("/hello"),
                    ["-H", "Authorization: Bearer \(TestSecret.placeholder)"])
                expectDenial(transfer, reason: "secret_host_mismatch")
                #expect(upstream.log.all.isEmpty)
                expectNoSecret(secret, in: proxyOutputs(proxy) + [("error body", transfer.bodyText)])
            }
        }
    }

    @Test("a real value in a response, split across two chunks, reaches curl as the placeholder")
    func maskedInSplitResponse() async throws {
        let pki = try await TestPKI.shared()
        let secret = TestSecret()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(secret.configuration()) { proxy in
                let result = try await Curl.run(
                    proxy: proxy, caFile: proxy.caCertificatePath,
                    [
                        CurlRequest(
                            upstream.url("/reflect-split?h=x-token"), ["-H", "X-Token: \(TestSecret.placeholder)"]),
                        CurlRequest(
                            upstream.url("/reflect-split?h=x-token&enc=base64"),
                            ["-H", "X-Token: \(TestSecret.placeholder)"]),
                    ])
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(result.transfers.count == 2)
                guard result.transfers.count == 2 else { return }
                let (raw, encoded) = (result.transfers[0], result.transfers[1])

                // The upstream really got (and so really sent back) the real value.
                #expect(
                    upstream.log.requests(path: "/reflect-split").map { $0.header("x-token") }
                        == [[secret.value], [secret.value]])

                #expect(raw.status == 200)
                #expect(raw.bodyText == TestSecret.placeholder)
                // The base64 form becomes the placeholder too; its base64 would be as harmless.
                let acceptable = [TestSecret.placeholder, Data(TestSecret.placeholder.utf8).base64EncodedString()]
                #expect(acceptable.contains(encoded.bodyText), "base64 body was not masked to the placeholder")
                #expect(acceptable.contains(raw.header("x-reflect-b64") ?? ""), "x-reflect-b64 header not masked")

                let everything = result.transfers.flatMap { transfer in
                    [("curl body", transfer.bodyText)]
                        + transfer.headers.map { ("response header \($0.key)", $0.value.joined(separator: ",")) }
                }
                expectNoSecret(secret, in: everything + proxyOutputs(proxy))
            }
        }
    }

    @Test("`secrets env` prints NAME=placeholder and never the real value")
    func secretsEnv() async throws {
        let binary = try TestEnvironment.requireProxyBinary()
        let secret = TestSecret()
        let scratch = try TemporaryDirectory(prefix: "secrets-env")
        defer { scratch.remove() }
        let policy = try scratch.write("policy.yaml", TestSecret.policy())
        let output = try await Subprocess.run(
            binary, ["secrets", "env", "--policy", policy],
            environment: TestEnvironment.cleanEnvironment(adding: secret.environment), timeout: .seconds(30))
        #expect(output.exitCode == 0, "\(output.combinedText)")
        #expect(output.stdoutText.split(separator: "\n").contains("TOKEN=PH_TOKEN"))
        expectNoSecret(secret, in: [("stdout", output.stdoutText), ("stderr", output.stderrText)])
    }

    /// Many secret-bearing flows on one proxy, then a grep of everything anyone could read.
    @Test("no real secret value in the audit log, the proxy's output or any response body")
    func hygiene() async throws {
        let pki = try await TestPKI.shared()
        let secret = TestSecret()
        try await withUpstream(.tls(pki.untrustedLeaf)) { untrusted in
            try await withUpstream(.tls(pki.leaf)) { upstream in
                try await withProxy(secret.configuration()) { proxy in
                    let placeholderHeader = ["-H", "Authorization: Bearer \(TestSecret.placeholder)"]
                    let requests: [CurlRequest] = [
                        CurlRequest(upstream.url("/headers"), placeholderHeader),
                        CurlRequest(upstream.url("/echo"), placeholderHeader + ["--data-binary", "body"]),
                        CurlRequest(upstream.url("/reflect-split?h=authorization"), placeholderHeader),
                        CurlRequest(upstream.url("/reflect-split?h=authorization&enc=base64"), placeholderHeader),
                        CurlRequest(upstream.url("/hello", host: "other.test"), placeholderHeader),
                        CurlRequest(untrusted.url("/hello"), placeholderHeader),
                        CurlRequest(upstream.url("/nope"), placeholderHeader),
                    ]
                    var seen: [(label: String, text: String)] = []
                    for request in requests {
                        let result = try await Curl.run(proxy: proxy, caFile: proxy.caCertificatePath, [request])
                        seen.append(("curl stderr for \(request.url)", result.stderr))
                        for transfer in result.transfers {
                            seen.append(("body of \(request.url)", transfer.bodyText))
                            seen.append(("headers of \(request.url)", "\(transfer.headers)"))
                        }
                    }
                    #expect(
                        upstream.log.requests(path: "/headers").first?.header("authorization") == [
                            "Bearer \(secret.value)"
                        ])
                    // Let any asynchronous audit writes land before grepping.
                    try await expectAudit(proxy, "upstream_tls for the untrusted upstream") {
                        $0.reason == "upstream_tls"
                    }
                    try await expectAudit(proxy, "secret_host_mismatch") { $0.reason == "secret_host_mismatch" }
                    expectNoSecret(secret, in: seen + proxyOutputs(proxy))
                    // Stopping flushes whatever is buffered; grep once more afterwards.
                    await proxy.stop()
                    expectNoSecret(secret, in: proxyOutputs(proxy))
                }
            }
        }
    }
}
