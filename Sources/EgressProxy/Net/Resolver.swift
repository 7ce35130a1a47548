import Foundation
import NIOCore
import NIOPosix
import PolicyEngine

/// Resolves a host name once per connection, off the event loop.
///
/// The proxy asks this resolver exactly once for each CONNECT or plain-HTTP request, checks
/// every returned address against the policy, and dials one that passed by `SocketAddress`:
/// never by name, so there is no second lookup and no DNS-rebinding window.
public struct Resolver: Sendable {
    /// `--resolve HOST:IP` entries (host normalised).
    public var overrides: [String: [IPAddress]]
    private let threadPool: NIOThreadPool

    public init(overrides: [String: [IPAddress]], threadPool: NIOThreadPool) {
        self.overrides = overrides
        self.threadPool = threadPool
    }

    public enum Failure: Error, Equatable {
        /// The name does not resolve (or resolves to nothing usable).
        case notFound(String)
    }

    /// IP literals and overrides answer at once; names go to `getaddrinfo` on the thread pool.
    public func resolve(_ host: String, on eventLoop: EventLoop) -> EventLoopFuture<[IPAddress]> {
        if let literal = IPAddress(host) {
            return eventLoop.makeSucceededFuture([literal])
        }
        if let fixed = overrides[host] {
            return eventLoop.makeSucceededFuture(fixed)
        }
        return threadPool.runIfActive(eventLoop: eventLoop) {
            try Self.systemResolve(host)
        }
    }

    /// Parses `HOST:IP` (IPv6 in brackets or bare after the first colon).
    public static func parseOverride(_ text: String) -> (String, IPAddress)? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let host = HostName.normalize(String(text[..<colon]))
        var ipText = String(text[text.index(after: colon)...])
        if ipText.hasPrefix("[") && ipText.hasSuffix("]") { ipText = String(ipText.dropFirst().dropLast()) }
        guard !host.isEmpty, let ip = IPAddress(ipText) else { return nil }
        return (host, ip)
    }

    static func systemResolve(_ host: String) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        guard rc == 0, let first = result else { throw Failure.notFound(host) }
        defer { freeaddrinfo(first) }
        var out: [IPAddress] = []
        var seen = Set<IPAddress>()
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        var count = 0
        while let ai = cursor, count < 64 {
            count += 1
            if let sa = ai.pointee.ai_addr {
                var ip: IPAddress?
                if ai.pointee.ai_family == AF_INET {
                    ip = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                        withUnsafeBytes(of: p.pointee.sin_addr) { IPAddress(bytes: Array($0)) }
                    }
                } else if ai.pointee.ai_family == AF_INET6 {
                    ip = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                        withUnsafeBytes(of: p.pointee.sin6_addr) { IPAddress(bytes: Array($0)) }
                    }
                }
                if let ip, seen.insert(ip).inserted { out.append(ip) }
            }
            cursor = ai.pointee.ai_next
        }
        guard !out.isEmpty else { throw Failure.notFound(host) }
        return out
    }
}

extension IPAddress {
    /// The socket address to dial: built from the vetted bytes, never from a name.
    func socketAddress(port: Int) throws -> SocketAddress {
        let b = bytes
        if b.count == 4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: b) }
            return SocketAddress(sin, host: description)
        } else {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: b) }
            return SocketAddress(sin6, host: description)
        }
    }
}
