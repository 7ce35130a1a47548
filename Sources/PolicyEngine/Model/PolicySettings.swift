// MARK: - Modes and limits

/// `mitm:` in the policy. YAML `auto` | `true` | `false` (also `always` | `never`).
public enum MITMMode: String, Sendable {
    /// Intercept a host only when a secret, rule or inspection scope names it; tunnel the rest.
    case auto
    /// Intercept every TLS connection.
    case always
    /// Tunnel only; the policy may then hold no rules, secrets or inspection (fail closed).
    case never
}

/// What happens to a body that exceeds the inspection bound.
public enum OnUninspectable: String, Sendable, CaseIterable {
    case block, pass
}

/// `limits:` (an extension of the SDK schema); every field has a default.
public struct Limits: Sendable, Equatable {
    /// A client that has not sent a full request head within this time is closed.
    public var headerTimeoutSeconds: Double
    public var idleTimeoutSeconds: Double
    public var upstreamConnectTimeoutSeconds: Double
    /// The most body bytes buffered for inspection.
    public var maxBodyInspectBytes: Int
    public var onUninspectable: OnUninspectable
    public var maxConnections: Int
    /// Extension: requests per second the sandbox may start (gateway and sidecar); nil: no
    /// bound. Over it: `429` (`rate_limited`).
    public var requestsPerSecond: Double?

    public init(headerTimeoutSeconds: Double = 30,
                idleTimeoutSeconds: Double = 60,
                upstreamConnectTimeoutSeconds: Double = 10,
                maxBodyInspectBytes: Int = 10_485_760,
                onUninspectable: OnUninspectable = .block,
                maxConnections: Int = 512,
                requestsPerSecond: Double? = nil) {
        self.headerTimeoutSeconds = headerTimeoutSeconds
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.upstreamConnectTimeoutSeconds = upstreamConnectTimeoutSeconds
        self.maxBodyInspectBytes = maxBodyInspectBytes
        self.onUninspectable = onUninspectable
        self.maxConnections = maxConnections
        self.requestsPerSecond = requestsPerSecond
    }

    /// The SPEC defaults.
    public static let defaults = Limits()
}

/// `audit:`.
public struct AuditSettings: Sendable, Equatable {
    public var enabled: Bool
    /// Audit file; `"-"` is stdout; nil: the CLI default (stdout).
    public var path: String?
    public var logRequestBody: Bool
    public var logResponseBody: Bool
    /// Older audit files are removed; nil keeps them.
    public var retentionHours: Int?

    public init(enabled: Bool = true, path: String? = nil, logRequestBody: Bool = false,
                logResponseBody: Bool = false, retentionHours: Int? = nil) {
        self.enabled = enabled
        self.path = path
        self.logRequestBody = logRequestBody
        self.logResponseBody = logResponseBody
        self.retentionHours = retentionHours
    }
}

// MARK: - Network

/// One entry of `allow_out` / `deny_out`.
public struct NetworkEntry: Sendable, Equatable {
    /// A host pattern (normalised) or an address block.
    public enum Target: Sendable, Equatable {
        case host(String)
        case cidr(CIDR)
    }

    public var target: Target
    /// The entry as written.
    public var text: String
    /// Its policy path, e.g. `network.allow_out[2]`.
    public var path: String
    public var position: SourcePosition

    public init(target: Target, text: String, path: String, position: SourcePosition) {
        self.target = target
        self.text = text
        self.path = path
        self.position = position
    }
}

/// `network:` (the SDKs' SandboxNetworkOpts).
public struct NetworkSettings: Sendable, Equatable {
    /// false is the same as `deny_out: ["0.0.0.0/0"]` (and then IPv6 is denied too).
    public var allowInternetAccess: Bool
    public var allowOut: [NetworkEntry]
    public var denyOut: [NetworkEntry]

    public init(allowInternetAccess: Bool = true, allowOut: [NetworkEntry] = [], denyOut: [NetworkEntry] = []) {
        self.allowInternetAccess = allowInternetAccess
        self.allowOut = allowOut
        self.denyOut = denyOut
    }
}

// MARK: - Rules

/// `rules[N].action`.
public enum RuleAction: String, Sendable, CaseIterable {
    case allow, deny
}

/// One L7 rule. Every `match` field that is given must match; an absent field matches anything.
public struct RuleSpec: Sendable {
    public var name: String?
    /// Host patterns (normalised); nil: any host.
    public var hosts: [String]?
    /// Upper-cased methods; nil: any method.
    public var methods: [String]?
    /// Path globs; nil: any path.
    public var paths: [PathGlob]?
    public var action: RuleAction
    /// `rules[N]`.
    public var path: String
    public var position: SourcePosition

    public init(name: String? = nil, hosts: [String]? = nil, methods: [String]? = nil, paths: [PathGlob]? = nil,
                action: RuleAction, path: String, position: SourcePosition) {
        self.name = name
        self.hosts = hosts
        self.methods = methods
        self.paths = paths
        self.action = action
        self.path = path
        self.position = position
    }
}

// MARK: - Secrets

/// Where a secret's value comes from. Never a literal.
public enum SecretSource: Sendable, Equatable, CustomStringConvertible {
    /// `env:NAME`.
    case environment(String)
    /// `file:PATH` (relative paths are relative to the policy file's folder).
    case file(String)

    public var description: String {
        switch self {
        case .environment(let name): return "env:\(name)"
        case .file(let path): return "file:\(path)"
        }
    }
}

/// Where placeholders are substituted.
public enum InjectLocation: String, Sendable, CaseIterable {
    case headers, query, body
}

/// One `secrets.entries.NAME`.
public struct SecretSpec: Sendable {
    public var name: String
    public var source: SecretSource
    public var placeholder: String
    /// Host patterns (normalised).
    public var allowedHosts: [String]
    public var injectIn: Set<InjectLocation>
    /// Lower-cased header names; nil: all headers.
    public var headerNames: Set<String>?
    /// `secrets.entries.NAME`.
    public var path: String
    public var position: SourcePosition
    /// Position of the `value` key, for resolution errors.
    public var valuePosition: SourcePosition

    public init(name: String, source: SecretSource, placeholder: String, allowedHosts: [String],
                injectIn: Set<InjectLocation> = [.headers], headerNames: Set<String>? = nil,
                path: String, position: SourcePosition, valuePosition: SourcePosition) {
        self.name = name
        self.source = source
        self.placeholder = placeholder
        self.allowedHosts = allowedHosts
        self.injectIn = injectIn
        self.headerNames = headerNames
        self.path = path
        self.position = position
        self.valuePosition = valuePosition
    }
}

/// `secrets:`.
public struct SecretsSettings: Sendable {
    public var store: String?
    public var entries: [SecretSpec]

    public init(store: String? = nil, entries: [SecretSpec] = []) {
        self.store = store
        self.entries = entries
    }
}

// MARK: - Inspection

/// `pii.types`.
public enum PIIType: String, Sendable, CaseIterable {
    case ssn, credit_card, email, phone_number, ip_address, api_key, iban, person_name

    /// The types enabled when `types` is not given (every type that has a detector).
    public static let defaultTypes: [PIIType] = [.ssn, .credit_card, .email, .phone_number, .ip_address, .api_key, .iban]
}

/// `pii.action`.
public enum PIIAction: String, Sendable, CaseIterable {
    case redact, block, log_only
}

/// `pii:`.
public struct PIISettings: Sendable {
    public var enabled: Bool
    public var types: [PIIType]
    public var action: PIIAction
    public var rehydrateResponse: Bool
    /// Host patterns whose request bodies are scanned (normalised).
    public var hosts: [String]
    public var position: SourcePosition

    public init(enabled: Bool = true, types: [PIIType] = PIIType.defaultTypes, action: PIIAction = .redact,
                rehydrateResponse: Bool = false, hosts: [String] = ["*"], position: SourcePosition) {
        self.enabled = enabled
        self.types = types
        self.action = action
        self.rehydrateResponse = rehydrateResponse
        self.hosts = hosts
        self.position = position
    }
}

/// `injection_defense.action`.
public enum InjectionAction: String, Sendable, CaseIterable {
    case block, sanitize, log_only
}

/// `injection_defense.sensitivity`.
public enum InjectionSensitivity: String, Sendable, CaseIterable {
    case low, medium, high
}

/// `injection_defense:`.
public struct InjectionDefenseSettings: Sendable {
    public var enabled: Bool
    public var action: InjectionAction
    public var sensitivity: InjectionSensitivity
    /// Score in [0,1] at or above which the action applies; nil: the sensitivity's default.
    public var threshold: Double?
    /// Host patterns whose responses are scanned (normalised).
    public var hosts: [String]
    public var position: SourcePosition

    public init(enabled: Bool = true, action: InjectionAction = .block, sensitivity: InjectionSensitivity = .medium,
                threshold: Double? = nil, hosts: [String] = ["*"], position: SourcePosition) {
        self.enabled = enabled
        self.action = action
        self.sensitivity = sensitivity
        self.threshold = threshold
        self.hosts = hosts
        self.position = position
    }
}

/// `transformations[N].direction`.
public enum TransformationDirection: String, Sendable, CaseIterable {
    case outbound, inbound, both
}

/// One header to set.
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// One `transformations[N]`: a regex replacement over bodies and/or header edits.
public struct TransformationSpec: Sendable {
    public var direction: TransformationDirection
    /// PCRE2 pattern (compiled by the inspection layer).
    public var match: String?
    public var replace: String?
    /// Host patterns (normalised).
    public var hosts: [String]
    public var setHeaders: [HeaderField]
    public var removeHeaders: [String]
    /// `transformations[N]`.
    public var path: String
    public var position: SourcePosition

    public init(direction: TransformationDirection = .both, match: String? = nil, replace: String? = nil,
                hosts: [String] = ["*"], setHeaders: [HeaderField] = [], removeHeaders: [String] = [],
                path: String, position: SourcePosition) {
        self.direction = direction
        self.match = match
        self.replace = replace
        self.hosts = hosts
        self.setHeaders = setHeaders
        self.removeHeaders = removeHeaders
        self.path = path
        self.position = position
    }
}

/// `invisible_text.action`.
public enum InvisibleTextAction: String, Sendable, CaseIterable {
    case strip, block, log_only
}

/// `invisible_text:`.
public struct InvisibleTextSettings: Sendable {
    public var enabled: Bool
    public var action: InvisibleTextAction
    public var position: SourcePosition

    public init(enabled: Bool = true, action: InvisibleTextAction = .strip, position: SourcePosition) {
        self.enabled = enabled
        self.action = action
        self.position = position
    }
}

/// `env:`.
public struct EnvSettings: Sendable, Equatable {
    /// Glob patterns (`*`, `?`) over environment variable names.
    public var maskPatterns: [String]

    public init(maskPatterns: [String] = []) {
        self.maskPatterns = maskPatterns
    }
}

/// `gateway:`.
public struct GatewaySettings: Sendable, Equatable {
    /// SHA-256 of the sandbox's proxy token (32 bytes).
    public var tokenSHA256: [UInt8]?

    public init(tokenSHA256: [UInt8]? = nil) {
        self.tokenSHA256 = tokenSHA256
    }
}
