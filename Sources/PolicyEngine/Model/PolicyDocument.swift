// MARK: - PolicyDocument

/// A validated policy file (SPEC section 3), before secret values are resolved. Every field has
/// its default filled in; positions are kept where a later stage may need to report an error.
public struct PolicyDocument: Sendable {
    /// The file it was read from (as given to the loader).
    public var file: String
    /// `version` (only 1 exists).
    public var version: Int
    /// `sandbox`, or the `--sandbox` override.
    public var sandbox: String
    public var mitm: MITMMode
    public var network: NetworkSettings
    public var rules: [RuleSpec]
    public var secrets: SecretsSettings
    public var pii: PIISettings?
    public var injectionDefense: InjectionDefenseSettings?
    public var transformations: [TransformationSpec]
    public var invisibleText: InvisibleTextSettings?
    public var audit: AuditSettings
    public var env: EnvSettings
    public var limits: Limits
    public var gateway: GatewaySettings?

    public init(file: String = "<memory>", version: Int = 1, sandbox: String, mitm: MITMMode = .auto,
                network: NetworkSettings = NetworkSettings(), rules: [RuleSpec] = [],
                secrets: SecretsSettings = SecretsSettings(), pii: PIISettings? = nil,
                injectionDefense: InjectionDefenseSettings? = nil, transformations: [TransformationSpec] = [],
                invisibleText: InvisibleTextSettings? = nil, audit: AuditSettings = AuditSettings(),
                env: EnvSettings = EnvSettings(), limits: Limits = .defaults, gateway: GatewaySettings? = nil) {
        self.file = file
        self.version = version
        self.sandbox = sandbox
        self.mitm = mitm
        self.network = network
        self.rules = rules
        self.secrets = secrets
        self.pii = pii
        self.injectionDefense = injectionDefense
        self.transformations = transformations
        self.invisibleText = invisibleText
        self.audit = audit
        self.env = env
        self.limits = limits
        self.gateway = gateway
    }

    /// Names of the inspection features this document turns on, in SPEC order. The CLI refuses
    /// those it cannot run yet rather than silently not enforcing them.
    public var enabledInspectionFeatures: [String] {
        var features: [String] = []
        if pii?.enabled == true { features.append("pii") }
        if injectionDefense?.enabled == true { features.append("injection_defense") }
        if !transformations.isEmpty { features.append("transformations") }
        if invisibleText?.enabled == true { features.append("invisible_text") }
        if !env.maskPatterns.isEmpty { features.append("env.mask_patterns") }
        return features
    }
}
