import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

// MARK: - AdminServer

/// The admin API's own HTTP/1.1 listener (`--admin-listen`), apart from the proxy listener so
/// that sandboxes, which can reach the proxy, need not reach it. Every endpoint but
/// `/healthz` needs `Authorization: Bearer TOKEN`; see `AdminRouter` for the routes.
///
/// Requests are read whole (bodies up to `PolicyLoader.maximumFileSize`) and answered on the
/// thread pool, never on the event loop: a PUT validates, writes a file and reloads.
public final class AdminServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// The most admin connections open at once; more are closed on accept.
        public var maximumConnections: Int
        /// Connections with no traffic for this long are closed.
        public var idleTimeout: TimeAmount

        public init(host: String, port: Int, maximumConnections: Int = 64, idleTimeout: TimeAmount = .seconds(60)) {
            self.host = host
            self.port = port
            self.maximumConnections = maximumConnections
            self.idleTimeout = idleTimeout
        }
    }

    private let configuration: Configuration
    private let router: AdminRouter
    private let group: EventLoopGroup
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var listener: Channel?
        var children: [ObjectIdentifier: Channel] = [:]
    }

    /// - Parameters:
    ///   - threadPool: where requests are answered (started; outlives the server).
    public init(
        configuration: Configuration, token: AdminToken, registry: SandboxRegistry, metrics: ProxyMetrics,
        group: EventLoopGroup, threadPool: NIOThreadPool, logger: Logger
    ) {
        self.configuration = configuration
        self.router = AdminRouter(registry: registry, metrics: metrics, token: token, logger: logger)
        self.group = group
        self.threadPool = threadPool
        self.logger = logger
    }

    /// Binds and starts accepting; returns the bound address (port 0 picks a free port).
    public func start() async throws -> SocketAddress {
        let server = self
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try server.initializeChild(channel) }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        state.withLockedValue { $0.listener = channel }
        guard let address = channel.localAddress else {
            try? await channel.close()
            throw AdminServerError.noAddress
        }
        return address
    }

    private func initializeChild(_ channel: Channel) throws {
        let id = ObjectIdentifier(channel)
        let limit = configuration.maximumConnections
        let admitted = state.withLockedValue { s -> Bool in
            guard s.children.count < limit else { return false }
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
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = 16 * 1024
        limits.maxHeaderFieldSize = 8 * 1024
        limits.maxHeaderFieldCount = 64
        let ops = channel.pipeline.syncOperations
        try ops.addHandler(IdleStateHandler(allTimeout: configuration.idleTimeout))
        try ops.configureHTTPServerPipeline(
            position: .last, withPipeliningAssistance: true, withServerUpgrade: nil,
            withErrorHandling: true, withOutboundHeaderValidation: true,
            withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
        try ops.addHandler(AdminHTTPHandler(router: router, threadPool: threadPool))
    }

    /// Stops accepting and closes every admin connection.
    public func shutdown() async {
        let (listener, children) = state.withLockedValue { ($0.listener, Array($0.children.values)) }
        try? await listener?.close()
        for child in children { try? await child.close() }
    }
}

/// Why the admin listener could not start.
public enum AdminServerError: Error, CustomStringConvertible {
    case noAddress
    public var description: String { "the admin listener has no address" }
}

// MARK: - AdminHTTPHandler

/// Reads one request (head, bounded body, end), answers it on the thread pool, writes the
/// response. Pipelined requests wait in NIO's pipelining handler until the response ends.
final class AdminHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let router: AdminRouter
    private let threadPool: NIOThreadPool
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// The body grew past the bound: the rest of the request is dropped, then 413 and close.
    private var tooLarge = false

    init(router: AdminRouter, threadPool: NIOThreadPool) {
        self.router = router
        self.threadPool = threadPool
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.removeAll(keepingCapacity: false)
            tooLarge = false
            // curl sends `Expect: 100-continue` with any PUT body over 1 KiB and otherwise
            // waits a second before sending it.
            if head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        case .body(var buffer):
            guard !tooLarge else { return }
            if body.count + buffer.readableBytes > AdminRouter.maximumBodySize {
                tooLarge = true
                body.removeAll(keepingCapacity: false)
                return
            }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                write(.error(.payloadTooLarge, "too_large", "the body is larger than \(AdminRouter.maximumBodySize) bytes"),
                      keepAlive: false, context: context)
                return
            }
            let path = String(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            let request = AdminRequest(method: head.method, path: path,
                                       authorization: head.headers.first(name: "Authorization"), body: body)
            body = []
            let keepAlive = head.isKeepAlive
            let router = self.router
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            threadPool.runIfActive(eventLoop: context.eventLoop) { router.respond(to: request) }
                .whenComplete { result in
                    let (handler, context) = bound.value
                    switch result {
                    case .success(let response):
                        handler.write(response, keepAlive: keepAlive, context: context)
                    case .failure:
                        handler.write(.error(.serviceUnavailable, "shutting_down", "the proxy is stopping"),
                                      keepAlive: false, context: context)
                    }
                }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func write(_ response: AdminResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders(response.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        headers.replaceOrAdd(name: "Cache-Control", value: "no-store")
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlushPromise(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

extension ChannelHandlerContext {
    /// `writeAndFlush` returning its future.
    fileprivate func writeAndFlushPromise(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}
