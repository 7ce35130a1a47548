import Foundation
import Testing
@testable import PolicyEngine

// MARK: - Valid documents

@Suite struct PolicyLoaderTests {
    /// The example of SPEC section 3, verbatim apart from the comments.
    static let specExample = """
        version: 1
        sandbox: sb-demo
        mitm: auto
        network:
          allow_internet_access: true
          allow_out: [api.openai.com, "*.github.com", 10.0.5.0/24]
          deny_out: []
        rules:
          - name: github-read-only
            match: {host: api.github.com, method: [GET, HEAD], path: "/repos/**"}
            action: allow
          - match: {host: api.github.com}
            action: deny
        secrets:
          store: team-store
          entries:
            OPENAI_API_KEY:
              value: env:REAL_OPENAI_API_KEY
              placeholder: PH_OPENAI_API_KEY
              allowed_hosts: [api.openai.com]
              inject_in: [headers]
              header_names: [authorization]
        pii:
          enabled: true
          types: [ssn, credit_card, email, phone_number, ip_address, api_key, iban]
          action: redact
          rehydrate_response: true
          hosts: ["*"]
        injection_defense:
          enabled: true
          action: block
          sensitivity: medium
          threshold: 0.8
        transformations:
          - {direction: outbound, match: "internal\\\\.corp\\\\.example\\\\.com", replace: api.example.com}
          - {direction: both, match: "Bearer sk-[A-Za-z0-9]+", replace: "Bearer [MASKED]"}
          - {direction: outbound, hosts: ["*.example.com"], set_headers: {X-Sandbox: sb-demo}, remove_headers: [X-Debug]}
        invisible_text: {enabled: true, action: strip}
        audit:
          enabled: true
          path: audit.jsonl
          log_request_body: false
          log_response_body: false
          retention_hours: 72
        env:
          mask_patterns: ["*_KEY", "*_SECRET", "*_TOKEN"]
        limits:
          header_timeout_seconds: 30
          idle_timeout_seconds: 60
          upstream_connect_timeout_seconds: 10
          max_body_inspect_bytes: 10485760
          on_uninspectable: block
          max_connections: 512
        gateway:
          token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        """

    @Test func specExampleLoadsEveryField() throws {
        let doc = try PolicyLoader.parse(text: Self.specExample, file: "spec.yaml")
        #expect(doc.version == 1)
        #expect(doc.sandbox == "sb-demo")
        #expect(doc.mitm == .auto)
        #expect(doc.network.allowInternetAccess)
        #expect(doc.network.allowOut.map(\.text) == ["api.openai.com", "*.github.com", "10.0.5.0/24"])
        #expect(doc.network.allowOut.map(\.path) == ["network.allow_out[0]", "network.allow_out[1]", "network.allow_out[2]"])
        #expect(doc.network.allowOut[2].target == .cidr(try CIDR.parse("10.0.5.0/24").get()))
        #expect(doc.network.allowOut[1].position == SourcePosition(file: "spec.yaml", line: 6, column: 31))
        #expect(doc.rules.count == 2)
        #expect(doc.rules[0].name == "github-read-only")
        #expect(doc.rules[0].methods == ["GET", "HEAD"])
        #expect(doc.rules[1].action == .deny)
        #expect(doc.secrets.store == "team-store")
        #expect(doc.secrets.entries.first?.source == .environment("REAL_OPENAI_API_KEY"))
        #expect(doc.pii?.types == PIIType.defaultTypes)
        #expect(doc.pii?.rehydrateResponse == true)
        #expect(doc.injectionDefense?.threshold == 0.8)
        #expect(doc.transformations.count == 3)
        #expect(doc.transformations[0].match == "internal\\.corp\\.example\\.com")
        #expect(doc.transformations[2].setHeaders == [HeaderField(name: "x-sandbox", value: "sb-demo")])
        #expect(doc.transformations[2].removeHeaders == ["x-debug"])
        #expect(doc.invisibleText?.action == .strip)
        #expect(doc.audit == AuditSettings(enabled: true, path: "audit.jsonl", retentionHours: 72))
        #expect(doc.env.maskPatterns == ["*_KEY", "*_SECRET", "*_TOKEN"])
        #expect(doc.limits == .defaults)
        #expect(doc.gateway?.tokenSHA256?.count == 32)
        #expect(doc.gateway?.tokenSHA256?.first == 0x9f)
        #expect(doc.enabledInspectionFeatures == ["pii", "injection_defense", "transformations", "invisible_text", "env.mask_patterns"])

        let compiled = try CompiledPolicy.compile(doc, environment: ["REAL_OPENAI_API_KEY": "sk-x"]) { _ in [] }
        #expect(compiled.egressAllowlist == ["api.openai.com", "*.github.com"])
        #expect(compiled.gatewayTokenSHA256 == doc.gateway?.tokenSHA256)
        #expect(compiled.ruleDecision(host: "api.github.com", method: "GET", path: "/repos/x") == .allow(rule: "rules[0]"))
    }

    /// A `SecurityPolicy` as the platform SDKs' `to_json()` writes it: JSON, nulls for unset
    /// fields, no sandbox.
    static let sdkJSON = """
        {
          "network": {"allow_internet_access": false, "allow_out": ["pypi.org", "10.0.5.0/24"], "deny_out": null},
          "pii": {"enabled": false, "types": ["email", "person_name"], "action": "log_only", "rehydrate_response": false},
          "injection_defense": {"enabled": false, "action": "log_only", "sensitivity": "low", "threshold": null},
          "transformations": [],
          "audit": {"enabled": true, "log_request_body": false, "log_response_body": false, "retention_hours": null},
          "env": {"mask_patterns": []},
          "invisible_text": {"enabled": false, "action": "strip"}
        }
        """

    @Test func sdkSecurityPolicyNeedsOnlyASandbox() throws {
        let missing = diagnostics(Self.sdkJSON, file: "sdk.json")
        #expect(missing.map(\.description) == ["sdk.json:1:1: sandbox: missing: give 'sandbox: ID' in the policy or --sandbox ID"])

        let doc = try PolicyLoader.parse(text: Self.sdkJSON, file: "sdk.json", sandboxOverride: "sb-sdk")
        #expect(doc.sandbox == "sb-sdk")
        #expect(!doc.network.allowInternetAccess)
        #expect(doc.network.denyOut.isEmpty)
        #expect(doc.pii?.types == [.email, .person_name])
        #expect(doc.injectionDefense?.threshold == nil)
        #expect(doc.enabledInspectionFeatures.isEmpty)
        let compiled = try CompiledPolicy.compile(doc, environment: [:]) { _ in [] }
        #expect(compiled.addressDecision(host: "example.org", address: ip("93.184.216.34")) == .deny(.cidr_denied, rule: "network.allow_internet_access"))
        #expect(compiled.addressDecision(host: "pypi.org", address: ip("151.101.0.223")) == .allow(rule: "network.allow_out[0]"))
    }

    @Test func jsonErrorsHavePositionsToo() {
        let found = diagnostics("{\"sandbox\": \"sb\",\n \"network\": {\"allow_out\": [\"10.0.0.0/99\"]}}", file: "p.json")
        #expect(found.map(\.description) == ["p.json:2:28: network.allow_out[0]: bad CIDR '10.0.0.0/99': prefix length must be 0-32"])
    }

    @Test func sandboxOverrideWins() throws {
        let doc = try PolicyLoader.parse(text: "sandbox: sb-file", file: "p.yaml", sandboxOverride: "sb-cli")
        #expect(doc.sandbox == "sb-cli")
        let bad = diagnostics("sandbox: sb-file", sandboxOverride: "a/b")
        #expect(bad.first?.message.contains("--sandbox 'a/b' is not a valid sandbox id") == true)
    }

    @Test func defaults() throws {
        let doc = try PolicyLoader.parse(text: "sandbox: sb", file: "p.yaml")
        #expect(doc.mitm == .auto)
        #expect(doc.network == NetworkSettings())
        #expect(doc.rules.isEmpty)
        #expect(doc.audit == AuditSettings())
        #expect(doc.limits == Limits(headerTimeoutSeconds: 30, idleTimeoutSeconds: 60, upstreamConnectTimeoutSeconds: 10,
                                     maxBodyInspectBytes: 10_485_760, onUninspectable: .block, maxConnections: 512))
        #expect(doc.pii == nil && doc.injectionDefense == nil && doc.invisibleText == nil && doc.gateway == nil)
    }

    @Test func mitmFalseAllowsNetworkRulesAndDisabledInspection() throws {
        let doc = try PolicyLoader.parse(text: """
            sandbox: sb
            mitm: false
            network: {deny_out: [10.0.0.0/8]}
            pii: {enabled: false}
            rules: []
            """, file: "p.yaml")
        #expect(doc.mitm == .never)
    }

    @Test func mitmFalseRefusesEveryInspectionPart() {
        let found = diagnostics("""
            sandbox: sb
            mitm: false
            secrets:
              entries:
                A_TOKEN: {value: env:A, allowed_hosts: [a.example]}
            injection_defense: {enabled: true}
            transformations:
              - {direction: inbound, match: x, replace: y}
            invisible_text: {}
            env: {mask_patterns: ["*_KEY"]}
            """)
        #expect(found.map(\.path) == ["secrets", "injection_defense", "transformations", "invisible_text", "env"])
    }

    @Test func yamlBooleansAreNotStrings() {
        // YAML 1.1 reads an unquoted `no` as false: it must not become a host named "no".
        let found = diagnostics("sandbox: sb\nnetwork:\n  allow_out: [no]\n")
        #expect(found.map(\.description) == ["test.yaml:3:15: network.allow_out[0]: expected a string, got a boolean (no); quote it to make it a string"])
    }

    @Test func placeholdersMayNotContainEachOther() {
        let found = diagnostics("""
            sandbox: sb
            secrets:
              entries:
                A_TOKEN: {value: env:A, placeholder: PH_TOKEN_VALUE, allowed_hosts: [a.example]}
                B_TOKEN: {value: env:B, placeholder: PH_TOKEN_VALUE_B, allowed_hosts: [b.example]}
            """)
        #expect(found.first?.message.contains("overlaps the placeholder of secrets.entries.A_TOKEN") == true)
    }

    @Test func emptySecretEntryIsAnError() {
        let found = diagnostics("""
            sandbox: sb
            secrets:
              entries:
                OPENAI_API_KEY:
            """)
        #expect(found.map(\.description) == ["test.yaml:4:20: secrets.entries.OPENAI_API_KEY: expected a mapping, got null"])
    }
}
