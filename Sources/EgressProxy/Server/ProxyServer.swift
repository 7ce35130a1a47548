import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import PolicyEngine

/// The listener: accepts sandbox connections and gives each one an HTTP/1.1 front pipeline.
/// Graceful stop: close the listener, let in-flight connections finish (bounded), flush audit.
public final class ProxyServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    private let context: ServerContext
    private let group: EventLoopGroup
    private let configuration: Configuration
    private let pools: [ObjectIdentifier: UpstreamPool]
    private let state = NIOLockedValueBox(State())

    private struct State {
        var serverChannel: Channel?
        var children: [ObjectIdentifier: Channel] = [:]
    }

    /// A sidecar: every connection belongs to `runtime`'s sandbox.
    public convenience init(runtime: SandboxRuntime, group: EventLoopGroup, configuration: Configuration) {
        self.init(
            context: ServerContext(
                tenants: SingleTenant(runtime), fallbackAudit: runtime.audit,
                defaultLimits: runtime.currentPolicy.policy.limits),
            group: group, configuration: configuration)
    }

    /// Any tenancy (the gateway passes a resolver over its sandbox registry).
    public init(context: ServerContext, group: EventLoopGroup, configuration: Configuration) {
        self.context = context
        self.group = group
        self.configuration = configuration
        var pools: [ObjectIdentifier: UpstreamPool] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = UpstreamPool(eventLoop: loop)
        }
        self.pools = pools
    }

    /// Binds and starts accepting; returns the bound address (port 0 picks a free port).
    public func start() async throws -> SocketAddress {
        let server = self
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try server.initializeChild(channel)
                }
            }
        let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        state.withLockedValue { $0.serverChannel = channel }
        guard let address = channel.localAddress else {
            throw ProxyFailure(.internal, .upstream_error, "listener has no address")
        }
        return address
    }

    private func initializeChild(_ channel: Channel) throws {
        let limits = context.defaultLimits
        let id = ObjectIdentifier(channel)
        let admitted = state.withLockedValue { s -> Bool in
            guard s.children.count < limits.maxConnections else { return false }
            s.children[id] = channel
            return true
        }
        guard admitted else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [state] _ in
            _ = state.withLockedValue { $0.children.removeValue(forKey: id) }
        }
        guard let pool = pools[ObjectIdentifier(channel.eventLoop)] else {
            throw ProxyFailure(.internal, .upstream_error, "no pool for event loop")
        }
        let ops = channel.pipeline.syncOperations
        // Connections that carry no bytes either way for idle_timeout get an idle event: the
        // request handler closes between requests, the tunnel glue closes.
        try ops.addHandler(IdleTimeoutHandler(allTimeout: .milliseconds(Int64(limits.idleTimeoutSeconds * 1000))))
        try ops.configureHTTPServerPipeline(
            position: .last, withPipeliningAssistance: false, withServerUpgrade: nil,
            withErrorHandling: false, withOutboundHeaderValidation: true,
            withEncoderConfiguration: .init(), withDecoderLimitConfiguration: HTTPLimits.decoderLimits)
        try ops.addHandler(ProxyRequestHandler(server: context, role: .front, pool: pool))
    }

    /// Stops accepting, waits up to `grace` for open connections to finish, then closes the
    /// rest and flushes the audit log.
    public func shutdown(grace: TimeAmount = .seconds(10)) async {
        let listener = state.withLockedValue { $0.serverChannel }
        try? await listener?.close()
        // Idle keep-alive connections close now; busy ones after their current response.
        for c in state.withLockedValue({ Array($0.children.values) }) {
            c.pipeline.fireUserInboundEventTriggered(DrainEvent())
        }
        for (_, pool) in pools {
            let p = pool
            try? await p.eventLoop.submit { p.closeAll() }.get()
        }
        let deadline = NIODeadline.now() + grace
        while NIODeadline.now() < deadline {
            let open = state.withLockedValue { $0.children.count }
            if open == 0 { break }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        let rest = state.withLockedValue { Array($0.children.values) }
        for c in rest { try? await c.close() }
        for (_, pool) in pools {
            let p = pool
            try? await p.eventLoop.submit { p.closeAll() }.get()
        }
        context.fallbackAudit.flush()
    }

    /// Connections currently open (for tests and metrics).
    public var openConnections: Int { state.withLockedValue { $0.children.count } }
}

/// Sent through every connection's pipeline on graceful stop.
struct DrainEvent: Sendable {}

