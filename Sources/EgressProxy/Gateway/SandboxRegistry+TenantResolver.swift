import NIOCore
import NIOHTTP1

// MARK: - Gateway tenancy

/// The gateway's `TenantResolver`: the sandbox named by `Proxy-Authorization`, or, for a
/// request without credentials, the one the source map assigns to the peer address.
///
/// Credentials that are sent but wrong are never rescued by the source address, and a request
/// with more than one `Proxy-Authorization` header is refused: which one would be meant is a
/// guess, and guessing between two tenants is how one reaches the other's secrets.
extension SandboxRegistry: TenantResolver {
    public func resolve(head: HTTPRequestHead, remoteAddress: SocketAddress?) -> TenantResolution {
        let values = head.headers["Proxy-Authorization"]
        if values.count > 1 { return .unauthenticated }
        if let value = values.first {
            guard let runtime = authenticate(proxyAuthorization: value) else { return .unauthenticated }
            return .tenant(runtime)
        }
        if let runtime = runtime(forSourceAddress: remoteAddress) { return .tenant(runtime) }
        return .unauthenticated
    }
}
