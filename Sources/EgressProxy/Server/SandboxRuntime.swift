import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PolicyEngine

/// A compiled policy plus everything derived from it once (secret engines), swapped as a
/// whole on reload. A connection keeps the `ActivePolicy` it started with.
public final class ActivePolicy: Sendable {
    public let policy: CompiledPolicy
    let secrets: SecretsPlan
    /// Content inspection (SPEC 6); nil when the policy inspects nothing.
    public let inspection: InspectionPlan?

    /// A policy without content inspection (or whose inspection plan was compiled already).
    public init(policy: CompiledPolicy, inspection: InspectionPlan? = nil) {
        self.policy = policy
        self.secrets = SecretsPlan(policy: policy)
        self.inspection = inspection?.isActive == true ? inspection : nil
    }

    /// Compiles the policy's inspection parts too: `environment` is the sandbox's
    /// (`--sandbox-env`), `vault` the sandbox's token vault (kept across reloads).
    public static func compile(_ policy: CompiledPolicy, environment: SandboxEnvironment, vault: TokenVault) throws(PolicyLoadError) -> ActivePolicy {
        let plan = policy.enabledInspectionFeatures.isEmpty
            ? nil : try InspectionPlan.compile(policy, environment: environment, vault: vault)
        return ActivePolicy(policy: policy, inspection: plan)
    }
}

/// Everything one sandbox's connections share: its policy, CA and leaf cache, the verified
/// upstream TLS context, resolver and audit sink. Immutable except the policy slot.
public final class SandboxRuntime: Sendable {
    public let sandbox: String
    private let active: NIOLockedValueBox<ActivePolicy>
    public let ca: SandboxCA
    public let leafCache: LeafCertificateCache
    public let upstreamTLS: NIOSSLContext
    public let resolver: Resolver
    public let audit: AuditSink
    /// `--capture` / `--capture-dir`: the HAR this sandbox's traffic is written to.
    public let capture: CaptureWriter?
    /// Per-sandbox admission (connections at once, requests per second); nil: none.
    public let limiter: SandboxLimiter?
    public let logger: Logger
    /// The sandbox's environment (`--sandbox-env`), for `env.mask_patterns`.
    public let environment: SandboxEnvironment
    /// Redaction tokens, stable for the sandbox's life (across policy reloads).
    public let vault: TokenVault

    public init(
        policy: CompiledPolicy, ca: SandboxCA, leafCache: LeafCertificateCache,
        upstreamTLS: NIOSSLContext, resolver: Resolver, audit: AuditSink, capture: CaptureWriter? = nil,
        limiter: SandboxLimiter? = nil, environment: SandboxEnvironment = SandboxEnvironment([:]), logger: Logger
    ) throws(PolicyLoadError) {
        self.sandbox = policy.sandbox
        let vault = TokenVault()
        self.vault = vault
        self.environment = environment
        self.active = NIOLockedValueBox(try ActivePolicy.compile(policy, environment: environment, vault: vault))
        self.ca = ca
        self.leafCache = leafCache
        self.upstreamTLS = upstreamTLS
        self.resolver = resolver
        self.audit = audit
        self.capture = capture
        self.limiter = limiter
        self.logger = logger
    }

    /// The policy new connections use.
    public var currentPolicy: ActivePolicy { active.withLockedValue { $0 } }

    /// Atomically replaces the policy; connections in flight keep theirs. A policy whose
    /// inspection parts don't compile is refused and the old one stays.
    public func swapPolicy(_ policy: CompiledPolicy) throws(PolicyLoadError) {
        let next = try ActivePolicy.compile(policy, environment: environment, vault: vault)
        active.withLockedValue { $0 = next }
    }
}
