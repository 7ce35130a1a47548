import Foundation
import NIOCore
import PolicyEngine
import Testing

@testable import EgressProxy

// MARK: - Request bodies: every action on JSON, form and gzip bodies

@Suite struct RequestInspectionTests {
    typealias S = InspectionTestSupport

    static func policy(_ action: String, hosts: String = "[\"*\"]") -> String {
        """
        pii:
          types: [email, credit_card, ssn]
          action: \(action)
          rehydrate_response: true
          hosts: \(hosts)
        """
    }

    static let email = "jane.roe@fastmail.com"
    static let jsonBody = #"{"to":"jane.roe@fastmail.com","note":"card 4539 1488 0343 6467 thanks"}"#
    static let formBody = "to=jane.roe%40fastmail.com&note=hello+there"

    struct BodyCase: CustomTestStringConvertible, Sendable {
        var name: String
        var contentType: String
        var gzip: Bool
        var body: String
        var testDescription: String { name }
    }

    static let bodies: [BodyCase] = [
        BodyCase(name: "json", contentType: "application/json", gzip: false, body: jsonBody),
        BodyCase(name: "form", contentType: "application/x-www-form-urlencoded", gzip: false, body: formBody),
        BodyCase(name: "gzip json", contentType: "application/json", gzip: true, body: jsonBody),
    ]

    static func headers(_ c: BodyCase) -> [(String, String)] {
        var h = [("Content-Type", c.contentType)]
        if c.gzip { h.append(("Content-Encoding", "gzip")) }
        return h
    }

    static func wire(_ c: BodyCase) throws -> [UInt8] {
        c.gzip ? try #require(ContentCodec.encode(S.bytes(c.body), gzip: true)) : S.bytes(c.body)
    }

    static func readable(_ c: BodyCase, _ output: [UInt8]) throws -> String {
        S.text(c.gzip ? try #require(ContentCodec.decode(output, gzip: true)) : output)
    }

    @Test("redact replaces each finding with its token", arguments: bodies)
    func redact(_ c: BodyCase) throws {
        let plan = try S.plan(Self.policy("redact"))
        var stage = plan.request(host: "api.example.com", method: "POST", headers: Self.headers(c))
        var headers = Self.headers(c)
        var query: String? = nil
        #expect(stage.rewriteHead(&headers, query: &query) == .proceed)
        #expect(stage.mayChangeLength)
        let run = S.run(&stage, try Self.wire(c))
        #expect(run.denial == nil)
        let out = try Self.readable(c, run.output)
        #expect(!out.contains("jane.roe"))
        #expect(!out.contains("4539"))
        let emailToken = plan.vault.token(for: S.bytes(Self.email), type: "EMAIL_ADDRESS")
        if c.contentType.hasSuffix("urlencoded") {
            // Percent-encoded in a form, so the server decodes it to the token itself.
            #expect(out == "to=" + S.text(RedactionToken.encoded(emailToken, percent: true)) + "&note=hello+there")
        } else {
            #expect(out.contains(emailToken))
            #expect(S.tokens(in: out).count == 2)
            #expect(out.hasPrefix(#"{"to":"[EMAIL_ADDRESS_"#))
        }
        #expect(stage.findings.map(\.type).contains("EMAIL_ADDRESS"))
    }

    @Test("block denies pii_blocked before the finding is forwarded", arguments: bodies)
    func block(_ c: BodyCase) throws {
        let plan = try S.plan(Self.policy("block"))
        var stage = plan.request(host: "api.example.com", method: "POST", headers: Self.headers(c))
        var headers = Self.headers(c)
        var query: String? = nil
        #expect(stage.rewriteHead(&headers, query: &query) == .proceed)
        let run = S.run(&stage, try Self.wire(c))
        #expect(run.denial?.reason == .pii_blocked)
        #expect(run.denial?.detail.contains("EMAIL_ADDRESS") == true)
        #expect(run.denial?.detail.contains("jane") == false)
        // Nothing of the body went out before the decision.
        #expect(run.output.isEmpty)
        // The stage stays denied.
        #expect(stage.feed(ByteBuffer(string: "more")) == .deny(reason: .pii_blocked, detail: run.denial?.detail ?? ""))
    }

    @Test("log_only forwards the body unchanged and counts", arguments: bodies)
    func logOnly(_ c: BodyCase) throws {
        let plan = try S.plan(Self.policy("log_only"))
        var stage = plan.request(host: "api.example.com", method: "POST", headers: Self.headers(c))
        var headers = Self.headers(c)
        var query: String? = nil
        #expect(stage.rewriteHead(&headers, query: &query) == .proceed)
        let run = S.run(&stage, try Self.wire(c))
        #expect(run.denial == nil)
        #expect(try Self.readable(c, run.output) == c.body)
        #expect(stage.findings.first { $0.type == "EMAIL_ADDRESS" }?.count == 1)
        #expect(plan.vault.count == 0)
    }

    @Test("hosts outside pii.hosts are not scanned")
    func outOfScope() throws {
        let plan = try S.plan(Self.policy("block", hosts: "[\"*.internal.example\"]"))
        var stage = plan.request(host: "api.example.com", method: "POST", headers: [("Content-Type", "application/json")])
        #expect(!stage.bodyActive)
        let run = S.run(&stage, S.bytes(Self.jsonBody))
        #expect(run.denial == nil)
        #expect(S.text(run.output) == Self.jsonBody)
    }

    // MARK: Chunk boundaries

    @Test("a finding split at every chunk boundary is still redacted the same way")
    func splitEverywhere() throws {
        let plan = try S.plan(Self.policy("redact"))
        let body = S.bytes(Self.jsonBody)
        var whole = plan.request(host: "h.example", method: "POST", headers: [("Content-Type", "application/json")])
        let expected = S.run(&whole, body).output
        #expect(S.text(expected).contains("[EMAIL_ADDRESS_"))
        for cut in 0...body.count {
            var stage = plan.request(host: "h.example", method: "POST", headers: [("Content-Type", "application/json")])
            let run = S.run(&stage, body, cuts: [cut])
            #expect(run.output == expected, "cut at \(cut)")
        }
        // And in one-byte chunks.
        var bytewise = plan.request(host: "h.example", method: "POST", headers: [("Content-Type", "application/json")])
        #expect(S.run(&bytewise, body, cuts: Array(1..<body.count)).output == expected)
    }

    @Test("a finding across a window boundary of a large body is found")
    func acrossWindows() throws {
        let plan = try S.plan(Self.policy("block"))
        // Put the e-mail across every offset near the 64 KiB window edge.
        for shift in [-30, -10, -1, 0, 1, 7] {
            var body = [UInt8](repeating: UInt8(ascii: "x"), count: 65_536 + shift)
            body += S.bytes(" " + Self.email + " ")
            body += [UInt8](repeating: UInt8(ascii: "y"), count: 70_000)
            var stage = plan.request(host: "h.example", method: "POST", headers: [("Content-Type", "text/plain")])
            let run = S.run(&stage, body, cuts: stride(from: 4096, to: body.count, by: 4096).map { $0 })
            #expect(run.denial?.reason == .pii_blocked, "shift \(shift)")
            // Only bytes before the finding's window were forwarded.
            #expect(!S.text(run.output).contains("jane"))
        }
    }

    // MARK: Query

    @Test("PII in query values is redacted, percent-encoded")
    func query() throws {
        let plan = try S.plan(Self.policy("redact"))
        var stage = plan.request(host: "h.example", method: "GET", headers: [])
        var headers: [(String, String)] = []
        var query: String? = "q=jane.roe%40fastmail.com&page=2"
        #expect(stage.rewriteHead(&headers, query: &query) == .proceed)
        let token = plan.vault.token(for: S.bytes(Self.email), type: "EMAIL_ADDRESS")
        #expect(query == "q=" + S.text(RedactionToken.encoded(token, percent: true)) + "&page=2")
        #expect(stage.findings.map(\.type) == ["EMAIL_ADDRESS"])
    }

    @Test("PII in the query under block denies at the head")
    func queryBlocked() throws {
        let plan = try S.plan(Self.policy("block"))
        var stage = plan.request(host: "h.example", method: "GET", headers: [])
        var headers: [(String, String)] = []
        var query: String? = "ssn=512-38-4409"
        guard case .deny(let reason, let detail) = stage.rewriteHead(&headers, query: &query) else {
            Issue.record("expected a denial")
            return
        }
        #expect(reason == .pii_blocked)
        #expect(!detail.contains("4409"))
    }

    // MARK: Encodings

    @Test("an undecodable body follows on_uninspectable", arguments: ["block", "pass"])
    func undecodable(_ onUninspectable: String) throws {
        let plan = try S.plan(Self.policy("block") + "\nlimits: {on_uninspectable: \(onUninspectable)}")
        let headers = [("Content-Type", "application/json"), ("Content-Encoding", "br")]
        var stage = plan.request(host: "h.example", method: "POST", headers: headers)
        var edited = headers
        var query: String? = nil
        let verdict = stage.rewriteHead(&edited, query: &query)
        if onUninspectable == "block" {
            #expect(verdict == .deny(reason: .uninspectable, detail: "request body in content-encoding 'br' cannot be inspected"))
        } else {
            #expect(verdict == .proceed)
            let run = S.run(&stage, S.bytes(Self.jsonBody))
            #expect(S.text(run.output) == Self.jsonBody)
        }
    }

    @Test("a corrupt gzip body is uninspectable")
    func corruptGzip() throws {
        let plan = try S.plan(Self.policy("redact"))
        let headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
        var stage = plan.request(host: "h.example", method: "POST", headers: headers)
        var good = try #require(ContentCodec.encode(S.bytes(Self.jsonBody), gzip: true))
        good.removeLast(12)  // cut: no end marker
        let run = S.run(&stage, good)
        #expect(run.denial?.reason == .uninspectable)
    }

    @Test("a decompression bomb is uninspectable")
    func bomb() throws {
        let plan = try S.plan(Self.policy("redact"))
        let headers = [("Content-Type", "text/plain"), ("Content-Encoding", "gzip")]
        var stage = plan.request(host: "h.example", method: "POST", headers: headers)
        let wire = try #require(ContentCodec.encode([UInt8](repeating: 0x20, count: 40 * 1024 * 1024), gzip: true))
        #expect(wire.count < 100 * 1024)
        let run = S.run(&stage, wire)
        #expect(run.denial?.reason == .uninspectable)
        #expect(run.maxRetained <= stage.retainedByteBound)
    }

    @Test("a deflate (zlib) body is decoded and encoded again")
    func deflateBody() throws {
        let plan = try S.plan(Self.policy("redact"))
        let headers = [("Content-Type", "application/json"), ("Content-Encoding", "deflate")]
        var stage = plan.request(host: "h.example", method: "POST", headers: headers)
        let wire = try #require(ContentCodec.encode(S.bytes(Self.jsonBody), gzip: false))
        let run = S.run(&stage, wire, cuts: [1, 5])
        #expect(run.denial == nil)
        let out = S.text(try #require(ContentCodec.decode(run.output, gzip: false)))
        #expect(out.contains("[EMAIL_ADDRESS_"))
        #expect(!out.contains("jane"))
    }

    // MARK: Accept-Encoding

    @Test("Accept-Encoding is narrowed when the response may be read")
    func acceptEncoding() throws {
        let plan = try S.plan("injection_defense: {action: block}")
        var stage = plan.request(host: "h.example", method: "GET", headers: [])
        var headers = [("Accept-Encoding", "br, gzip;q=0.8, zstd")]
        var query: String? = nil
        #expect(stage.rewriteHead(&headers, query: &query) == .proceed)
        #expect(headers.first?.1 == "gzip;q=0.8")
        var headers2 = [("accept-encoding", "br")]
        #expect(stage.rewriteHead(&headers2, query: &query) == .proceed)
        #expect(headers2.first?.1 == "identity")
    }

    // MARK: Bounded memory

    /// 200 MB without PII in 64 KiB chunks: every byte goes through unchanged and the stage
    /// never holds more than its bound.
    @Test("a 200 MB body streams with bounded retention")
    func largeStream() throws {
        let plan = try S.plan(Self.policy("redact"))
        var stage = plan.request(host: "h.example", method: "POST",
                                 headers: [("Content-Type", "application/octet-stream"), ("Content-Length", "209715200")])
        var headers: [(String, String)] = []
        var query: String? = nil
        #expect(stage.rewriteHead(&headers, query: &query) == .proceed)
        // Text without PII (words, punctuation, short numbers), 64 KiB a chunk.
        let line = S.bytes("The quick brown fox jumps over 13 lazy dogs; order 42 shipped at 10:30.\n")
        var chunk: [UInt8] = []
        while chunk.count < 65_536 { chunk += line }
        chunk = Array(chunk.prefix(65_536))
        let buffer = ByteBuffer(bytes: chunk)
        let total = 200 * 1024 * 1024
        var forwarded = 0
        var maxRetained = 0
        var mismatches = 0
        var pending: [UInt8] = []
        func check(_ out: ByteBuffer) {
            // The output must be the input stream: compare it chunk by chunk.
            forwarded += out.readableBytes
            pending += out.readableBytesView
            var start = 0
            while pending.count - start >= chunk.count {
                let same = pending.withUnsafeBytes { a in
                    chunk.withUnsafeBytes { b in memcmp(a.baseAddress! + start, b.baseAddress!, b.count) == 0 }
                }
                if !same { mismatches += 1 }
                start += chunk.count
            }
            pending.removeFirst(start)
        }
        var fed = 0
        while fed < total {
            guard case .forward(let out) = stage.feed(buffer) else {
                Issue.record("unexpected denial")
                return
            }
            check(out)
            maxRetained = max(maxRetained, stage.retainedByteCount)
            fed += chunk.count
        }
        guard case .forward(let tail) = stage.finish() else {
            Issue.record("unexpected denial")
            return
        }
        check(tail)
        #expect(forwarded == total)
        #expect(mismatches == 0)
        #expect(maxRetained <= stage.retainedByteBound)
        #expect(stage.retainedByteBound <= 256 * 1024)
        #expect(stage.findings.isEmpty)
    }
}
