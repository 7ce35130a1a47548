import NIOCore

/// Relays raw bytes between two channels with backpressure: when the peer stops being
/// writable, this side stops reading until the peer drains. Used for tunnels and for
/// upgraded (WebSocket) connections. Both handlers of a pair live on the same event loop.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: GlueHandler?
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

    // MARK: Partner calls

    private func partnerWrite(_ buffer: ByteBuffer) {
        // Flushed at once: bytes handed over by a decoder leaving the pipeline (SNI peek)
        // come without a channelReadComplete that would flush them.
        context?.writeAndFlush(NIOAny(buffer), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerWriteEOF() {
        // Half-close if supported, else close.
        context?.close(mode: .output, promise: nil)
    }

    private func partnerCloseFull() {
        context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var partnerWritable: Bool {
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
        partner?.partnerWrite(buffer)
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

