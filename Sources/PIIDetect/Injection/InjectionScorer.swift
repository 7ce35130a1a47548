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
/// The body is decoded and folded (``InjectionView``), then read in one pass that cuts it
/// into sentences and runs an Aho-Corasick automaton over a multilingual phrase lexicon
/// (``Lexicon``, ``PhraseAutomaton``). Each sentence becomes a set of atoms; rules turn atom
/// combinations into signals ("ignore" + "instructions" is an override in any word order,
/// "reveal" + "system prompt" an exfiltration, an address to AI agents plus an imperative a
/// hijack), and signals of neighbouring sentences combine by noisy-OR. Text hidden from the
/// human reader (comments, invisible elements, attributes, link titles, tag characters) and
/// text that had to be decoded (base64, hex, ROT13, reversed, leetspeak, homoglyphs, letter
/// spacing, invisible separators) raise the score; text that discusses attacks (security
/// articles) or holds them in code string literals lowers it.
///
/// Bounded: linear passes, a decoding budget, recursion depth 2. Thread-safe.
public final class InjectionScorer: Sendable {
    /// Score at or above which ``ScanFormat`` labels a body `injection`.
    public let threshold: Double

    let ascii: PhraseAutomaton
    let nonASCII: PhraseAutomaton
    let exfilLink: Regex2

    /// The compiled lexicon, shared by every scorer in the process (built on first use).
    static let sharedASCII = PhraseAutomaton(entries: Lexicon.entries, script: .ascii)
    static let sharedNonASCII = PhraseAutomaton(entries: Lexicon.entries, script: .nonASCII)

    /// A scorer whose ``threshold`` follows `sensitivity`.
    public convenience init(sensitivity: Sensitivity = .medium) {
        self.init(threshold: sensitivity.threshold)
    }

    /// A scorer with an explicit threshold (a policy's `injection_defense.threshold`).
    public init(threshold: Double) {
        self.threshold = threshold
        ascii = InjectionScorer.sharedASCII
        nonASCII = InjectionScorer.sharedNonASCII
        // A Markdown image or link whose URL carries a query: the classic exfiltration
        // channel (the client fetches it, sending whatever the model filled in).
        // The pattern is a constant and known to compile.
        exfilLink = try! Regex2(#"!?\[[^\]\n]{0,200}\]\((?:https?:)?//[^\s)]{1,400}[?&][^\s)]{0,400}="#)
    }

    /// Scores `bytes` (UTF-8; invalid sequences are tolerated).
    public func score(_ bytes: [UInt8]) -> InjectionResult {
        bytes.withUnsafeBufferPointer { score($0) }
    }

    /// Scores `bytes` (UTF-8; invalid sequences are tolerated).
    public func score(_ bytes: UnsafeBufferPointer<UInt8>) -> InjectionResult {
        // Binary content (images, archives) carries no instructions a model reads as text.
        if InjectionScorer.looksBinary(bytes) { return InjectionResult(score: 0, spans: []) }
        let view = InjectionView.build(bytes)
        var analysis = view.withBytes(raw: bytes) { analyze($0, view: view, depth: 0) }
        // Letter-spaced text (`I G N O R E   A L L`) is read again, collapsed.
        if analysis.letterSpaced,
           let (collapsed, map) = view.withBytes(raw: bytes, { LetterSpacing.collapse($0) }) {
            var spacedView = view
            spacedView.bytes = collapsed
            spacedView.isRaw = false
            spacedView.layers.append(map)
            spacedView.tagRanges = []
            spacedView.splitPositions = []
            var second = collapsed.withUnsafeBufferPointer { analyze($0, view: spacedView, depth: 0, obfuscated: true) }
            if second.score > analysis.score {
                second.spans = second.spans.map { map.inputRange($0) }
                analysis = second
            }
        }
        // Spans to raw ranges, sorted, and overlapping or touching ones merged, all in place
        // (the analysis holds the only reference to its list).
        var spans = analysis.spans
        analysis.spans = []
        if !view.layers.isEmpty { for k in spans.indices { spans[k] = view.rawRange(spans[k]) } }
        spans.sort { $0.lowerBound < $1.lowerBound }
        var merged = 0
        for k in spans.indices where !spans[k].isEmpty {
            let s = spans[k]
            if merged > 0, s.lowerBound <= spans[merged - 1].upperBound {
                spans[merged - 1] = spans[merged - 1].lowerBound..<max(spans[merged - 1].upperBound, s.upperBound)
            } else {
                spans[merged] = s
                merged += 1
            }
        }
        spans.removeLast(spans.count - merged)
        let rounded = (analysis.score * 1000).rounded() / 1000
        return InjectionResult(score: min(1, max(0, rounded)), spans: spans)
    }

    /// More than 5% control bytes or invalid UTF-8 in the first 64 KiB.
    static func looksBinary(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = min(p.count, 65_536)
        guard n >= 64 else { return false }
        return badBytes(p) * 20 > n
    }

    /// Control bytes and bytes of invalid UTF-8 in the first 64 KiB of `p` (a sequence that
    /// starts in them is decoded from the whole of `p`).
    static func badBytes(_ p: UnsafeBufferPointer<UInt8>) -> Int {
        let n = min(p.count, 65_536)
        guard let base = p.baseAddress else { return 0 }
        var bad = 0
        var i = 0
        let c09 = ByteVector.splat(0x09), c0E = ByteVector.splat(0x0E), c12 = ByteVector.splat(0x20 - 0x0E)
        let c7F = ByteVector.splat(0x7F)
        while i < n {
            // ASCII sixteen bytes at a time (control bytes counted: below 0x09, 0x0E ..< 0x20,
            // 0x7F), up to a byte of 0x80 or more; that one's sequence is decoded below.
            if i &+ 16 <= n {
                let x = ByteVector.load(base, i)
                let high = Lanes.bits(x)
                let control = Lanes.bits(Lanes.lt(x, c09) | Lanes.lt(x &- c0E, c12) | Lanes.eq(x, c7F))
                if high == 0 {
                    // (No `popcnt` in baseline x86-64: the count is a dozen instructions.)
                    if control != 0 { bad &+= control.nonzeroBitCount }
                    i &+= 16
                    continue
                }
                let ascii = high.trailingZeroBitCount
                let counted = control & ((1 &<< UInt32(ascii)) &- 1)
                if counted != 0 { bad &+= counted.nonzeroBitCount }
                i &+= ascii
            } else if i + 8 <= n {
                // The tail: eight at a time, the same way.
                let x = ByteWord.load(base + i)
                let high = x & ByteWord.highs
                let control = ByteWord.below(x, 0x09) | (ByteWord.above(x, 0x0D) & ByteWord.below(x, 0x20))
                    | ByteWord.equal(x, 0x7F)
                let ascii = high == 0 ? 8 : ByteWord.first(high)
                let mask: UInt64 = ascii == 8 ? ~0 : (1 &<< UInt64(8 * ascii)) &- 1
                if control & mask != 0 { bad += (control & mask).nonzeroBitCount }
                i += ascii
                if ascii == 8 { continue }
            }
            let b = p[i]
            if b < 0x80 {
                if b < 0x09 || (b > 0x0D && b < 0x20) || b == 0x7F { bad += 1 }
                i += 1
            } else if let (_, len) = UTF8Scalar.decode(p, at: i) {
                i += len
            } else {
                bad += 1
                i += 1
            }
        }
        return bad
    }

    // MARK: Analysis state

    /// One sentence and what it says (plain data: the scan appends many of them).
    struct Sentence {
        var start: Int
        var end: Int
        var atoms: UInt64 = 0
        var transformed: UInt64 = 0
        var roles: Float = 0
        var exfilLink: Float = 0
        var hiddenStart = -1
        var hiddenEnd = -1
        var splits: Int32 = 0
        var role: Int8 = -1
        var isTag = false
        var inFence = false
        var nearCode = false
        var codeLiteral = false
        var atLineStart = false

        var range: Range<Int> { start..<end }
        var isHidden: Bool { hiddenStart >= 0 }
    }

    struct Analysis {
        var score: Double
        var spans: [Range<Int>]
        var letterSpaced = false
    }

    @inline(__always) static func bit(_ a: Atom) -> UInt64 { 1 << UInt64(a.rawValue) }

    /// Per-byte roles in the scan loop.
    struct ByteRole {
        static let boundary: UInt8 = 1     // may end a sentence
        static let at: UInt8 = 2           // `@`
        static let angle: UInt8 = 4        // `<`
        static let bracket: UInt8 = 8      // `]`
        static let base64: UInt8 = 16      // base64/hex alphabet
        static let space: UInt8 = 32
        static let script: UInt8 = 64      // lead byte of Cyrillic, Arabic, Indic, CJK, Hangul
        /// Needs more than token bookkeeping: any of the above but base64 and space, or
        /// a byte of 0x80 or more.
        static let special: UInt8 = 128
    }

    nonisolated(unsafe) static let byteRoles: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        t.initialize(repeating: 0, count: 256)
        for c in Array("\n.!?;<>{}\"".utf8) { t[Int(c)] |= ByteRole.boundary }
        t[0xE3] |= ByteRole.boundary
        t[0xEF] |= ByteRole.boundary
        t[Int(UInt8(ascii: "@"))] |= ByteRole.at
        t[Int(UInt8(ascii: "<"))] |= ByteRole.angle
        t[Int(UInt8(ascii: "]"))] |= ByteRole.bracket
        for c in Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_".utf8) { t[Int(c)] |= ByteRole.base64 }
        t[0x20] |= ByteRole.space
        for b in [0xD0, 0xD1, 0xD2, 0xD3, 0xD8, 0xD9, 0xDA, 0xDB, 0xE0, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xEB, 0xEC, 0xED] {
            t[b] |= ByteRole.script
        }
        for b in 0..<256 where t[b] & ~(ByteRole.base64 | ByteRole.space) != 0 || b >= 0x80 { t[b] |= ByteRole.special }
        return UnsafePointer(t)
    }()

    // MARK: Analysis

    func analyze(_ p: UnsafeBufferPointer<UInt8>, view: InjectionView?, depth: Int, obfuscated: Bool = false) -> Analysis {
        guard let base = p.baseAddress, p.count > 0 else { return Analysis(score: 0, spans: []) }
        let n = p.count
        // The sentence list and other scratch come from the thread's workspace, given back
        // before decoded text is read (which may use it in turn).
        let ws = InjectionWorkspace.acquire()
        var sentences = ws.sentences
        ws.sentences = []
        sentences.removeAll(keepingCapacity: true)
        sentences.reserveCapacity(n / 48 + 4)
        var encodedRuns: [Range<Int>] = []

        // One pass: sentences, phrases (ASCII automaton), and what later steps need.
        var scan = MainScan(n: n)
        scanText(base, n, &scan, &sentences, &encodedRuns, ws)
        let letterSpaced = scan.letterSpaced
        let rotCues = scan.rotCues, reversedCues = scan.reversedCues
        let sawAngle = scan.sawAngle, sawLink = scan.sawLink, sawScript = scan.sawScript
        guard !sentences.isEmpty else {
            ws.sentences = sentences
            ws.release()
            return Analysis(score: 0, spans: [], letterSpaced: letterSpaced)
        }

        // Other scripts, ROT13 and reversed text: further scans only when there is a reason.
        if sawScript { scanInto(nonASCII, p, &sentences, transformed: false) }
        if rotCues >= 3 {
            // By table, into storage written once (`map` with the switch costs ~20
            // instructions a byte).
            let table = InjectionScorer.rot13Table
            let rotated = [UInt8](unsafeUninitializedCapacity: n) { out, count in
                for k in 0..<n { out[k] = table[Int(base[k])] }
                count = n
            }
            rotated.withUnsafeBufferPointer { scanInto(ascii, $0, &sentences, transformed: true) }
        }
        if reversedCues >= 3 {
            let reversed = [UInt8](unsafeUninitializedCapacity: n) { out, count in
                for k in 0..<n { out[k] = base[n - 1 - k] }
                count = n
            }
            reversed.withUnsafeBufferPointer { r in
                var hits: [(Int, UInt64)] = []
                ascii.scan(r) { end, out in hits.append((n - end, InjectionScorer.bit(out.atom))) }
                hits.sort { $0.0 < $1.0 }
                var cursor = 0
                for (pos, bit) in hits {
                    while cursor + 1 < sentences.count, sentences[cursor].end <= pos { cursor += 1 }
                    sentences[cursor].transformed |= bit
                }
            }
        }

        markStructure(p, &sentences, sawLink: sawLink)
        if let view { markView(view, &sentences) }
        if sawAngle || sawLink { markHidden(p, &sentences) }

        var result = combine(p, sentences, obfuscated: obfuscated, ws)
        ws.sentences = sentences
        ws.release()

        // Encoded segments: read what they say.
        if depth < 2, !encodedRuns.isEmpty {
            for seg in EncodedSegments.decode(p, runs: encodedRuns) {
                let inner = seg.text.withUnsafeBufferPointer { decoded -> Analysis in
                    let innerView = InjectionView.build(decoded)
                    return innerView.withBytes(raw: decoded) { analyze($0, view: nil, depth: depth + 1, obfuscated: true) }
                }
                guard inner.score > 0 else { continue }
                if inner.score > result.score { result.score = inner.score }
                if inner.score >= 0.3 { result.spans.append(seg.range) }
            }
        }
        result.letterSpaced = letterSpaced
        return result
    }

    /// State of the main pass (a struct passed inout so it stays in registers).
    struct MainScan {
        var n: Int
        var start = 0
        var atoms: UInt64 = 0
        var sawText = false
        var inFence = false
        var letterSpaced = false
        var rotCues = 0, reversedCues = 0
        var sawAngle = false, sawLink = false, sawScript = false
        var atLineStart = true

        init(n: Int) { self.n = n }
    }

    @inline(__always)
    static func cut(_ end: Int, _ st: inout MainScan, _ sentences: inout [Sentence], endsLine: Bool = false) {
        if end > st.start, st.sawText {
            var s = Sentence(start: st.start, end: end)
            s.atoms = st.atoms
            s.inFence = st.inFence
            s.atLineStart = st.atLineStart
            sentences.append(s)
        }
        st.atLineStart = end > 0 && end <= st.n && endsLine
        st.start = end
        st.atoms = 0
        st.sawText = false
    }

    /// Phrase hits of one block (``PhraseAutomaton/findHits``), taken in position order.
    struct BlockHits {
        let buffer: UnsafeMutablePointer<UInt32>
        let count: Int
        let blockStart: Int
        var index = 0
        /// Position of the next hit (`Int.max`: none left).
        var next: Int

        init(_ buffer: UnsafeMutablePointer<UInt32>, count: Int, blockStart: Int) {
            self.buffer = buffer
            self.count = count
            self.blockStart = blockStart
            next = count > 0 ? blockStart + Int(buffer[0] >> 16) : Int.max
        }
    }

    /// Adds the atoms of the hits at or before `upTo` to the sentence being read.
    @inline(never)
    func apply(_ hits: inout BlockHits, upTo: Int, _ base: UnsafePointer<UInt8>, _ n: Int, _ st: inout MainScan) {
        let auto = ascii
        let cueBits = InjectionScorer.bit(.rot13Cue) | InjectionScorer.bit(.reversedCue)
        while hits.next <= upTo {
            let state = Int(hits.buffer[hits.index] & 0xFFFF)
            var hit: UInt64 = 0
            collect(auto, base, n, hits.next, Int(auto.outputStart[state]), Int(auto.outputStart[state &+ 1]), &hit)
            if hit & cueBits != 0 {
                if hit & InjectionScorer.bit(.rot13Cue) != 0 { st.rotCues += 1 }
                if hit & InjectionScorer.bit(.reversedCue) != 0 { st.reversedCues += 1 }
            }
            st.atoms |= hit & ~cueBits
            hits.index += 1
            hits.next = hits.index < hits.count ? hits.blockStart + Int(hits.buffer[hits.index] >> 16) : Int.max
        }
    }

    /// Token bookkeeping of the main pass: tokens are runs of letters, digits and `+/-_`
    /// (long ones may be base64 or hex), single-character tokens each followed by a space
    /// are letter spacing. Kept apart from ``MainScan`` (which the special bytes update).
    struct Tokens {
        /// Length of the token being read.
        var length = 0
        /// Single-character tokens, each followed by a space, in a row; the most so far.
        var singles = 0, mostSingles = 0
        /// Non-zero when token bytes were read since the last special byte.
        var seen: UInt64 = 0
    }

    /// Reads one plain byte (a letter, digit, `+/-_`, space or plain punctuation).
    @inline(__always)
    static func plainByte(_ role: UInt8, at i: Int, _ tk: inout Tokens, _ encodedRuns: inout [Range<Int>]) {
        let inToken = role == ByteRole.base64
        if inToken { tk.length &+= 1; tk.seen = 1; return }
        // The token that ends here, if any.
        let ended = tk.length
        if ended >= EncodedSegments.minimumLength { encodedRuns.append((i - ended)..<i) }
        if role == ByteRole.space, ended > 0 {
            // Letter spacing: a space after a one-character token extends the run, after
            // a longer one resets it.
            if ended == 1 { tk.singles += 1; tk.mostSingles = max(tk.mostSingles, tk.singles) } else { tk.singles = 0 }
        }
        tk.length = 0
    }

    /// Reads the plain bytes among the eight at `i` (up to the first special one) at
    /// once, as ``plainByte`` would one by one; returns how many.
    @inline(__always)
    static func plainWord(_ base: UnsafePointer<UInt8>, at i: Int, _ role0: UInt8, _ role1: UInt8, _ tk: inout Tokens,
                          _ encodedRuns: inout [Range<Int>]) -> Int {
        // The eight roles side by side: bit 7 special, 5 space, 4 token byte (the first
        // two already read by the caller).
        let roles = byteRoles
        var r = UInt64(role0)
        r |= UInt64(role1) &<< 8
        r |= UInt64(roles[Int(base[i + 2])]) &<< 16
        r |= UInt64(roles[Int(base[i + 3])]) &<< 24
        r |= UInt64(roles[Int(base[i + 4])]) &<< 32
        r |= UInt64(roles[Int(base[i + 5])]) &<< 40
        r |= UInt64(roles[Int(base[i + 6])]) &<< 48
        r |= UInt64(roles[Int(base[i + 7])]) &<< 56
        let special = r & ByteWord.highs
        let count = special == 0 ? 8 : ByteWord.first(special)
        guard count > 0 else { return 0 }
        let valid: UInt64 = count == 8 ? ~0 : (1 &<< UInt64(8 * count)) &- 1
        let token = (r &<< 3) & ByteWord.highs & valid
        let other = ~token & ByteWord.highs & valid
        tk.seen |= token
        guard other != 0 else { tk.length &+= count; return count }
        // The token running into the word ends at its first other byte; tokens inside
        // the word are too short to be encoded text.
        let first = ByteWord.first(other)
        let ended = tk.length &+ first
        if ended >= EncodedSegments.minimumLength { encodedRuns.append((i + first - ended)..<(i + first)) }
        tk.seen |= UInt64(ended)
        // Letter spacing: spaces right after a token byte end a token; of one character
        // when the byte before that is not a token byte (bytes before the word: from the
        // token length carried in).
        let space = (r &<< 2) & ByteWord.highs & valid
        let before1 = (token &<< 8) | (tk.length > 0 ? 0x80 : 0)
        let before2 = (token &<< 16) | (tk.length > 0 ? 0x8000 : 0) | (tk.length > 1 ? 0x80 : 0)
        let ends = space & before1
        if ends != 0 {
            let ones = ends & ~before2
            if ones == 0 {
                tk.singles = 0
            } else {
                var e = ends
                while e != 0 {
                    if e & (0 &- e) & ones != 0 {
                        tk.singles += 1
                        tk.mostSingles = max(tk.mostSingles, tk.singles)
                    } else {
                        tk.singles = 0
                    }
                    e &= e &- 1
                }
            }
        }
        // The token bytes after the last other byte start the next token.
        tk.length = count - 1 - ((63 - other.leadingZeroBitCount) >> 3)
        return count
    }

    /// The main pass: the ASCII automaton, sentence boundaries, e-mail addresses, base64
    /// runs, letter spacing, and whether later steps have work (tags, links, scripts).
    ///
    /// Block by block, the automaton runs first (``PhraseAutomaton/findHits``, several
    /// chains side by side) and the byte loop then takes its hits in order: a hit's atoms
    /// join the sentence being read before any cut at or after the hit's byte, as if the
    /// automaton stepped in the loop. The byte loop reads plain bytes eight at a time
    /// (``plainWord``) and stops at each special one.
    func scanText(_ base: UnsafePointer<UInt8>, _ n: Int, _ st: inout MainScan, _ sentences: inout [Sentence],
                  _ encodedRuns: inout [Range<Int>], _ ws: InjectionWorkspace) {
        let roles = InjectionScorer.byteRoles
        let auto = ascii
        let hitBuffer = ws.hitBuffer(min(n, PhraseAutomaton.maxBlock))
        var state = 0
        var tk = Tokens()
        var i = 0
        while i < n {
            let blockEnd = min(n, i + PhraseAutomaton.maxBlock)
            let count = auto.findHits(base, from: i, to: blockEnd, state: &state, into: hitBuffer)
            var hits = BlockHits(hitBuffer, count: count, blockStart: i)
            while i < blockEnd {
                if i + 8 <= blockEnd {
                    // Eight at a time unless a special byte comes first or second (dense
                    // markup or punctuation: one by one is cheaper there).
                    let role0 = roles[Int(base[i])], role1 = roles[Int(base[i + 1])]
                    if (role0 | role1) & ByteRole.special == 0 {
                        let k = InjectionScorer.plainWord(base, at: i, role0, role1, &tk, &encodedRuns)
                        i &+= k
                        if k == 8 { continue }
                    } else if role0 & ByteRole.special == 0 {
                        InjectionScorer.plainByte(role0, at: i, &tk, &encodedRuns)
                        i &+= 1
                    }
                } else {
                    let role = roles[Int(base[i])]
                    if role & ByteRole.special == 0 {
                        InjectionScorer.plainByte(role, at: i, &tk, &encodedRuns)
                        i &+= 1
                        continue
                    }
                }
                // A special byte.
                let b = base[i]
                let role = roles[Int(b)]
                if tk.seen != 0 { st.sawText = true; tk.seen = 0 }
                // A token ends: long ones may be base64/hex.
                var tokenLength = tk.length
                if tokenLength > 0 {
                    st.sawText = true
                    if tokenLength >= EncodedSegments.minimumLength { encodedRuns.append((i - tokenLength)..<i) }
                }
                if role & ByteRole.base64 != 0 {
                    // `+`, `/`, `-`, `_` belong to base64 tokens.
                    tokenLength &+= 1
                } else {
                    tokenLength = 0
                }
                if b >= 0x80 {
                    st.sawText = true
                    if role & ByteRole.script != 0 { st.sawScript = true }
                }
                if role & (ByteRole.boundary | ByteRole.at | ByteRole.angle | ByteRole.bracket) != 0 {
                    if role & ByteRole.angle != 0 { st.sawAngle = true }
                    if role & ByteRole.bracket != 0, i + 1 < n, base[i + 1] == UInt8(ascii: "(") { st.sawLink = true }
                    if role & ByteRole.at != 0, isEmailAt(base, n, i) { st.atoms |= InjectionScorer.bit(.emailAddressAtom) }
                    if role & ByteRole.boundary != 0 {
                        // The phrases found so far belong to the sentence this byte may end.
                        if hits.next <= i { apply(&hits, upTo: i, base, n, &st) }
                        switch b {
                        case 0x0A:
                            InjectionScorer.cut(i + 1, &st, &sentences, endsLine: true)
                            if i + 3 < n, base[i + 1] == 0x60, base[i + 2] == 0x60, base[i + 3] == 0x60 { st.inFence.toggle() }
                            tokenLength = 0
                        case UInt8(ascii: ">"):
                            // After a tag a new line of text may start (`<p>Human: …`).
                            InjectionScorer.cut(i + 1, &st, &sentences, endsLine: true)
                        case UInt8(ascii: "<"), UInt8(ascii: "{"), UInt8(ascii: "}"):
                            InjectionScorer.cut(i + 1, &st, &sentences)
                        case UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "?"), UInt8(ascii: ";"):
                            if i + 1 >= n {
                                InjectionScorer.cut(i + 1, &st, &sentences)
                            } else {
                                let nb = base[i + 1]
                                if nb == 0x20 || nb == 0x0A || nb == 0x22 || nb == 0x27 || nb == UInt8(ascii: "<") {
                                    InjectionScorer.cut(i + 1, &st, &sentences)
                                }
                            }
                        case 0x22:
                            if i + 1 < n, base[i + 1] == UInt8(ascii: ",") || base[i + 1] == UInt8(ascii: ":") || base[i + 1] == UInt8(ascii: "}") {
                                InjectionScorer.cut(i + 1, &st, &sentences)
                            }
                        case 0xE3:
                            if i + 2 < n, base[i + 1] == 0x80, base[i + 2] == 0x82 { InjectionScorer.cut(i + 3, &st, &sentences) }   // 。
                        case 0xEF:
                            if i + 2 < n, base[i + 1] == 0xBC, base[i + 2] == 0x81 || base[i + 2] == 0x9F || base[i + 2] == 0x9B {
                                InjectionScorer.cut(i + 3, &st, &sentences)   // ！？；
                            }
                        default:
                            break
                        }
                    }
                }
                tk.length = tokenLength
                i &+= 1
            }
            // The rest of the block's hits: no cut since them, so they belong to the
            // sentence still open.
            if hits.next < blockEnd { apply(&hits, upTo: blockEnd - 1, base, n, &st) }
        }
        if tk.length > 0 || tk.seen != 0 { st.sawText = true }
        if tk.mostSingles >= LetterSpacing.minimumRun { st.letterSpaced = true }
        if tk.length >= EncodedSegments.minimumLength { encodedRuns.append((n - tk.length)..<n) }
        InjectionScorer.cut(n, &st, &sentences)
    }

    @inline(never)
    func collect(_ auto: PhraseAutomaton, _ base: UnsafePointer<UInt8>, _ n: Int, _ i: Int, _ o0: Int, _ o1: Int, _ hit: inout UInt64) {
        for o in o0..<o1 {
            let out = auto.outputTable[o]
            if out.boundaryEnd, i + 1 < n, auto.isWordClass[Int(auto.classOf[Int(base[i + 1])])] { continue }
            if out.boundaryStart {
                let s = auto.matchStart(base, end: i, length: Int(out.length))
                if s > 0, auto.isWordClass[Int(auto.classOf[Int(base[s - 1])])] { continue }
            }
            hit |= InjectionScorer.bit(out.atom)
        }
    }

    /// A second automaton or a transformed copy: hits go to the sentence at the same place.
    func scanInto(_ auto: PhraseAutomaton, _ p: UnsafeBufferPointer<UInt8>, _ sentences: inout [Sentence], transformed: Bool) {
        var cursor = 0
        let cues = InjectionScorer.bit(.rot13Cue) | InjectionScorer.bit(.reversedCue)
        auto.scan(p) { end, out in
            let bit = InjectionScorer.bit(out.atom)
            guard bit & cues == 0 else { return }
            let pos = end - 1
            while cursor + 1 < sentences.count, sentences[cursor].end <= pos { cursor += 1 }
            if transformed { sentences[cursor].transformed |= bit } else { sentences[cursor].atoms |= bit }
        }
    }

    /// ``rot13(_:)`` of every byte value.
    nonisolated(unsafe) static let rot13Table: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for b in 0..<256 { t[b] = rot13(UInt8(b)) }
        return UnsafePointer(t)
    }()

    @inline(__always) static func rot13(_ b: UInt8) -> UInt8 {
        switch b {
        case 0x61...0x7A: return (b - 0x61 + 13) % 26 + 0x61
        case 0x41...0x5A: return (b - 0x41 + 13) % 26 + 0x41
        default: return b
        }
    }

    /// `x@y.z` around position `i`.
    @inline(__always)
    func isEmailAt(_ base: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Bool {
        guard i > 0, i + 3 < n, isAlnum(base[i - 1]), isAlnum(base[i + 1]) else { return false }
        var k = i + 1
        while k < n, k - i < 80, isAlnum(base[k]) || base[k] == 0x2E || base[k] == 0x2D {
            if base[k] == 0x2E, k + 1 < n, isAlpha(base[k + 1]) { return true }
            k += 1
        }
        return false
    }

    // MARK: Combination

    /// Signals of neighbouring sentences (up to three each side, within 200 bytes)
    /// combine by noisy-OR; hidden and decoded text is boosted.
    func combine(_ p: UnsafeBufferPointer<UInt8>, _ sentences: [Sentence], obfuscated: Bool,
                 _ ws: InjectionWorkspace) -> Analysis {
        var best = 0.0
        var spans: [Range<Int>] = []
        // Signals and penalties of the sentences that say something; `slot` maps a
        // sentence to its entry (sentences without signals have none). The lists are the
        // workspace's, given back at the end.
        var slot = ws.slot, signalList = ws.signalList, penaltyList = ws.penaltyList
        var interesting = ws.interesting, members = ws.members
        ws.slot = []; ws.signalList = []; ws.penaltyList = []; ws.interesting = []; ws.members = []
        defer {
            ws.slot = slot; ws.signalList = signalList; ws.penaltyList = penaltyList
            ws.interesting = interesting; ws.members = members
        }
        slot.removeAll(keepingCapacity: true)
        slot.append(contentsOf: repeatElement(-1, count: sentences.count))
        signalList.removeAll(keepingCapacity: true)
        penaltyList.removeAll(keepingCapacity: true)
        interesting.removeAll(keepingCapacity: true)
        for idx in sentences.indices {
            let s = sentences[idx]
            guard s.atoms != 0 || s.transformed != 0 || s.roles > 0 || s.exfilLink > 0 else { continue }
            let sig = signals(of: s)
            if !sig.isEmpty {
                slot[idx] = Int32(signalList.count)
                signalList.append(sig)
                penaltyList.append(penaltyFor(sentences, idx))
            }
            // Windows are centred on sentences that could carry a verdict; weak signals
            // (an obligation, "instead") only count next to them.
            if sig.strongest >= 0.3 || s.transformed != 0 { interesting.append(idx) }
        }
        guard !interesting.isEmpty else { return Analysis(score: 0, spans: []) }
        for i in interesting {
            var j = i
            while j > 0, i - j < 3, sentences[i].start - sentences[j - 1].end < 200 { j -= 1 }
            var k = i + 1
            while k < sentences.count, k - i <= 3, sentences[k].start - sentences[i].end < 200 { k += 1 }
            var transformed: UInt64 = 0
            for m in j..<k { transformed |= sentences[m].transformed }
            let useTransformed = transformed.nonzeroBitCount >= 2
            var combined = SignalSet()
            var hidden = false, decoded = obfuscated
            members.removeAll(keepingCapacity: true)
            for m in j..<k {
                var s = sentences[m]
                let sig: SignalSet
                let factor: Double
                if useTransformed, s.transformed != 0 {
                    s.atoms |= s.transformed
                    sig = signals(of: s)
                    factor = penaltyFor(sentences, m)
                    decoded = true
                } else if slot[m] >= 0 {
                    sig = signalList[Int(slot[m])]
                    factor = penaltyList[Int(slot[m])]
                } else {
                    continue
                }
                guard !sig.isEmpty else { continue }
                members.append(m)
                combined.formMax(sig, scaledBy: factor)
                if s.isHidden { hidden = true }
                if s.isTag || s.splits >= 3 { decoded = true }
            }
            var score = combined.noisyOr
            if hidden { score = 1 - (1 - score) * (1 - score).squareRoot() }
            if decoded { score = 1 - (1 - score) * (1 - score).squareRoot() }
            if score > best { best = score }
            if score >= 0.3 {
                // Room for a few windows' spans at once (growing one append at a time
                // reallocates several times).
                if spans.capacity == 0 { spans.reserveCapacity(32) }
                for m in members {
                    spans.append(sentences[m].range)
                    if sentences[m].isHidden { spans.append(sentences[m].hiddenStart..<sentences[m].hiddenEnd) }
                }
            }
        }
        return Analysis(score: best, spans: spans)
    }
}

// MARK: - Signals

/// What a sentence (or a window of sentences) signals, one weight per kind. Plain data
/// (a fixed tuple and a bit mask of the kinds present), so windows combine cheaply.
struct SignalSet {
    enum Kind: Int, CaseIterable {
        case override, revoked, reveal, exfil, delete, tool, persona, address, fakeTurn, manipulate
        case stealth, authorization, obligation, future, instead, newInstructions, fromNow, obfuscationCue
        case hijack, exfilLink, roles
    }

    private var w: (Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float,
                    Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// Kinds with a non-zero weight.
    private(set) var mask: UInt32 = 0

    var isEmpty: Bool { mask == 0 }

    @inline(__always) subscript(_ i: Int) -> Float {
        get { withUnsafeBytes(of: w) { $0.load(fromByteOffset: i * 4, as: Float.self) } }
        set { withUnsafeMutableBytes(of: &w) { $0.storeBytes(of: newValue, toByteOffset: i * 4, as: Float.self) } }
    }

    /// The largest weight.
    var strongest: Float {
        var m: Float = 0
        var bits = mask
        while bits != 0 {
            let i = bits.trailingZeroBitCount
            m = max(m, self[i])
            bits &= bits - 1
        }
        return m
    }

    @inline(__always) mutating func put(_ k: Kind, _ weight: Float) {
        let i = k.rawValue
        if weight > self[i] { self[i] = weight; mask |= 1 << UInt32(i) }
    }

    @inline(__always) mutating func formMax(_ other: SignalSet, scaledBy factor: Double) {
        var bits = other.mask
        let f = Float(factor)
        while bits != 0 {
            let i = bits.trailingZeroBitCount
            let v = other[i] * f
            if v > self[i] { self[i] = v; mask |= 1 << UInt32(i) }
            bits &= bits - 1
        }
    }

    /// 1 − Π(1 − wᵢ).
    var noisyOr: Double {
        var product = 1.0
        var bits = mask
        while bits != 0 {
            let i = bits.trailingZeroBitCount
            product *= 1 - Double(min(self[i], 0.99))
            bits &= bits - 1
        }
        return 1 - product
    }
}
