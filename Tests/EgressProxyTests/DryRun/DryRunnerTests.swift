import Foundation
import PolicyEngine
import Testing
@testable import EgressProxy

/// One expected row: verdict, reason, rule, mode, secrets, unresolved.
struct ExpectedRow: CustomStringConvertible, Sendable {
    var verdict: String
    var reason: String
    var rule: String?
    var mode: ProxyMode?
    var secrets: [String] = []
    var unresolved = false

    var description: String { "\(verdict) \(reason) \(rule ?? "-") \(mode?.rawValue ?? "-") \(secrets) \(unresolved)" }

    static func allow(_ mode: ProxyMode, rule: String? = nil, secrets: [String] = [], unresolved: Bool = false) -> ExpectedRow {
        ExpectedRow(verdict: "allow", reason: "allowed", rule: rule, mode: mode, secrets: secrets, unresolved: unresolved)
    }

    static func deny(_ reason: Reason, _ mode: ProxyMode, rule: String? = nil, secrets: [String] = []) -> ExpectedRow {
        ExpectedRow(verdict: "deny", reason: reason.rawValue, rule: rule, mode: mode, secrets: secrets)
    }

    static let skip = ExpectedRow(verdict: "skip", reason: "not_proxied", rule: nil, mode: nil)

    func matches(_ o: DryRunOutcome) -> Bool {
        o.verdict == verdict && o.reason == reason && o.rule == rule && o.mode == mode && o.secrets == secrets && o.unresolved == unresolved
    }
}

func outcomeText(_ o: DryRunOutcome) -> String {
    "\(o.verdict) \(o.reason) \(o.rule ?? "-") \(o.mode?.rawValue ?? "-") \(o.secrets) \(o.unresolved)"
}

@Suite struct DryRunnerTests {
    // MARK: The three realistic captures

    @Test func chromeSessionUnderBrowserPolicy() throws {
        let runner = try DryRunner(policy: try HARFixtures.policy("policy-browser.yaml"))
        let entries = try HARFixtures.readAll(HARFixtures.path("chrome-session.har")).entries
        let expected: [ExpectedRow] = [
            .allow(.tunnel),                                                   // github.com: nothing names it
            .allow(.tunnel),                                                   // assets
            .allow(.mitm, rule: "rules[0]", secrets: ["GITHUB_TOKEN"]),        // GET /repos/** with the token placeholder
            .deny(.rule_denied, .mitm, rule: "rules[1]"),                      // POST /graphql
            .deny(.host_denied, .tunnel, rule: "network.deny_out[0]"),         // *.doubleclick.net
            .allow(.http),                                                     // plain http
            .skip,                                                             // data: URL
            .allow(.tunnel),                                                   // IPv6 [2606:50c0:8000::154]
            .deny(.special_range, .tunnel),                                    // an intranet name resolving to 10.20.0.5
            .allow(.tunnel, unresolved: true),                                 // served from cache: no serverIPAddress
        ]
        #expect(entries.count == expected.count)
        for (entry, want) in zip(entries, expected) {
            let got = runner.decide(entry)
            #expect(want.matches(got), "entries[\(entry.index)] \(entry.url): got \(outcomeText(got)), want \(want)")
        }
    }

    @Test func mitmproxyExportUnderAgentPolicy() throws {
        let runner = try DryRunner(policy: try HARFixtures.policy("policy-agent.yaml"))
        let entries = try HARFixtures.readAll(HARFixtures.path("mitmproxy-export.har")).entries
        let expected: [ExpectedRow] = [
            .allow(.tunnel),                                                   // pypi.org
            .allow(.tunnel),                                                   // IPv4-mapped public address
            .allow(.mitm, rule: "rules[1]", secrets: ["OPENAI_API_KEY"]),      // GET /v1/models
            .deny(.rule_denied, .mitm, rule: "rules[0]"),                      // POST /v1/files
            .deny(.host_denied, .tunnel, rule: "network.deny_out[0]"),         // pastebin.com
            .allow(.tunnel),                                                   // api.github.com is tunnelled: unseen
            .deny(.special_range, .http),                                      // instance metadata over plain HTTP
            .allow(.mitm, rule: "rules[1]", secrets: ["OPENAI_API_KEY"]),      // chat completions
            .allow(.tunnel, unresolved: true),                                 // no response, no address
        ]
        #expect(entries.count == expected.count)
        for (entry, want) in zip(entries, expected) {
            let got = runner.decide(entry)
            #expect(want.matches(got), "entries[\(entry.index)] \(entry.url): got \(outcomeText(got)), want \(want)")
        }
    }

    /// The capture records the live decision in `_egress`: dry-run under the same policy
    /// must reproduce it for every entry (the stages are the live proxy's).
    @Test func ownCaptureReproducesTheRecordedDecisions() throws {
        let runner = try DryRunner(policy: try HARFixtures.policy("policy-llm.yaml"))
        let entries = try HARFixtures.readAll(HARFixtures.path("llm-sdk-capture.har")).entries
        #expect(entries.count == 10)
        for entry in entries {
            let live = try #require(entry.egress)
            let got = runner.decide(entry)
            #expect(got.verdict == live.decision && got.reason == live.reason && got.rule == live.rule
                        && got.secrets == live.secrets && got.mode?.rawValue == live.mode,
                    "entries[\(entry.index)]: dry-run \(outcomeText(got)), live \(live)")
        }
    }

    // MARK: Addresses

    @Test func resolveOverridesServerIPAddress() throws {
        let entries = try HARFixtures.readAll(HARFixtures.path("chrome-session.har")).entries
        let plain = try DryRunner(policy: try HARFixtures.policy("policy-browser.yaml"))
        let pinned = try DryRunner(policy: try HARFixtures.policy("policy-browser.yaml"), resolve: ["GitHub.com.": [try #require(IPAddress("127.0.0.1"))]])
        #expect(plain.decide(entries[0]).verdict == "allow")
        let got = pinned.decide(entries[0])
        #expect(got.reason == "special_range")
        #expect(got.address == "127.0.0.1")
        #expect(got.addressSource == .resolve)
        // An unresolved entry becomes resolved.
        let favicon = try DryRunner(policy: try HARFixtures.policy("policy-browser.yaml"), resolve: ["github.githubassets.com": [try #require(IPAddress("185.199.108.154"))]])
        #expect(favicon.decide(entries[9]).unresolved == false)
    }

    @Test func unresolvedEntryIsStillDeniedByHostRules() throws {
        var entry = HAREntry(index: 0, method: "GET", url: "https://paste.pastebin.com/raw/x")
        entry.serverIPAddress = nil
        let got = try DryRunner(policy: try HARFixtures.policy("policy-agent.yaml")).decide(entry)
        #expect(got.reason == "host_denied")
        #expect(got.rule == "network.deny_out[1]")
        #expect(got.unresolved)
    }

    // MARK: Request stage details

    @Test func innerRequestMustNameTheConnectHost() throws {
        var entry = HAREntry(index: 0, method: "GET", url: "https://api.openai.com/v1/models")
        entry.serverIPAddress = "162.159.140.245"
        entry.requestHeaders = [(name: "Host", value: "evil.example")]
        let got = try DryRunner(policy: try HARFixtures.policy("policy-agent.yaml")).decide(entry)
        #expect(got.reason == "host_mismatch")
        #expect(got.mode == .mitm)
    }

    @Test func placeholderOverPlainHTTPIsRefused() throws {
        var entry = HAREntry(index: 0, method: "GET", url: "http://api.openai.com/v1/models")
        entry.serverIPAddress = "162.159.140.245"
        entry.requestHeaders = [(name: "Authorization", value: "Bearer PH_OPENAI_API_KEY")]
        let got = try DryRunner(policy: try HARFixtures.policy("policy-agent.yaml")).decide(entry)
        #expect(got.reason == "secret_host_mismatch")
        #expect(got.rule == "secrets.entries.OPENAI_API_KEY")
        #expect(got.secrets == ["OPENAI_API_KEY"])
    }

    @Test func bodyGoesThroughTheLiveBodyPlan() throws {
        let doc = try PolicyLoader.parse(text: """
            version: 1
            sandbox: sb-body
            secrets:
              entries:
                TOKEN:
                  value: env:NOT_SET_IN_TESTS
                  placeholder: PH_TOKEN
                  allowed_hosts: [api.example.com]
                  inject_in: [body]
                OTHER:
                  value: file:/nonexistent/secret
                  placeholder: PH_OTHER
                  allowed_hosts: [other.example.com]
            """, file: "inline.yaml")
        let runner = try DryRunner(policy: try DryRunPolicy.compile(doc))
        var entry = HAREntry(index: 0, method: "POST", url: "https://api.example.com/v1/things")
        entry.serverIPAddress = "93.184.216.34"
        entry.requestBody = Array(#"{"token":"PH_TOKEN"}"#.utf8)
        let allowed = runner.decide(entry)
        #expect(allowed.verdict == "allow")
        #expect(allowed.secrets == ["TOKEN"])
        // The placeholder of a secret not allowed here, in a form body.
        entry.requestBody = Array("a=1&b=PH_OTHER".utf8)
        let refused = runner.decide(entry)
        #expect(refused.reason == "secret_host_mismatch")
        #expect(refused.secrets == ["OTHER"])
    }

    /// PII goes through the live inspection stage: `block` denies, `redact` and `log_only`
    /// allow; every action reports the findings by type.
    @Test(arguments: [
        ("block", "deny", "pii_blocked", "pii.action"),
        ("redact", "allow", "allowed", nil),
        ("log_only", "allow", "allowed", nil),
    ] as [(String, String, String, String?)])
    func piiFollowsThePolicyAction(action: String, verdict: String, reason: String, rule: String?) throws {
        let doc = try PolicyLoader.parse(text: """
            version: 1
            sandbox: sb-pii
            pii: {enabled: true, types: [email, credit_card], action: \(action), hosts: [api.example.com]}
            """, file: "inline.yaml")
        let runner = try DryRunner(policy: try DryRunPolicy.compile(doc))
        var entry = HAREntry(index: 0, method: "POST", url: "https://api.example.com/v1/notes")
        entry.serverIPAddress = "93.184.216.34"
        entry.requestHeaders = [(name: "Content-Type", value: "application/json")]
        entry.requestBody = Array(#"{"note":"write to jane.doe@gmail.com or j.doe@proton.me"}"#.utf8)
        let got = runner.decide(entry)
        #expect(got.verdict == verdict)
        #expect(got.reason == reason)
        #expect(got.rule == rule)
        #expect(got.pii == [PIICount(type: "EMAIL_ADDRESS", count: 2)])
        // Another host is out of the PII scope (and not intercepted at all).
        var other = entry
        other.url = "https://elsewhere.example.net/v1/notes"
        #expect(runner.decide(other).pii.isEmpty)
    }

    @Test(arguments: [
        ("CONNECT", "https://api.openai.com:443/", "allow", ProxyMode.mitm),
        ("CONNECT", "pastebin.com:443", "deny", ProxyMode.tunnel),
        ("CONNECT", "https://:443/", "deny", ProxyMode.tunnel),
        ("GET", "http://bad host/", "deny", ProxyMode.http),
        ("GET", "wss://api.openai.com/v1/realtime", "allow", ProxyMode.mitm),
    ])
    func connectAndOddURLs(method: String, url: String, verdict: String, mode: ProxyMode) throws {
        var entry = HAREntry(index: 0, method: method, url: url)
        entry.serverIPAddress = "162.159.140.245"
        let got = try DryRunner(policy: try HARFixtures.policy("policy-agent.yaml")).decide(entry)
        #expect(got.verdict == verdict)
        #expect(got.mode == mode)
    }

    @Test func skippedSchemesAreNotDecided() throws {
        let entry = HAREntry(index: 0, method: "GET", url: "blob:https://github.com/1b2c")
        let got = try DryRunner(policy: try DryRunPolicy.compile(PolicyDocument(sandbox: "x"))).decide(entry)
        #expect(got.decision == nil)
        #expect(got.verdict == "skip")
    }

    // MARK: Policy loading

    @Test func policyLoadsWithoutSecretValues() throws {
        // The live loader needs REAL_ANTHROPIC_API_KEY; dry-run does not.
        #expect(throws: PolicyLoadError.self) {
            _ = try PolicyLoader.loadCompiled(path: HARFixtures.path("policy-llm.yaml"), environment: [:])
        }
        let compiled = try DryRunPolicy.load(path: HARFixtures.path("policy-llm.yaml"))
        #expect(compiled.secrets.map(\.name) == ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"])
        #expect(compiled.sandbox == "sb-llm")
    }

    @Test func policyWithoutSandboxLoads() throws {
        let path = HARFixtures.temporaryPath(".json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"network": {"allow_internet_access": true, "deny_out": ["pastebin.com"]}}"#.utf8).write(to: URL(fileURLWithPath: path))
        let compiled = try DryRunPolicy.load(path: path)
        #expect(compiled.hostDecision(host: "pastebin.com")?.reason == .host_denied)
    }

    @Test func invalidPolicyStillFails() throws {
        let path = HARFixtures.temporaryPath(".yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("version: 1\nnetwork: {allow_out: [\"10.0.0.0/33\"]}\n".utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: PolicyLoadError.self) { _ = try DryRunPolicy.load(path: path) }
        #expect(error?.diagnostics.contains { $0.path.hasPrefix("network.allow_out") } == true)
    }
}
