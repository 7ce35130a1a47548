import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS
import NIOWebSocket
import PolicyEngine

/// The request loop of one client connection, for both roles:
///
/// - `.front`: the plain connection from the sandbox. It takes `CONNECT host:port` (then hands
///   the connection to a tunnel or a MITM session and removes itself) and absolute-form
///   plain-HTTP requests.
/// - `.mitm`: the decrypted inner connection of a CONNECT. Every request must name the CONNECT
///   host; it goes upstream over verified TLS to the address pinned at CONNECT time.
///
/// The stages read top to bottom: target → network decision → rules → secrets → upstream →
/// response (masking) → one audit record, also on failure.
final class ProxyRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    struct MITMTarget {
        var host: String
        var port: Int
        var address: IPAddress
        var connectDecision: Decision
    }

    enum Role {
        case front
        case mitm(MITMTarget)
    }

    let server: ServerContext
    let role: Role
    let pool: UpstreamPool
    let connectionHandoff = ConnectHandoff()
    /// The sandbox of the current request: fixed for a MITM session, resolved per request
    /// (from `Proxy-Authorization` in the gateway) on a front connection.
    private var tenant: (runtime: SandboxRuntime, active: ActivePolicy)?
    /// The peer's address, for source-address tenancy.
    private var remoteAddress: SocketAddress?

    var runtime: SandboxRuntime {
        guard let tenant else { preconditionFailure("no tenant resolved for this request") }
        return tenant.runtime
    }
    var active: ActivePolicy {
        guard let tenant else { preconditionFailure("no tenant resolved for this request") }
        return tenant.active
    }
    private var auditSink: AuditSink { tenant?.runtime.audit ?? server.fallbackAudit }

    /// A dialer with this sandbox's timeouts and the shared verified TLS context.
    func makeDialer() -> UpstreamDialer {
        UpstreamDialer(
            tlsContext: runtime.upstreamTLS,
            connectTimeout: .milliseconds(Int64(limits.upstreamConnectTimeoutSeconds * 1000)),
            responseTimeout: .milliseconds(Int64(limits.idleTimeoutSeconds * 1000)))
    }

    private var context: ChannelHandlerContext?
    private var exchange: Exchange? {
        didSet {
            // Capture on: keep what the sandbox sent and got (bounded) for the HAR entry.
            // The request body is kept as forwarded (after the PII action); bytes of a denied
            // request are dropped unread and never kept.
            if let ex = exchange, ex.captured == nil, let writer = tenant?.runtime.capture {
                ex.captured = CapturedExchange(limit: writer.maxBodyBytes)
            }
        }
    }
    /// Parts of a pipelined next request, replayed when the current exchange ends.
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    private var readPending = false
    private var closeAfterResponse = false
    /// While no exchange runs, the connection closes at this time (header timeout after the
    /// connection opens, idle timeout after an exchange); nil while an exchange runs.
    private var closeWhenIdleAt: NIODeadline?
    /// The one scheduled check of `closeWhenIdleAt`. Re-arming only moves the deadline: a
    /// keep-alive connection schedules no task per request.
    private var idleCheck: Scheduled<Void>?
    private var requestsServed = 0
    /// Sandboxes whose connection slot this connection holds (gateway limits).
    private var admittedSandboxes = Set<String>()
    /// Requests started on this connection so far.
    var servedRequests: Int { requestsServed }
    private var pendingConnect: HTTPRequestHead?
    private var handingOff = false
    /// Set while switching to a raw relay after `101`; reads wait for the new handlers.
    private var upgrading = false
    /// Totals for the MITM session's connect record.
    private(set) var sessionBytesUp = 0
    private(set) var sessionBytesDown = 0

    init(server: ServerContext, role: Role, pool: UpstreamPool, tenant: (SandboxRuntime, ActivePolicy)? = nil) {
        self.server = server
        self.role = role
        self.pool = pool
        self.tenant = tenant.map { (runtime: $0.0, active: $0.1) }
    }

    private var limits: Limits { tenant?.active.policy.limits ?? server.defaultLimits }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        remoteAddress = context.channel.remoteAddress
        closeWhenIdle(after: limits.headerTimeoutSeconds, context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
        if let ex = exchange {
            exchange = nil
            ex.upstream?.channel.close(promise: nil)
            ex.upstream = nil
            if !ex.audited {
                ex.record.detail = ex.record.detail ?? "client closed the connection"
                finishAudit(ex, status: ex.responseStatus)
            }
        }
        context.fireChannelInactive()
    }

    /// Closes the connection `seconds` from now unless an exchange is running then.
    private func closeWhenIdle(after seconds: Double, context: ChannelHandlerContext) {
        let deadline = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))
        closeWhenIdleAt = deadline
        if idleCheck == nil { scheduleIdleCheck(at: deadline, context: context) }
    }

    private func scheduleIdleCheck(at deadline: NIODeadline, context: ChannelHandlerContext) {
        idleCheck = context.eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            guard let self, let ctx = self.context else { return }
            self.idleCheck = nil
            guard let due = self.closeWhenIdleAt, self.exchange == nil else { return }
            if NIODeadline.now() >= due {
                ctx.close(promise: nil)
            } else {
                self.scheduleIdleCheck(at: due, context: ctx)
            }
        }
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = Self.unwrapInboundIn(data)
        if exchange != nil || !queued.isEmpty {
            if case .head = part, exchange != nil || !queued.isEmpty {
                queued.append(part)
                return
            }
            if !queued.isEmpty {
                queued.append(part)
                return
            }
        }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            closeWhenIdleAt = nil
            startExchange(head, context: context)
        case .body(let body):
            guard let ex = exchange else { return }
            ex.record.bytesUp = (ex.record.bytesUp ?? 0) + body.readableBytes
            sessionBytesUp += body.readableBytes
            clientBody(ex, body, context: context)
        case .end:
            if let connect = pendingConnect {
                pendingConnect = nil
                // No more reads on this pipeline: the next bytes belong to the tunnel or TLS,
                // and the handoff asks for them once the new handlers are in place.
                handingOff = true
                connectionHandoff.handleConnect(head: connect, handler: self, context: context)
                return
            }
            guard let ex = exchange else { return }
            ex.requestEnded = true
            clientEnd(ex, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // No byte either way for idle_timeout_seconds. Between requests: close. During an
            // exchange the upstream's response timeout decides (a slow upstream gets 504).
            if exchange == nil && queued.isEmpty && pendingConnect == nil && !handingOff && !upgrading {
                context.close(promise: nil)
            }
            return
        }
        if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
            // The client sent FIN (half-closure is on for tunnels). Nothing more will come:
            // an idle connection closes now, one mid-response after it; a request whose
            // body was cut off is over.
            if pendingConnect != nil || handingOff || upgrading {
                context.fireUserInboundEventTriggered(event)
                return
            }
            if let ex = exchange {
                if ex.requestEnded {
                    closeAfterResponse = true
                } else {
                    ex.record.detail = ex.record.detail ?? "client closed before the request ended"
                    context.close(promise: nil)
                }
            } else if queued.isEmpty {
                context.close(promise: nil)
            } else {
                closeAfterResponse = true
            }
            return
        }
        if event is DrainEvent {
            // Graceful stop: an idle connection closes now, a busy one after its response.
            if exchange == nil && queued.isEmpty {
                context.close(promise: nil)
            } else {
                closeAfterResponse = true
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Parser errors: 431 for oversized heads, 400 for the rest; then close.
        if let parseError = error as? HTTPParserError {
            let status: HTTPResponseStatus = parseError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            if exchange == nil {
                let host: String
                if case .mitm(let t) = role { host = t.host } else { host = "" }
                let (head, body) = DenialResponse.make(
                    status: status, reason: .bad_request, rule: nil, host: host,
                    message: status == .requestHeaderFieldsTooLarge ? "The request head is too large." : "The request could not be parsed.",
                    keepAlive: false, allocator: context.channel.allocator)
                context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
                context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
                var rec = newRecord(host: host, port: 0, mode: modeForRole, decision: .deny(.bad_request))
                rec.status = Int(status.code)
                rec.detail = "parse error: \(parseError)"
                auditSink.write(rec)
                return
            }
        }
        context.close(promise: nil)
    }

    private var modeForRole: ProxyMode {
        if case .mitm = role { return .mitm }
        return .http
    }

    // MARK: - Outbound read gating (backpressure towards the client)

    func read(context: ChannelHandlerContext) {
        if pendingConnect != nil || handingOff || upgrading {
            readPending = true
            return
        }
        if let ex = exchange {
            // Hold reads while deciding, while the upstream can't take more, or once this
            // request is complete (pipelined requests wait in the socket, not in memory).
            let hold: Bool
            switch ex.phase {
            case .deciding: hold = true
            case .forwarding: hold = ex.requestEnded || !(ex.upstream?.channel.isWritable ?? false)
            case .denied: hold = false
            case .done: hold = ex.requestEnded
            }
            if hold {
                readPending = true
                return
            }
        }
        context.read()
    }

    private func resumeClientReads() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            exchange?.upstream?.handler.resumeReading()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Stage 1: target

    private func startExchange(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        requestsServed += 1
        switch role {
        case .front:
            switch server.tenants.resolve(head: head, remoteAddress: remoteAddress) {
            case .tenant(let runtime):
                tenant = (runtime: runtime, active: runtime.currentPolicy)
                if let refusal = admit(runtime, newConnection: true, context: context) {
                    // A refused CONNECT gets its 429 head (NIO sends no body after a CONNECT
                    // response) and the connection closes: no tunnel bytes may follow.
                    if head.method == .CONNECT { closeAfterResponse = true }
                    respondEarly(head: head, status: .tooManyRequests, decision: .deny(.rate_limited), host: "", port: 0,
                                 mode: head.method == .CONNECT ? .tunnel : .http, message: refusal, context: context)
                    return
                }
            case .unauthenticated:
                tenant = nil
                respondEarly(head: head, status: .proxyAuthenticationRequired, decision: .deny(.proxy_auth_required),
                             host: "", port: 0, mode: .http,
                             message: "Proxy authentication required: send Proxy-Authorization: Basic base64(SANDBOX_ID:TOKEN).",
                             context: context)
                return
            }
            if head.method == .CONNECT {
                // Act on the CONNECT once its `.end` arrived, so the HTTP decoder has finished
                // the message before the handoff removes it from the pipeline.
                pendingConnect = head
                return
            }
            guard let target = RequestTarget.parseAbsolute(head.uri), target.scheme == "http" else {
                let reasonText = head.uri.lowercased().hasPrefix("https://")
                    ? "Use CONNECT for https:// URLs (set HTTPS_PROXY)."
                    : "This is a forward proxy: send an absolute-form http:// URL or CONNECT."
                respondEarly(head: head, status: .badRequest, decision: .deny(.bad_request), host: "", port: 0,
                             mode: .http, message: reasonText, context: context)
                return
            }
            let ex = Exchange(head: head, target: target, mode: .http, tls: false, record: newRecord(host: target.host, port: target.port, mode: .http, decision: .allow()))
            exchange = ex
            decideNetworkThenRequest(ex, context: context)

        case .mitm(let mitm):
            if let runtime = tenant?.runtime, let refusal = admit(runtime, newConnection: false, context: context) {
                respondEarly(head: head, status: .tooManyRequests, decision: .deny(.rate_limited), host: mitm.host, port: mitm.port,
                             mode: .mitm, message: refusal, context: context)
                return
            }
            // The inner request must name the CONNECT host (origin form + Host, or absolute form).
            var target: RequestTarget
            if let abs = RequestTarget.parseAbsolute(head.uri) {
                target = abs
            } else if head.uri.hasPrefix("/") {
                let hostHeader = head.headers.first(name: "host") ?? ""
                guard let (h, p) = RequestTarget.parseAuthority(hostHeader, defaultPort: mitm.port) else {
                    respondEarly(head: head, status: .badRequest, decision: .deny(.bad_request), host: mitm.host, port: mitm.port,
                                 mode: .mitm, message: "Missing or invalid Host header.", context: context)
                    return
                }
                target = RequestTarget(scheme: "https", host: h, port: p, pathAndQuery: head.uri)
            } else {
                respondEarly(head: head, status: .badRequest, decision: .deny(.bad_request), host: mitm.host, port: mitm.port,
                             mode: .mitm, message: nil, context: context)
                return
            }
            if target.host != mitm.host || (target.port != mitm.port && !(target.port == 443 && head.uri.hasPrefix("/"))) {
                var rec = newRecord(host: mitm.host, port: mitm.port, mode: .mitm, decision: .deny(.host_mismatch))
                rec.method = head.method.rawValue
                rec.path = RequestTarget.auditPath(target.pathAndQuery)
                rec.detail = "request names \(target.host):\(target.port)"
                respondDenied(head: head, record: rec, status: .misdirectedRequest, context: context)
                return
            }
            target.host = mitm.host
            target.port = mitm.port
            target.scheme = "https"
            var rec = newRecord(host: mitm.host, port: mitm.port, mode: .mitm, decision: .allow())
            rec.ip = mitm.address.description
            let ex = Exchange(head: head, target: target, mode: .mitm, tls: true, record: rec)
            ex.address = mitm.address
            exchange = ex
            decideRequest(ex, context: context)
        }
    }

    /// The sandbox's admission limits (SandboxLimiter): a connection slot the first time this
    /// connection carries the sandbox (freed when it closes), then a request token. Returns
    /// why it is refused (the 429's message), or nil.
    private func admit(_ runtime: SandboxRuntime, newConnection: Bool, context: ChannelHandlerContext) -> String? {
        guard let limiter = runtime.limiter else { return nil }
        if newConnection, !admittedSandboxes.contains(runtime.sandbox) {
            guard limiter.acquireConnection() else {
                closeAfterResponse = true
                return "Too many connections open for this sandbox (limits.max_connections)."
            }
            admittedSandboxes.insert(runtime.sandbox)
            context.channel.closeFuture.whenComplete { _ in limiter.releaseConnection() }
        }
        guard limiter.admitRequest() else {
            return "Too many requests for this sandbox (limits.requests_per_second); retry later."
        }
        return nil
    }

    // MARK: - Stage 2: network decision (plain HTTP; MITM decided at CONNECT)

    private func decideNetworkThenRequest(_ ex: Exchange, context: ChannelHandlerContext) {
        let host = ex.target.host
        let evaluator = RequestEvaluator(active: active)
        if let denied = evaluator.preResolve(host: host) {
            deny(ex, denied, context: context)
            return
        }
        runtime.resolver.resolve(host, on: context.eventLoop).whenComplete { [weak self] result in
            guard let self, let context = self.context, self.exchange === ex else { return }
            switch result {
            case .failure:
                self.fail(ex, ProxyFailure(.upstream, .dns_failure, "name did not resolve"), context: context)
            case .success(let addresses):
                let cd = evaluator.network(host: host, addresses: addresses)
                guard cd.decision.isAllowed, let first = cd.allowedAddresses.first else {
                    if let a = addresses.first { ex.record.ip = a.description }
                    self.deny(ex, cd.decision, context: context)
                    return
                }
                ex.address = first
                ex.record.ip = first.description
                if cd.decision.rule != nil { ex.record.decision.rule = cd.decision.rule }
                self.decideRequest(ex, context: context)
            }
        }
    }

    // MARK: - Stage 3: rules and secrets

    private func decideRequest(_ ex: Exchange, context: ChannelHandlerContext) {
        let head = ex.head
        ex.record.method = head.method.rawValue
        ex.record.path = RequestTarget.auditPath(ex.target.pathAndQuery)

        let target = RequestTargetInfo(scheme: ex.target.scheme, host: ex.target.host, port: ex.target.port, pathAndQuery: ex.target.pathAndQuery)
        let (outcome, inspection, detail) = RequestEvaluator(active: active).request(
            head: head, target: target, tls: ex.tls, inspection: active.inspection)
        ex.isUpgrade = outcome.isUpgrade
        ex.requestInspection = inspection
        if !outcome.decision.isAllowed {
            ex.record.secrets = outcome.refused
            if let detail { ex.record.detail = detail }
            deny(ex, outcome.decision, context: context)
            return
        }
        if outcome.decision.rule != nil { ex.record.decision.rule = outcome.decision.rule }
        ex.substituted = outcome.substituted
        ex.bodyPlan = outcome.bodyPlan
        ex.upstreamHead = outcome.upstreamHead
        ex.masksWebSocketFrames = outcome.masksWebSocketFrames
        connectUpstream(ex, context: context)
    }

    // MARK: - Stage 4: upstream

    private func connectUpstream(_ ex: Exchange, context: ChannelHandlerContext) {
        guard let address = ex.address else {
            fail(ex, ProxyFailure(.internal, .upstream_error, "no address"), context: context)
            return
        }
        let key = UpstreamKey(sandbox: runtime.sandbox, host: ex.target.host, port: ex.target.port, address: address, tls: ex.tls)
        if let conn = pool.takeIdle(key) {
            attach(ex, conn, context: context)
            return
        }
        makeDialer().connectHTTP(key: key, on: context.eventLoop).whenComplete { [weak self] result in
            guard let self, let context = self.context else {
                if case .success(let c) = result { c.channel.close(promise: nil) }
                return
            }
            guard self.exchange === ex else {
                if case .success(let c) = result { c.channel.close(promise: nil) }
                return
            }
            switch result {
            case .success(let conn): self.attach(ex, conn, context: context)
            case .failure(let error): self.fail(ex, ProxyFailure.upstream(error), context: context)
            }
        }
    }

    private func attach(_ ex: Exchange, _ conn: UpstreamConnection, context: ChannelHandlerContext) {
        ex.upstream = conn
        ex.phase = .forwarding
        let sink = ExchangeSink(handler: self, exchange: ex)
        ex.sink = sink
        conn.handler.sink = sink
        let ch = conn.channel
        ch.write(HTTPClientRequestPart.head(ex.upstreamHead), promise: nil)
        // Body parts that arrived while deciding.
        let buffered = ex.bufferedBody
        ex.bufferedBody.removeAll()
        for b in buffered { forwardBody(ex, b) }
        if ex.requestEnded {
            finishUpstreamRequest(ex)
        } else {
            ch.flush()
        }
        resumeClientReads()
    }

    private func clientBody(_ ex: Exchange, _ body: ByteBuffer, context: ChannelHandlerContext) {
        switch ex.phase {
        case .deciding:
            ex.bufferedBody.append(body)
        case .forwarding:
            forwardBody(ex, body)
            ex.upstream?.channel.flush()
        case .denied, .done:
            ex.discarded += body.readableBytes
            if ex.discarded > 8 * 1024 * 1024 { context.close(promise: nil) }
        }
    }

    private func forwardBody(_ ex: Exchange, _ body: ByteBuffer) {
        guard let ch = ex.upstream?.channel else { return }
        var out = body
        if ex.requestInspection?.bodyActive == true {
            // SPEC 6 outbound: PII, env masking, transformations over what the sandbox sent;
            // the secrets are substituted into the result.
            guard let inspected = forwardedOrRefused(ex, ex.requestInspection!.feed(body)) else { return }
            out = inspected
        }
        ex.captured?.appendRequest(out)
        if var plan = ex.bodyPlan {
            let r = plan.feed(out)
            ex.bodyPlan = plan
            if !r.refused.isEmpty {
                refuseMidStream(ex, refused: r.refused)
                return
            }
            out = r.output
        }
        if out.readableBytes > 0 {
            ch.write(HTTPClientRequestPart.body(.byteBuffer(out)), promise: nil)
        }
    }

    private func clientEnd(_ ex: Exchange, context: ChannelHandlerContext) {
        switch ex.phase {
        case .deciding:
            break  // attach() sends the end
        case .forwarding:
            finishUpstreamRequest(ex)
        case .denied:
            ex.phase = .done
            completeExchange(ex, context: context)
        case .done:
            completeExchange(ex, context: context)
        }
    }

    /// The bytes the request inspection lets through, or nil after refusing the request
    /// for what it found.
    private func forwardedOrRefused(_ ex: Exchange, _ step: StageResult) -> ByteBuffer? {
        switch step {
        case .deny(let reason, let detail):
            refuseInspection(ex, reason: reason, detail: detail)
            return nil
        case .forward(let inspected):
            return inspected
        }
    }

    private func finishUpstreamRequest(_ ex: Exchange) {
        guard let ch = ex.upstream?.channel else { return }
        var tail = ByteBuffer()
        if ex.requestInspection?.bodyActive == true {
            guard let inspected = forwardedOrRefused(ex, ex.requestInspection!.finish()) else { return }
            tail = inspected
            ex.captured?.appendRequest(inspected)
        }
        if var plan = ex.bodyPlan {
            var r = plan.feed(tail)
            if r.refused.isEmpty {
                var end = plan.finish()
                r.output.writeBuffer(&end.output)
                r.refused = end.refused
            }
            ex.bodyPlan = plan
            if !r.refused.isEmpty {
                refuseMidStream(ex, refused: r.refused)
                return
            }
            tail = r.output
            ex.substituted.formUnion(plan.substitutedNames)
        }
        if tail.readableBytes > 0 {
            ch.write(HTTPClientRequestPart.body(.byteBuffer(tail)), promise: nil)
        }
        ch.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        ex.upstreamRequestSent = true
    }

    /// The request inspection denied the body (`pii_blocked`, `uninspectable`): the upstream
    /// connection is dropped before the request completes, and the sandbox gets 403.
    private func refuseInspection(_ ex: Exchange, reason: Reason, detail: String) {
        ex.upstream?.handler.detach()
        ex.upstream?.channel.close(promise: nil)
        ex.upstream = nil
        ex.record.detail = detail
        guard let context else { return }
        deny(ex, .deny(reason, rule: RequestEvaluator.inspectionRule(reason)), context: context)
    }

    /// A placeholder of a secret not allowed for this host appeared in the body: the upstream
    /// connection is dropped before the request completes, and the sandbox gets 403.
    private func refuseMidStream(_ ex: Exchange, refused: Set<String>) {
        ex.upstream?.handler.detach()
        ex.upstream?.channel.close(promise: nil)
        ex.upstream = nil
        ex.record.secrets = refused.sorted()
        guard let context else { return }
        deny(ex, .deny(.secret_host_mismatch, rule: refused.sorted().first.map { "secrets.entries.\($0)" }), context: context)
    }

    // MARK: - Stage 5: response

    fileprivate func responseHead(_ ex: Exchange, _ head: HTTPResponseHead) {
        guard let context, exchange === ex else { return }
        let code = head.status.code
        if code >= 100 && code < 200 && code != 101 {
            // 100-continue and other interim responses go through as they are.
            context.writeAndFlush(Self.wrapOutboundOut(.head(head)), promise: nil)
            return
        }
        ex.responseStatus = Int(code)
        if code == 101 && ex.isUpgrade {
            upgrade(ex, head, context: context)
            return
        }
        var out = head
        out.version = ex.head.version
        ex.upstreamReusable = head.isKeepAlive
        HopByHop.strip(&out.headers, keepUpgrade: false)
        ex.captured?.responseHeadAt = .now()
        // SPEC 6 inbound: injection, invisible text, transformations, rehydration, env
        // masking; the secret masking comes after.
        if let plan = active.inspection {
            let inspection = plan.response(
                host: ex.target.host, status: Int(code), headers: out.headers.map { ($0.name, $0.value) },
                requestMethod: ex.head.method.rawValue)
            if inspection.active { ex.responseInspection = inspection }
        }
        if ex.responseInspection?.isBuffering == true {
            // The body is judged before the head goes out (block/sanitize on a document).
            ex.heldHead = out
            ex.responseBuffer = context.channel.allocator.buffer(capacity: 0)
            if active.secrets.isActive { ex.masker = active.secrets.makeResponseMasker() }
            return
        }
        sendClientHead(ex, out, completeBodyLength: nil, context: context)
    }

    /// Edits the head the sandbox gets (inspection, secret masking, framing) and writes it,
    /// or keeps it for the end when the body is buffered (`responseBuffer`).
    /// `completeBodyLength`: the whole (processed) body is known and has this length.
    private func sendClientHead(_ ex: Exchange, _ head: HTTPResponseHead, completeBodyLength: Int?, context: ChannelHandlerContext) {
        var out = head
        let code = head.status.code
        let mayHaveBody = ex.head.method != .HEAD && code != 204 && code != 304
        if ex.responseInspection != nil {
            var pairs = out.headers.map { ($0.name, $0.value) }
            if case .deny(let reason, let detail) = ex.responseInspection!.rewriteHead(&pairs) {
                denyResponse(ex, reason: reason, detail: detail, context: context)
                return
            }
            out.headers = HTTPHeaders(pairs)
        }
        let secrets = active.secrets
        if secrets.isActive {
            var masked = HTTPHeaders()
            for (name, value) in out.headers {
                masked.add(name: name, value: secrets.maskHeaderValue(value))
            }
            out.headers = masked
            if mayHaveBody && ex.masker == nil {
                ex.masker = secrets.makeResponseMasker()
            }
        }
        if let length = completeBodyLength {
            out.headers.remove(name: "transfer-encoding")
            if mayHaveBody { out.headers.replaceOrAdd(name: "Content-Length", value: String(length)) }
        } else if mayHaveBody && (ex.masker != nil || ex.responseInspection?.mayChangeLength == true) {
            // The body may change length: buffer a small one to keep a Content-Length,
            // stream a larger (or unknown) one chunked.
            let cl = out.headers.first(name: "content-length").flatMap(Int.init)
            if let cl, cl <= Exchange.maskBufferLimit {
                ex.responseBuffer = context.channel.allocator.buffer(capacity: cl)
            } else {
                out.headers.remove(name: "content-length")
                if ex.head.version.minor >= 1 {
                    out.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
                } else {
                    closeAfterResponse = true
                }
            }
        }
        if mayHaveBody, !out.headers.contains(name: "content-length"), !out.headers.contains(name: "transfer-encoding") {
            // Close-delimited upstream body: chunk it for HTTP/1.1 clients.
            if ex.head.version.minor >= 1 {
                out.headers.add(name: "Transfer-Encoding", value: "chunked")
            } else {
                closeAfterResponse = true
            }
        }
        if !ex.head.isKeepAlive || closeAfterResponse || ex.isUpgrade {
            closeAfterResponse = true
            out.headers.replaceOrAdd(name: "Connection", value: "close")
        } else if ex.head.version.minor == 0 {
            out.headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        ex.responseStarted = true
        ex.clientHead = out
        ex.captured?.responseHead = out
        if ex.responseBuffer == nil {
            context.write(Self.wrapOutboundOut(.head(out)), promise: nil)
        }
    }

    fileprivate func responseBody(_ ex: Exchange, _ body: ByteBuffer) {
        guard let context, exchange === ex else { return }
        ex.record.bytesDown = (ex.record.bytesDown ?? 0) + body.readableBytes
        sessionBytesDown += body.readableBytes
        var out = body
        if ex.responseInspection != nil {
            switch ex.responseInspection!.feed(body) {
            case .deny(let reason, let detail):
                denyResponse(ex, reason: reason, detail: detail, context: context)
                return
            case .forward(let inspected):
                out = inspected
            }
            if let held = ex.heldHead, ex.responseInspection?.isBuffering == false {
                // Larger than the inspection bound with `on_uninspectable: pass`: stream on.
                ex.heldHead = nil
                ex.responseBuffer = nil
                sendClientHead(ex, held, completeBodyLength: nil, context: context)
                guard exchange === ex, ex.responseStarted else { return }
            }
        }
        deliver(ex, out, context: context)
    }

    /// Masks secrets in processed response bytes and sends (or buffers) them.
    private func deliver(_ ex: Exchange, _ bytes: ByteBuffer, context: ChannelHandlerContext) {
        var out = bytes
        if var masker = ex.masker {
            out = masker.feed(bytes)
            ex.masker = masker
        }
        ex.captured?.appendResponse(out)
        if ex.responseBuffer != nil {
            ex.responseBuffer!.writeBuffer(&out)
            return
        }
        if out.readableBytes > 0 {
            context.writeAndFlush(Self.wrapOutboundOut(.body(.byteBuffer(out))), promise: nil)
        }
    }

    fileprivate func responseEnd(_ ex: Exchange, _ trailers: HTTPHeaders?) {
        guard let context, exchange === ex else { return }
        if let upgradeHead = ex.upgradeHead {
            performUpgrade(ex, upgradeHead, context: context)
            return
        }
        if ex.responseInspection != nil {
            switch ex.responseInspection!.finish() {
            case .deny(let reason, let detail):
                denyResponse(ex, reason: reason, detail: detail, context: context)
                return
            case .forward(let tail):
                if tail.readableBytes > 0 { deliver(ex, tail, context: context) }
            }
        }
        if var masker = ex.masker {
            var tail = masker.finish()
            ex.masker = masker
            ex.captured?.appendResponse(tail)
            if ex.responseBuffer != nil {
                ex.responseBuffer!.writeBuffer(&tail)
            } else if tail.readableBytes > 0 {
                context.write(Self.wrapOutboundOut(.body(.byteBuffer(tail))), promise: nil)
            }
        }
        if let held = ex.heldHead {
            // Buffered: the head goes out now, with the final length.
            ex.heldHead = nil
            let length = ex.responseBuffer?.readableBytes ?? 0
            let buffered = ex.responseBuffer
            ex.responseBuffer = nil
            sendClientHead(ex, held, completeBodyLength: length, context: context)
            guard exchange === ex, ex.responseStarted else { return }
            if let buffered, buffered.readableBytes > 0 {
                context.write(Self.wrapOutboundOut(.body(.byteBuffer(buffered))), promise: nil)
            }
        } else if let buffered = ex.responseBuffer, var head = ex.clientHead {
            head.headers.replaceOrAdd(name: "Content-Length", value: String(buffered.readableBytes))
            head.headers.remove(name: "transfer-encoding")
            ex.captured?.responseHead = head
            context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(buffered))), promise: nil)
            ex.responseBuffer = nil
        }
        ex.responseEnded = true
        ex.phase = .done
        // The upstream connection goes back to the pool only after a clean, complete exchange.
        if let conn = ex.upstream {
            ex.upstream = nil
            if ex.upstreamReusable && ex.upstreamRequestSent {
                pool.release(conn)
            } else {
                conn.handler.detach()
                conn.channel.close(promise: nil)
            }
        }
        let close = closeAfterResponse
        context.writeAndFlush(Self.wrapOutboundOut(.end(trailers))).whenComplete { _ in
            if close { context.close(promise: nil) }
        }
        if !ex.requestEnded {
            // The upstream answered before the request body finished: drop the rest.
            ex.phase = .done
            finishAudit(ex, status: ex.responseStatus)
            return
        }
        completeExchange(ex, context: context)
    }

    /// The response inspection refused the response (`injection_blocked`, `uninspectable`).
    /// Before the head went out the sandbox gets the 403 denial instead; after (a stream),
    /// the stream is cut: the connection closes without the end of the body.
    private func denyResponse(_ ex: Exchange, reason: Reason, detail: String, context: ChannelHandlerContext) {
        ex.record.detail = detail
        if let conn = ex.upstream {
            ex.upstream = nil
            conn.handler.detach()
            conn.channel.close(promise: nil)
        }
        let decision = Decision.deny(reason, rule: RequestEvaluator.inspectionRule(reason))
        ex.heldHead = nil
        ex.responseBuffer = nil
        ex.masker = nil
        if ex.responseStarted {
            ex.record.decision = decision
            finishAudit(ex, status: ex.responseStatus)
            exchange = nil
            context.close(promise: nil)
            return
        }
        deny(ex, decision, context: context)
    }

    fileprivate func upstreamFailed(_ ex: Exchange, _ failure: ProxyFailure) {
        guard let context, exchange === ex else { return }
        ex.upstream = nil
        if ex.responseStarted {
            ex.record.detail = failure.detail
            ex.record.decision = .deny(failure.reason)
            finishAudit(ex, status: ex.responseStatus)
            exchange = nil
            context.close(promise: nil)
            return
        }
        fail(ex, failure, context: context)
    }

    // MARK: - WebSocket (and other) upgrades

    /// The upstream accepted the upgrade: remember the 101 and switch once its `.end` is in
    /// (the response decoder emits it right after the head).
    private func upgrade(_ ex: Exchange, _ head: HTTPResponseHead, context: ChannelHandlerContext) {
        var out = head
        out.version = ex.head.version
        if active.secrets.isActive {
            var masked = HTTPHeaders()
            for (name, value) in out.headers { masked.add(name: name, value: active.secrets.maskHeaderValue(value)) }
            out.headers = masked
        }
        ex.upgradeHead = out
        ex.responseStarted = true
    }

    /// Sends the 101 and turns both connections into a raw byte relay. Client reads are held
    /// throughout, so no frame is read while an HTTP decoder is still in the pipeline; the
    /// upstream decoder hands bytes it already read to the glue when it leaves.
    private func performUpgrade(_ ex: Exchange, _ out: HTTPResponseHead, context: ChannelHandlerContext) {
        guard let conn = ex.upstream else { return }
        ex.upstream = nil
        ex.responseEnded = true
        ex.phase = .done
        conn.handler.detach()
        upgrading = true
        finishAudit(ex, status: 101)
        exchange = nil
        let clientChannel = context.channel
        let upstreamChannel = conn.channel
        // With secrets in the policy, frames from the upstream are decoded and masked (SPEC 5);
        // otherwise (and for other upgrades) bytes are relayed as they are.
        let secrets = active.secrets
        let maskFrames = ex.masksWebSocketFrames
        context.write(Self.wrapOutboundOut(.head(out)), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).flatMap { () -> EventLoopFuture<Void> in
            let c = clientChannel.pipeline.syncOperations
            let u = upstreamChannel.pipeline.syncOperations
            do {
                if maskFrames {
                    let clientGlue = GlueHandler.single()
                    let upstreamGlue = WebSocketMaskingGlue { secrets.makeResponseMasker() }
                    upstreamGlue.connect(client: clientGlue)
                    try c.addHandler(WebSocketFrameEncoder())
                    try c.addHandler(clientGlue)
                    try u.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: WebSocketMaskingGlue.maxFrameSize)))
                    try u.addHandler(upstreamGlue)
                } else {
                    let (clientGlue, upstreamGlue) = GlueHandler.matchedPair()
                    try c.addHandler(clientGlue)
                    try u.addHandler(upstreamGlue)
                }
                if let enc = try? c.handler(type: HTTPResponseEncoder.self) { c.removeHandler(enc, promise: nil) }
                if let v = try? c.handler(type: NIOHTTPResponseHeadersValidator.self) { c.removeHandler(v, promise: nil) }
                c.removeHandler(context: context, promise: nil)
                let clientDecoderGone = clientChannel.eventLoop.makePromise(of: Void.self)
                if let dec = try? c.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self) {
                    c.removeHandler(dec, promise: clientDecoderGone)
                } else {
                    clientDecoderGone.succeed()
                }
                u.removeHandler(conn.handler, promise: nil)
                if let enc = try? u.handler(type: HTTPRequestEncoder.self) { u.removeHandler(enc, promise: nil) }
                if let idle = try? u.handler(type: IdleTimeoutHandler.self) { u.removeHandler(idle, promise: nil) }
                let upstreamDecoderGone = clientChannel.eventLoop.makePromise(of: Void.self)
                if let dec = try? u.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self) {
                    u.removeHandler(dec, promise: upstreamDecoderGone)
                } else {
                    upstreamDecoderGone.succeed()
                }
                return clientDecoderGone.futureResult.and(upstreamDecoderGone.futureResult).map { _ in
                    clientChannel.read()
                    upstreamChannel.read()
                }
            } catch {
                return clientChannel.eventLoop.makeFailedFuture(error)
            }
        }.whenFailure { _ in
            clientChannel.close(promise: nil)
            upstreamChannel.close(promise: nil)
        }
    }

    // MARK: - Denials and failures

    private func deny(_ ex: Exchange, _ decision: Decision, context: ChannelHandlerContext) {
        ex.record.decision = decision
        let status: HTTPResponseStatus = decision.reason == .host_mismatch ? .misdirectedRequest : .forbidden
        sendError(ex, status: status, reason: decision.reason, rule: decision.rule, message: nil, context: context)
    }

    private func fail(_ ex: Exchange, _ failure: ProxyFailure, context: ChannelHandlerContext) {
        ex.record.decision = .deny(failure.reason)
        ex.record.detail = failure.detail
        sendError(ex, status: failure.status, reason: failure.reason, rule: nil, message: nil, context: context)
    }

    private func sendError(_ ex: Exchange, status: HTTPResponseStatus, reason: Reason, rule: String?, message: String?, context: ChannelHandlerContext) {
        ex.upstream?.handler.detach()
        ex.upstream?.channel.close(promise: nil)
        ex.upstream = nil
        ex.bufferedBody.removeAll()
        let keepAlive = ex.head.isKeepAlive && !ex.isUpgrade
        if !keepAlive { closeAfterResponse = true }
        let (head, body) = DenialResponse.make(
            status: status, reason: reason, rule: rule, host: ex.target.host, message: message,
            keepAlive: keepAlive, version: ex.head.version, allocator: context.channel.allocator)
        ex.responseStatus = Int(status.code)
        ex.responseStarted = true
        ex.responseEnded = true
        if let captured = ex.captured {
            captured.resetResponse()
            captured.responseHead = head
            captured.responseHeadAt = .now()
            captured.appendResponse(body)
        }
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let close = closeAfterResponse
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            if close { context.close(promise: nil) }
        }
        if ex.requestEnded {
            ex.phase = .done
            completeExchange(ex, context: context)
        } else {
            // Keep reading (and dropping) the body so the connection stays usable.
            ex.phase = .denied
            finishAudit(ex, status: ex.responseStatus)
            resumeClientReads()
        }
    }

    /// A request refused before any exchange exists (bad request line).
    private func respondEarly(head: HTTPRequestHead, status: HTTPResponseStatus, decision: Decision, host: String, port: Int, mode: ProxyMode, message: String?, context: ChannelHandlerContext) {
        var rec = newRecord(host: host, port: port, mode: mode, decision: decision)
        rec.method = head.method.rawValue
        let target = RequestTarget(scheme: "http", host: host, port: port, pathAndQuery: head.uri)
        let ex = Exchange(head: head, target: target, mode: mode, tls: false, record: rec)
        exchange = ex
        sendError(ex, status: status, reason: decision.reason, rule: decision.rule, message: message, context: context)
    }

    private func respondDenied(head: HTTPRequestHead, record: AuditRecord, status: HTTPResponseStatus, context: ChannelHandlerContext) {
        let target = RequestTarget(scheme: "https", host: record.host, port: record.port, pathAndQuery: head.uri)
        let ex = Exchange(head: head, target: target, mode: record.mode, tls: true, record: record)
        exchange = ex
        sendError(ex, status: status, reason: record.decision.reason, rule: record.decision.rule, message: nil, context: context)
    }

    // MARK: - Completion and audit

    private func completeExchange(_ ex: Exchange, context: ChannelHandlerContext) {
        if !ex.audited { finishAudit(ex, status: ex.responseStatus) }
        guard exchange === ex else { return }
        exchange = nil
        if closeAfterResponse { return }
        closeWhenIdle(after: limits.idleTimeoutSeconds, context: context)
        // Replay a pipelined request, then let the socket deliver more.
        while exchange == nil, let part = queued.popFirst() {
            handle(part, context: context)
        }
        resumeClientReads()
    }

    private func finishAudit(_ ex: Exchange, status: Int?) {
        guard !ex.audited else { return }
        ex.audited = true
        var rec = ex.record
        rec.status = status
        rec.secrets = rec.decision.isAllowed ? ex.substituted.sorted() : rec.secrets
        rec.durationMS = Double((NIODeadline.now() - ex.start).nanoseconds) / 1_000_000
        if rec.bytesUp == nil { rec.bytesUp = 0 }
        if rec.bytesDown == nil { rec.bytesDown = 0 }
        // Inspection results: types, counts, a score. Never values.
        if let request = ex.requestInspection {
            rec.pii = request.findings
        }
        let transformations = (ex.requestInspection?.transformationsApplied ?? 0) + (ex.responseInspection?.transformationsApplied ?? 0)
        if transformations > 0 { rec.transformations = transformations }
        if let injection = ex.responseInspection?.injection { rec.injection = injection }
        auditSink.write(rec)
        if let captured = ex.captured, let tenant, let writer = tenant.runtime.capture {
            let uri = ex.head.uri.lowercased()
            let url = uri.hasPrefix("http://") || uri.hasPrefix("https://")
                ? ex.head.uri
                : CapturedExchange.url(scheme: ex.target.scheme, host: ex.target.host, port: ex.target.port, pathAndQuery: ex.target.pathAndQuery)
            writer.record(captured.entry(request: ex.head, url: url, record: rec, secrets: tenant.active.secrets, mode: ex.mode, now: .now(), start: ex.start))
        }
    }

    func newRecord(host: String, port: Int, mode: ProxyMode, decision: Decision) -> AuditRecord {
        AuditRecord(sandbox: tenant?.runtime.sandbox ?? "", event: .request, decision: decision, host: host, port: port, mode: mode)
    }
}

// MARK: - Exchange

/// The state of one request/response exchange. Loop-confined.
final class Exchange {
    enum Phase { case deciding, forwarding, denied, done }
    /// Responses up to this size are buffered when masking may change their length, so they
    /// keep a `Content-Length`; larger ones stream chunked.
    static let maskBufferLimit = 256 * 1024

    let head: HTTPRequestHead
    let target: RequestTarget
    let mode: ProxyMode
    let tls: Bool
    var record: AuditRecord
    let start = NIODeadline.now()
    var phase: Phase = .deciding
    var address: IPAddress?
    var upstreamHead: HTTPRequestHead
    var upstream: UpstreamConnection?
    var sink: ExchangeSink?
    var bufferedBody: [ByteBuffer] = []
    var discarded = 0
    var requestEnded = false
    var upstreamRequestSent = false
    var responseStarted = false
    var responseEnded = false
    var responseStatus: Int?
    var upstreamReusable = false
    var isUpgrade = false
    var masksWebSocketFrames = false
    var audited = false
    var substituted = Set<String>()
    var bodyPlan: RequestBodyPlan?
    var masker: StreamingReplacer?
    var responseBuffer: ByteBuffer?
    var clientHead: HTTPResponseHead?
    /// The 101 to send once the upstream's upgrade response is complete.
    var upgradeHead: HTTPResponseHead?
    /// Bodies and heads kept for the HAR capture; nil when capture is off.
    var captured: CapturedExchange?
    /// Content inspection of this exchange (SPEC 6); nil when nothing is inspected.
    var requestInspection: RequestInspection?
    var responseInspection: ResponseInspection?
    /// The response head, kept back while the body is judged (buffered inspection).
    var heldHead: HTTPResponseHead?

    init(head: HTTPRequestHead, target: RequestTarget, mode: ProxyMode, tls: Bool, record: AuditRecord) {
        self.head = head
        self.target = target
        self.mode = mode
        self.tls = tls
        self.record = record
        self.upstreamHead = head
    }
}

/// Connects an upstream connection's response events to the exchange that owns it.
final class ExchangeSink: UpstreamResponseSink {
    private weak var handler: ProxyRequestHandler?
    private weak var exchange: Exchange?

    init(handler: ProxyRequestHandler, exchange: Exchange) {
        self.handler = handler
        self.exchange = exchange
    }

    func upstreamResponseHead(_ head: HTTPResponseHead) {
        if let handler, let exchange { handler.responseHead(exchange, head) }
    }
    func upstreamResponseBody(_ body: ByteBuffer) {
        if let handler, let exchange { handler.responseBody(exchange, body) }
    }
    func upstreamResponseEnd(_ trailers: HTTPHeaders?) {
        if let handler, let exchange { handler.responseEnd(exchange, trailers) }
    }
    func upstreamFailed(_ failure: ProxyFailure) {
        if let handler, let exchange { handler.upstreamFailed(exchange, failure) }
    }
    func upstreamWritabilityChanged(writable: Bool) {
        if writable { handler?.upstreamBecameWritable() }
    }
    var clientIsWritable: Bool { handler?.clientWritable ?? true }
}

extension ProxyRequestHandler {
    fileprivate func upstreamBecameWritable() { resumeClientReads() }
    fileprivate var clientWritable: Bool { context?.channel.isWritable ?? true }
}
