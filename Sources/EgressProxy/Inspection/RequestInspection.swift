import NIOCore
import PIIDetect
import PolicyEngine

// MARK: - RequestInspection

/// The outbound half of SPEC 6 for one request: PII in the URL query and the body (redact,
/// block, log_only), `env.mask_patterns` values, outbound transformations (body regexes and
/// header edits), `gzip`/`deflate` bodies decoded for scanning and encoded again.
///
/// A state machine without a channel: ``rewriteHead(_:query:)`` once before the head is
/// forwarded, then ``feed(_:)`` for each body chunk and ``finish()`` at the end. Each returns
/// bytes to forward now, or a denial after which nothing more is forwarded. Memory is bounded
/// by ``retainedByteBound`` whatever the body size. Not thread-safe: one exchange owns it.
public struct RequestInspection {
    // MARK: Configuration

    private let plan: InspectionPlan
    private let host: String
    private let kind: ContentKind
    private let piiApplies: Bool
    private let outbound: [CompiledTransformation]

    // MARK: Body stages (decoder → env masking → PII → transformations → encoder)

    private var decoder: BodyDecoder?
    private var encoder: BodyEncoder?
    private var envStream: StreamingReplacer?
    private var piiWindow: StreamWindow<PIIRule>?
    /// nil: the transformation gave up (`on_uninspectable: pass` after a PCRE2 limit).
    private var transformWindows: [StreamWindow<TransformationRule>?] = []
    private var transformCounts = 0

    // MARK: Outcome

    private var queryFindings = FindingCounts()
    private var headerEdits = 0
    private var headMasked: Set<String> = []
    private var denial: StageResult?
    private var finished = false

    /// Whether the head or the body is looked at for this request (false: skip every call).
    public private(set) var active: Bool
    /// Whether the body goes through the stages (false: forward it as it is).
    public private(set) var bodyActive: Bool

    init(plan: InspectionPlan, host: String, method: String, headers: [(String, String)]) {
        self.plan = plan
        self.host = host
        self.kind = ContentKind(contentType: HeaderList.first(headers, "content-type"),
                                contentEncoding: HeaderList.all(headers, "content-encoding"))
        self.piiApplies = plan.piiApplies(to: host)
        self.outbound = plan.outboundTransformations(for: host)

        let bodyTransforms = kind.isTextual ? outbound.compactMap(TransformationRule.init) : []
        let bodyNeeded = piiApplies || plan.envMasker != nil || !bodyTransforms.isEmpty
        self.bodyActive = bodyNeeded
        self.active = bodyNeeded || !outbound.isEmpty || plan.responseBodyMayBeRead(from: host)

        guard bodyNeeded else { return }
        switch kind.coding {
        case .gzip, .deflate:
            decoder = BodyDecoder(gzip: kind.coding == .gzip)
        case .identity, .unsupported:
            break
        }
        envStream = plan.envMasker?.makeStream()
        if piiApplies, let detector = plan.detector, let action = plan.piiAction {
            piiWindow = StreamWindow(
                rule: PIIRule(detector: detector, redact: action == .redact, vault: plan.vault, form: kind.isForm),
                framing: .bytes, window: plan.window, lookahead: plan.lookahead, lookbehind: plan.lookbehind,
                observeOnly: action == .log_only)
        }
        transformWindows = bodyTransforms.map {
            StreamWindow(rule: $0, framing: .bytes, window: plan.window, lookahead: plan.lookahead, lookbehind: plan.lookbehind)
        }
    }

    // MARK: Framing and audit

    /// The body may come out with a different length (redaction, masking, transformations,
    /// re-encoding): the caller drops `Content-Length` and sends the body chunked (or buffers
    /// the output and sets a new length).
    public var mayChangeLength: Bool {
        guard bodyActive else { return false }
        if decoder != nil || envStream != nil || !transformWindows.isEmpty { return true }
        return plan.piiAction == .redact
    }

    /// PII found (query and body), by type, for the audit record. Types and counts only.
    public var findings: [(type: String, count: Int)] {
        var all = queryFindings
        if let counts = piiWindow?.counts { all.merge(counts) }
        return all.list
    }

    /// Transformations applied: header edits plus body replacements.
    public var transformationsApplied: Int {
        headerEdits + transformCounts + transformWindows.reduce(0) { $0 + ($1?.counts.values.reduce(0, +) ?? 0) }
    }

    /// Names of the `env.mask_patterns` variables whose values were redacted.
    public var maskedEnvironmentNames: [String] {
        headMasked.union(envStream?.matchedLabels ?? []).sorted()
    }

    /// Bytes held right now by the body stages.
    public var retainedByteCount: Int {
        (decoder?.retainedByteCount ?? 0) + (envStream?.carriedByteCount ?? 0)
            + (piiWindow?.retainedByteCount ?? 0) + transformWindows.reduce(0) { $0 + ($1?.retainedByteCount ?? 0) }
    }

    /// The most bytes the body stages hold at any time (zlib's own state aside).
    public var retainedByteBound: Int {
        let windowBound = plan.lookbehind + 2 * plan.window + plan.lookahead
        return (envStream?.maximumCarry ?? 0) + 2 + windowBound * (1 + transformWindows.count)
    }

    // MARK: Head

    /// Inspects and edits the request head before it is forwarded: PII in the query (the
    /// query without its `?`; tokens are percent-encoded), `env.mask_patterns` values in the
    /// query and header values, outbound header transformations, and `Accept-Encoding`
    /// narrowed to `gzip, deflate` when the response may need reading. A body in an
    /// encoding the proxy cannot decode follows `on_uninspectable`.
    public mutating func rewriteHead(_ headers: inout [(String, String)], query: inout String?) -> HeadVerdict {
        guard active else { return .proceed }

        if bodyActive, case .unsupported(let coding) = kind.coding {
            if plan.limits.onUninspectable == .block {
                return deny(.uninspectable, "request body in content-encoding '\(coding)' cannot be inspected")
            }
            bodyActive = false
            envStream = nil
            piiWindow = nil
            transformWindows = []
        }

        if piiApplies, let detector = plan.detector, let action = plan.piiAction, let q = query, !q.isEmpty {
            let bytes = Array(q.utf8)
            let found = detector.scan(bytes)
            for finding in found { queryFindings.add(finding.type.rawValue) }
            if !found.isEmpty {
                switch action {
                case .block:
                    return deny(.pii_blocked, "PII in the URL query: " + Self.typeList(found.map(\.type.rawValue)))
                case .redact:
                    var out: [UInt8] = []
                    var cursor = 0
                    for finding in found {
                        out += bytes[cursor..<finding.range.lowerBound]
                        let value = RedactionToken.canonicalValue(bytes[finding.range], form: true)
                        out += RedactionToken.encoded(plan.vault.token(for: value, type: finding.type.rawValue), percent: true)
                        cursor = finding.range.upperBound
                    }
                    out += bytes[cursor...]
                    query = String(decoding: out, as: UTF8.self)
                case .log_only:
                    break
                }
            }
        }

        if let masker = plan.envMasker {
            if let q = query {
                let (masked, names) = masker.maskHeaderValue(q)
                query = masked
                headMasked.formUnion(names)
            }
            for index in headers.indices {
                let (masked, names) = masker.maskHeaderValue(headers[index].1)
                if !names.isEmpty {
                    headers[index].1 = masked
                    headMasked.formUnion(names)
                }
            }
        }

        for transformation in outbound where transformation.hasHeaderEdits {
            headerEdits += transformation.editHeaders(&headers)
        }

        if plan.responseBodyMayBeRead(from: host) {
            Self.narrowAcceptEncoding(&headers)
        }
        return .proceed
    }

    /// Keeps only the codings the response stages can decode; `identity` when none is left
    /// (no header at all would mean "anything").
    static func narrowAcceptEncoding(_ headers: inout [(String, String)]) {
        let offered = HeaderList.all(headers, "accept-encoding")
        guard !offered.isEmpty else { return }
        let decodable: Set<String> = ContentCodec.isAvailable ? ["gzip", "x-gzip", "deflate", "identity"] : ["identity"]
        var kept: [String] = []
        for value in offered {
            for item in value.split(separator: ",") {
                let token = item.split(separator: ";", maxSplits: 1).first.map { String($0).trimmingASCIISpaces().lowercasedASCII() } ?? ""
                if decodable.contains(token) { kept.append(String(item).trimmingASCIISpaces()) }
            }
        }
        HeaderList.set(&headers, "Accept-Encoding", kept.isEmpty ? "identity" : kept.joined(separator: ", "))
    }

    // MARK: Body

    /// Takes the next body chunk; returns the bytes to forward now (possibly none).
    public mutating func feed(_ chunk: ByteBuffer) -> StageResult {
        if let denial { return denial }
        guard bodyActive, !finished else { return .forward(chunk) }
        let bytes = Array(chunk.readableBytesView)
        do throws(StageStop) {
            guard var decoding = decoder else {
                return .forward(ByteBuffer(bytes: try runStages(bytes, finish: false)))
            }
            decoder = nil
            defer { decoder = decoding }
            let out = try decoding.feedEach(bytes, decodeFailure: StageStop.uninspectable) { (piece, format) throws(StageStop) in
                try encode(runStages(piece, finish: false), format: format)
            }
            return .forward(ByteBuffer(bytes: out))
        } catch {
            return stop(error)
        }
    }

    /// Ends the body: returns the bytes still held.
    public mutating func finish() -> StageResult {
        if let denial { return denial }
        guard bodyActive, !finished else { return .forward(ByteBuffer()) }
        finished = true
        do throws(StageStop) {
            if decoder != nil {
                do { try decoder!.finish() } catch { throw StageStop.uninspectable(error.detail) }
            }
            var out = try encode(runStages([], finish: true), format: decoder?.format)
            if encoder != nil {
                do { out += try encoder!.finish() } catch { throw StageStop.uninspectable(error.detail) }
            }
            return .forward(ByteBuffer(bytes: out))
        } catch {
            return stop(error)
        }
    }

    // MARK: Pipeline

    enum StageStop: Error {
        case piiBlocked(String)
        case uninspectable(String)
    }

    /// env masking → PII → transformations; with `finish`, every stage ends its stream and
    /// what it releases runs through the later stages.
    private mutating func runStages(_ input: [UInt8], finish: Bool) throws(StageStop) -> [UInt8] {
        var data = input
        if envStream != nil {
            if !data.isEmpty { data = Array(envStream!.feed(ByteBuffer(bytes: data)).readableBytesView) }
            if finish { data += envStream!.finish().readableBytesView }
        }
        if var window = piiWindow {
            do {
                data = try window.feed(data)
                if finish { data += try window.finish() }
            } catch {
                piiWindow = window
                throw StageStop.uninspectable(error.detail)
            }
            piiWindow = window
            // Under `block` a finding stops the body before the bytes holding it go out.
            if plan.piiAction == .block, !window.counts.isEmpty {
                throw StageStop.piiBlocked("PII in the request body: " + Self.typeList(Array(window.counts.keys)))
            }
        }
        for index in transformWindows.indices {
            guard var window = transformWindows[index] else { continue }
            do {
                data = try window.feed(data)
                if finish { data += try window.finish() }
                transformWindows[index] = window
            } catch {
                guard plan.limits.onUninspectable == .pass else { throw StageStop.uninspectable(error.detail) }
                // Pass: this transformation stops here; what it held goes on unchanged.
                transformCounts += window.counts.values.reduce(0, +)
                data = window.abandon() + data
                transformWindows[index] = nil
            }
        }
        return data
    }

    private mutating func encode(_ bytes: [UInt8], format: ContentCodec.Format?) throws(StageStop) -> [UInt8] {
        guard let format else { return bytes }
        if encoder == nil { encoder = BodyEncoder(format: format) }
        do { return try encoder!.feed(bytes) } catch { throw StageStop.uninspectable(error.detail) }
    }

    private mutating func stop(_ reason: StageStop) -> StageResult {
        switch reason {
        case .piiBlocked(let detail): return deny(.pii_blocked, detail).stageResult
        case .uninspectable(let detail): return deny(.uninspectable, detail).stageResult
        }
    }

    private mutating func deny(_ reason: Reason, _ detail: String) -> HeadVerdict {
        let result = StageResult.deny(reason: reason, detail: detail)
        denial = result
        return .deny(reason: reason, detail: detail)
    }

    static func typeList(_ types: [String]) -> String {
        Array(Set(types)).sorted().joined(separator: ", ")
    }
}

extension HeadVerdict {
    var stageResult: StageResult {
        switch self {
        case .proceed: return .forward(ByteBuffer())
        case .deny(let reason, let detail): return .deny(reason: reason, detail: detail)
        }
    }
}
