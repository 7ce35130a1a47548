// MARK: - Verdict and Reason

/// Allow or deny.
public enum Verdict: String, Sendable {
    case allow, deny
}

/// The stable reason codes of SPEC.md (audit `reason`, `X-Egress-Decision`, the deny body).
public enum Reason: String, Sendable, CaseIterable {
    case allowed
    case host_denied
    case cidr_denied
    case special_range
    case rule_denied
    case secret_host_mismatch
    case host_mismatch
    case sni_mismatch
    case dns_failure
    case upstream_tls
    case upstream_error
    case upstream_timeout
    case pii_blocked
    case injection_blocked
    case bad_request
    case uninspectable
    case proxy_auth_required
    case rate_limited
}

// MARK: - Decision

/// A decision as a value: verdict, stable reason and the policy path of the rule that decided.
public struct Decision: Sendable, Equatable, CustomStringConvertible {
    public var verdict: Verdict
    public var reason: Reason
    /// Policy path, e.g. `network.deny_out[0]`, `rules[1]`, `network.allow_internet_access`;
    /// nil when no policy entry decided (a default or a built-in protection).
    public var rule: String?

    public init(verdict: Verdict, reason: Reason, rule: String? = nil) {
        self.verdict = verdict
        self.reason = reason
        self.rule = rule
    }

    /// An allow decision (reason `allowed`).
    public static func allow(rule: String? = nil) -> Decision {
        Decision(verdict: .allow, reason: .allowed, rule: rule)
    }

    /// A deny decision.
    public static func deny(_ reason: Reason, rule: String? = nil) -> Decision {
        Decision(verdict: .deny, reason: reason, rule: rule)
    }

    /// Whether the verdict is allow.
    public var isAllowed: Bool { verdict == .allow }

    /// `deny cidr_denied network.deny_out[0]`.
    public var description: String {
        "\(verdict.rawValue) \(reason.rawValue)" + (rule.map { " \($0)" } ?? "")
    }
}

// MARK: - ConnectDecision

/// The network decision for one connection over all resolved addresses (SPEC 4 steps 1-6).
public struct ConnectDecision: Sendable, Equatable {
    /// Deny: the first reason met. Allow: the decision of the first allowed address.
    public var decision: Decision
    /// The addresses that passed, in input order; the proxy dials only these.
    public var allowedAddresses: [IPAddress]

    public init(decision: Decision, allowedAddresses: [IPAddress]) {
        self.decision = decision
        self.allowedAddresses = allowedAddresses
    }
}
