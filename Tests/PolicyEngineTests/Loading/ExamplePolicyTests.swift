import Foundation
import Testing
@testable import PolicyEngine

// MARK: - Golden decisions for every file in policies/

@Suite struct ExamplePolicyTests {
    static let directory = testsDirectory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("policies")
    /// What the examples' `env:` secrets are given.
    static let environment = ["REAL_OPENAI_API_KEY": "sk-golden-test-value", "REAL_ANTHROPIC_API_KEY": "sk-ant-golden-test-value"]

    static func load(_ name: String) throws -> CompiledPolicy {
        try PolicyLoader.loadCompiled(path: directory.appendingPathComponent(name).path, environment: environment)
    }

    /// One expected decision: a connect (host + addresses) or a request (host + method + path).
    struct Golden: Sendable, CustomStringConvertible {
        enum Question: Sendable {
            case connect(host: String, addresses: [String])
            case request(host: String, method: String, path: String)
        }
        let file: String
        let question: Question
        let decision: Decision
        var description: String { "\(file): \(question) -> \(decision)" }
    }

    static func connect(_ file: String, _ host: String, _ addresses: [String], _ decision: Decision) -> Golden {
        Golden(file: file, question: .connect(host: host, addresses: addresses), decision: decision)
    }

    static func request(_ file: String, _ method: String, _ host: String, _ path: String, _ decision: Decision) -> Golden {
        Golden(file: file, question: .request(host: host, method: method, path: path), decision: decision)
    }

    static let goldens: [Golden] = [
        // default.yaml: the internet on, special ranges off, no rules.
        connect("default.yaml", "example.org", ["93.184.216.34"], .allow()),
        connect("default.yaml", "example.org", ["2606:2800:220:1::1"], .allow()),
        connect("default.yaml", "metadata.internal", ["169.254.169.254"], .deny(.special_range)),
        connect("default.yaml", "localhost", ["127.0.0.1", "::1"], .deny(.special_range)),
        connect("default.yaml", "intranet", ["10.1.2.3"], .deny(.special_range)),
        request("default.yaml", "POST", "api.openai.com", "/v1/chat/completions", .allow()),

        // offline-allowlist.yaml: only the package indexes and GitHub.
        connect("offline-allowlist.yaml", "pypi.org", ["151.101.0.223"], .allow(rule: "network.allow_out[0]")),
        connect("offline-allowlist.yaml", "files.pythonhosted.org", ["2a04:4e42::223"], .allow(rule: "network.allow_out[1]")),
        connect("offline-allowlist.yaml", "github.com", ["140.82.112.3"], .allow(rule: "network.allow_out[2]")),
        connect("offline-allowlist.yaml", "codeload.github.com", ["140.82.112.9"], .allow(rule: "network.allow_out[3]")),
        connect("offline-allowlist.yaml", "example.org", ["93.184.216.34"], .deny(.cidr_denied, rule: "network.allow_internet_access")),
        connect("offline-allowlist.yaml", "example.org", ["2606:2800:220:1::1"], .deny(.cidr_denied, rule: "network.allow_internet_access")),
        connect("offline-allowlist.yaml", "pypi.org", ["127.0.0.1"], .deny(.special_range)),

        // openai-sidecar.yaml: paste sites denied by name, rules for api.openai.com.
        connect("openai-sidecar.yaml", "pastebin.com", ["104.20.67.143"], .deny(.host_denied, rule: "network.deny_out[0]")),
        connect("openai-sidecar.yaml", "www.pastebin.com", ["104.20.67.143"], .deny(.host_denied, rule: "network.deny_out[1]")),
        connect("openai-sidecar.yaml", "api.openai.com", ["162.159.140.245"], .allow()),
        request("openai-sidecar.yaml", "POST", "api.openai.com", "/v1/chat/completions", .allow(rule: "rules[2]")),
        request("openai-sidecar.yaml", "POST", "api.openai.com", "/v1/files", .deny(.rule_denied, rule: "rules[0]")),
        request("openai-sidecar.yaml", "GET", "api.openai.com", "/v1/files/file-abc", .allow(rule: "rules[2]")),
        request("openai-sidecar.yaml", "GET", "api.openai.com", "/v1/fine_tuning/jobs", .deny(.rule_denied, rule: "rules[1]")),
        request("openai-sidecar.yaml", "DELETE", "api.openai.com", "/v1/models/x", .deny(.rule_denied, rule: "rules[3]")),
        request("openai-sidecar.yaml", "GET", "api.openai.com", "/dashboard", .deny(.rule_denied, rule: "rules[3]")),
        request("openai-sidecar.yaml", "GET", "example.org", "/v1/files", .allow()),

        // tunnel-only.yaml: documentation ranges denied, one address allowed back.
        connect("tunnel-only.yaml", "example.org", ["93.184.216.34"], .allow()),
        connect("tunnel-only.yaml", "doc.test", ["192.0.2.10"], .deny(.cidr_denied, rule: "network.deny_out[0]")),
        connect("tunnel-only.yaml", "doc.test", ["198.51.100.7"], .allow(rule: "network.allow_out[0]")),
        connect("tunnel-only.yaml", "doc.test", ["198.51.100.8"], .deny(.cidr_denied, rule: "network.deny_out[1]")),
        connect("tunnel-only.yaml", "doc6.test", ["2001:db8::1"], .deny(.cidr_denied, rule: "network.deny_out[4]")),
        connect("tunnel-only.yaml", "bench.test", ["198.19.255.255"], .deny(.cidr_denied, rule: "network.deny_out[3]")),
        connect("tunnel-only.yaml", "localhost", ["127.0.0.1"], .deny(.special_range)),

        // llm-agent-inspection.yaml: paste sites denied, everything else by network rules.
        connect("llm-agent-inspection.yaml", "pastebin.com", ["104.20.67.143"], .deny(.host_denied, rule: "network.deny_out[0]")),
        connect("llm-agent-inspection.yaml", "api.anthropic.com", ["160.79.104.10"], .allow()),
        request("llm-agent-inspection.yaml", "POST", "api.anthropic.com", "/v1/messages", .allow()),
    ]

    @Test(arguments: goldens)
    func decides(golden: Golden) throws {
        let policy = try Self.load(golden.file)
        switch golden.question {
        case .connect(let host, let addresses):
            let result = policy.connectDecision(host: host, addresses: addresses.map(ip))
            #expect(result.decision == golden.decision)
            #expect(result.allowedAddresses.isEmpty == !golden.decision.isAllowed)
        case .request(let host, let method, let path):
            #expect(policy.ruleDecision(host: host, method: method, path: path) == golden.decision)
        }
    }

    @Test func everyExampleIsCoveredLoadsAndEnablesNoInspection() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }
        #expect(!files.isEmpty)
        #expect(Set(files) == Set(Self.goldens.map(\.file)))
        for file in files {
            let policy = try Self.load(file)
            if file == "llm-agent-inspection.yaml" {
                #expect(Set(policy.enabledInspectionFeatures) == ["pii", "injection_defense", "transformations", "invisible_text", "env.mask_patterns"])
            } else {
                #expect(policy.enabledInspectionFeatures.isEmpty, "\(file)")
            }
        }
    }

    @Test func exampleSettings() throws {
        let standard = try Self.load("default.yaml")
        #expect(standard.sandbox == "sb-demo")
        #expect(standard.mitm == .auto)
        #expect(standard.audit.path == nil)
        #expect(standard.secrets.isEmpty)
        #expect(standard.limits == .defaults)
        #expect(!standard.shouldIntercept(host: "api.openai.com"))

        let offline = try Self.load("offline-allowlist.yaml")
        #expect(offline.egressAllowlist == ["pypi.org", "files.pythonhosted.org", "github.com", "*.github.com"])
        #expect(!offline.shouldIntercept(host: "pypi.org"))

        let openAI = try Self.load("openai-sidecar.yaml")
        #expect(openAI.secretStore == "openai-store")
        #expect(openAI.shouldIntercept(host: "api.openai.com"))
        #expect(!openAI.shouldIntercept(host: "example.org"))
        #expect(openAI.perSecretAllowedHosts == ["OPENAI_API_KEY": ["api.openai.com"]])
        let key = try #require(openAI.secretsAllowed(forHost: "api.openai.com").first)
        #expect(key.placeholder == "PH_OPENAI_API_KEY")
        #expect(key.value == SecretValue(Array("sk-golden-test-value".utf8)))
        #expect(key.headerNames == ["authorization"])
        #expect(openAI.secretsAllowed(forHost: "api.openai.com.evil.example").isEmpty)
        #expect(openAI.audit.retentionHours == 72)

        let agent = try Self.load("llm-agent-inspection.yaml")
        #expect(agent.mitm == .auto)
        for host in ["api.anthropic.com", "api.openai.com", "en.wikipedia.org", "docs.python.org"] {
            #expect(agent.shouldIntercept(host: host), "\(host) is in an inspection scope")
        }
        // invisible_text and env.mask_patterns have no host scope: every host is intercepted.
        #expect(agent.shouldIntercept(host: "pypi.org"))

        let tunnel = try Self.load("tunnel-only.yaml")
        #expect(tunnel.mitm == .never)
        #expect(!tunnel.shouldIntercept(host: "api.openai.com"))
    }
}
