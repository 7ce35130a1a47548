import Foundation
import Testing
@testable import PolicyEngine

// MARK: - Secrets: binding, resolution, redaction

@Suite struct SecretTests {
    static let policy = """
        sandbox: sb-test
        secrets:
          store: team-store
          entries:
            OPENAI_API_KEY:
              value: env:REAL_OPENAI_API_KEY
              placeholder: PH_OPENAI_API_KEY
              allowed_hosts: [api.openai.com]
              inject_in: [headers, body]
              header_names: [Authorization]
            GITHUB_TOKEN:
              value: file:secrets/github-token
              allowed_hosts: [api.github.com, "*.githubusercontent.com"]
        """
    static let openAIValue = "sk-real-openai-0123456789"
    static let githubValue = "ghp_realtoken_abcdefghijklmnop"

    func compiled() throws -> CompiledPolicy {
        try compiledPolicy(Self.policy, environment: ["REAL_OPENAI_API_KEY": Self.openAIValue],
                           file: "/etc/egress/policy.yaml",
                           files: ["/etc/egress/secrets/github-token": Array((Self.githubValue + "\n").utf8)])
    }

    @Test func bindings() throws {
        let policy = try compiled()
        #expect(policy.secretStore == "team-store")
        let openAI = try #require(policy.secrets.first { $0.name == "OPENAI_API_KEY" })
        #expect(openAI.placeholder == "PH_OPENAI_API_KEY")
        #expect(openAI.value.bytes == Array(Self.openAIValue.utf8))
        #expect(openAI.injectIn == [.headers, .body])
        #expect(openAI.headerNames == ["authorization"])
        #expect(openAI.path == "secrets.entries.OPENAI_API_KEY")
        #expect(openAI.isAllowed(host: "api.openai.com"))
        #expect(!openAI.isAllowed(host: "api.openai.com.evil.example"))
        #expect(openAI.substitutes(inHeader: "AUTHORIZATION"))
        #expect(!openAI.substitutes(inHeader: "x-api-key"))

        let github = try #require(policy.secrets.first { $0.name == "GITHUB_TOKEN" })
        // The trailing newline of the file is not part of the secret; relative to the policy.
        #expect(github.value.bytes == Array(Self.githubValue.utf8))
        #expect(github.placeholder == "PH_GITHUB_TOKEN")
        #expect(github.injectIn == [.headers])
        #expect(github.headerNames == nil)
    }

    @Test func secretsAllowedPerHost() throws {
        let policy = try compiled()
        #expect(policy.secretsAllowed(forHost: "api.openai.com").map(\.name) == ["OPENAI_API_KEY"])
        #expect(policy.secretsAllowed(forHost: "raw.githubusercontent.com").map(\.name) == ["GITHUB_TOKEN"])
        #expect(policy.secretsAllowed(forHost: "example.org").isEmpty)
        #expect(policy.perSecretAllowedHosts == ["OPENAI_API_KEY": ["api.openai.com"],
                                                 "GITHUB_TOKEN": ["api.github.com", "*.githubusercontent.com"]])
    }

    @Test func valuesNeverPrint() throws {
        let policy = try compiled()
        var texts: [String] = []
        for binding in policy.secrets {
            texts.append(String(describing: binding))
            texts.append(String(reflecting: binding))
            texts.append("\(binding.value)")
            var dumped = ""
            dump(binding, to: &dumped)
            texts.append(dumped)
        }
        texts.append(String(describing: policy))
        texts.append(String(reflecting: policy))
        var dumpedPolicy = ""
        dump(policy, to: &dumpedPolicy)
        texts.append(dumpedPolicy)
        var dumpedSecrets = ""
        dump(policy.secrets, to: &dumpedSecrets)
        texts.append(dumpedSecrets)

        for text in texts {
            #expect(!text.contains(Self.openAIValue))
            #expect(!text.contains(Self.githubValue))
            #expect(!text.contains("sk-real"))
        }
        // The redaction marker is what shows instead.
        #expect(texts.contains { $0.contains("<redacted>") })
        #expect(dumpedPolicy.contains("PH_OPENAI_API_KEY"))
    }

    @Test func missingEnvironmentVariableIsReportedAtTheValueKey() throws {
        do {
            _ = try compiledPolicy(Self.policy, environment: [:], file: "p.yaml", files: ["secrets/github-token": [0x61]])
            Issue.record("compiled without the environment variable")
        } catch {
            #expect(error.diagnostics.map(\.description) == [
                "p.yaml:6:7: secrets.entries.OPENAI_API_KEY.value: environment variable REAL_OPENAI_API_KEY is not set",
            ])
        }
    }

    @Test func unreadableAndEmptySecretFiles() throws {
        do {
            _ = try compiledPolicy(Self.policy, environment: ["REAL_OPENAI_API_KEY": ""], file: "p.yaml")
            Issue.record("compiled without the secret file")
        } catch {
            #expect(error.diagnostics.map(\.description) == [
                "p.yaml:6:7: secrets.entries.OPENAI_API_KEY.value: env:REAL_OPENAI_API_KEY is empty",
                "p.yaml:12:7: secrets.entries.GITHUB_TOKEN.value: cannot read secret file secrets/github-token",
            ])
        }
    }

    @Test func equalityIsByValue() {
        #expect(SecretValue([1, 2, 3]) == SecretValue([1, 2, 3]))
        #expect(SecretValue([1, 2, 3]) != SecretValue([1, 2, 4]))
        #expect(SecretValue([1, 2]) != SecretValue([1, 2, 3]))
    }
}
