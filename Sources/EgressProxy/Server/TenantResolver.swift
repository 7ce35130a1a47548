import NIOCore
import NIOHTTP1
import PolicyEngine

/// Which sandbox a request belongs to.
public enum TenantResolution: Sendable {
    case tenant(SandboxRuntime)
    /// Missing or wrong credentials: `407` with `Proxy-Authenticate`, no hint which part was wrong.
    case unauthenticated
}

/// Picks the sandbox of each request on a front connection: a fixed one for the sidecar;
/// from `Proxy-Authorization` (or the source address) in the gateway.
public protocol TenantResolver: Sendable {
    func resolve(head: HTTPRequestHead, remoteAddress: SocketAddress?) -> TenantResolution
}

/// The sidecar: one sandbox, no credentials.
public struct SingleTenant: TenantResolver {
    public let runtime: SandboxRuntime
    public init(_ runtime: SandboxRuntime) { self.runtime = runtime }
    public func resolve(head: HTTPRequestHead, remoteAddress: SocketAddress?) -> TenantResolution {
        .tenant(runtime)
    }
}

/// What every connection of one listener shares.
public final class ServerContext: Sendable {
    public let tenants: TenantResolver
    /// Audit records of requests that belong to no sandbox (unauthenticated, unparsable).
    public let fallbackAudit: AuditSink
    /// Limits that apply before a request names its sandbox (header timeout of a new connection).
    public let defaultLimits: Limits

    public init(tenants: TenantResolver, fallbackAudit: AuditSink, defaultLimits: Limits) {
        self.tenants = tenants
        self.fallbackAudit = fallbackAudit
        self.defaultLimits = defaultLimits
    }
}
