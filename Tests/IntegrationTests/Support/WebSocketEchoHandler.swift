import NIOCore
import NIOWebSocket

// MARK: - WebSocket echo

/// Echoes text and binary frames back unmasked, answers pings, and closes on a close frame.
/// Fragmented messages are echoed frame by frame, which is all the tests need. A text frame
/// `big:N` is answered with one text frame of N bytes (up to 64 MiB).
final class WebSocketEchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var closeSent = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary, .continuation:
            var data = frame.unmaskedData
            if frame.opcode == .text, let text = data.getString(at: data.readerIndex, length: data.readableBytes),
               text.hasPrefix("big:"), let size = Int(text.dropFirst(4)), size > 0, size <= 64 << 20 {
                // `big:N`: one text frame of N bytes, for frame-size limits.
                data = context.channel.allocator.buffer(repeating: UInt8(ascii: "a"), count: size)
            }
            let echo = WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: data)
            context.writeAndFlush(wrapOutboundOut(echo), promise: nil)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            guard !closeSent else {
                context.close(promise: nil)
                return
            }
            closeSent = true
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
