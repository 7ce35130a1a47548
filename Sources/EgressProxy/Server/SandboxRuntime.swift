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

    public init(policy: CompiledPolicy) {
        self.policy = policy
        self.secrets = SecretsPlan(policy: policy)
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
    public let logger: Logger

    public init(
        policy: CompiledPolicy, ca: SandboxCA, leafCache: LeafCertificateCache,
        upstreamTLS: NIOSSLContext, resolver: Resolver, audit: AuditSink, capture: CaptureWriter? = nil, logger: Logger
    ) {
        self.sandbox = policy.sandbox
        self.active = NIOLockedValueBox(ActivePolicy(policy: policy))
        self.ca = ca
        self.leafCache = leafCache
        self.upstreamTLS = upstreamTLS
        self.resolver = resolver
        self.audit = audit
        self.capture = capture
        self.logger = logger
    }

    /// The policy new connections use.
    public var currentPolicy: ActivePolicy { active.withLockedValue { $0 } }

    /// Atomically replaces the policy; connections in flight keep theirs.
    public func swapPolicy(_ policy: CompiledPolicy) {
        let next = ActivePolicy(policy: policy)
        active.withLockedValue { $0 = next }
    }
}
