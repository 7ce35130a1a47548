import Foundation
import Testing

/// Content inspection through the live proxy (SPEC section 6): PII redact/block/log_only on
/// JSON, form and gzip bodies, token rehydration over a split SSE stream, injection block and
/// sanitize on an HTML page, transformations both ways, `env.mask_patterns` with
/// `--sandbox-env`, and audit records that carry types and counts but never values.
@Suite("Proxy: content inspection")
struct InspectionTests {
    static let card = "4111 1111 1111 1111"
    static let email = "jane.doe@acme-mail.net"
    static let tokenPattern = #"\[(CREDIT_CARD|EMAIL_ADDRESS)_[0-9a-f]{6}\]"#

    static func piiPolicy(action: String, rehydrate: Bool = false) -> String {
        PolicyYAML.make(sections: """
            pii:
              enabled: true
              types: [credit_card, email]
              action: \(action)
              rehydrate_response: \(rehydrate)
              hosts: [api.test]

            """)
    }

    static var chatBody: String {
        #"{"model":"gpt-x","messages":[{"role":"user","content":"Refund card \#(card) for \#(email); the card \#(card) was charged twice."}]}"#
    }

    /// The `pii` field of an audit record as `TYPE: count`.
    static func piiCounts(_ record: AuditRecord?) -> [String: Int] {
        var counts: [String: Int] = [:]
        for item in record?["pii"]?.arrayValue ?? [] {
            if let type = item["type"]?.stringValue, let count = item["count"]?.intValue { counts[type] = count }
        }
        return counts
    }

    static func tokens(in text: String) -> [String] {
        let regex = try! NSRegularExpression(pattern: tokenPattern)
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map {
            String(text[Range($0.range, in: text)!])
        }
    }

    /// No PII value in anything the proxy wrote (audit, stdout, stderr).
    static func expectNoPII(in proxy: ProxyProcess, sourceLocation: SourceLocation = #_sourceLocation) {
        for (label, text) in proxyOutputs(proxy) {
            for value in [card, card.replacingOccurrences(of: " ", with: ""), email] {
                #expect(!text.contains(value), "\(label) holds a PII value", sourceLocation: sourceLocation)
            }
        }
    }

    // MARK: - PII actions

    @Test("redact: the upstream gets [TYPE_xxxxxx] tokens (same value, same token), the audit has types and counts only")
    func redactJSON() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.piiPolicy(action: "redact"))) { proxy in
                let (result, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/upload"),
                    ["--data-binary", Self.chatBody, "-H", "Content-Type: application/json"])
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(transfer.status == 200)
                let received = try #require(upstream.log.requests(path: "/upload").first)
                let text = String(decoding: received.bodyPrefix, as: UTF8.self)
                #expect(!text.contains(Self.card) && !text.contains(Self.email), "\(text)")
                let tokens = Self.tokens(in: text)
                #expect(tokens.count == 3, "\(text)")
                let cards = tokens.filter { $0.hasPrefix("[CREDIT_CARD_") }
                #expect(cards.count == 2 && Set(cards).count == 1, "one value, one token: \(cards)")
                #expect(tokens.contains { $0.hasPrefix("[EMAIL_ADDRESS_") })
                #expect((try? JSONValue.parse(Data(received.bodyPrefix))) != nil, "still valid JSON: \(text)")
                let record = try await expectAudit(proxy, "request with PII") { $0.path == "/upload" }
                #expect(Self.piiCounts(record) == ["CREDIT_CARD": 2, "EMAIL_ADDRESS": 1])
                #expect(record?.decision == "allow")
                Self.expectNoPII(in: proxy)
            }
        }
    }

    @Test("block: 403 pii_blocked with rule pii.action; the upstream never gets the request")
    func blockJSON() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.piiPolicy(action: "block"))) { proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/upload"),
                    ["--data-binary", Self.chatBody, "-H", "Content-Type: application/json"])
                expectDenial(transfer, reason: "pii_blocked", rule: "pii.action")
                #expect(!transfer.bodyText.contains(Self.email))
                let record = try await expectAudit(proxy, "pii_blocked") { $0.reason == "pii_blocked" }
                #expect(Self.piiCounts(record)["CREDIT_CARD"] ?? 0 >= 1)
                #expect(upstream.log.requests(path: "/upload").isEmpty, "no complete request reached the upstream")
                // A clean request on the same policy still passes.
                let (_, clean) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/upload"),
                    ["--data-binary", #"{"q":"weather in Paris"}"#, "-H", "Content-Type: application/json"])
                #expect(clean.status == 200)
                Self.expectNoPII(in: proxy)
            }
        }
    }

    @Test("log_only: the body goes through unchanged, the audit counts the findings")
    func logOnlyJSON() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.piiPolicy(action: "log_only"))) { proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/upload"),
                    ["--data-binary", Self.chatBody, "-H", "Content-Type: application/json"])
                #expect(transfer.status == 200)
                let received = try #require(upstream.log.requests(path: "/upload").first)
                #expect(String(decoding: received.bodyPrefix, as: UTF8.self) == Self.chatBody)
                let record = try await expectAudit(proxy, "log_only request") { $0.path == "/upload" }
                #expect(Self.piiCounts(record) == ["CREDIT_CARD": 2, "EMAIL_ADDRESS": 1])
                Self.expectNoPII(in: proxy)
            }
        }
    }

    @Test("redact in a form body and the URL query: percent-encoded values are found, tokens are percent-encoded")
    func redactFormAndQuery() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.piiPolicy(action: "redact"))) { proxy in
                let form = "name=Jane&email=jane.doe%40acme-mail.net&card=4111+1111+1111+1111&note=ok"
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath,
                    upstream.url("/upload?contact=jane.doe%40acme-mail.net&page=2"),
                    ["--data-binary", form, "-H", "Content-Type: application/x-www-form-urlencoded"])
                #expect(transfer.status == 200)
                let received = try #require(upstream.log.requests(path: "/upload").first)
                let body = String(decoding: received.bodyPrefix, as: UTF8.self)
                #expect(!body.contains("jane.doe") && !body.contains("4111"), "\(body)")
                let decoded = body.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
                #expect(Self.tokens(in: decoded).count == 2, "\(body)")
                #expect(body.hasPrefix("name=Jane&email=") && body.hasSuffix("&note=ok"), "form structure kept: \(body)")
                #expect(!received.uri.contains("jane.doe"), "\(received.uri)")
                #expect(received.uri.hasSuffix("&page=2"))
                let record = try await expectAudit(proxy, "form request") { $0.path?.hasPrefix("/upload") == true }
                #expect(Self.piiCounts(record) == ["CREDIT_CARD": 1, "EMAIL_ADDRESS": 2])
                Self.expectNoPII(in: proxy)
            }
        }
    }

    @Test("redact in a gzip body: decoded for scanning, re-encoded for the upstream")
    func redactGzipBody() async throws {
        let pki = try await TestPKI.shared()
        let scratch = try TemporaryDirectory(prefix: "gzip")
        defer { scratch.remove() }
        let plain = try scratch.write("body.json", Self.chatBody)
        let gz = try await Subprocess.run("/bin/gzip", ["-kf", plain])
        #expect(gz.exitCode == 0, "\(gz.stderrText)")
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.piiPolicy(action: "redact"))) { proxy in
                let (_, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/upload"),
                    ["--data-binary", "@" + plain + ".gz", "-H", "Content-Type: application/json", "-H", "Content-Encoding: gzip"])
                #expect(transfer.status == 200)
                let received = try #require(upstream.log.requests(path: "/upload").first)
                #expect(received.header("content-encoding") == ["gzip"])
                let receivedPath = try scratch.write("received.gz", "")
                try Data(received.bodyPrefix).write(to: URL(fileURLWithPath: receivedPath))
                let unzipped = try await Subprocess.run("/bin/gzip", ["-dc", receivedPath])
                #expect(unzipped.exitCode == 0, "the upstream got valid gzip: \(unzipped.stderrText)")
                let text = unzipped.stdoutText
                #expect(!text.contains(Self.card) && !text.contains(Self.email), "\(text)")
                #expect(Self.tokens(in: text).count == 3, "\(text)")
                let record = try await expectAudit(proxy, "gzip request") { $0.path == "/upload" }
                #expect(Self.piiCounts(record) == ["CREDIT_CARD": 2, "EMAIL_ADDRESS": 1])
            }
        }
    }

    @Test("a 200 MB upload without PII streams through the scanner intact, in bounded memory")
    func largeUploadBoundedMemory() async throws {
        let pki = try await TestPKI.shared()
        let scratch = try TemporaryDirectory(prefix: "upload200")
        defer { scratch.remove() }
        let file = scratch.file("upload.txt")
        let size = 200 * 1024 * 1024
        let paragraph = Array(String(repeating: "The quick brown fox jumps over the lazy dog while the agent reads the logs. ", count: 54).utf8)
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: file))
        var written = 0
        while written < size {
            let n = min(paragraph.count, size - written)
            try handle.write(contentsOf: Data(paragraph[0..<n]))
            written += n
        }
        try handle.close()
        let expected = try sha256HexOfFile(file)
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.piiPolicy(action: "redact"))) { proxy in
                let (warmUp, _) = try await Curl.fetch(proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"))
                #expect(warmUp.exitCode == 0)
                let baseline = try #require(proxy.currentRSSBytes())
                let (result, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/upload"),
                    ["-T", file, "-X", "POST", "-H", "Content-Type: text/plain"], maxTime: 600)
                #expect(result.exitCode == 0, "\(result.stderr)")
                let answer = try? JSONValue.parse(transfer.body)
                #expect(answer?["bytes"]?.intValue == size, "status \(transfer.status): \(transfer.bodyText.prefix(300))")
                #expect(answer?["sha256"]?.stringValue == expected.sha256, "every byte arrived unchanged")
                let peak = try #require(proxy.peakRSSBytes())
                print("egress-proxy RSS with PII scanning: \(baseline / 1_048_576) MiB before, peak \(peak / 1_048_576) MiB")
                #expect(peak - baseline < 40 * 1024 * 1024, "peak \(peak / 1_048_576) MiB vs \(baseline / 1_048_576) MiB before")
                let record = try await expectAudit(proxy, "200 MB upload") { $0.path == "/upload" }
                #expect(record?["pii"] == nil || Self.piiCounts(record).isEmpty)
            }
        }
    }

    // MARK: - Rehydration

    @Test("rehydrate_response: tokens the model streams back in pieces across SSE events reach the sandbox as the original values")
    func rehydrationAcrossSSEEvents() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.piiPolicy(action: "redact", rehydrate: true))) { proxy in
                let (result, transfer) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/sse-echo?n=5"),
                    ["--data-binary", Self.chatBody, "-H", "Content-Type: application/json", "-N"])
                #expect(result.exitCode == 0, "\(result.stderr)")
                #expect(transfer.status == 200)
                // The model saw tokens only.
                let received = try #require(upstream.log.requests(path: "/sse-echo").first)
                let sent = String(decoding: received.bodyPrefix, as: UTF8.self)
                #expect(Self.tokens(in: sent).count == 3 && !sent.contains(Self.email))
                // The stream the sandbox read: every event still an event, the deltas joined
                // give back exactly what the sandbox sent, with its values.
                var joined = ""
                var events = 0
                for block in transfer.bodyText.components(separatedBy: "\n\n") where block.hasPrefix("data: ") {
                    let data = String(block.dropFirst(6))
                    if data == "[DONE]" { continue }
                    let json = try JSONValue.parse(data)
                    joined += json["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue ?? ""
                    events += 1
                }
                #expect(events > 10, "streamed as many events: \(events)")
                #expect(joined == Self.chatBody, "rehydrated stream: \(joined)")
                #expect(Self.tokens(in: transfer.bodyText).isEmpty)
                Self.expectNoPII(in: proxy)
            }
        }
    }

    // MARK: - Injection

    static func injectionPolicy(action: String) -> String {
        PolicyYAML.make(sections: """
            injection_defense:
              enabled: true
              action: \(action)
              sensitivity: medium

            """)
    }

    @Test("injection block: a page hiding instructions in an HTML comment is answered 403 injection_blocked; a clean page passes")
    func injectionBlock() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.injectionPolicy(action: "block"))) { proxy in
                let (_, blocked) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/fixture?name=injection-html"))
                expectDenial(blocked, reason: "injection_blocked", rule: "injection_defense.action")
                #expect(!blocked.bodyText.contains("ignore all previous instructions"))
                let record = try await expectAudit(proxy, "injection_blocked") { $0.reason == "injection_blocked" }
                let score = record?["injection"]?["score"]?.doubleValue ?? 0
                #expect(score >= 0.5, "score \(score)")
                #expect(record?["injection"]?["action"]?.stringValue == "block")

                let (_, clean) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/fixture?name=plain-html"))
                #expect(clean.status == 200)
                #expect(clean.bodyText == Upstream.fixtures["plain-html"]?.body)
            }
        }
    }

    @Test("injection sanitize: the hidden instruction is removed, the page is kept, X-Egress-Injection carries the score")
    func injectionSanitize() async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: Self.injectionPolicy(action: "sanitize"))) { proxy in
                let (_, page) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/fixture?name=injection-html"))
                #expect(page.status == 200)
                #expect(!page.bodyText.lowercased().contains("ignore all previous instructions"), "\(page.bodyText)")
                #expect(!page.bodyText.contains("collector.evil.example"), "\(page.bodyText)")
                #expect(page.bodyText.contains("Our standard widget costs $19 per month."))
                #expect(page.bodyText.contains("Contact sales for an enterprise quote."))
                #expect(page.header("x-egress-injection")?.hasPrefix("score=") == true)
                #expect(page.header("content-length").flatMap(Int.init) == page.body.count)
                let record = try await expectAudit(proxy, "sanitized page") { $0.path?.hasPrefix("/fixture") == true }
                #expect(record?["injection"]?["action"]?.stringValue == "sanitize")
            }
        }
    }

    // MARK: - Transformations and env masking

    @Test("transformations both ways: outbound body regex and header edits, inbound body regex; the audit counts them")
    func transformationsBothWays() async throws {
        let pki = try await TestPKI.shared()
        let policy = PolicyYAML.make(sections: #"""
            transformations:
              - {direction: outbound, match: "internal\\.corp\\.example\\.com", replace: api.example.com}
              - {direction: inbound, match: "api\\.example\\.com/v(\\d+)", replace: "internal.corp.example.com/version-$1"}
              - {direction: outbound, hosts: ["api.test"], set_headers: {X-Sandbox: sb-itest}, remove_headers: [X-Debug]}

            """#)
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: policy)) { proxy in
                let (_, echoed) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/echo"),
                    ["--data-binary", "call https://internal.corp.example.com/v2/items now", "-H", "Content-Type: text/plain"])
                #expect(echoed.status == 200)
                let received = try #require(upstream.log.requests(path: "/echo").first)
                #expect(String(decoding: received.bodyPrefix, as: UTF8.self) == "call https://api.example.com/v2/items now")
                #expect(echoed.bodyText == "call https://internal.corp.example.com/version-2/items now")

                let (_, headers) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/headers"), ["-H", "X-Debug: 1"])
                let seen = try JSONValue.parse(headers.body)
                #expect(seen["x-sandbox"]?.stringValue == "sb-itest")
                #expect(seen["x-debug"] == nil)
                let record = try await expectAudit(proxy, "echo transformed") { $0.path == "/echo" }
                #expect((record?.int("transformations") ?? 0) >= 2)
            }
        }
    }

    @Test("env.mask_patterns with --sandbox-env: the sandbox's own key is redacted from requests and masked in responses")
    func sandboxEnvironmentMasking() async throws {
        let pki = try await TestPKI.shared()
        let scratch = try TemporaryDirectory(prefix: "sandbox-env")
        defer { scratch.remove() }
        let value = Upstream.sandboxKeyValue
        let envFile = try scratch.write("sandbox.env", "HOME=/home/agent\nVENDOR_API_KEY=\(value)\n")
        var configuration = ProxyConfiguration(policy: PolicyYAML.make(sections: """
            env:
              mask_patterns: ["*_KEY"]

            """))
        configuration.extraArguments = ["--sandbox-env", envFile]
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(configuration) { proxy in
                let (_, echoed) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/echo"),
                    ["--data-binary", "key=\(value)&home=/home/agent", "-H", "Content-Type: text/plain"])
                #expect(echoed.status == 200)
                let received = try #require(upstream.log.requests(path: "/echo").first)
                let sent = String(decoding: received.bodyPrefix, as: UTF8.self)
                #expect(!sent.contains(value), "\(sent)")
                #expect(sent.contains("VENDOR_API_KEY"), "the marker names the variable: \(sent)")
                #expect(!echoed.bodyText.contains(value))
                let (_, leaked) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/fixture?name=env-leak"))
                #expect(leaked.status == 200)
                #expect(!leaked.bodyText.contains(value), "masked in the response: \(leaked.bodyText)")
                #expect(leaked.bodyText.hasPrefix("debug dump: VENDOR_API_KEY="), "\(leaked.bodyText)")
                for (label, text) in proxyOutputs(proxy) {
                    #expect(!text.contains(value), "\(label)")
                }
            }
        }
    }

    @Test("env.mask_patterns without --sandbox-env: the proxy says at start that nothing will be masked")
    func maskPatternsWithoutEnvironmentWarns() async throws {
        let policy = PolicyYAML.make(sections: "env:\n  mask_patterns: [\"*_KEY\"]\n")
        try await withProxy(ProxyConfiguration(policy: policy)) { proxy in
            #expect(proxy.stderrText.contains("no --sandbox-env FILE was given"), "\(proxy.stderrTail())")
        }
    }
}
