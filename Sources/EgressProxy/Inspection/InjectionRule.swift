import PIIDetect

// MARK: - InjectionRule

/// Prompt-injection scoring as a window rule. Each window (with its lookbehind, so a sentence
/// cut by the previous window is read whole) is scored; the body's score is the highest
/// window score.
struct InjectionRule: WindowRule {
    enum Mode {
        /// Buffered body: only score and remember the offending spans (stream offsets); the
        /// decision is taken on the whole body at the end.
        case collect
        /// Streaming `block`: a window at or above the threshold trips the rule before its
        /// bytes are emitted.
        case block
        /// Streaming `sanitize`: a window at or above the threshold has its spans removed
        /// (whole events, for event streams, so the stream stays well-formed).
        case sanitize
        /// `log_only`: score only.
        case observe
    }

    let scorer: InjectionScorer
    let threshold: Double
    let mode: Mode
    let framing: WindowFraming

    /// The highest score seen so far.
    private(set) var maxScore = 0.0
    /// A window reached the threshold (block mode: the stream must end).
    private(set) var tripped = false
    /// Collect mode: offending spans as stream offsets, in the order found.
    private(set) var spans: [Range<Int>] = []
    /// Streaming sanitize: spans removed.
    private(set) var removedSpans = 0

    init(scorer: InjectionScorer, threshold: Double, mode: Mode, framing: WindowFraming) {
        self.scorer = scorer
        self.threshold = threshold
        self.mode = mode
        self.framing = framing
    }

    mutating func candidates(in buffer: [UInt8], historyCount: Int, absoluteStart: Int, isFinal: Bool)
        throws(WindowFailure) -> [WindowCandidate] {
        let result = scorer.score(buffer)
        maxScore = max(maxScore, result.score)
        switch mode {
        case .observe:
            return []
        case .collect:
            for span in result.spans { spans.append((span.lowerBound + absoluteStart)..<(span.upperBound + absoluteStart)) }
            return []
        case .block:
            if result.score >= threshold { tripped = true }
            return []
        case .sanitize:
            guard result.score >= threshold else { return [] }
            var ranges = result.spans
            if framing != .bytes { ranges = ranges.map { eventRange(around: $0, in: buffer) } }
            var merged: [Range<Int>] = []
            for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !r.isEmpty {
                if let last = merged.last, r.lowerBound <= last.upperBound {
                    merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
                } else {
                    merged.append(r)
                }
            }
            removedSpans += merged.count
            return merged.map { WindowCandidate(range: $0, label: "injection", replacement: []) }
        }
    }

    /// The whole event (or line) holding `span`: from after the previous boundary to the end
    /// of the next one.
    private func eventRange(around span: Range<Int>, in p: [UInt8]) -> Range<Int> {
        var start = span.lowerBound
        while start > 0 {
            if p[start - 1] == 0x0A, framing == .lines || (start >= 2 && (p[start - 2] == 0x0A || (p[start - 2] == 0x0D && start >= 3 && p[start - 3] == 0x0A))) {
                break
            }
            start -= 1
        }
        var end = max(span.upperBound, start)
        while end < p.count {
            if p[end] == 0x0A {
                if framing == .lines { end += 1; break }
                if end + 1 < p.count, p[end + 1] == 0x0A { end += 2; break }
                if end + 2 < p.count, p[end + 1] == 0x0D, p[end + 2] == 0x0A { end += 3; break }
            }
            end += 1
        }
        return start..<min(end, p.count)
    }
}
