import NIOCore
import PIIDetect
import PolicyEngine

// MARK: - InspectionPlan

/// Content inspection (SPEC 3 `pii`, `injection_defense`, `transformations`,
/// `invisible_text`, `env`, `limits`; SPEC 6) compiled once per policy and shared by every
/// exchange of the sandbox: the detectors, the injection scorer, the transformation
/// patterns, the host scopes and the sandbox's token vault.
///
/// Each exchange asks for a ``RequestInspection`` and a ``ResponseInspection``: channel-free
/// state machines over body chunks that return bytes to forward or a denial. Scanning runs
/// in bounded windows (at most `window` new bytes a round), so no call does unbounded work
/// and no body is buffered whole, except responses that must be judged before their head is
/// sent (``ResponseInspection/needsBodyBeforeHead``), up to `limits.max_body_inspect_bytes`.
public final class InspectionPlan: Sendable {
    // MARK: Shared state

    /// The sandbox's redaction tokens. Keep one vault per sandbox across policy reloads
    /// (pass it to ``compile(_:environment:vault:)``) so tokens stay stable and restorable.
    public let vault: TokenVault
    /// Start-up notes for the operator (e.g. `pii.types: person_name is not supported`).
    public let warnings: [String]
    /// Names of the sandbox variables masked by `env.mask_patterns`.
    public let maskedEnvironmentNames: [String]

    let limits: Limits

    // PII
    let piiAction: PIIAction?
    let rehydrate: Bool
    let piiHosts: HostPatternSet
    let detector: Detector?

    // Injection
    let injectionAction: InjectionAction?
    let injectionHosts: HostPatternSet
    let scorer: InjectionScorer?
    let injectionThreshold: Double

    // Transformations, invisible text, environment
    let transformations: [CompiledTransformation]
    let invisibleAction: InvisibleTextAction?
    let envMasker: ResponseMasker?

    // Window geometry (see StreamWindow).
    let window: Int
    let lookahead: Int
    let lookbehind: Int

    // MARK: Compile

    /// Compiles the inspection parts of `policy`. `environment` is the sandbox's environment
    /// (`--sandbox-env`), of which `env.mask_patterns` selects the values to mask. Every
    /// error is reported at once, with its policy path (`transformations[2].match`).
    public static func compile(_ policy: CompiledPolicy, environment: SandboxEnvironment = SandboxEnvironment([:]),
                               vault: TokenVault = TokenVault()) throws(PolicyLoadError) -> InspectionPlan {
        let doc = policy.document
        var diagnostics: [PolicyDiagnostic] = []
        var warnings: [String] = []

        // PII
        var detector: Detector?
        if let pii = doc.pii, pii.enabled {
            var types = Set<EntityType>()
            for type in pii.types {
                if let mapped = EntityType.types(forPolicyName: type.rawValue) {
                    types.formUnion(mapped)
                } else {
                    warnings.append("pii.types: \(type.rawValue) is not supported (no detector); it is ignored")
                }
            }
            if !types.isEmpty {
                do {
                    detector = try Detector(types: types)
                } catch {
                    diagnostics.append(PolicyDiagnostic(at: pii.position, path: "pii", "the PII detectors failed to compile"))
                }
            }
        }

        // Transformations
        var transformations: [CompiledTransformation] = []
        for spec in doc.transformations {
            switch CompiledTransformation.compile(spec) {
            case .success(let compiled): transformations.append(compiled)
            case .failure(let diagnostic): diagnostics.append(diagnostic)
            }
        }
        if !diagnostics.isEmpty { throw PolicyLoadError(diagnostics: diagnostics) }

        // Environment values to mask, except values that are the policy's own secrets: the
        // secret engine puts those into requests on purpose.
        let secretValues = Set(policy.secrets.map { $0.value.bytes })
        let masked = environment.masked(by: doc.env.maskPatterns).filter { !secretValues.contains($0.value) }
        let envMasker = masked.isEmpty ? nil : ResponseMasker(masked.map {
            (name: $0.name, value: $0.value, placeholder: SandboxEnvironment.marker(for: $0.name))
        })

        return InspectionPlan(document: doc, limits: policy.limits, detector: detector, transformations: transformations,
                              envMasker: envMasker, maskedNames: masked.map(\.name), vault: vault, warnings: warnings)
    }

    private init(document doc: PolicyDocument, limits: Limits, detector: Detector?, transformations: [CompiledTransformation],
                 envMasker: ResponseMasker?, maskedNames: [String], vault: TokenVault, warnings: [String]) {
        self.vault = vault
        self.warnings = warnings
        self.maskedEnvironmentNames = maskedNames
        self.limits = limits

        let pii = doc.pii.flatMap { $0.enabled ? $0 : nil }
        self.detector = detector
        self.piiAction = detector == nil ? nil : pii?.action
        self.rehydrate = pii?.rehydrateResponse ?? false
        self.piiHosts = HostPatternSet(validated: pii?.hosts ?? [])

        let injection = doc.injectionDefense.flatMap { $0.enabled ? $0 : nil }
        self.injectionAction = injection?.action
        self.injectionHosts = HostPatternSet(validated: injection?.hosts ?? [])
        let threshold: Double
        if let explicit = injection?.threshold {
            threshold = explicit
        } else {
            switch injection?.sensitivity ?? .medium {
            case .low: threshold = Sensitivity.low.threshold
            case .medium: threshold = Sensitivity.medium.threshold
            case .high: threshold = Sensitivity.high.threshold
            }
        }
        self.injectionThreshold = threshold
        self.scorer = injection == nil ? nil : InjectionScorer(threshold: threshold)

        self.transformations = transformations
        self.invisibleAction = doc.invisibleText.flatMap { $0.enabled ? $0.action : nil }
        self.envMasker = envMasker

        // Windows shrink with a small inspection bound, so a stage never holds more than it.
        let bound = max(4096, limits.maxBodyInspectBytes)
        self.window = min(64 * 1024, max(1024, bound / 4))
        self.lookahead = min(4 * 1024, window)
        self.lookbehind = min(1024, window)
    }

    // MARK: Exchanges

    /// The inspection of one request to `host` (the CONNECT host in MITM mode, the
    /// `Host`/authority in plain HTTP), before its head is forwarded.
    public func request(host: String, method: String, headers: [(String, String)]) -> RequestInspection {
        RequestInspection(plan: self, host: host, method: method, headers: headers)
    }

    /// The inspection of the response to a request of `requestMethod` to `host`, when its
    /// head arrives from upstream.
    public func response(host: String, status: Int, headers: [(String, String)], requestMethod: String) -> ResponseInspection {
        ResponseInspection(plan: self, host: host, status: status, headers: headers, requestMethod: requestMethod)
    }

    /// Whether any part of this plan looks into bodies or heads at all (false: skip it).
    public var isActive: Bool {
        detector != nil || scorer != nil || !transformations.isEmpty || invisibleAction != nil || envMasker != nil
    }

    // MARK: Environment values elsewhere

    /// Masks `env.mask_patterns` values (raw, base64, URL-encoded) in a text bound for an audit
    /// record, a capture or a log line.
    public func maskEnvironmentValues(in text: String) -> String {
        envMasker?.maskHeaderValue(text).0 ?? text
    }

    // MARK: Scopes (shared by the two directions)

    func piiApplies(to host: String) -> Bool { detector != nil && piiHosts.matches(host) }

    func injectionApplies(to host: String) -> Bool { scorer != nil && injectionHosts.matches(host) }

    func rehydrationApplies(to host: String) -> Bool { rehydrate && detector != nil && piiHosts.matches(host) }

    func outboundTransformations(for host: String) -> [CompiledTransformation] {
        transformations.filter { $0.appliesOutbound && $0.hosts.matches(host) }
    }

    func inboundTransformations(for host: String) -> [CompiledTransformation] {
        transformations.filter { $0.appliesInbound && $0.hosts.matches(host) }
    }

    /// Whether a response from `host` may have its body read (then the request's
    /// `Accept-Encoding` is narrowed to what can be decoded).
    func responseBodyMayBeRead(from host: String) -> Bool {
        injectionApplies(to: host) || invisibleAction != nil || rehydrationApplies(to: host)
            || inboundTransformations(for: host).contains { $0.regex != nil } || envMasker != nil
    }
}
