import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PolicyEngine

// MARK: - Response sink

/// Receives one upstream response. The request handler that owns the current exchange
/// implements it; all calls happen on the connection's event loop.
protocol UpstreamResponseSink: AnyObject {
    func upstreamResponseHead(_ head: HTTPResponseHead)
    func upstreamResponseBody(_ body: ByteBuffer)
    func upstreamResponseEnd(_ trailers: HTTPHeaders?)
    func upstreamFailed(_ failure: ProxyFailure)
    /// The upstream channel can take more request bytes again.
    func upstreamWritabilityChanged(writable: Bool)
    /// Whether the client side can take more response bytes (gates upstream reads).
    var clientIsWritable: Bool { get }
}

// MARK: - Pool key

/// Upstream connections are pooled per sandbox, host, port, pinned address and scheme, so a
/// connection that carried one sandbox's secret never serves another sandbox or host.
struct UpstreamKey: Hashable {
    var sandbox: String
    var host: String
    var port: Int
    var address: IPAddress
    var tls: Bool
}

// MARK: - Connection

/// One upstream HTTP/1.1 connection: [TLS] → request encoder → response decoder → handler.
final class UpstreamConnection {
    let key: UpstreamKey
    let channel: Channel
    let handler: UpstreamHandler
    /// True once it has served a request (a reused connection may have been closed by the
    /// server meanwhile; the caller can retry a body-less request once).
    var reused = false

    init(key: UpstreamKey, channel: Channel, handler: UpstreamHandler) {
        self.key = key
        self.channel = channel
        self.handler = handler
    }

    var isUsable: Bool { channel.isActive && !handler.closedOrFailed }
}

/// Inbound side of an upstream connection: forwards response parts to the current sink and
/// holds reads while the client cannot take more bytes.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    weak var sink: UpstreamResponseSink?
    private(set) var closedOrFailed = false
    private var pendingRead = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head): sink?.upstreamResponseHead(head)
        case .body(let body): sink?.upstreamResponseBody(body)
        case .end(let trailers): sink?.upstreamResponseEnd(trailers)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(ProxyFailure.upstream(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ProxyFailure(.upstream, .upstream_error, "upstream closed the connection"))
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? IdleStateHandler.IdleStateEvent, e == .read || e == .all {
            fail(ProxyFailure(.upstream, .upstream_timeout, "no response in time"))
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func fail(_ failure: ProxyFailure) {
        guard !closedOrFailed else { return }
        closedOrFailed = true
        let s = sink
        sink = nil
        s?.upstreamFailed(failure)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        sink?.upstreamWritabilityChanged(writable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    // MARK: Read gating (backpressure towards the upstream)

    func read(context: ChannelHandlerContext) {
        if let sink, !sink.clientIsWritable {
            pendingRead = true
        } else {
            context.read()
        }
    }

    /// The client drained: resume reading from the upstream.
    func resumeReading() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    /// Detaches from the current exchange (returning to the pool).
    func detach() {
        sink = nil
    }
}

// MARK: - Pool

/// Idle upstream connections of one event loop. Loop-confined: only touched from `eventLoop`.
final class UpstreamPool: @unchecked Sendable {
    // @unchecked: every method asserts it runs on `eventLoop`; the state is loop-confined.
    let eventLoop: EventLoop
    private var idle: [UpstreamKey: [UpstreamConnection]] = [:]
    private let maxIdlePerKey = 16
    private let idleTimeout: TimeAmount = .seconds(30)

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// An idle connection for `key` that is still open, if any.
    func takeIdle(_ key: UpstreamKey) -> UpstreamConnection? {
        eventLoop.preconditionInEventLoop()
        while var list = idle[key], let conn = list.popLast() {
            idle[key] = list.isEmpty ? nil : list
            if conn.isUsable {
                conn.reused = true
                return conn
            }
        }
        return nil
    }

    /// Returns a connection whose exchange completed cleanly.
    func release(_ conn: UpstreamConnection) {
        eventLoop.preconditionInEventLoop()
        conn.handler.detach()
        guard conn.isUsable else { return }
        var list = idle[conn.key] ?? []
        guard list.count < maxIdlePerKey else {
            conn.channel.close(promise: nil)
            return
        }
        list.append(conn)
        idle[conn.key] = list
        // Close it if it stays idle too long; a server-side close removes it lazily.
        let key = conn.key
        eventLoop.scheduleTask(in: idleTimeout) { [weak self, weak conn] in
            guard let self, let conn, var list = self.idle[key],
                let i = list.firstIndex(where: { $0 === conn })
            else { return }
            list.remove(at: i)
            self.idle[key] = list.isEmpty ? nil : list
            conn.channel.close(promise: nil)
        }
    }

    func closeAll() {
        eventLoop.preconditionInEventLoop()
        for (_, list) in idle { for c in list { c.channel.close(promise: nil) } }
        idle = [:]
    }
}

/// Dials upstream connections: to a vetted `SocketAddress` only (never by name), TLS with the
/// shared verified client context and SNI = host.
struct UpstreamDialer {
    let tlsContext: NIOSSLContext
    let connectTimeout: TimeAmount
    let responseTimeout: TimeAmount

    /// Connects and sets up the HTTP/1.1 client pipeline.
    func connectHTTP(key: UpstreamKey, on eventLoop: EventLoop) -> EventLoopFuture<UpstreamConnection> {
        let address: SocketAddress
        do {
            address = try key.address.socketAddress(port: key.port)
        } catch {
            return eventLoop.makeFailedFuture(ProxyFailure(.internal, .upstream_error, "bad address"))
        }
        let tlsContext = self.tlsContext
        let responseTimeout = self.responseTimeout
        let handlerBox = NIOLoopBoundBox<UpstreamHandler?>(nil, eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.autoRead, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    if key.tls {
                        try ops.addHandler(UpstreamTLS.makeClientHandler(context: tlsContext, host: key.host))
                    }
                    try ops.addHandler(IdleTimeoutHandler(readTimeout: responseTimeout))
                    try ops.addHandler(HTTPRequestEncoder())
                    try ops.addHandler(
                        ByteToMessageHandler(
                            HTTPResponseDecoder(
                                leftOverBytesStrategy: .forwardBytes,
                                informationalResponseStrategy: .forward,
                                limitConfiguration: HTTPLimits.decoderLimits)),
                        name: "upstream-decoder")
                    let h = UpstreamHandler()
                    try ops.addHandler(h, name: "upstream-handler")
                    handlerBox.value = h
                }
            }
            .connect(to: address)
            .flatMapErrorThrowing { throw ProxyFailure.upstream($0) }
            .flatMapThrowing { channel in
                guard let h = handlerBox.value else {
                    throw ProxyFailure(.internal, .upstream_error, "pipeline not set up")
                }
                return UpstreamConnection(key: key, channel: channel, handler: h)
            }
    }

    /// A raw TCP connection for a tunnel (no TLS, no HTTP).
    func connectRaw(address: IPAddress, port: Int, on eventLoop: EventLoop) -> EventLoopFuture<Channel> {
        let sa: SocketAddress
        do {
            sa = try address.socketAddress(port: port)
        } catch {
            return eventLoop.makeFailedFuture(ProxyFailure(.internal, .upstream_error, "bad address"))
        }
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .connect(to: sa)
            .flatMapErrorThrowing { throw ProxyFailure.upstream($0) }
    }
}

/// Explicit HTTP/1 parsing limits (NIO's defaults changed across releases).
enum HTTPLimits {
    /// Total size of the request line plus headers; larger gets 431.
    static let maxHeaderListSize = 60 * 1024
    static let maxHeaderFieldSize = 60 * 1024
    static let maxHeaderCount = 100

    static var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var c = NIOHTTPDecoderLimitConfiguration()
        c.maxHeaderListSize = maxHeaderListSize
        c.maxHeaderFieldSize = maxHeaderFieldSize
        c.maxHeaderFieldCount = maxHeaderCount
        return c
    }
}
