import NIOCore
import NIOHTTP1
import PolicyEngine

// MARK: - DryRunOutcome

/// The decision the live proxy would make for one HAR entry, and how it got there.
public struct DryRunOutcome: Sendable, Equatable {
    /// nil when the entry is not something the proxy would see (`data:`, `blob:`, ...).
    public var decision: Decision?
    /// How the request is carried: `mitm` (intercepted), `tunnel`, `http`.
    public var mode: ProxyMode?
    /// Secrets that would be substituted (allowed), or that were refused (denied with
    /// `secret_host_mismatch`), by name.
    public var secrets: [String]
    /// PII findings by type (empty until the inspection stage is wired into dry-run).
    public var pii: [PIICount]
    /// No address was known (no `serverIPAddress`, no `--resolve`): the network stage was
    /// decided on host rules alone.
    public var unresolved: Bool
    /// The address the network stage checked.
    public var address: String?
    /// Where that address came from.
    public var addressSource: AddressSource?
    /// Why an entry was skipped, or what limits the decision (e.g. a body cut by the capture).
    public var note: String?

    public enum AddressSource: String, Sendable {
        /// The host is an IP literal.
        case literal
        /// `--resolve HOST:IP`.
        case resolve
        /// The entry's `serverIPAddress`.
        case har
    }

    public init(decision: Decision?, mode: ProxyMode? = nil, secrets: [String] = [], pii: [PIICount] = [],
                unresolved: Bool = false, address: String? = nil, addressSource: AddressSource? = nil, note: String? = nil) {
        self.decision = decision
        self.mode = mode
        self.secrets = secrets
        self.pii = pii
        self.unresolved = unresolved
        self.address = address
        self.addressSource = addressSource
        self.note = note
    }

    /// `allow`, `deny`, or `skip` (not proxied).
    public var verdict: String { decision?.verdict.rawValue ?? "skip" }
    /// The reason code, or `not_proxied` for a skipped entry.
    public var reason: String { decision?.reason.rawValue ?? "not_proxied" }
    public var rule: String? { decision?.rule }
    public var isDenied: Bool { decision.map { !$0.isAllowed } ?? false }
}

/// A PII type found in a request and how often.
public struct PIICount: Sendable, Equatable {
    public var type: String
    public var count: Int

    public init(type: String, count: Int) {
        self.type = type
        self.count = count
    }
}

// MARK: - DryRunner

/// Decides HAR entries with the live proxy's own stages (`RequestEvaluator`), with the I/O
/// replaced by what the capture recorded: DNS answers come from `--resolve` or the entry's
/// `serverIPAddress`, request bodies from `postData`. No network.
///
/// The order is the live proxy's:
/// - `CONNECT` entries (a capture's denied or tunnelled CONNECTs): preResolve → network →
///   connect mode.
/// - `https://` entries: the CONNECT for their host first (preResolve → network → connect
///   mode); a tunnelled host ends there (the proxy never sees the request inside); an
///   intercepted one checks `Host` against the CONNECT host (421 `host_mismatch`), then rules
///   and secrets over TLS, then the body through the same `RequestBodyPlan`.
/// - `http://` entries: preResolve → network → rules and secrets over plain HTTP → body.
public struct DryRunner: Sendable {
    public let evaluator: RequestEvaluator
    /// The policy's content inspection (PII, env masking, outbound transformations); nil
    /// when the policy enables none.
    public let inspection: InspectionPlan?
    /// `--resolve`: normalised host → addresses, ahead of `serverIPAddress`.
    public let resolve: [String: [IPAddress]]

    /// Throws when the policy's inspection parts don't compile (as `run` would refuse them).
    public init(policy: CompiledPolicy, resolve: [String: [IPAddress]] = [:]) throws(PolicyLoadError) {
        self.evaluator = RequestEvaluator(active: ActivePolicy(policy: policy))
        self.inspection = policy.enabledInspectionFeatures.isEmpty ? nil : try InspectionPlan.compile(policy)
        var normalised: [String: [IPAddress]] = [:]
        for (host, addresses) in resolve { normalised[HostName.normalize(host), default: []] += addresses }
        self.resolve = normalised
    }

    public func decide(_ entry: HAREntry) -> DryRunOutcome {
        if entry.method == "CONNECT" { return decideConnect(entry) }
        var url = entry.url
        let lower = url.lowercased()
        // Browsers record WebSockets as ws(s)://: through the proxy that is a CONNECT (wss) or
        // a plain request (ws) with `Upgrade`.
        if lower.hasPrefix("wss://") {
            url = "https://" + url.dropFirst(6)
        } else if lower.hasPrefix("ws://") {
            url = "http://" + url.dropFirst(5)
        } else if !(lower.hasPrefix("http://") || lower.hasPrefix("https://")) {
            return DryRunOutcome(decision: nil, note: "not an http(s) URL: the proxy never sees it")
        }
        let secure = url.lowercased().hasPrefix("https://")
        guard let target = RequestTarget.parseAbsolute(url) else {
            // The live proxy answers 400 to a request line (or CONNECT) it can't parse.
            let mode: ProxyMode = secure ? .tunnel : .http
            return DryRunOutcome(decision: .deny(.bad_request), mode: mode, note: "the URL has no valid host")
        }
        return secure ? decideIntercepted(entry, target: target) : decidePlain(entry, target: target, url: url)
    }

    // MARK: Connection stage

    private struct ConnectStage {
        var decision: Decision
        var unresolved: Bool
        var address: IPAddress?
        var source: DryRunOutcome.AddressSource?
    }

    /// SPEC 4 over the addresses the capture (or `--resolve`) gives; none: host rules alone.
    private func connectStage(host: String, entry: HAREntry) -> ConnectStage {
        let known = addresses(host: host, entry: entry)
        if let denied = evaluator.preResolve(host: host) {
            return ConnectStage(decision: denied, unresolved: known == nil, address: known?.list.first, source: known?.source)
        }
        guard let known else {
            return ConnectStage(decision: .allow(), unresolved: true, address: nil, source: nil)
        }
        let cd = evaluator.network(host: host, addresses: known.list)
        return ConnectStage(decision: cd.decision, unresolved: false,
                            address: cd.allowedAddresses.first ?? known.list.first, source: known.source)
    }

    private func addresses(host: String, entry: HAREntry) -> (list: [IPAddress], source: DryRunOutcome.AddressSource)? {
        if let literal = IPAddress(host) { return ([literal], .literal) }
        if let mapped = resolve[host], !mapped.isEmpty { return (mapped, .resolve) }
        if let text = entry.serverIPAddress, let ip = IPAddress(text) { return ([ip], .har) }
        return nil
    }

    private func outcome(_ decision: Decision, mode: ProxyMode, stage: ConnectStage, secrets: [String] = [],
                         pii: [PIICount] = [], note: String? = nil) -> DryRunOutcome {
        DryRunOutcome(decision: decision, mode: mode, secrets: secrets, pii: pii, unresolved: stage.unresolved,
                      address: stage.address?.description, addressSource: stage.source, note: note)
    }

    // MARK: Entries

    private func decideConnect(_ entry: HAREntry) -> DryRunOutcome {
        // `https://HOST:PORT/` as captures write it, or the bare `HOST:PORT` of a request line.
        var authority = Substring(entry.url)
        if let scheme = authority.range(of: "://") { authority = authority[scheme.upperBound...] }
        if let slash = authority.firstIndex(of: "/") { authority = authority[..<slash] }
        guard let (host, _) = RequestTarget.parseAuthority(String(authority), defaultPort: 443) else {
            return DryRunOutcome(decision: .deny(.bad_request), mode: .tunnel, note: "CONNECT needs host:port")
        }
        let mode = evaluator.connectMode(host: host)
        let stage = connectStage(host: host, entry: entry)
        return outcome(stage.decision, mode: mode, stage: stage)
    }

    private func decideIntercepted(_ entry: HAREntry, target: RequestTarget) -> DryRunOutcome {
        let mode = evaluator.connectMode(host: target.host)
        let stage = connectStage(host: target.host, entry: entry)
        guard stage.decision.isAllowed else { return outcome(stage.decision, mode: mode, stage: stage) }
        if mode == .tunnel {
            // Inside a tunnel the proxy sees no request: the CONNECT's decision is the decision.
            return outcome(stage.decision, mode: .tunnel, stage: stage)
        }
        // The inner request must name the CONNECT host (as ProxyRequestHandler's `.mitm` role).
        let hostHeader = hostHeader(entry) ?? target.hostHeaderValue
        guard let (h, p) = RequestTarget.parseAuthority(hostHeader, defaultPort: target.port) else {
            return outcome(.deny(.bad_request), mode: .mitm, stage: stage, note: "missing or invalid Host header")
        }
        if h != target.host || (p != target.port && p != 443) {
            return outcome(.deny(.host_mismatch), mode: .mitm, stage: stage, note: "Host names \(h):\(p)")
        }
        // An intercepted request's record carries the request stage's rule only.
        let r = requestStage(entry, target: target, uri: target.pathAndQuery, tls: true)
        return outcome(r.decision, mode: .mitm, stage: stage, secrets: r.secrets, pii: r.pii, note: bodyNote(entry))
    }

    private func decidePlain(_ entry: HAREntry, target: RequestTarget, url: String) -> DryRunOutcome {
        let stage = connectStage(host: target.host, entry: entry)
        guard stage.decision.isAllowed else { return outcome(stage.decision, mode: .http, stage: stage) }
        var r = requestStage(entry, target: target, uri: url, tls: false)
        // A plain-HTTP record keeps the network rule unless the request stage names one.
        if r.decision.isAllowed, r.decision.rule == nil { r.decision.rule = stage.decision.rule }
        return outcome(r.decision, mode: .http, stage: stage, secrets: r.secrets, pii: r.pii, note: bodyNote(entry))
    }

    // MARK: Request stage

    private struct RequestStage {
        var decision: Decision
        var secrets: [String]
        var pii: [PIICount] = []
    }

    /// The live request stage, as `ProxyRequestHandler` runs it: rules and secrets over the
    /// head the sandbox sent, the inspection's head edits with the secrets substituted into
    /// them (`RequestEvaluator.request(head:target:tls:inspection:)`), then the body through
    /// the inspection and the result through the live `RequestBodyPlan`, in one chunk.
    private func requestStage(_ entry: HAREntry, target: RequestTarget, uri: String, tls: Bool) -> RequestStage {
        var headers = HTTPHeaders()
        for h in entry.requestHeaders where !h.name.hasPrefix(":") {
            headers.add(name: h.name, value: h.value)
        }
        if !headers.contains(name: "host") {
            // HTTP/2 exports carry `:authority` instead; through the proxy it is `Host`.
            headers.add(name: "Host", value: hostHeader(entry) ?? target.hostHeaderValue)
        }
        let version: HTTPVersion = entry.httpVersion?.uppercased() == "HTTP/1.0" ? .http1_0 : .http1_1
        let head = HTTPRequestHead(version: version, method: HTTPMethod(rawValue: entry.method), uri: uri, headers: headers)
        let info = RequestTargetInfo(scheme: target.scheme, host: target.host, port: target.port, pathAndQuery: target.pathAndQuery)
        let (result, headInspection, _) = evaluator.request(head: head, target: info, tls: tls, inspection: inspection)
        var inspection = headInspection
        func pii() -> [PIICount] { inspection?.findings.map { PIICount(type: $0.type, count: $0.count) } ?? [] }
        guard result.decision.isAllowed else {
            return RequestStage(decision: result.decision, secrets: result.refused, pii: pii())
        }
        var substituted = result.substituted
        var body = ByteBuffer(bytes: entry.requestBody ?? [])
        if inspection?.bodyActive == true {
            var out = ByteBuffer()
            for step in [inspection!.feed(body), inspection!.finish()] {
                switch step {
                case .deny(let reason, _):
                    return RequestStage(decision: .deny(reason, rule: RequestEvaluator.inspectionRule(reason)), secrets: [], pii: pii())
                case .forward(var part):
                    out.writeBuffer(&part)
                }
            }
            body = out
        }
        if var plan = result.bodyPlan, body.readableBytes > 0 {
            let fed = plan.feed(body)
            let refused = fed.refused.isEmpty ? plan.finish().refused : fed.refused
            if !refused.isEmpty {
                let names = refused.sorted()
                return RequestStage(decision: .deny(.secret_host_mismatch, rule: "secrets.entries.\(names[0])"), secrets: names, pii: pii())
            }
            substituted.formUnion(plan.substitutedNames)
        }
        return RequestStage(decision: result.decision, secrets: substituted.sorted(), pii: pii())
    }

    /// `Host`, else HTTP/2's `:authority`.
    private func hostHeader(_ entry: HAREntry) -> String? {
        entry.requestHeader("host") ?? entry.requestHeader(":authority")
    }

    private func bodyNote(_ entry: HAREntry) -> String? {
        entry.requestBodyTruncated ? "request body cut by the capture: decided on its first part" : nil
    }
}

extension RequestTarget {
    /// `host[:port]` as a `Host` header names it (port omitted when it is the default).
    var hostHeaderValue: String {
        let h = host.contains(":") ? "[\(host)]" : host
        let defaultPort = scheme == "https" ? 443 : 80
        return port == defaultPort ? h : "\(h):\(port)"
    }
}
