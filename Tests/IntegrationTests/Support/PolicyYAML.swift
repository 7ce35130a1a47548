import Foundation

// MARK: - Policies

/// Builds the policy files the tests hand to the proxy (SPEC section 3).
///
/// Upstreams listen on 127.0.0.1, a special range: a policy reaches them only with the
/// `127.0.0.1/32` unlock in `allow_out`, which is therefore the default here.
enum PolicyYAML {
    static let sandbox = "sb-itest"

    /// A policy with `mitm`, `network` and any further top-level `sections` (YAML text).
    static func make(
        mitm: String = "true",
        allowOut: [String] = ["127.0.0.1/32"],
        denyOut: [String] = [],
        networkExtra: [String] = [],
        sections: String = ""
    ) -> String {
        var lines = [
            "version: 1",
            "sandbox: \(sandbox)",
            "mitm: \(mitm)",
            "network:",
            "  allow_out: \(list(allowOut))",
            "  deny_out: \(list(denyOut))",
        ]
        lines += networkExtra.map { "  \($0)" }
        return lines.joined(separator: "\n") + "\n" + sections
            + (sections.hasSuffix("\n") || sections.isEmpty ? "" : "\n")
    }

    /// A YAML flow sequence of double-quoted strings.
    static func list(_ items: [String]) -> String {
        "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    }
}

// MARK: - Secret fixture

/// The secret the secret tests use: `TOKEN`, placeholder `PH_TOKEN`, allowed only for
/// `api.test`, real value from the proxy's environment variable `REAL_TOKEN`.
///
/// The real value is fresh for every test (so a leak cannot be a left-over of another test)
/// and 30 characters long, a multiple of 3, so its base64 form has no padding.
struct TestSecret: Sendable {
    static let name = "TOKEN"
    static let placeholder = "PH_TOKEN"
    static let environmentVariable = "REAL_TOKEN"

    let value: String

    init() {
        let hex = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        value = "rt" + hex.prefix(28)
    }

    var base64: String { Data(value.utf8).base64EncodedString() }

    /// The proxy's extra environment.
    var environment: [String: String] { [Self.environmentVariable: value] }

    /// Every form of the value that must never reach the sandbox or a log.
    var forbiddenForms: [String] { [value, base64] }

    static let policySection = """
        secrets:
          store: itest-store
          entries:
            TOKEN:
              value: env:REAL_TOKEN
              placeholder: PH_TOKEN
              allowed_hosts: [api.test]

        """

    /// A MITM-everything policy with the secret. `mitm: true` matters: with `auto`, hosts the
    /// secret does not apply to would be tunnelled and a misplaced placeholder never seen.
    static func policy() -> String {
        PolicyYAML.make(mitm: "true", sections: policySection)
    }

    /// A proxy configuration with the policy and the real value in the environment.
    func configuration() -> ProxyConfiguration {
        var configuration = ProxyConfiguration(policy: Self.policy())
        configuration.environment = environment
        return configuration
    }
}
