import Testing
@testable import PolicyEngine

// MARK: - L7 rules: first match wins, no match allows

@Suite struct RuleDecisionTests {
    static let policy = """
        sandbox: sb-test
        rules:
          - name: github-read-only
            match: {host: api.github.com, method: [GET, HEAD], path: "/repos/**"}
            action: allow
          - name: no-admin
            match: {path: ["/admin", "/admin/**"]}
            action: deny
          - match: {host: [api.github.com, "*.githubusercontent.com"]}
            action: deny
          - match: {method: delete, path: "/v1/*/items/*"}
            action: deny
        """

    struct Row: Sendable, CustomStringConvertible {
        let host: String
        let method: String
        let path: String
        let decision: Decision
        var description: String { "\(method) \(host)\(path) -> \(decision)" }
        init(_ method: String, _ host: String, _ path: String, _ decision: Decision) {
            self.host = host
            self.method = method
            self.path = path
            self.decision = decision
        }
    }

    static let rows: [Row] = [
        Row("GET", "api.github.com", "/repos/a/b", .allow(rule: "rules[0]")),
        Row("head", "API.GITHUB.COM", "/repos/a/b?ref=main", .allow(rule: "rules[0]")),
        Row("POST", "api.github.com", "/repos/a/b", .deny(.rule_denied, rule: "rules[2]")),
        Row("GET", "api.github.com", "/user", .deny(.rule_denied, rule: "rules[2]")),
        // Path normalisation cannot sneak past a rule.
        Row("GET", "api.github.com", "/repos/../user", .deny(.rule_denied, rule: "rules[2]")),
        Row("GET", "example.org", "/admin", .deny(.rule_denied, rule: "rules[1]")),
        Row("GET", "example.org", "/admin/users", .deny(.rule_denied, rule: "rules[1]")),
        Row("GET", "example.org", "/%61dmin/users", .deny(.rule_denied, rule: "rules[1]")),
        Row("GET", "example.org", "//admin", .deny(.rule_denied, rule: "rules[1]")),
        Row("GET", "example.org", "/administrator", .allow()),
        Row("GET", "raw.githubusercontent.com", "/x", .deny(.rule_denied, rule: "rules[2]")),
        Row("DELETE", "example.org", "/v1/a/items/7", .deny(.rule_denied, rule: "rules[3]")),
        Row("DELETE", "example.org", "/v1/a/items/7/x", .allow()),
        Row("GET", "example.org", "/v1/a/items/7", .allow()),
        Row("GET", "example.org", "/", .allow()),
    ]

    @Test(arguments: rows)
    func decides(row: Row) throws {
        let compiled = try compiledPolicy(Self.policy)
        #expect(compiled.ruleDecision(host: row.host, method: row.method, path: row.path) == row.decision)
    }

    @Test func emptyMatchMatchesEverything() throws {
        let compiled = try compiledPolicy("""
            sandbox: sb-test
            rules:
              - match: {}
                action: deny
            """)
        #expect(compiled.ruleDecision(host: "a.test", method: "GET", path: "/") == .deny(.rule_denied, rule: "rules[0]"))
    }
}

// MARK: - mitm auto: which hosts are intercepted

@Suite struct InterceptionTests {
    @Test func autoInterceptsOnlyNamedHosts() throws {
        let compiled = try compiledPolicy("""
            sandbox: sb-test
            rules:
              - match: {host: api.github.com}
                action: deny
            secrets:
              entries:
                OPENAI_API_KEY:
                  value: env:REAL_OPENAI_API_KEY
                  allowed_hosts: [api.openai.com]
            pii:
              enabled: true
              hosts: ["*.corp.example"]
            injection_defense:
              enabled: false
              hosts: [ignored.example]
            transformations:
              - {direction: outbound, hosts: [tx.example], set_headers: {X-Sandbox: sb-test}}
            """, environment: ["REAL_OPENAI_API_KEY": "sk-test-value"])
        #expect(compiled.mitm == .auto)
        #expect(compiled.shouldIntercept(host: "api.github.com"))
        #expect(compiled.shouldIntercept(host: "API.OpenAI.com."))
        #expect(compiled.shouldIntercept(host: "hr.corp.example"))
        #expect(compiled.shouldIntercept(host: "tx.example"))
        #expect(!compiled.shouldIntercept(host: "ignored.example"))   // injection_defense is disabled
        #expect(!compiled.shouldIntercept(host: "pypi.org"))
        #expect(!compiled.shouldIntercept(host: "github.com"))
        #expect(compiled.enabledInspectionFeatures == ["pii", "transformations"])
    }

    @Test func ruleWithoutHostInterceptsEverything() throws {
        let compiled = try compiledPolicy("""
            sandbox: sb-test
            rules:
              - match: {method: DELETE}
                action: deny
            """)
        #expect(compiled.shouldIntercept(host: "anything.example"))
    }

    @Test func nothingNamedMeansTunnel() throws {
        let compiled = try compiledPolicy("sandbox: sb-test")
        #expect(!compiled.shouldIntercept(host: "api.openai.com"))
        #expect(compiled.enabledInspectionFeatures.isEmpty)
    }

    @Test(arguments: [("true", MITMMode.always, true), ("false", MITMMode.never, false), ("auto", MITMMode.auto, false)])
    func modes(text: String, mode: MITMMode, intercepts: Bool) throws {
        let compiled = try compiledPolicy("sandbox: sb-test\nmitm: \(text)\n")
        #expect(compiled.mitm == mode)
        #expect(compiled.shouldIntercept(host: "example.org") == intercepts)
    }
}
