import NIOCore

/// Relays raw bytes between two channels with backpressure: when the peer stops being
/// writable, this side stops reading until the peer drains. Used for tunnels and for
/// upgraded (WebSocket) connections. Both handlers of a pair live on the same event loop.
/// One side of a relay as its partner sees it: write what the other side read, flush, pass
/// on end-of-input and close, and say whether it can take more (backpressure).
protocol GluePartner: AnyObject {
    func partnerWrite(_ data: NIOAny)
    func partnerFlush()
    func partnerWriteEOF()
    func partnerCloseFull()
    func partnerBecameWritable()
    var partnerWritable: Bool { get }
}

final class GlueHandler: ChannelDuplexHandler, GluePartner {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: GluePartner?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Counts bytes read on this side (i.e. sent towards the partner).
    private(set) var bytesRead = 0
    /// Transforms bytes read on this side before they go to the partner (e.g. masking).
    private let transform: ((ByteBuffer) -> ByteBuffer)?
    var onClose: (() -> Void)?

    private init(transform: ((ByteBuffer) -> ByteBuffer)?) {
        self.transform = transform
    }

    /// A connected pair: bytes read on `a`'s channel are written to `b`'s channel and back.
    static func matchedPair(
        transformAToB: ((ByteBuffer) -> ByteBuffer)? = nil,
        transformBToA: ((ByteBuffer) -> ByteBuffer)? = nil
    ) -> (GlueHandler, GlueHandler) {
        let a = GlueHandler(transform: transformAToB)
        let b = GlueHandler(transform: transformBToA)
        a.partner = b
        b.partner = a
        return (a, b)
    }

    /// One side, to be paired with `connect(to:)`.
    static func single() -> GlueHandler {
        GlueHandler(transform: nil)
    }

    /// Pairs `self` with a partner of another kind (the WebSocket masking side).
    func connect(to other: GluePartner) {
        partner = other
    }

    // MARK: Partner calls

    func partnerWrite(_ data: NIOAny) {
        // Flushed at once: bytes handed over by a decoder leaving the pipeline (SNI peek)
        // come without a channelReadComplete that would flush them.
        context?.writeAndFlush(data, promise: nil)
    }

    func partnerFlush() {
        context?.flush()
    }

    func partnerWriteEOF() {
        // Half-close if supported, else close.
        context?.close(mode: .output, promise: nil)
    }

    func partnerCloseFull() {
        context?.close(promise: nil)
    }

    func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    var partnerWritable: Bool {
        context?.channel.isWritable ?? false
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        bytesRead += buffer.readableBytes
        if let transform { buffer = transform(buffer) }
        partner?.partnerWrite(NIOAny(buffer))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        onClose?()
        onClose = nil
        partner?.partnerCloseFull()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            partner?.partnerWriteEOF()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}

