// MARK: - Window rules

/// How a stream is cut into scan windows.
enum WindowFraming: Sendable, Equatable {
    /// Fixed windows with a lookahead that is held back: a finding may continue in it.
    case bytes
    /// Commit whole lines (NDJSON): nothing the rules look for spans two records.
    case lines
    /// Commit whole Server-Sent Events (up to a blank line), so each event flows on as soon
    /// as it is complete and rules never see half an event.
    case events
}

/// A rule failed on a window in a way that leaves it uninspected (a PCRE2 limit was hit).
struct WindowFailure: Error, Sendable, Equatable {
    /// Value-free: names the rule (e.g. `transformations[2].match: match limit`).
    var detail: String
}

/// One thing a rule found in a scan buffer: the bytes it covers, the label counted for the
/// audit record (a type name), and what becomes of the bytes.
struct WindowCandidate {
    var range: Range<Int>
    var label: String
    /// nil: the bytes stay (only counted); otherwise their replacement (empty: deleted).
    /// Rules that render lazily leave this nil and set `render`.
    var replacement: [UInt8]?
    /// Ask the rule for the replacement only if the candidate is committed (the PII rule
    /// mints vault tokens only for what is really replaced).
    var render = false
}

/// A scanner over windows. `buffer` holds `historyCount` bytes that were already emitted
/// (context only: lookbehind for labels, `\b`, lookbehind assertions) followed by new bytes.
protocol WindowRule {
    /// Candidates in `buffer`, sorted by start and not overlapping. `absoluteStart` is the
    /// stream offset of `buffer[0]`; `isFinal` says that nothing follows the buffer.
    mutating func candidates(in buffer: [UInt8], historyCount: Int, absoluteStart: Int, isFinal: Bool)
        throws(WindowFailure) -> [WindowCandidate]

    /// The replacement for a committed candidate whose `render` is set.
    mutating func render(_ candidate: WindowCandidate, in buffer: [UInt8]) -> [UInt8]?
}

extension WindowRule {
    mutating func render(_ candidate: WindowCandidate, in buffer: [UInt8]) -> [UInt8]? { candidate.replacement }
}

// MARK: - StreamWindow

/// Runs a ``WindowRule`` over a stream in bounded windows, so a finding split across chunks
/// is still found and memory stays bounded whatever the body size.
///
/// Each round scans `lookbehind` bytes already emitted plus up to `window + lookahead` new
/// bytes, and commits (emits, with the rule's edits) the new bytes up to `window`. A
/// candidate that starts before the commit point but runs past it holds the commit point
/// back to its start, so it is decided in the next round with its whole extent in view.
/// With `.events`/`.lines` framing a round commits whole events instead, as soon as they
/// are complete, so streams keep flowing.
///
/// Retained bytes never exceed `lookbehind + 2 * window + lookahead` (a fed chunk is cut
/// into slices of at most `window`).
struct StreamWindow<Rule: WindowRule> {
    var rule: Rule
    let framing: WindowFraming
    let window: Int
    let lookahead: Int
    let lookbehind: Int
    /// Observe only: bytes go out as they come, rules just count (`log_only`).
    let observeOnly: Bool

    private var history: [UInt8] = []
    private var pending: [UInt8] = []
    /// Stream offset of `pending[0]`.
    private(set) var consumed = 0
    /// Committed candidates by label.
    private(set) var counts: [String: Int] = [:]

    init(rule: Rule, framing: WindowFraming, window: Int, lookahead: Int, lookbehind: Int, observeOnly: Bool = false) {
        self.rule = rule
        self.framing = framing
        self.window = max(1, window)
        self.lookahead = max(0, lookahead)
        self.lookbehind = max(1, lookbehind)
        self.observeOnly = observeOnly
    }

    /// Bytes held right now (lookbehind context and undecided bytes).
    var retainedByteCount: Int { history.count + pending.count }

    /// The most bytes a stream can hold.
    var retainedBound: Int { lookbehind + 2 * window + lookahead }

    // MARK: Streaming

    /// Takes the next bytes; returns what is decided.
    mutating func feed(_ bytes: [UInt8]) throws(WindowFailure) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + window)
            pending.append(contentsOf: bytes[start..<end])
            if observeOnly { out.append(contentsOf: bytes[start..<end]) }
            try drain(into: &out)
            start = end
        }
        return out
    }

    /// Ends the stream: decides everything held.
    mutating func finish() throws(WindowFailure) -> [UInt8] {
        var out: [UInt8] = []
        while !pending.isEmpty {
            let scan = min(pending.count, window + lookahead)
            let last = scan == pending.count
            try round(scan: scan, commitLimit: last ? scan : window, isFinal: last, into: &out)
        }
        history = []
        return out
    }

    /// Gives up on the stream (`on_uninspectable: pass` after a rule failed): returns the
    /// undecided bytes unchanged (nothing, when observing: they went out already).
    mutating func abandon() -> [UInt8] {
        let rest = observeOnly ? [] : pending
        pending = []
        history = []
        return rest
    }

    /// Runs rounds while enough is pending.
    private mutating func drain(into out: inout [UInt8]) throws(WindowFailure) {
        while true {
            switch framing {
            case .bytes:
                guard pending.count >= window + lookahead else { return }
                try round(scan: window + lookahead, commitLimit: window, isFinal: false, into: &out)
            case .events, .lines:
                let limit = min(pending.count, window + lookahead)
                if let end = lastBoundaryEnd(limit: limit) {
                    try round(scan: end, commitLimit: end, isFinal: false, into: &out)
                } else if pending.count >= window + lookahead {
                    // One event longer than a window: fall back to byte windows.
                    try round(scan: window + lookahead, commitLimit: window, isFinal: false, into: &out)
                } else {
                    return
                }
            }
        }
    }

    /// The end of the last complete event (or line) within `pending[0..<limit]`.
    private func lastBoundaryEnd(limit: Int) -> Int? {
        var i = limit - 1
        while i >= 0 {
            if pending[i] == 0x0A {
                if framing == .lines { return i + 1 }
                // A blank line: "\n\n" or "\n\r\n".
                if i >= 1, pending[i - 1] == 0x0A { return i + 1 }
                if i >= 2, pending[i - 1] == 0x0D, pending[i - 2] == 0x0A { return i + 1 }
            }
            i -= 1
        }
        return nil
    }

    /// Scans `history + pending[0..<scan]` and commits new bytes up to `commitLimit` (or
    /// less, when a candidate straddles it).
    private mutating func round(scan: Int, commitLimit: Int, isFinal: Bool, into out: inout [UInt8]) throws(WindowFailure) {
        let h = history.count
        var buffer = history
        buffer.append(contentsOf: pending[0..<scan])
        let found = try rule.candidates(in: buffer, historyCount: h, absoluteStart: consumed - h, isFinal: isFinal)

        var commit = h + commitLimit
        var accepted: [WindowCandidate] = []
        var lastEnd = h
        for var candidate in found {
            if candidate.range.lowerBound < h {
                // Within bytes already emitted: decided in an earlier round.
                if candidate.range.upperBound <= h { continue }
                // It began in emitted bytes (unseen then): only its new part can still change.
                candidate.range = h..<candidate.range.upperBound
            }
            if candidate.range.lowerBound < lastEnd { continue }   // overlaps one taken already
            if candidate.range.lowerBound >= commit { break }
            if candidate.range.upperBound > commit {
                if candidate.range.lowerBound > h {
                    commit = candidate.range.lowerBound
                    break
                }
                // It starts right at the new bytes: deciding it now is the only way forward.
                commit = candidate.range.upperBound
            }
            accepted.append(candidate)
            lastEnd = candidate.range.upperBound
        }

        if !observeOnly {
            var cursor = h
            out.reserveCapacity(out.count + commit - h)
            for candidate in accepted {
                let replacement = candidate.render ? rule.render(candidate, in: buffer) : candidate.replacement
                guard let replacement else { continue }
                out.append(contentsOf: buffer[cursor..<candidate.range.lowerBound])
                out.append(contentsOf: replacement)
                cursor = candidate.range.upperBound
            }
            out.append(contentsOf: buffer[cursor..<commit])
        }
        for candidate in accepted { counts[candidate.label, default: 0] += 1 }

        history = Array(buffer[max(0, commit - lookbehind)..<commit])
        pending.removeFirst(commit - h)
        consumed += commit - h
    }
}
