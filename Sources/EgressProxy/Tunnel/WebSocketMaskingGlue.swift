import NIOCore
import NIOWebSocket

/// The upstream side of an upgraded WebSocket relay when the sandbox's policy has secrets:
/// frames from the upstream are decoded (NIOWebSocket's `WebSocketFrameDecoder` sits before
/// this handler), every real secret value in their payloads (also base64 and URL-encoded) is
/// replaced by its placeholder (SPEC 5), and the frames go to the client side, whose
/// `WebSocketFrameEncoder` writes them. A value split across the frames of one message is
/// still found: one streaming masker per message, its held-back bytes end the last frame.
/// Frames from the sandbox go upstream byte for byte.
///
/// Compressed frames can't be masked, so the proxy removes `Sec-WebSocket-Extensions` from the
/// upgrade request when it masks (no `permessage-deflate` is negotiated).
final class WebSocketMaskingGlue: GlueEndpoint, ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The largest frame the decoder takes (larger: the connection closes).
    static let maxFrameSize = 16 << 20

    private let makeMasker: () -> StreamingReplacer
    /// The masker of the data message in progress.
    private var message: StreamingReplacer?
    /// Payload bytes read from the upstream.
    private(set) var bytesRead = 0

    init(makeMasker: @escaping () -> StreamingReplacer) {
        self.makeMasker = makeMasker
    }

    /// A connected pair: `client` relays the sandbox's bytes up, `self` masked frames down.
    func connect(client: GlueHandler) {
        connect(to: client)
        client.connect(to: self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        let payload = frame.unmaskedData
        bytesRead += payload.readableBytes
        var out: ByteBuffer
        switch frame.opcode {
        case .text, .binary, .continuation:
            if message == nil { message = makeMasker() }
            out = message!.feed(payload)
            if frame.fin {
                var tail = message!.finish()
                out.writeBuffer(&tail)
                message = nil
            }
        default:
            // Control frames (close reason, ping data) are masked on their own and stay
            // within the 125 bytes a control frame may carry.
            var masker = makeMasker()
            out = masker.feed(payload)
            var tail = masker.finish()
            out.writeBuffer(&tail)
            if out.readableBytes > 125 { out = out.getSlice(at: out.readerIndex, length: 125) ?? out }
        }
        let masked = WebSocketFrame(fin: frame.fin, opcode: frame.opcode, maskKey: nil, data: out)
        partner?.partnerWrite(NIOAny(masked))
    }
}
