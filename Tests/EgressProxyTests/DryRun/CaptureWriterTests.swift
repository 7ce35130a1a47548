import Foundation
import NIOCore
import PolicyEngine
import Testing
@testable import EgressProxy

@Suite struct CaptureWriterTests {
    private static let started = Date(timeIntervalSince1970: 1_718_114_531.25)

    /// A CONNECT that was tunnelled, an intercepted POST with a text body, a binary body, a
    /// denied request without an upstream response, and one whose body is cut.
    private static func sampleEntries() -> [CaptureEntry] {
        [
            CaptureEntry(
                startedDateTime: started, method: "CONNECT", url: CaptureEntry.connectURL(host: "pypi.org", port: 443),
                requestHeaders: [(name: "Host", value: "pypi.org:443")], responseStatus: 200, serverIPAddress: "151.101.0.223",
                timings: CaptureTimings(send: 0, wait: 0, receive: 812.5),
                egress: CaptureDecision(decision: .allow(rule: "network.allow_out[2]"), mode: .tunnel)),
            CaptureEntry(
                startedDateTime: started.addingTimeInterval(1), method: "POST", url: "https://api.openai.com/v1/chat/completions?x=1",
                requestHeaders: [(name: "Authorization", value: "Bearer PH_OPENAI_API_KEY"), (name: "Content-Type", value: "application/json")],
                requestBody: Array(#"{"model":"gpt-4o","messages":[{"role":"user","content":"héllo \"quoted\"\n"}]}"#.utf8),
                responseStatus: 200, responseHeaders: [(name: "Content-Type", value: "text/event-stream")],
                responseBody: Array("data: {\"x\":1}\n\ndata: [DONE]\n\n".utf8), serverIPAddress: "162.159.140.245",
                timings: CaptureTimings(send: 0.4, wait: 231.7, receive: 1204.9),
                egress: CaptureDecision(decision: .allow(), secrets: ["OPENAI_API_KEY"], mode: .mitm)),
            CaptureEntry(
                startedDateTime: started.addingTimeInterval(2), method: "PUT", url: "https://uploads.example.com/blob",
                requestHeaders: [(name: "Content-Type", value: "application/octet-stream")],
                requestBody: [0x00, 0xff, 0xfe, 0x80, 0x41], responseStatus: 201, serverIPAddress: "2606:4700::6810:84e5",
                egress: CaptureDecision(decision: .allow(), mode: .mitm)),
            CaptureEntry(
                startedDateTime: started.addingTimeInterval(3), method: "GET", url: "http://169.254.169.254/latest/meta-data/",
                responseStatus: 403, responseHeaders: [(name: "X-Egress-Decision", value: "deny; reason=special_range")],
                responseBody: Array(#"{"error":"egress_denied","reason":"special_range"}"#.utf8), serverIPAddress: "169.254.169.254",
                egress: CaptureDecision(decision: .deny(.special_range), mode: .http)),
            CaptureEntry(
                startedDateTime: started.addingTimeInterval(4), method: "POST", url: "https://api.openai.com/v1/files",
                requestBody: Array(String(repeating: "é", count: 100).utf8), requestBodySize: 400,
                egress: CaptureDecision(decision: .deny(.rule_denied, rule: "rules[0]"), mode: .mitm)),
        ]
    }

    private func write(_ entries: [CaptureEntry], maxBodyBytes: Int = 64, close: Bool = true) throws -> String {
        let path = HARFixtures.temporaryPath()
        let writer = try CaptureWriter(path: path, maxBodyBytes: maxBodyBytes)
        for e in entries { writer.record(e) }
        if close { writer.close() } else { writer.flush() }
        return path
    }

    // MARK: Round trip

    @Test func writerThenReaderGivesTheSameEntries() throws {
        let written = Self.sampleEntries()
        let path = try write(written, maxBodyBytes: 1 << 20)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Valid JSON as a whole, HAR 1.2.
        let whole = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        let log = try #require(whole?["log"] as? [String: Any])
        #expect(log["version"] as? String == "1.2")
        #expect((log["creator"] as? [String: Any])?["name"] as? String == "egress-proxy")

        let (read, truncation) = try HARFixtures.readAll(path, options: .init(keepResponseBodies: true))
        #expect(truncation == nil)
        #expect(read.count == written.count)
        for (w, r) in zip(written, read) {
            #expect(r.method == w.method)
            #expect(r.url == w.url)
            #expect(r.httpVersion == w.httpVersion)
            #expect(r.startedDateTime == RFC3339.format(w.startedDateTime))
            #expect(r.requestHeaders.map(\.name) == w.requestHeaders.map(\.name))
            #expect(r.requestHeaders.map(\.value) == w.requestHeaders.map(\.value))
            #expect(r.requestBody == w.requestBody)
            #expect(r.responseStatus == w.responseStatus)
            #expect(r.responseHeaders.map(\.value) == w.responseHeaders.map(\.value))
            #expect(r.responseBody == w.responseBody)
            #expect(r.serverIPAddress == w.serverIPAddress)
            #expect(r.timings == HARTimings(send: w.timings.send, wait: w.timings.wait, receive: w.timings.receive))
            let e = try #require(r.egress)
            #expect(e.decision == w.egress.decision.verdict.rawValue)
            #expect(e.reason == w.egress.decision.reason.rawValue)
            #expect(e.rule == w.egress.decision.rule)
            #expect(e.secrets == w.egress.secrets)
            #expect(e.mode == w.egress.mode?.rawValue)
        }
        // A body shorter than its declared size is marked cut.
        #expect(read[4].requestBodyTruncated)
        #expect(!read[1].requestBodyTruncated)
    }

    @Test func bodiesAreCutAndBinaryIsBase64() throws {
        let path = try write(Self.sampleEntries(), maxBodyBytes: 11)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(#""encoding":"base64""#))
        let (read, _) = try HARFixtures.readAll(path, options: .init(keepResponseBodies: true))
        #expect(read[2].requestBody == [0x00, 0xff, 0xfe, 0x80, 0x41])
        #expect(read[1].requestBody == Array(#"{"model":"g"#.utf8))
        #expect(read[1].requestBodyTruncated)
        // 11 bytes of "é" (2 bytes each) end mid-character: cut back to 10, still text.
        #expect(read[4].requestBody == Array(String(repeating: "é", count: 5).utf8))
        #expect(!text.contains("\"bodySize\":11"))
    }

    // MARK: Crash safety

    @Test func fileWithoutItsTailIsReadable() throws {
        // The proxy died before close(): no "]}}".
        let path = try write(Self.sampleEntries(), close: false)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (read, truncation) = try HARFixtures.readAll(path)
        #expect(read.count == 5)
        #expect(truncation == .betweenEntries(count: 5))
    }

    @Test func fileCutMidEntryKeepsTheCompleteOnes() throws {
        let path = try write(Self.sampleEntries())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let text = String(decoding: data, as: UTF8.self)
        // Cut inside the fourth entry (index 3).
        let start = try #require(text.range(of: "169.254.169.254/latest")).lowerBound
        let cut = text.utf8.distance(from: text.startIndex, to: start)
        try data.prefix(cut).write(to: URL(fileURLWithPath: path))
        let (read, truncation) = try HARFixtures.readAll(path)
        #expect(read.map(\.method) == ["CONNECT", "POST", "PUT"])
        #expect(truncation == .insideEntry(index: 3))
    }

    @Test func fileIsPrivate() throws {
        let path = HARFixtures.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Even when it already existed with a wider mode.
        #expect(FileManager.default.createFile(atPath: path, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644]))
        let writer = try CaptureWriter(path: path, maxBodyBytes: 16)
        writer.close()
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try HARFixtures.readAll(path).entries.isEmpty)
    }

    @Test func recordAfterCloseIsIgnored() throws {
        let path = HARFixtures.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try CaptureWriter(path: path, maxBodyBytes: 16)
        writer.record(Self.sampleEntries()[0])
        writer.close()
        writer.close()
        writer.record(Self.sampleEntries()[1])
        #expect(writer.writtenEntries == 1)
        #expect(try HARFixtures.readAll(path).entries.count == 1)
    }

    @Test func unwritableLocationIsAnError() {
        #expect(throws: CaptureWriterError.self) {
            _ = try CaptureWriter(path: "/nonexistent-dir/capture.har", maxBodyBytes: 16)
        }
    }

    // MARK: No secret value

    /// The caller records what the sandbox holds: the request as sent (placeholders) and the
    /// response after the live masking. The real value must not reach the file.
    @Test func noSecretValueInTheCapture() throws {
        let realValue = "sk-live-REALVALUE-0123456789abcdef"
        let doc = try PolicyLoader.parse(text: """
            version: 1
            sandbox: sb-cap
            secrets:
              entries:
                OPENAI_API_KEY:
                  value: env:REAL_KEY
                  placeholder: PH_OPENAI_API_KEY
                  allowed_hosts: [api.openai.com]
            """, file: "inline.yaml")
        let policy = try CompiledPolicy.compile(doc, environment: ["REAL_KEY": realValue], readFile: { _ in [] })
        let active = ActivePolicy(policy: policy)

        // The upstream echoes the key back (as some APIs do in error messages), in the body
        // and a header; the proxy masks both before the sandbox (and the capture) sees them.
        var masker = active.secrets.makeResponseMasker()
        var body = masker.feed(ByteBuffer(string: #"{"error":"invalid key \#(realValue)"}"#))
        var tail = masker.finish()
        body.writeBuffer(&tail)
        let maskedHeader = active.secrets.maskHeaderValue("key=\(realValue)")

        let path = try write([
            CaptureEntry(
                startedDateTime: Self.started, method: "POST", url: "https://api.openai.com/v1/chat/completions",
                requestHeaders: [(name: "Authorization", value: "Bearer PH_OPENAI_API_KEY"),
                                 (name: "Proxy-Authorization", value: "Basic c2ItY2FwOmdhdGV3YXktdG9rZW4=")],
                requestBody: Array("{}".utf8), responseStatus: 401, responseHeaders: [(name: "X-Debug", value: maskedHeader)],
                responseBody: Array(body.readableBytesView),
                egress: CaptureDecision(decision: .allow(), secrets: ["OPENAI_API_KEY"], mode: .mitm)),
        ], maxBodyBytes: 4096)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains(realValue))
        #expect(!text.contains(Data(realValue.utf8).base64EncodedString()))
        #expect(text.contains("PH_OPENAI_API_KEY"))
        // The gateway credential is never captured.
        #expect(!text.contains("c2ItY2FwOmdhdGV3YXktdG9rZW4="))
        #expect(text.contains("[REDACTED]"))
    }

    // MARK: Dry-run over a capture

    @Test func dryRunOverAWrittenCaptureMatchesItsDecisions() throws {
        let doc = try PolicyLoader.parse(text: """
            version: 1
            sandbox: sb-cap
            network:
              allow_out: [pypi.org]
            rules:
              - match: {host: api.openai.com, path: "/v1/files/**"}
                action: deny
            secrets:
              entries:
                OPENAI_API_KEY:
                  value: env:REAL_KEY
                  placeholder: PH_OPENAI_API_KEY
                  allowed_hosts: [api.openai.com]
            """, file: "inline.yaml")
        let runner = try DryRunner(policy: try DryRunPolicy.compile(doc))
        var entries = Self.sampleEntries()
        entries[0].egress = CaptureDecision(decision: .allow(rule: "network.allow_out[0]"), mode: .tunnel)
        entries[2].egress = CaptureDecision(decision: .allow(), mode: .tunnel)
        let path = try write(entries, maxBodyBytes: 4096)
        defer { try? FileManager.default.removeItem(atPath: path) }
        for entry in try HARFixtures.readAll(path).entries {
            let live = try #require(entry.egress)
            let got = runner.decide(entry)
            #expect(got.verdict == live.decision && got.reason == live.reason && got.rule == live.rule
                        && got.secrets == live.secrets && got.mode?.rawValue == live.mode,
                    "entries[\(entry.index)]: dry-run \(outcomeText(got)), capture \(live)")
        }
    }
}
