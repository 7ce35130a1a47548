import Foundation
import Testing
@testable import PolicyEngine

// MARK: - One fixture per invalid-policy error

@Suite struct InvalidPolicyTests {
    static let directory = testsDirectory.appendingPathComponent("Fixtures/invalid")

    struct Case: Sendable, CustomStringConvertible {
        let file: String
        let line: Int
        let column: Int
        let message: String
        var description: String { file }
        init(_ file: String, _ line: Int, _ column: Int, _ message: String) {
            self.file = file
            self.line = line
            self.column = column
            self.message = message
        }
    }

    static let cases: [Case] = [
        Case("unknown-key.yaml", 2, 1, "netwrok: unknown key 'netwrok'; did you mean 'network'?"),
        Case("unknown-nested-key.yaml", 4, 3, "network.allowed_out: unknown key 'allowed_out'; did you mean 'allow_out'?"),
        Case("wrong-type.yaml", 3, 26, "network.allow_internet_access: expected true or false, got a string"),
        Case("wrong-type-list.yaml", 3, 14, "network.allow_out: expected a list, got a string"),
        Case("bad-cidr.yaml", 5, 7, "network.deny_out[1]: bad CIDR '10.0.0.0/33': prefix length must be 0-32"),
        Case("cidr-host-bits.yaml", 3, 15, "network.allow_out[0]: bad CIDR '10.0.5.1/24': host bits are set; did you mean '10.0.5.0/24'?"),
        Case("bad-ip.yaml", 3, 24, "network.deny_out[1]: bad CIDR '300.1.2.3'"),
        Case("bad-host-pattern.yaml", 4, 7, "network.allow_out[0]: bad host pattern 'api.*.example.com'"),
        Case("host-pattern-url.yaml", 4, 7, "network.allow_out[0]: bad host pattern 'https://api.openai.com/v1': give a host name, not a URL"),
        Case("bad-enum.yaml", 4, 13, "rules[0].action: unknown value 'block'; expected allow | deny"),
        Case("duplicate-rule-name.yaml", 6, 11, "rules[1].name: duplicate rule name 'github' (first used by rules[0])"),
        Case("duplicate-placeholder.yaml", 10, 20, "secrets.entries.ANTHROPIC_API_KEY.placeholder: duplicate placeholder (also used by secrets.entries.OPENAI_API_KEY)"),
        Case("duplicate-secret-name.yaml", 8, 13, "secrets.entries[1]: duplicate secret name 'OPENAI_API_KEY'"),
        Case("duplicate-key.yaml", 2, 1, "duplicate key 'network'"),
        Case("bad-path-glob.yaml", 3, 41, "rules[0].match.path: bad path glob 'repos/**': must start with '/'"),
        Case("bad-path-globstar.yaml", 5, 27, "rules[0].match.path[1]: bad path glob '/orgs/**x': '**' must be a whole path segment"),
        Case("literal-secret.yaml", 5, 14, "secrets.entries.OPENAI_API_KEY.value: must be env:NAME or file:PATH; a literal secret value is not allowed"),
        Case("mitm-false-with-rules.yaml", 3, 1, "rules: L7 rules cannot be enforced with 'mitm: false'"),
        Case("mitm-false-with-pii.yaml", 3, 1, "pii: PII inspection cannot be enforced with 'mitm: false'"),
        Case("missing-sandbox.yaml", 1, 1, "sandbox: missing"),
        Case("bad-version.yaml", 1, 10, "version: unsupported version 2"),
        Case("bad-pii-type.yaml", 4, 16, "pii.types[1]: unknown value 'passport_number'"),
        Case("bad-limit.yaml", 3, 27, "limits.header_timeout_seconds: must be between 0.001 and 86400, got 0"),
        Case("bad-gateway-token.yaml", 3, 17, "gateway.token_sha256: expected 64 hex digits"),
        Case("invalid-yaml.yaml", 4, 1, "invalid YAML"),
        Case("transformation-missing-replace.yaml", 3, 5, "transformations[0]: 'match' needs 'replace'"),
        Case("bad-sandbox-id.yaml", 1, 10, "sandbox: '../../etc' is not a valid sandbox id"),
        Case("secret-missing-allowed-hosts.yaml", 5, 7, "secrets.entries.GITHUB_TOKEN: missing key 'allowed_hosts'"),
        Case("bad-mitm.yaml", 2, 7, "mitm: expected auto, true or false, got 'sometimes'"),
        Case("short-placeholder.yaml", 6, 20, "secrets.entries.GITHUB_TOKEN.placeholder: placeholder must be 8-256 characters long"),
        Case("bad-method.yaml", 3, 21, "rules[0].match.method: bad HTTP method 'GET POST'"),
        Case("bad-threshold.yaml", 4, 14, "injection_defense.threshold: must be between 0 and 1, got 1.5"),
    ]

    @Test(arguments: cases)
    func reportsPositionAndMessage(fixture: Case) throws {
        let path = Self.directory.appendingPathComponent(fixture.file).path
        do {
            _ = try PolicyLoader.load(path: path)
            Issue.record("\(fixture.file) loaded")
        } catch {
            let first = try #require(error.diagnostics.first)
            #expect(error.diagnostics.count == 1, "\(error.description)")
            #expect(first.file == path)
            #expect(first.line == fixture.line)
            #expect(first.column == fixture.column)
            #expect(first.message.contains(fixture.message), "\(first.message)")
            #expect(first.description.hasPrefix("\(path):\(fixture.line):\(fixture.column): "))
            #expect(error.description == first.description)
        }
    }

    @Test func everyFixtureHasACase() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".yaml") }
        let covered = Set(Self.cases.map(\.file) + ["all-errors.yaml"])
        #expect(Set(files) == covered)
    }

    @Test func allErrorsAtOnce() throws {
        let path = Self.directory.appendingPathComponent("all-errors.yaml").path
        do {
            _ = try PolicyLoader.load(path: path)
            Issue.record("all-errors.yaml loaded")
        } catch {
            let lines = error.diagnostics.map { "\($0.line):\($0.column) \($0.path)" }
            #expect(lines == [
                "1:10 version",
                "5:15 network.allow_out[0]",
                "6:14 network.deny_out[0]",
                "11:11 rules[1].name",
                "13:13 rules[1].action",
                "17:14 secrets.entries.TOKEN_A.value",
                "20:20 limits.max_connections",
                "21:1 colour",
            ])
            #expect(error.description.split(separator: "\n").count == 8)
            // The literal secret in the file is never echoed.
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test func unreadableFile() {
        do {
            _ = try PolicyLoader.load(path: "/nonexistent/policy.yaml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.diagnostics.first?.description.hasPrefix("/nonexistent/policy.yaml:1:1: cannot read policy file") == true)
        }
    }
}
