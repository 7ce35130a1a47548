import NIOCore
import PIIDetect
import PolicyEngine

// MARK: - ResponseInspection

/// The inbound half of SPEC 6 for one response, in SPEC order: injection defense, invisible
/// text, inbound transformations, PII token rehydration, `env.mask_patterns` masking (the
/// caller's secret masking comes after). Compressed bodies (`gzip`, `deflate`) are decoded
/// and go out decoded (``rewriteHead(_:)`` drops `Content-Encoding`).
///
/// Two ways to run, chosen when the head arrives:
/// - **Buffered** (``needsBodyBeforeHead`` is the bound): `block` or `sanitize` on a document
///   (HTML, JSON, text: anything but an event stream) must judge the body before the head goes
///   out (the sandbox gets a 403 instead, or the `X-Egress-Injection` header). The body is
///   held, scored window by window as it arrives, and decided in ``finish()``. A body larger
///   than the bound follows `on_uninspectable`: `block` denies `uninspectable`; `pass` turns
///   to streaming (``isBuffering`` becomes false: send the head now, without the header).
/// - **Streaming** (everything else, `text/event-stream` in particular): bytes flow as they
///   are decided; events go on as soon as they are complete. A `block` mid-stream answers
///   a denial: the caller ends the stream.
///
/// Not thread-safe: one exchange owns it.
public struct ResponseInspection {
    // MARK: Configuration

    private let plan: InspectionPlan
    private let kind: ContentKind
    private let injectionAction: InjectionAction?
    private let invisibleAction: InvisibleTextAction?
    private let inbound: [CompiledTransformation]
    private let rehydrates: Bool
    /// The body's encoding cannot be decoded and text stages apply (see `on_uninspectable`).
    private let undecodable: String?

    // MARK: Stages

    private var decoder: BodyDecoder?
    /// Buffered mode: the injection scorer over windows; the decoded input (kept only when
    /// it may have to be sanitized); the later stages' output, computed as the body arrives
    /// so that ``finish()`` has little left to do unless spans must be removed.
    private var collector: StreamWindow<InjectionRule>?
    private var held: [UInt8] = []
    private var processed: [UInt8] = []
    private var bufferedInput = 0
    /// Streaming mode: injection scoring (and sanitizing or blocking) per window or event.
    private var injectionWindow: StreamWindow<InjectionRule>?
    private var invisible: InvisibleTextFilter?
    private var transformWindows: [StreamWindow<TransformationRule>?] = []
    private var rehydrator: TokenRehydrator?
    private var sseRehydrator: SSERehydrator?
    private var envStream: StreamingReplacer?
    /// What the stages after injection defense are built from (rebuilt for a sanitized body).
    private let bodyRules: [TransformationRule]
    private let rehydratesBody: Bool
    /// The text stages run (the body is text and can be decoded).
    private let runsText: Bool

    // MARK: Outcome

    private var sanitizedSpans = 0
    private var bufferedScore: Double?
    private var headerEdits = 0
    private var transformCounts = 0
    private var headRestored = 0
    private var denial: StageResult?
    private var finished = false

    /// Whether the head or the body is looked at (false: skip every call).
    public private(set) var active: Bool
    /// Whether the body goes through the stages (false: forward it as it is).
    public private(set) var bodyActive: Bool
    /// Set when the body must be judged before the head is sent: the most bytes the stage
    /// buffers (`limits.max_body_inspect_bytes`). Then send the head only after ``finish()``
    /// (calling ``rewriteHead(_:)`` then), or as soon as ``isBuffering`` turns false.
    public let needsBodyBeforeHead: Int?
    /// True while the body is being held back for a decision (buffered mode).
    public private(set) var isBuffering: Bool

    init(plan: InspectionPlan, host: String, status: Int, headers: [(String, String)], requestMethod: String) {
        self.plan = plan
        let kind = ContentKind(contentType: HeaderList.first(headers, "content-type"),
                               contentEncoding: HeaderList.all(headers, "content-encoding"))
        self.kind = kind
        let hasBody = requestMethod.uppercased() != "HEAD" && status >= 200 && status != 204 && status != 304
        let textual = hasBody && kind.isTextual
        self.injectionAction = textual && plan.injectionApplies(to: host) ? plan.injectionAction : nil
        self.invisibleAction = textual ? plan.invisibleAction : nil
        self.inbound = plan.inboundTransformations(for: host)
        self.rehydrates = plan.rehydrationApplies(to: host)
        let bodyRules = textual ? inbound.compactMap(TransformationRule.init) : []
        let textStages = injectionAction != nil || invisibleAction != nil || !bodyRules.isEmpty || (textual && rehydrates)
        let envMasks = hasBody && plan.envMasker != nil

        var undecodable: String?
        if textStages, case .unsupported(let coding) = kind.coding { undecodable = coding }
        self.undecodable = undecodable
        self.active = textStages || envMasks || !inbound.isEmpty || rehydrates || plan.envMasker != nil
        let runsText = textStages && undecodable == nil
        self.bodyActive = runsText || envMasks
        self.bodyRules = runsText ? bodyRules : []
        self.rehydratesBody = runsText && textual && rehydrates
        self.runsText = runsText

        let judgesFirst = kind.streaming == .none
            && (injectionAction == .block || injectionAction == .sanitize || invisibleAction == .block)
        self.needsBodyBeforeHead = runsText && judgesFirst ? plan.limits.maxBodyInspectBytes : nil
        self.isBuffering = needsBodyBeforeHead != nil

        guard bodyActive else { return }
        if runsText, kind.coding == .gzip || kind.coding == .deflate {
            decoder = BodyDecoder(gzip: kind.coding == .gzip)
        }
        if runsText {
            if let action = injectionAction, let scorer = plan.scorer {
                if isBuffering {
                    collector = StreamWindow(
                        rule: InjectionRule(scorer: scorer, threshold: plan.injectionThreshold, mode: .collect, framing: .bytes),
                        framing: .bytes, window: plan.window, lookahead: 0, lookbehind: plan.lookbehind, observeOnly: true)
                } else {
                    injectionWindow = Self.streamingInjection(plan: plan, scorer: scorer, action: action, framing: kind.framing)
                }
            }
        }
        makeLaterStages()
    }

    /// (Re)builds invisible text, transformations, rehydration and env masking, fresh.
    private mutating func makeLaterStages() {
        invisible = runsText ? invisibleAction.map { InvisibleTextFilter(strip: $0 == .strip) } : nil
        transformWindows = bodyRules.map {
            StreamWindow(rule: $0, framing: kind.framing, window: plan.window, lookahead: plan.lookahead, lookbehind: plan.lookbehind)
        }
        transformCounts = 0
        rehydrator = nil
        sseRehydrator = nil
        if rehydratesBody {
            if kind.streaming == .events {
                sseRehydrator = SSERehydrator(vault: plan.vault)
            } else {
                rehydrator = TokenRehydrator(vault: plan.vault, json: kind.isJSON)
            }
        }
        envStream = plan.envMasker?.makeStream()
    }

    private static func streamingInjection(plan: InspectionPlan, scorer: InjectionScorer, action: InjectionAction,
                                           framing: WindowFraming) -> StreamWindow<InjectionRule> {
        let mode: InjectionRule.Mode
        switch action {
        case .block: mode = .block
        case .sanitize: mode = .sanitize
        case .log_only: mode = .observe
        }
        // The lookbehind doubles as the scorer's context: a sentence cut by the last window is
        // read again whole (the scorer joins sentences up to 200 bytes apart).
        return StreamWindow(rule: InjectionRule(scorer: scorer, threshold: plan.injectionThreshold, mode: mode, framing: framing),
                            framing: framing, window: plan.window, lookahead: plan.lookahead, lookbehind: plan.lookbehind,
                            observeOnly: mode == .observe)
    }

    // MARK: Framing and audit

    /// The body may come out with another length (decoded, sanitized, stripped, transformed,
    /// rehydrated, masked): drop `Content-Length` and stream it chunked (or close-delimited
    /// for HTTP/1.0), or, after a buffered ``finish()``, set the new length.
    public var mayChangeLength: Bool {
        guard bodyActive else { return false }
        return decoder != nil || injectionAction == .sanitize || invisibleAction == .strip || !transformWindows.isEmpty
            || rehydrator != nil || sseRehydrator != nil || envStream != nil
    }

    /// The injection verdict for the audit record: the body's score and the action taken
    /// (`block`, `sanitize`, `log_only` at or above the threshold, `none` below). nil when
    /// the body was not scored.
    public var injection: (score: Double, action: String)? {
        guard bodyActive, let action = injectionAction else { return nil }
        let score = max(bufferedScore ?? 0, collector?.rule.maxScore ?? 0, injectionWindow?.rule.maxScore ?? 0)
        return (score, score >= plan.injectionThreshold ? action.rawValue : "none")
    }

    /// Invisible characters found (stripped under `strip`).
    public var invisibleCharacters: Int { invisible?.found ?? 0 }

    /// Redaction tokens turned back into their values (head and body).
    public var tokensRestored: Int { headRestored + (rehydrator?.restored ?? 0) + (sseRehydrator?.restored ?? 0) }

    /// Transformations applied: header edits plus body replacements.
    public var transformationsApplied: Int {
        headerEdits + transformCounts + transformWindows.reduce(0) { $0 + ($1?.counts.values.reduce(0, +) ?? 0) }
    }

    /// Names of the `env.mask_patterns` variables whose values were masked in the body.
    public var maskedEnvironmentNames: [String] { envStream?.matchedLabels ?? [] }

    /// Bytes held right now.
    public var retainedByteCount: Int {
        held.count + processed.count + (decoder?.retainedByteCount ?? 0) + (collector?.retainedByteCount ?? 0)
            + (injectionWindow?.retainedByteCount ?? 0) + (invisible?.retainedByteCount ?? 0)
            + transformWindows.reduce(0) { $0 + ($1?.retainedByteCount ?? 0) }
            + (rehydrator?.retainedByteCount ?? 0) + (sseRehydrator?.retainedByteCount ?? 0)
            + (envStream?.carriedByteCount ?? 0)
    }

    // MARK: Head

    /// Edits the response head: drops `Content-Encoding` when the body is decoded, applies
    /// inbound header transformations, restores tokens and masks `env.mask_patterns` values
    /// in header values, and adds `X-Egress-Injection: score=S` when the body was sanitized.
    /// In buffered mode call it after ``finish()``. An undecodable body that must be read
    /// follows `on_uninspectable`.
    public mutating func rewriteHead(_ headers: inout [(String, String)]) -> HeadVerdict {
        guard active else { return .proceed }
        if let coding = undecodable, plan.limits.onUninspectable == .block {
            let detail = "response body in content-encoding '\(coding)' cannot be inspected"
            denial = .deny(reason: .uninspectable, detail: detail)
            return .deny(reason: .uninspectable, detail: detail)
        }
        if decoder != nil {
            HeaderList.remove(&headers, "content-encoding")
        }
        for transformation in inbound where transformation.hasHeaderEdits {
            headerEdits += transformation.editHeaders(&headers)
        }
        if rehydrates {
            var restorer = TokenRehydrator(vault: plan.vault, json: false)
            for index in headers.indices where headers[index].1.utf8.contains(where: { $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "%") }) {
                headers[index].1 = String(decoding: restorer.restoreAll(Array(headers[index].1.utf8), json: false), as: UTF8.self)
            }
            headRestored += restorer.restored
        }
        if let masker = plan.envMasker {
            for index in headers.indices {
                let (masked, names) = masker.maskHeaderValue(headers[index].1)
                if !names.isEmpty { headers[index].1 = masked }
            }
        }
        if sanitizedSpans > 0, let score = injection?.score {
            HeaderList.set(&headers, "X-Egress-Injection", "score=\(score)")
        }
        return .proceed
    }

    // MARK: Body

    enum StageStop: Error {
        case deny(Reason, String)
    }

    /// Takes the next body chunk; returns the bytes to send on now (none while buffering).
    public mutating func feed(_ chunk: ByteBuffer) -> StageResult {
        if let denial { return denial }
        guard bodyActive, !finished else { return .forward(chunk) }
        let bytes = Array(chunk.readableBytesView)
        do throws(StageStop) {
            guard var decoding = decoder else {
                return .forward(ByteBuffer(bytes: try take(bytes)))
            }
            decoder = nil
            defer { decoder = decoding }
            let out = try decoding.feedEach(bytes, decodeFailure: { StageStop.deny(.uninspectable, $0) }) { (piece, _) throws(StageStop) in
                try take(piece)
            }
            return .forward(ByteBuffer(bytes: out))
        } catch {
            return fail(error)
        }
    }

    /// Ends the body. Buffered mode: decides (block, sanitize) and returns the whole body.
    public mutating func finish() -> StageResult {
        if let denial { return denial }
        guard bodyActive, !finished else { return .forward(ByteBuffer()) }
        finished = true
        do throws(StageStop) {
            if decoder != nil {
                do { try decoder!.finish() } catch { throw StageStop.deny(.uninspectable, error.detail) }
            }
            var out: [UInt8] = []
            if isBuffering {
                out = try decideBuffered()
                isBuffering = false
            }
            out += try downstream([], finish: true)
            return .forward(ByteBuffer(bytes: out))
        } catch {
            return fail(error)
        }
    }

    /// Decoded bytes in: sent down the stages; in buffered mode their output is held.
    private mutating func take(_ bytes: [UInt8]) throws(StageStop) -> [UInt8] {
        guard isBuffering else { return try downstream(bytes, finish: false) }
        bufferedInput += bytes.count
        if injectionAction == .sanitize { held.append(contentsOf: bytes) }
        if collector != nil {
            do { _ = try collector!.feed(bytes) } catch { throw StageStop.deny(.uninspectable, error.detail) }
        }
        processed += try downstream(bytes, finish: false)
        guard bufferedInput > (needsBodyBeforeHead ?? Int.max) else { return [] }
        // Larger than the bound.
        guard plan.limits.onUninspectable == .pass else {
            throw StageStop.deny(.uninspectable, "response body larger than limits.max_body_inspect_bytes")
        }
        // Pass: what was held goes out as it is, the rest is judged as a stream.
        isBuffering = false
        if let action = injectionAction, let scorer = plan.scorer {
            bufferedScore = collector?.rule.maxScore
            collector = nil
            injectionWindow = Self.streamingInjection(plan: plan, scorer: scorer, action: action, framing: .bytes)
        }
        held = []
        let out = processed
        processed = []
        return out
    }

    /// The buffered body judged whole: blocked, sanitized (spans removed from the input, the
    /// later stages run again on the result), or passed on.
    private mutating func decideBuffered() throws(StageStop) -> [UInt8] {
        let out = processed
        processed = []
        let input = held
        held = []
        guard var window = collector else { return out }
        collector = nil
        do { _ = try window.finish() } catch { throw StageStop.deny(.uninspectable, error.detail) }
        let score = window.rule.maxScore
        bufferedScore = score
        guard score >= plan.injectionThreshold else { return out }
        switch injectionAction {
        case .block?:
            throw StageStop.deny(.injection_blocked, "prompt injection score \(score)")
        case .sanitize?:
            let spans = Self.merge(window.rule.spans)
            sanitizedSpans = spans.count
            let body = Self.remove(spans, from: input)
            makeLaterStages()
            var again: [UInt8] = []
            var start = 0
            while start < body.count {
                let end = min(body.count, start + plan.window)
                again += try downstream(Array(body[start..<end]), finish: false)
                start = end
            }
            return again
        default:
            return out
        }
    }

    /// injection (streaming) → invisible text → transformations → rehydration → env masking.
    private mutating func downstream(_ input: [UInt8], finish: Bool) throws(StageStop) -> [UInt8] {
        var data = input
        if var window = injectionWindow {
            do {
                data = try window.feed(data)
                if finish { data += try window.finish() }
            } catch {
                injectionWindow = window
                throw StageStop.deny(.uninspectable, error.detail)
            }
            injectionWindow = window
            if window.rule.tripped {
                throw StageStop.deny(.injection_blocked, "prompt injection score \(window.rule.maxScore)")
            }
            sanitizedSpans = window.rule.removedSpans
        }
        if invisible != nil {
            data = invisible!.feed(data)
            if finish { data += invisible!.finish() }
            if invisibleAction == .block, invisible!.found > 0 {
                throw StageStop.deny(.injection_blocked, "invisible text (\(invisible!.found) characters)")
            }
        }
        for index in transformWindows.indices {
            guard var window = transformWindows[index] else { continue }
            do {
                data = try window.feed(data)
                if finish { data += try window.finish() }
                transformWindows[index] = window
            } catch {
                guard plan.limits.onUninspectable == .pass else { throw StageStop.deny(.uninspectable, error.detail) }
                transformCounts += window.counts.values.reduce(0, +)
                data = window.abandon() + data
                transformWindows[index] = nil
            }
        }
        if rehydrator != nil {
            data = rehydrator!.feed(data)
            if finish { data += rehydrator!.finish() }
        }
        if sseRehydrator != nil {
            data = sseRehydrator!.feed(data)
            if finish { data += sseRehydrator!.finish() }
        }
        if envStream != nil {
            if !data.isEmpty { data = Array(envStream!.feed(ByteBuffer(bytes: data)).readableBytesView) }
            if finish { data += envStream!.finish().readableBytesView }
        }
        return data
    }

    private mutating func fail(_ stop: StageStop) -> StageResult {
        switch stop {
        case .deny(let reason, let detail):
            let result = StageResult.deny(reason: reason, detail: detail)
            denial = result
            held = []
            return result
        }
    }

    // MARK: Spans

    static func merge(_ spans: [Range<Int>]) -> [Range<Int>] {
        var merged: [Range<Int>] = []
        for span in spans.sorted(by: { $0.lowerBound < $1.lowerBound }) where !span.isEmpty {
            if let last = merged.last, span.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, span.upperBound)
            } else {
                merged.append(span)
            }
        }
        return merged
    }

    static func remove(_ spans: [Range<Int>], from body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var cursor = 0
        for span in spans where span.lowerBound >= cursor && span.lowerBound < body.count {
            out += body[cursor..<span.lowerBound]
            cursor = min(body.count, span.upperBound)
        }
        out += body[cursor...]
        return out
    }
}
