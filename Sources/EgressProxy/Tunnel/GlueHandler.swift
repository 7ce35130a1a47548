import NIOCore

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

/// The relay mechanics shared by both kinds of glue: hand what this side reads to the partner,
/// stop reading while the partner's channel is not writable and resume when it drains, pass
/// half-closure and closure on. Both sides of a pair live on the same event loop. The
/// subclasses are the channel handlers: they inherit every handler method here and add
/// their own `channelRead`.
class GlueEndpoint: GluePartner {
    private(set) var partner: GluePartner?
    private(set) var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Called once when this side's channel goes inactive (audit of the tunnel).
    var onClose: (() -> Void)?

    /// Pairs `self` with `other` (one direction; pair both).
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

    // MARK: Channel handler methods (the same for both kinds of glue)

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
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
        if event is IdleStateHandler.IdleStateEvent {
            // A tunnel or upgraded connection with no byte either way for the idle timeout.
            context.close(promise: nil)
            return
        }
        if let event = event as? ChannelEvent, case .inputClosed = event {
            partner?.partnerWriteEOF()
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// An error on this side (for the frame glue also a frame the decoder refuses: too
    /// large, malformed) ends the relay.
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

/// Relays raw bytes between two channels with backpressure. Used for tunnels and for
/// upgraded (WebSocket) connections.
final class GlueHandler: GlueEndpoint, ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Counts bytes read on this side (i.e. sent towards the partner).
    private(set) var bytesRead = 0

    private override init() {}

    /// A connected pair: bytes read on `a`'s channel are written to `b`'s channel and back.
    static func matchedPair() -> (GlueHandler, GlueHandler) {
        let a = GlueHandler()
        let b = GlueHandler()
        a.connect(to: b)
        b.connect(to: a)
        return (a, b)
    }

    /// One side, to be paired with `connect(to:)`.
    static func single() -> GlueHandler {
        GlueHandler()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = Self.unwrapInboundIn(data)
        bytesRead += buffer.readableBytes
        partner?.partnerWrite(data)
    }
}
