import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS
import PolicyEngine

/// Handles `CONNECT host:port` on a front connection: network decision, then either a
/// tunnel (dial the pinned address, check the ClientHello's SNI, relay bytes) or a MITM
/// session (TLS with a minted leaf, then a `.mitm` request loop). Always one connect record.
struct ConnectHandoff {

    func handleConnect(head: HTTPRequestHead, handler: ProxyRequestHandler, context: ChannelHandlerContext) {
        let runtime = handler.runtime
        let active = handler.active
        let dialer = handler.makeDialer()
        let started = NIODeadline.now()
        guard let (host, port) = RequestTarget.parseAuthority(head.uri, defaultPort: 443) else {
            respond(context: context, handler: handler, status: .badRequest, decision: .deny(.bad_request), host: head.uri, port: 0,
                    mode: .tunnel, message: "CONNECT needs host:port.", started: started)
            return
        }
        var record = handler.newRecord(host: host, port: port, mode: .tunnel, decision: .allow())
        record.event = .connect
        record.method = "CONNECT"
        let evaluator = RequestEvaluator(active: active)
        record.mode = evaluator.connectMode(host: host)
        let intercept = record.mode == .mitm

        if let denied = evaluator.preResolve(host: host) {
            record.decision = denied
            respond(context: context, handler: handler, status: .forbidden, record: record, started: started)
            return
        }
        let eventLoop = context.eventLoop
        let loopBoundContext = NIOLoopBound(context, eventLoop: eventLoop)
        runtime.resolver.resolve(host, on: eventLoop).whenComplete { result in
            let context = loopBoundContext.value
            guard context.channel.isActive else { return }
            var record = record
            let addresses: [IPAddress]
            switch result {
            case .failure:
                record.decision = .deny(.dns_failure)
                record.detail = "name did not resolve"
                respond(context: context, handler: handler, status: .badGateway, record: record, started: started)
                return
            case .success(let a):
                addresses = a
            }
            let cd = evaluator.network(host: host, addresses: addresses)
            guard cd.decision.isAllowed, let address = cd.allowedAddresses.first else {
                record.decision = cd.decision
                record.ip = addresses.first?.description
                respond(context: context, handler: handler, status: .forbidden, record: record, started: started)
                return
            }
            record.decision = cd.decision
            record.ip = address.description
            if intercept {
                startMITM(context: context, handler: handler, dialer: dialer, host: host, port: port, address: address, record: record, started: started)
            } else {
                startTunnel(context: context, handler: handler, dialer: dialer, host: host, port: port, address: address, record: record, started: started)
            }
        }
    }

    // MARK: - Responses on the front connection

    private func respond(context: ChannelHandlerContext, handler: ProxyRequestHandler, status: HTTPResponseStatus, record: AuditRecord, started: NIODeadline) {
        var record = record
        record.status = Int(status.code)
        record.durationMS = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
        handler.runtime.audit.write(record)
        let (head, body) = DenialResponse.make(
            status: status, reason: record.decision.reason, rule: record.decision.rule, host: record.host,
            keepAlive: false, allocator: context.channel.allocator)
        handler.runtime.capture?.record(.connect(record: record, elapsed: .now() - started, responseBody: body))
        // NIO's response encoder (rightly, for a 2xx) writes no body for a response to CONNECT;
        // a denial must carry its JSON body, so it bypasses the encoder.
        let ops = context.pipeline.syncOperations
        if let enc = try? ops.handler(type: HTTPResponseEncoder.self) { ops.removeHandler(enc, promise: nil) }
        if let v = try? ops.handler(type: NIOHTTPResponseHeadersValidator.self) { ops.removeHandler(v, promise: nil) }
        let raw = DenialResponse.serialize(head: head, body: body, allocator: context.channel.allocator)
        context.writeAndFlush(NIOAny(raw)).whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func respond(context: ChannelHandlerContext, handler: ProxyRequestHandler, status: HTTPResponseStatus, decision: Decision,
                         host: String, port: Int, mode: ProxyMode, message: String?, started: NIODeadline) {
        var record = handler.newRecord(host: host, port: port, mode: mode, decision: decision)
        record.event = .connect
        record.method = "CONNECT"
        respond(context: context, handler: handler, status: status, record: record, started: started)
    }

    /// Sends `200` to the CONNECT (through the HTTP encoder, which frames it without a body)
    /// and removes the HTTP codec and the front handler, leaving the raw byte stream.
    private func switchToRaw(context: ChannelHandlerContext, handler: ProxyRequestHandler) -> EventLoopFuture<Void> {
        let head = HTTPResponseHead(version: .http1_1, status: .ok)
        let channel = context.channel
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        return context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).flatMap {
            let ops = channel.pipeline.syncOperations
            do {
                let enc = try ops.handler(type: HTTPResponseEncoder.self)
                let dec = try ops.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                ops.removeHandler(enc, promise: nil)
                if let validator = try? ops.handler(type: NIOHTTPResponseHeadersValidator.self) {
                    ops.removeHandler(validator, promise: nil)
                }
                ops.removeHandler(context: context, promise: nil)
                // The decoder leaves the pipeline on a later tick; the next handlers go in only
                // after it is gone, so no byte of the tunnel is parsed as HTTP.
                let removed = channel.eventLoop.makePromise(of: Void.self)
                ops.removeHandler(dec, promise: removed)
                return removed.futureResult
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
    }

    // MARK: - Tunnel

    private func startTunnel(context: ChannelHandlerContext, handler: ProxyRequestHandler, dialer: UpstreamDialer, host: String, port: Int,
                             address: IPAddress, record: AuditRecord, started: NIODeadline) {
        let clientChannel = context.channel
        let runtime = handler.runtime
        let eventLoop = context.eventLoop
        let loopBoundContext = NIOLoopBound(context, eventLoop: eventLoop)
        dialer.connectRaw(address: address, port: port, on: eventLoop).whenComplete { result in
            let context = loopBoundContext.value
            var record = record
            switch result {
            case .failure(let error):
                let f = ProxyFailure.upstream(error)
                record.decision = .deny(f.reason)
                record.detail = f.detail
                respond(context: context, handler: handler, status: f.status, record: record, started: started)
            case .success(let upstream):
                let record = record
                guard clientChannel.isActive else {
                    upstream.close(promise: nil)
                    return
                }
                switchToRaw(context: context, handler: handler).flatMapThrowing {
                    // Check the ClientHello's SNI against the CONNECT host, then glue.
                    let isName = IPAddress(host) == nil
                    let sni = ByteToMessageHandler(SNIHandler { result in
                        if isName, case .hostname(let name) = result, HostName.normalize(name) != host {
                            var r = record
                            r.decision = .deny(.sni_mismatch)
                            r.detail = "ClientHello names another server"
                            r.status = nil
                            r.durationMS = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
                            runtime.audit.write(r)
                            runtime.capture?.record(.connect(record: r, elapsed: .now() - started))
                            clientChannel.close(promise: nil)
                            upstream.close(promise: nil)
                            return clientChannel.eventLoop.makeFailedFuture(ProxyFailure(.downstream, .sni_mismatch, "sni"))
                        }
                        return glue(client: clientChannel, upstream: upstream, record: record, started: started, runtime: runtime)
                    })
                    try clientChannel.pipeline.syncOperations.addHandler(sni)
                    clientChannel.read()
                }.whenFailure { _ in
                    clientChannel.close(promise: nil)
                    upstream.close(promise: nil)
                }
            }
        }
    }

    private func glue(client: Channel, upstream: Channel, record: AuditRecord, started: NIODeadline, runtime: SandboxRuntime) -> EventLoopFuture<Void> {
        let (clientGlue, upstreamGlue) = GlueHandler.matchedPair()
        let audited = NIOLoopBoundBox(false, eventLoop: client.eventLoop)
        let writeRecord: () -> Void = {
            guard !audited.value else { return }
            audited.value = true
            var r = record
            r.status = 200
            r.bytesUp = clientGlue.bytesRead
            r.bytesDown = upstreamGlue.bytesRead
            r.durationMS = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
            runtime.audit.write(r)
            runtime.capture?.record(.connect(record: r, elapsed: .now() - started))
        }
        clientGlue.onClose = writeRecord
        upstreamGlue.onClose = writeRecord
        do {
            try client.pipeline.syncOperations.addHandler(clientGlue)
            try upstream.pipeline.syncOperations.addHandler(upstreamGlue)
        } catch {
            return client.eventLoop.makeFailedFuture(error)
        }
        return client.eventLoop.makeSucceededVoidFuture()
    }

    // MARK: - MITM

    private func startMITM(context: ChannelHandlerContext, handler: ProxyRequestHandler, dialer: UpstreamDialer, host: String, port: Int,
                           address: IPAddress, record: AuditRecord, started: NIODeadline) {
        let clientChannel = context.channel
        let runtime = handler.runtime
        let active = handler.active
        let pool = handler.pool
        let server = handler.server
        let eventLoop = context.eventLoop
        let loopBoundContext = NIOLoopBound(context, eventLoop: eventLoop)
        // Mint (or fetch) the leaf off the event loop before answering 200, so a failure
        // can still be reported as an HTTP error.
        runtime.leafCache.serverContext(forHost: host, eventLoop: eventLoop).whenComplete { result in
            let context = loopBoundContext.value
            guard clientChannel.isActive else { return }
            let sslContext: NIOSSLContext
            switch result {
            case .failure(let error):
                var failed = record
                failed.decision = .deny(.upstream_error)
                failed.detail = "leaf certificate: \(error)"
                respond(context: context, handler: handler, status: .internalServerError, record: failed, started: started)
                return
            case .success(let c):
                sslContext = c
            }
            let target = ProxyRequestHandler.MITMTarget(host: host, port: port, address: address, connectDecision: record.decision)
            switchToRaw(context: context, handler: handler).flatMapThrowing {
                let isName = IPAddress(host) == nil
                let sni = ByteToMessageHandler(SNIHandler { result in
                    if isName, case .hostname(let name) = result, HostName.normalize(name) != host {
                        var r = record
                        r.decision = .deny(.sni_mismatch)
                        r.detail = "ClientHello names another server"
                        r.durationMS = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
                        runtime.audit.write(r)
                        runtime.capture?.record(.connect(record: r, elapsed: .now() - started))
                        clientChannel.close(promise: nil)
                        return clientChannel.eventLoop.makeFailedFuture(ProxyFailure(.downstream, .sni_mismatch, "sni"))
                    }
                    do {
                        // Half-closure is for raw tunnels. Under TLS the client's FIN must end
                        // the channel: with it on, NIOSSL's close waits for a close_notify the
                        // client never sends, and the socket sits in CLOSE-WAIT (holding a
                        // max_connections slot) until the idle timeout.
                        try clientChannel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: false)
                        let ops = clientChannel.pipeline.syncOperations
                        try ops.addHandler(NIOSSLServerHandler(context: sslContext))
                        try ops.configureHTTPServerPipeline(
                            position: .last, withPipeliningAssistance: false, withServerUpgrade: nil,
                            withErrorHandling: false, withOutboundHeaderValidation: true,
                            withEncoderConfiguration: .init(), withDecoderLimitConfiguration: HTTPLimits.decoderLimits)
                        let inner = ProxyRequestHandler(
                            server: server, role: .mitm(target), pool: pool, tenant: (runtime, active))
                        try ops.addHandler(inner)
                        // One connect record per MITM session, written when it ends.
                        clientChannel.closeFuture.whenComplete { _ in
                            var r = record
                            r.status = 200
                            r.bytesUp = inner.sessionBytesUp
                            r.bytesDown = inner.sessionBytesDown
                            r.durationMS = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
                            runtime.audit.write(r)
                            // A session without an inner request (the client gave up in the
                            // handshake, say) is captured as its CONNECT.
                            if inner.servedRequests == 0 {
                                runtime.capture?.record(.connect(record: r, elapsed: .now() - started))
                            }
                        }
                        return clientChannel.eventLoop.makeSucceededVoidFuture()
                    } catch {
                        return clientChannel.eventLoop.makeFailedFuture(error)
                    }
                })
                try clientChannel.pipeline.syncOperations.addHandler(sni)
                clientChannel.read()
            }.whenFailure { _ in
                clientChannel.close(promise: nil)
            }
        }
    }
}
