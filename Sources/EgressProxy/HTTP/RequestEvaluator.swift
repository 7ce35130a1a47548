import NIOCore
import NIOHTTP1
import PolicyEngine

/// The decision stages of the request path as pure functions of a policy: the live proxy
/// calls them with what it sees on the wire, the dry-run with what a capture recorded, so
/// both decide the same request the same way.
public struct RequestEvaluator: Sendable {
    public let active: ActivePolicy

    public init(active: ActivePolicy) {
        self.active = active
    }

    public var policy: CompiledPolicy { active.policy }

    // MARK: - Connection stage (SPEC section 4)

    /// Step 1 (host deny list), before any lookup.
    public func preResolve(host: String) -> Decision? {
        policy.hostDecision(host: host)
    }

    /// Steps 2-6 over the resolved addresses: the decision and the address to dial.
    public func network(host: String, addresses: [IPAddress]) -> ConnectDecision {
        policy.connectDecision(host: host, addresses: addresses)
    }

    /// How an allowed CONNECT to `host` is carried.
    public func connectMode(host: String) -> ProxyMode {
        policy.shouldIntercept(host: host) ? .mitm : .tunnel
    }

    // MARK: - Request stage (SPEC section 3: rules, then secrets)

    /// The outcome of the rule and secret stages for one request.
    public struct RequestOutcome {
        /// Allow (with the matching rule's path, if any) or the denial.
        public var decision: Decision
        /// The request head to send upstream: hop-by-hop fields removed, origin form,
        /// placeholders replaced by real values where allowed. Meaningful when allowed.
        public var upstreamHead: HTTPRequestHead
        /// Secrets substituted in the head (the body may add more).
        public var substituted: Set<String>
        /// Secrets whose placeholders this host may not receive (the denial names them).
        public var refused: [String]
        /// Streams the body through substitution and refusal detection; nil when not needed.
        public var bodyPlan: RequestBodyPlan?
        public var isUpgrade: Bool
        /// A WebSocket upgrade under a policy with secrets: frames from the upstream are
        /// masked after the `101`, so no compression extension is offered upstream.
        public var masksWebSocketFrames = false
    }

    /// Rules, then secrets, for a request to `target` (`tls`: over verified TLS to that host).
    public func request(head: HTTPRequestHead, target: RequestTargetInfo, tls: Bool) -> RequestOutcome {
        var upstreamHead = head
        upstreamHead.uri = target.pathAndQuery
        let isUpgrade = head.headers.contains(name: "upgrade")
        HopByHop.strip(&upstreamHead.headers, keepUpgrade: isUpgrade)
        let masksWebSocketFrames = isUpgrade && active.secrets.isActive
            && head.headers["upgrade"].contains { $0.lowercased().contains("websocket") }
        if masksWebSocketFrames {
            upstreamHead.headers.remove(name: "sec-websocket-extensions")
        }
        if upstreamHead.headers["host"].isEmpty {
            upstreamHead.headers.add(name: "Host", value: target.hostHeader)
        }
        var outcome = RequestOutcome(
            decision: .allow(), upstreamHead: upstreamHead, substituted: [], refused: [], bodyPlan: nil,
            isUpgrade: isUpgrade, masksWebSocketFrames: masksWebSocketFrames)

        let rule = policy.ruleDecision(host: target.host, method: head.method.rawValue, path: target.path)
        if !rule.isAllowed {
            outcome.decision = rule
            return outcome
        }
        outcome.decision = rule

        let secrets = active.secrets
        guard secrets.isActive else { return outcome }
        let plan = secrets.requestPlan(host: target.host, overTLS: tls)
        var substituted = Set<String>()
        var refused = Set<String>()
        var newHeaders = HTTPHeaders()
        for (name, value) in upstreamHead.headers {
            let r = plan.substituteHeader(name: name, value: value)
            substituted.formUnion(r.substituted)
            refused.formUnion(r.refused)
            newHeaders.add(name: name, value: r.value)
        }
        upstreamHead.headers = newHeaders
        // Never substituted in the path, but a placeholder there still must not leak to a
        // host the secret isn't allowed on.
        refused.formUnion(plan.refusedIn(target.path))
        if let q = target.query {
            let r = plan.substituteQuery(q)
            substituted.formUnion(r.substituted)
            refused.formUnion(r.refused)
            upstreamHead.uri = target.path + "?" + r.value
        }
        if !refused.isEmpty {
            let names = refused.sorted()
            outcome.refused = names
            outcome.decision = .deny(.secret_host_mismatch, rule: "secrets.entries.\(names[0])")
            return outcome
        }
        outcome.substituted = substituted
        outcome.bodyPlan = plan.makeBodyPlan()
        if outcome.bodyPlan?.rewrites == true, Self.hasBody(head) {
            // The body may change length: re-frame as chunked.
            upstreamHead.headers.remove(name: "content-length")
            upstreamHead.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
        }
        outcome.upstreamHead = upstreamHead
        return outcome
    }

    // MARK: - Inspection stage (SPEC section 6, outbound)

    /// The request stage with content inspection, as both the live proxy and the dry-run run
    /// it: rules and secrets decide over what the sandbox sent; then the inspection edits the
    /// head the sandbox sent (PII in the query, `env.mask_patterns`, header transformations)
    /// and the secrets are substituted into the edited head. Inspection therefore never sees
    /// (and never redacts or rewrites) a real secret value the proxy put in.
    ///
    /// Returns the outcome, the inspection that must see the body (nil when nothing is
    /// inspected) and a value-free detail for a denial.
    public func request(head: HTTPRequestHead, target: RequestTargetInfo, tls: Bool,
                        inspection plan: InspectionPlan?) -> (outcome: RequestOutcome, inspection: RequestInspection?, detail: String?) {
        let first = request(head: head, target: target, tls: tls)
        guard first.decision.isAllowed, let plan else { return (first, nil, nil) }
        var pairs = head.headers.map { ($0.name, $0.value) }
        var inspection = plan.request(host: target.host, method: head.method.rawValue, headers: pairs)
        guard inspection.active else { return (first, nil, nil) }
        var query = target.query
        if case .deny(let reason, let detail) = inspection.rewriteHead(&pairs, query: &query) {
            var denied = first
            denied.decision = .deny(reason, rule: Self.inspectionRule(reason))
            denied.substituted = []
            denied.bodyPlan = nil
            return (denied, inspection, detail)
        }
        var outcome = first
        let unedited = query == target.query
            && pairs.elementsEqual(head.headers, by: { $0.0 == $1.name && $0.1 == $1.value })
        if !unedited {
            // The secrets go into the edited head (the common unedited head needs no second pass).
            var edited = head
            edited.headers = HTTPHeaders(pairs)
            var editedTarget = target
            editedTarget.pathAndQuery = target.path + (query.map { "?" + $0 } ?? "")
            outcome = request(head: edited, target: editedTarget, tls: tls)
        }
        if outcome.decision.isAllowed, inspection.bodyActive, inspection.mayChangeLength, Self.hasBody(head) {
            // The body may change length: re-frame as chunked (HTTP/1.1 upstream).
            outcome.upstreamHead.version = .http1_1
            outcome.upstreamHead.headers.remove(name: "content-length")
            outcome.upstreamHead.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
        }
        return (outcome, inspection, nil)
    }

    /// The policy key behind an inspection denial (the `rule` of the audit record and the
    /// denial body).
    public static func inspectionRule(_ reason: Reason) -> String? {
        switch reason {
        case .pii_blocked: return "pii.action"
        case .injection_blocked: return "injection_defense.action"
        case .uninspectable: return "limits.on_uninspectable"
        default: return nil
        }
    }

    static func hasBody(_ head: HTTPRequestHead) -> Bool {
        if let cl = head.headers.first(name: "content-length"), let n = Int(cl) { return n > 0 }
        return head.headers.contains(name: "transfer-encoding")
    }
}

/// The parts of a request target the evaluator needs (public form of `RequestTarget`).
public struct RequestTargetInfo: Sendable, Equatable {
    public var scheme: String
    public var host: String
    public var port: Int
    public var pathAndQuery: String

    public init(scheme: String, host: String, port: Int, pathAndQuery: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.pathAndQuery = pathAndQuery
    }

    /// Parses an absolute URL (`http://` or `https://`).
    public init?(url: String) {
        guard let t = RequestTarget.parseAbsolute(url) else { return nil }
        self.init(scheme: t.scheme, host: t.host, port: t.port, pathAndQuery: t.pathAndQuery)
    }

    public var path: String {
        String(pathAndQuery.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "/")
    }

    public var query: String? {
        let parts = pathAndQuery.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count == 2 ? String(parts[1]) : nil
    }

    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        let defaultPort = scheme == "https" ? 443 : 80
        return port == defaultPort ? h : "\(h):\(port)"
    }

    /// The path for audit records: query values removed.
    public var auditPath: String { RequestTarget.auditPath(pathAndQuery) }
}
