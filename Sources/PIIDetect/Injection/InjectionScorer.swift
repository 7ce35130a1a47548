// MARK: - Prompt-injection scoring

/// How eager the injection defense is; maps to a score threshold.
public enum Sensitivity: String, Sendable, CaseIterable {
    case low, medium, high

    /// The score at or above which a body counts as an injection.
    public var threshold: Double {
        switch self {
        case .low: return 0.75
        case .medium: return 0.5
        case .high: return 0.3
        }
    }
}

/// The verdict on one body: a score in [0, 1] and the byte ranges of the raw input that
/// carry the injection (for `sanitize`), sorted and disjoint.
public struct InjectionResult: Sendable, Equatable {
    public var score: Double
    public var spans: [Range<Int>]

    public init(score: Double, spans: [Range<Int>]) {
        self.score = score
        self.spans = spans
    }
}

/// Scores response bodies for instructions aimed at an AI agent that reads them.
///
/// The body is decoded and folded (``InjectionView``), cut into sentences, and read by one
/// Aho-Corasick pass over a multilingual phrase lexicon (``Lexicon``, ``PhraseAutomaton``).
/// Each sentence becomes a set of atoms; rules turn atom combinations into signals
/// ("ignore" + "instructions" is an override, "reveal" + "system prompt" an exfiltration,
/// an address to AI agents plus an imperative a hijack), and signals of neighbouring
/// sentences combine by noisy-OR. Text hidden from the human reader (comments, invisible
/// elements, attributes, link titles, tag characters) and text that had to be decoded
/// (base64, hex, ROT13, reversed, leetspeak, homoglyphs, letter spacing) raise the score;
/// text that discusses attacks (security articles) or holds them in code string literals
/// lowers it. Bounded: linear passes, decoding budget, recursion depth 2.
public final class InjectionScorer: Sendable {
    /// Score at or above which ``ScanFormat`` labels a body `injection`.
    public let threshold: Double

    let automaton: PhraseAutomaton
    let exfilLink: Regex2

    /// One compiled lexicon for every scorer in the process.
    static let sharedAutomaton = PhraseAutomaton(entries: Lexicon.entries)

    /// A scorer whose ``threshold`` follows `sensitivity`.
    public convenience init(sensitivity: Sensitivity = .medium) {
        self.init(threshold: sensitivity.threshold)
    }

    /// A scorer with an explicit threshold (a policy's `injection_defense.threshold`).
    public init(threshold: Double) {
        self.threshold = threshold
        automaton = InjectionScorer.sharedAutomaton
        // A Markdown image or link whose URL carries a query: the classic exfiltration
        // channel (the client fetches it, sending whatever the model filled in).
        // swiftlint:disable:next force_try
        exfilLink = try! Regex2(#"!?\[[^\]\n]{0,200}\]\((?:https?:)?//[^\s)]{1,400}[?&][^\s)]{0,400}="#)
    }

    /// Scores `bytes` (UTF-8; invalid sequences are tolerated).
    public func score(_ bytes: [UInt8]) -> InjectionResult {
        bytes.withUnsafeBufferPointer { score($0) }
    }

    /// Scores `bytes` (UTF-8; invalid sequences are tolerated).
    public func score(_ bytes: UnsafeBufferPointer<UInt8>) -> InjectionResult {
        let view = InjectionView.build(bytes)
        let analysis = view.bytes.withUnsafeBufferPointer { analyze($0, view: view, depth: 0) }
        var spans = analysis.spans.map { view.rawRange($0) }
        spans.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int>] = []
        for s in spans where !s.isEmpty {
            if let last = merged.last, s.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, s.upperBound)
            } else {
                merged.append(s)
            }
        }
        let rounded = (analysis.score * 1000).rounded() / 1000
        return InjectionResult(score: min(1, max(0, rounded)), spans: merged)
    }

    // MARK: Analysis

    struct Sentence {
        var range: Range<Int>
        var atoms: UInt64 = 0
        var transformed: UInt64 = 0
        var extra: [Signal: Double] = [:]
        var hiddenRange: Range<Int>? = nil
        var splits = 0
        var isTag = false
        var role: Int? = nil
        var codeLiteral = false
        var inFence = false
        var nearCode = false
    }

    enum Signal: Hashable {
        case override, revoked, reveal, exfil, delete, tool, persona, address, fakeTurn, manipulate
        case stealth, authorization, obligation, future, instead, newInstructions, fromNow, obfuscationCue
        case hijack, exfilLink, roles, encoded
    }

    struct Analysis {
        var score: Double
        var spans: [Range<Int>]
    }

    @inline(__always) static func bit(_ a: Atom) -> UInt64 { 1 << UInt64(a.rawValue) }

    func analyze(_ p: UnsafeBufferPointer<UInt8>, view: InjectionView?, depth: Int) -> Analysis {
        var sentences = InjectionScorer.segment(p)
        guard !sentences.isEmpty else { return Analysis(score: 0, spans: []) }

        // Phrases → atoms per sentence (hits arrive in text order).
        var cursor = 0
        automaton.scan(p) { end, out in
            let pos = end - 1
            while cursor + 1 < sentences.count, sentences[cursor].range.upperBound <= pos { cursor += 1 }
            let b = InjectionScorer.bit(out.atom)
            if out.transformed { sentences[cursor].transformed |= b } else { sentences[cursor].atoms |= b }
        }

        markStructure(p, &sentences)
        if let view { markView(view, &sentences) }
        markHidden(p, &sentences)

        // Windows of neighbouring sentences.
        var best = 0.0
        var spans: [Range<Int>] = []
        let perSentence = sentences.map { signals(of: $0, p: p) }
        let penalties = penaltiesFor(sentences)
        for i in sentences.indices where !perSentence[i].isEmpty || sentences[i].transformed != 0 {
            var combined: [Signal: Double] = [:]
            var hidden = false, obfuscated = false
            var members: [Int] = []
            var j = i
            while j > 0, i - j < 3, sentences[i].range.lowerBound - sentences[j - 1].range.upperBound < 200 { j -= 1 }
            var transformedAtoms: UInt64 = 0
            var k = j
            while k < sentences.count, k - i < 3, sentences[k].range.lowerBound - sentences[i].range.upperBound < 200 {
                transformedAtoms |= sentences[k].transformed
                k += 1
            }
            let useTransformed = transformedAtoms.nonzeroBitCount >= 2
            for m in j..<k {
                var sig = perSentence[m]
                if useTransformed, sentences[m].transformed != 0 {
                    var s = sentences[m]
                    s.atoms |= s.transformed
                    sig = signals(of: s, p: p)
                    obfuscated = true
                }
                guard !sig.isEmpty else { continue }
                members.append(m)
                let factor = penalties[m]
                for (type, w) in sig { combined[type] = max(combined[type] ?? 0, w * factor) }
                if sentences[m].hiddenRange != nil { hidden = true }
                if sentences[m].isTag || sentences[m].splits >= 3 { obfuscated = true }
            }
            var s = 1.0
            for (_, w) in combined { s *= 1 - min(w, 0.99) }
            var score = 1 - s
            if hidden { score = 1 - (1 - score) * (1 - score).squareRoot() }
            if obfuscated { score = 1 - (1 - score) * (1 - score).squareRoot() }
            if score > best { best = score }
            if score >= 0.3 {
                for m in members {
                    spans.append(sentences[m].range)
                    if let h = sentences[m].hiddenRange { spans.append(h) }
                }
            }
        }

        // Encoded segments: read what they say.
        if depth < 2 {
            for seg in EncodedSegments.find(p) {
                let inner = seg.text.withUnsafeBufferPointer { decoded -> Analysis in
                    let innerView = InjectionView.build(decoded)
                    return innerView.bytes.withUnsafeBufferPointer { analyze($0, view: nil, depth: depth + 1) }
                }
                guard inner.score > 0 else { continue }
                let boosted = 1 - (1 - inner.score) * (1 - inner.score).squareRoot()
                if boosted > best { best = boosted }
                if boosted >= 0.3 { spans.append(seg.range) }
            }
        }
        return Analysis(score: best, spans: spans)
    }
}
