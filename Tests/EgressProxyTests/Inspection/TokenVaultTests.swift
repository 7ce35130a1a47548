import Crypto
import NIOCore
import PolicyEngine
import Testing

@testable import EgressProxy

// MARK: - Tokens, environment masking, audit-facing output

@Suite struct TokenVaultTests {
    typealias S = InspectionTestSupport

    @Test("the same value gets the same token; tokens have the documented form")
    func stable() {
        let vault = S.vault(1)
        let a = vault.token(for: S.bytes("jane@fastmail.com"), type: "EMAIL_ADDRESS")
        let b = vault.token(for: S.bytes("jane@fastmail.com"), type: "EMAIL_ADDRESS")
        let c = vault.token(for: S.bytes("john@example.org"), type: "EMAIL_ADDRESS")
        #expect(a == b)
        #expect(a != c)
        #expect(S.tokens(in: a) == [a])
        #expect(a.hasPrefix("[EMAIL_ADDRESS_") && a.hasSuffix("]") && a.utf8.count == 22)
        #expect(vault.value(forToken: a) == S.bytes("jane@fastmail.com"))
        #expect(vault.value(forToken: "[EMAIL_ADDRESS_000000]") == nil)
    }

    @Test("two sandboxes' vaults give different tokens for the same value")
    func perSandbox() {
        let one = S.vault(1), two = S.vault(2)
        let value = S.bytes("4539148803436467")
        #expect(one.token(for: value, type: "CREDIT_CARD") != two.token(for: value, type: "CREDIT_CARD"))
        // A token of one sandbox means nothing in the other.
        #expect(two.value(forToken: one.token(for: value, type: "CREDIT_CARD")) == nil)
    }

    @Test("the encodings around a value do not change its token")
    func canonical() throws {
        let plan = try S.plan("pii: {types: [email], action: redact}")
        var json = plan.request(host: "h.test", method: "POST", headers: [("Content-Type", "application/json")])
        var form = plan.request(host: "h.test", method: "POST", headers: [("Content-Type", "application/x-www-form-urlencoded")])
        let a = S.tokens(in: S.text(S.run(&json, S.bytes(#"{"e":"jane@fastmail.com"}"#)).output))
        let encoded = S.text(S.run(&form, S.bytes("e=jane%40fastmail.com")).output)
        #expect(a.count == 1)
        let token = try #require(a.first)
        #expect(encoded == "e=" + S.text(RedactionToken.encoded(token, percent: true)))
    }

    @Test("the vault forgets its oldest values beyond its capacity")
    func bounded() {
        let vault = TokenVault(key: SymmetricKey(data: [UInt8](repeating: 7, count: 32)), capacity: 100)
        let first = vault.token(for: S.bytes("value-0"), type: "US_SSN")
        for i in 1...250 { _ = vault.token(for: S.bytes("value-\(i)"), type: "US_SSN") }
        #expect(vault.count == 100)
        #expect(vault.value(forToken: first) == nil)
        // The same value is given the same token again.
        #expect(vault.token(for: S.bytes("value-0"), type: "US_SSN") == first)
    }

    // MARK: Audit-facing output carries no values

    @Test("findings, details and descriptions hold types and counts, never values")
    func noValuesInAudit() throws {
        let plan = try S.plan("pii: {types: [email, ssn, credit_card, api_key], action: block}")
        let secretish = "jane.roe@fastmail.com 512-38-4409 4539148803436467"
        var stage = plan.request(host: "h.test", method: "POST", headers: [("Content-Type", "text/plain")])
        let run = S.run(&stage, S.bytes("ssn: 512-38-4409, card 4539148803436467, mail jane.roe@fastmail.com"))
        #expect(run.denial?.reason == .pii_blocked)
        let findings = stage.findings
        #expect(findings.map(\.type) == ["CREDIT_CARD", "EMAIL_ADDRESS", "US_SSN"])
        #expect(findings.allSatisfy { $0.count == 1 })
        var everything = findings.map { "\($0.type)=\($0.count)" }.joined(separator: " ")
        everything += run.denial?.detail ?? ""
        everything += "\(plan.vault) \(String(reflecting: plan.vault))"
        for value in secretish.split(separator: " ") { #expect(!everything.contains(value)) }
        #expect(!everything.contains("4409"))
    }

    // MARK: env.mask_patterns

    static let env = ["OPENAI_API_KEY": "sk-live-abcdefghijklmnop", "HOME": "/home/sandbox", "DB_TOKEN": "tok_1234567890abcdef"]

    @Test("masked environment values are redacted from requests and masked in responses")
    func envMasking() throws {
        let plan = try S.plan("env: {mask_patterns: [\"*_KEY\", \"*_TOKEN\"]}", environment: Self.env)
        #expect(plan.maskedEnvironmentNames == ["DB_TOKEN", "OPENAI_API_KEY"])
        var request = plan.request(host: "h.test", method: "POST", headers: [("Content-Type", "text/plain")])
        var headers = [("Authorization", "Bearer sk-live-abcdefghijklmnop")]
        var query: String? = "k=tok_1234567890abcdef"
        #expect(request.rewriteHead(&headers, query: &query) == .proceed)
        #expect(headers[0].1 == "Bearer [ENV_OPENAI_API_KEY]")
        #expect(query == "k=[ENV_DB_TOKEN]")
        let base64 = Array("sk-live-abcdefghijklmnop".utf8).base64
        let body = S.bytes("key=sk-live-abcdefghijklmnop b64=\(base64) home=/home/sandbox")
        let out = S.text(S.run(&request, body, cuts: [10, 11]).output)
        #expect(!out.contains("abcdefghijklmnop"))
        #expect(!out.contains(base64))
        #expect(out.hasPrefix("key=[ENV_OPENAI_API_KEY] b64="))
        #expect(out.hasSuffix("home=/home/sandbox"))
        #expect(request.maskedEnvironmentNames == ["DB_TOKEN", "OPENAI_API_KEY"])

        var response = plan.response(host: "h.test", status: 200, headers: [("Content-Type", "application/octet-stream")], requestMethod: "GET")
        let back = S.text(S.run(&response, S.bytes("echo tok_1234567890abcdef")).output)
        #expect(back == "echo [ENV_DB_TOKEN]")
        #expect(plan.maskEnvironmentValues(in: "x tok_1234567890abcdef") == "x [ENV_DB_TOKEN]")
    }

    @Test("the sandbox environment file is read as KEY=VALUE lines")
    func envFile() {
        let env = SandboxEnvironment.parse("""
            # comment
            export A_KEY="quoted value"
            B_TOKEN=plain=with=equals

            C='single'
            """)
        #expect(env.names == ["A_KEY", "B_TOKEN", "C"])
        let masked = env.masked(by: ["*_KEY", "B_?OKEN"])
        #expect(masked.map(\.name) == ["A_KEY", "B_TOKEN"])
        #expect(masked.map { S.text($0.value) } == ["quoted value", "plain=with=equals"])
        #expect(!"\(env)".contains("quoted"))
    }

    @Test("glob patterns", arguments: [
        ("*_KEY", "OPENAI_API_KEY", true), ("*_KEY", "KEY", false), ("A?C", "ABC", true), ("A?C", "AC", false),
        ("*", "", true), ("*TOKEN*", "MY_TOKEN_2", true), ("X*Y*Z", "XAYBZ", true), ("X*Y*Z", "XAYB", false),
    ])
    func glob(_ pattern: String, _ name: String, _ expected: Bool) {
        #expect(SandboxEnvironment.glob(pattern, matches: name) == expected)
    }
}

extension Array where Element == UInt8 {
    /// Standard base64 (the form the secret masker also looks for).
    fileprivate var base64: String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < count {
            let b0 = self[i], b1 = i + 1 < count ? self[i + 1] : 0, b2 = i + 2 < count ? self[i + 2] : 0
            out.append(table[Int(b0 >> 2)])
            out.append(table[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(i + 1 < count ? table[Int((b1 & 15) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < count ? table[Int(b2 & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
