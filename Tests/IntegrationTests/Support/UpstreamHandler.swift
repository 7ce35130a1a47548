import Crypto
import Foundation
import NIOCore
import NIOHTTP1

// MARK: - Routes

/// The upstream's HTTP routes, one connection's worth of state.
///
/// | route | answer |
/// |---|---|
/// | `/hello` | `Upstream.helloBody` |
/// | `/echo` | the request body, streamed back as it arrives |
/// | `/headers` | JSON object of the request headers (lowercased names, repeated values joined by ", ") |
/// | `/bytes?n=N` | N bytes of `BytePattern`, 64 KiB at a time while the channel is writable |
/// | `/upload` | `{"bytes": N, "sha256": HEX}` of the request body |
/// | `/chunked` | `Upstream.chunkedParts`, flushed one by one (chunked transfer coding) |
/// | `/reflect-split?h=NAME[&enc=base64]` | the value of request header NAME (or its base64) as the body, in two chunks split in the middle and flushed 50 ms apart; header `x-reflect-b64` carries base64 of the value |
/// | `/sse` | `Upstream.sseEvents` as `text/event-stream`, flushed one by one |
/// | `/ws` | WebSocket echo (handled by the upgrader and `WebSocketEchoHandler`) |
/// | `/slow?ms=N` | `Upstream.slowBody` after N ms (default 500) |
/// | `/sse-echo?n=N` | the request body (first 64 KiB) cut into N-byte pieces, each the `content` of an OpenAI-style `text/event-stream` delta event, flushed 20 ms apart |
/// | `/fixture?name=NAME` | `Upstream.fixtures[NAME]`: a fixed document with its content type |
///
/// Backpressure: reads are held while the channel is not writable, so `/echo` never buffers
/// more than the socket does, and `/bytes` writes only while the channel is writable.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Route {
        case hello, echo, headers, upload, chunked, sse, notFound
        case sseEcho(pieceLength: Int)
        case fixture(String)
        case bytes(Int)
        case reflectSplit(header: String, base64: Bool)
        case slow(milliseconds: Int)
    }

    /// The request being received; a class so body parts update it in place.
    private final class InFlight {
        let head: HTTPRequestHead
        let route: Route
        var hasher = SHA256()
        var length = 0
        var prefix: [UInt8] = []

        init(head: HTTPRequestHead, route: Route) {
            self.head = head
            self.route = route
        }
    }

    private let log: RequestLog
    private let connection: Int
    private var inFlight: InFlight?
    private var readPending = false
    private var isActive = true
    /// `/bytes` progress: total to send, sent so far, keep-alive of its request.
    private var byteStream: (total: Int, sent: Int, keepAlive: Bool)?

    init(log: RequestLog, connection: Int) {
        self.log = log
        self.connection = connection
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let request = InFlight(head: head, route: Self.route(for: head))
            inFlight = request
            if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                let interim = HTTPResponseHead(version: head.version, status: .continue)
                context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
            }
            if case .echo = request.route {
                var headers = HTTPHeaders()
                if let length = head.headers.first(name: "content-length") {
                    headers.add(name: "content-length", value: length)
                }
                // The echo has the request's type, so text stages apply to it both ways.
                headers.add(name: "content-type", value: head.headers.first(name: "content-type") ?? "application/octet-stream")
                if let coding = head.headers.first(name: "content-encoding") {
                    headers.add(name: "content-encoding", value: coding)
                }
                writeHead(context, request: head, status: .ok, headers: headers)
            }
        case .body(let buffer):
            guard let request = inFlight else { return }
            buffer.withUnsafeReadableBytes { request.hasher.update(bufferPointer: $0) }
            request.length += buffer.readableBytes
            if request.prefix.count < RecordedRequest.bodyPrefixLimit {
                request.prefix += buffer.readableBytesView.prefix(
                    RecordedRequest.bodyPrefixLimit - request.prefix.count)
            }
            if case .echo = request.route {
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
        case .end:
            guard let request = inFlight else { return }
            inFlight = nil
            // Recorded before answering, so a client that has the response can read the log.
            log.append(
                RecordedRequest(
                    method: "\(request.head.method)", uri: request.head.uri, headers: request.head.headers,
                    bodyLength: request.length, bodySHA256: request.hasher.finalize().hexString,
                    bodyPrefix: request.prefix, connection: connection))
            respond(context, to: request)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        byteStream = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        isActive = false
        byteStream = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Clients that abort (TLS failures the proxy provokes on purpose, killed curls) land here.
        context.close(promise: nil)
    }

    // MARK: Backpressure

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            if readPending {
                readPending = false
                context.read()
            }
            pumpBytes(context)
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Responses

    private func respond(_ context: ChannelHandlerContext, to request: InFlight) {
        let head = request.head
        switch request.route {
        case .hello:
            sendFull(context, request: head, body: Upstream.helloBody, contentType: "text/plain")
        case .echo:
            finish(context, keepAlive: head.isKeepAlive)
        case .headers:
            var fields: [String: String] = [:]
            for field in head.headers {
                let name = field.name.lowercased()
                fields[name] = fields[name].map { "\($0), \(field.value)" } ?? field.value
            }
            sendFull(context, request: head, body: Self.json(fields), contentType: "application/json")
        case .upload:
            let body = Self.json(
                ["bytes": request.length, "sha256": request.hasher.finalize().hexString] as [String: Any])
            sendFull(context, request: head, body: body, contentType: "application/json")
        case .bytes(let count):
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/octet-stream")
            headers.add(name: "content-length", value: String(count))
            writeHead(context, request: head, status: .ok, headers: headers)
            byteStream = (total: count, sent: 0, keepAlive: head.isKeepAlive)
            pumpBytes(context)
        case .chunked:
            writeHead(context, request: head, status: .ok, headers: ["content-type": "text/plain"])
            sendParts(context, Upstream.chunkedParts.map { Array($0.utf8) }, index: 0, keepAlive: head.isKeepAlive)
        case .sse:
            writeHead(
                context, request: head, status: .ok,
                headers: ["content-type": "text/event-stream", "cache-control": "no-cache"])
            sendParts(context, Upstream.sseEvents.map { Array($0.utf8) }, index: 0, keepAlive: head.isKeepAlive)
        case .reflectSplit(let name, let base64):
            let value = head.headers[name].first ?? ""
            let encodedValue = Data(value.utf8).base64EncodedString()
            let bytes = Array((base64 ? encodedValue : value).utf8)
            let middle = bytes.count / 2
            writeHead(
                context, request: head, status: .ok,
                headers: ["content-type": "text/plain", "x-reflect-b64": encodedValue])
            sendParts(
                context, [Array(bytes[..<middle]), Array(bytes[middle...])], index: 0, keepAlive: head.isKeepAlive)
        case .slow(let milliseconds):
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                guard self.isActive else { return }
                self.sendFull(context, request: head, body: Upstream.slowBody, contentType: "text/plain")
            }
        case .sseEcho(let pieceLength):
            writeHead(
                context, request: head, status: .ok,
                headers: ["content-type": "text/event-stream", "cache-control": "no-cache"])
            var events: [[UInt8]] = []
            var index = 0
            let body = request.prefix
            while index < body.count {
                let piece = String(decoding: body[index..<min(body.count, index + pieceLength)], as: UTF8.self)
                let delta = Self.json(["content": piece])
                events.append(Array("data: {\"choices\":[{\"delta\":\(delta)}]}\n\n".utf8))
                index += pieceLength
            }
            events.append(Array("data: [DONE]\n\n".utf8))
            sendParts(context, events, index: 0, keepAlive: head.isKeepAlive, gap: 20)
        case .fixture(let name):
            if let fixture = Upstream.fixtures[name] {
                sendFull(context, request: head, body: fixture.body, contentType: fixture.contentType)
            } else {
                sendFull(context, request: head, status: .notFound, body: "no such fixture\n", contentType: "text/plain")
            }
        case .notFound:
            sendFull(context, request: head, status: .notFound, body: "no such route\n", contentType: "text/plain")
        }
    }

    /// Writes `/bytes` chunks while the channel is writable; resumed by writability changes.
    private func pumpBytes(_ context: ChannelHandlerContext) {
        while isActive, let stream = byteStream, context.channel.isWritable {
            let remaining = stream.total - stream.sent
            guard remaining > 0 else {
                byteStream = nil
                finish(context, keepAlive: stream.keepAlive)
                return
            }
            let length = min(BytePattern.maxSlice, remaining)
            var buffer = context.channel.allocator.buffer(capacity: length)
            buffer.writeBytes(BytePattern.slice(offset: stream.sent, length: length))
            byteStream = (total: stream.total, sent: stream.sent + length, keepAlive: stream.keepAlive)
            // Flushed one by one: a TLS handler holds unflushed data outside the channel's
            // writability accounting, so only flushed writes make backpressure visible.
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
    }

    /// Sends `parts` as separate flushed body writes 50 ms apart, then ends the response.
    private func sendParts(_ context: ChannelHandlerContext, _ parts: [[UInt8]], index: Int, keepAlive: Bool, gap: Int64 = 50) {
        guard isActive else { return }
        guard index < parts.count else {
            finish(context, keepAlive: keepAlive)
            return
        }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: parts[index])))), promise: nil)
        context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(gap)) {
            self.sendParts(context, parts, index: index + 1, keepAlive: keepAlive, gap: gap)
        }
    }

    private func sendFull(
        _ context: ChannelHandlerContext, request: HTTPRequestHead, status: HTTPResponseStatus = .ok,
        body: String, contentType: String
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.utf8.count))
        writeHead(context, request: request, status: status, headers: headers)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        finish(context, keepAlive: request.isKeepAlive)
    }

    private func writeHead(
        _ context: ChannelHandlerContext, request: HTTPRequestHead, status: HTTPResponseStatus, headers: HTTPHeaders
    ) {
        var headers = headers
        headers.add(name: "x-upstream-connection", value: String(connection))
        if !request.isKeepAlive {
            headers.add(name: "connection", value: "close")
        }
        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
    }

    private func finish(_ context: ChannelHandlerContext, keepAlive: Bool) {
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            // Closed only once the end is on the wire: closing earlier would drop queued bytes.
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    // MARK: Helpers

    private static func route(for head: HTTPRequestHead) -> Route {
        let components = URLComponents(string: head.uri)
        let query = Dictionary(
            (components?.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
        switch components?.path ?? head.uri {
        case "/hello": return .hello
        case "/echo": return .echo
        case "/headers": return .headers
        case "/upload": return .upload
        case "/chunked": return .chunked
        case "/sse": return .sse
        case "/bytes": return .bytes(max(0, Int(query["n"] ?? "") ?? 0))
        case "/reflect-split": return .reflectSplit(header: query["h"] ?? "x-token", base64: query["enc"] == "base64")
        case "/sse-echo": return .sseEcho(pieceLength: max(1, Int(query["n"] ?? "") ?? 6))
        case "/fixture": return .fixture(query["name"] ?? "")
        case "/slow": return .slow(milliseconds: max(0, Int(query["ms"] ?? "") ?? 500))
        default: return .notFound
        }
    }

    private static func json(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
