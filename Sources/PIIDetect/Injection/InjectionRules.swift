// MARK: - Sentences, structure and rules of the injection scorer

extension InjectionScorer {
    // MARK: Sentences

    /// Sentence boundaries: newlines, tag brackets, JSON field ends, `.`/`!`/`?`/`;`
    /// before a space or the end, and CJK full stops.
    static func segment(_ p: UnsafeBufferPointer<UInt8>) -> [Sentence] {
        var out: [Sentence] = []
        let n = p.count
        var start = 0
        var i = 0
        var inFence = false
        @inline(__always) func cut(_ end: Int) {
            if end > start {
                // Skip sentences made only of spaces and punctuation.
                var hasText = false
                for k in start..<end where isAlnum(p[k]) || p[k] >= 0x80 { hasText = true; break }
                if hasText {
                    var s = Sentence(range: start..<end)
                    s.inFence = inFence
                    out.append(s)
                }
            }
            start = end
        }
        while i < n {
            let b = p[i]
            switch b {
            case 0x0A:
                cut(i + 1)
                // Markdown code fences: text between ``` lines is code.
                if i + 3 < n, p[i + 1] == 0x60, p[i + 2] == 0x60, p[i + 3] == 0x60 { inFence.toggle() }
            case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "{"), UInt8(ascii: "}"):
                cut(i + 1)
            case UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "?"), UInt8(ascii: ";"):
                if i + 1 >= n || p[i + 1] == 0x20 || p[i + 1] == 0x0A || p[i + 1] == 0x22 || p[i + 1] == 0x27 || p[i + 1] == UInt8(ascii: "<") {
                    cut(i + 1)
                }
            case 0x22:
                if i + 1 < n, p[i + 1] == UInt8(ascii: ",") || p[i + 1] == UInt8(ascii: ":") || p[i + 1] == UInt8(ascii: "}") {
                    cut(i + 1)
                }
            case 0xE3:
                if i + 2 < n, p[i + 1] == 0x80, p[i + 2] == 0x82 { cut(i + 3); i += 2 }   // 。
            case 0xEF:
                if i + 2 < n, p[i + 1] == 0xBC, p[i + 2] == 0x81 || p[i + 2] == 0x9F || p[i + 2] == 0x9B { cut(i + 3); i += 2 }   // ！？；
            default:
                break
            }
            i += 1
        }
        cut(n)
        return out
    }

    // MARK: Structure

    static let roleNames: [[UInt8]] = ["human", "assistant", "user", "system", "ai", "model", "gpt", "claude", "bot"]
        .map { Array($0.utf8) }

    /// E-mail addresses, chat-role lines, exfiltration links, code string literals.
    func markStructure(_ p: UnsafeBufferPointer<UInt8>, _ sentences: inout [Sentence]) {
        let n = p.count
        // E-mail addresses: `x@y.z`.
        var si = 0
        var i = 0
        while i < n {
            guard let at = memchrIndex(p, UInt8(ascii: "@"), from: i) else { break }
            if at > 0, at + 3 < n, isAlnum(p[at - 1]), isAlnum(p[at + 1]) {
                var k = at + 1
                var dot = false
                while k < n, k - at < 80, isAlnum(p[k]) || p[k] == 0x2E || p[k] == 0x2D {
                    if p[k] == 0x2E, k + 1 < n, isAlpha(p[k + 1]) { dot = true }
                    k += 1
                }
                if dot {
                    while si + 1 < sentences.count, sentences[si].range.upperBound <= at { si += 1 }
                    sentences[si].atoms |= InjectionScorer.bit(.emailAddressAtom)
                }
            }
            i = at + 1
        }
        markCode(p, &sentences)
        // Chat-role lines ("Human:", "Assistant:") and code string literals, per sentence.
        var roles = Set<Int>()
        for idx in sentences.indices {
            let r = sentences[idx].range
            var s = r.lowerBound
            while s < r.upperBound, p[s] == 0x20 || p[s] == UInt8(ascii: "#") || p[s] == UInt8(ascii: "*") { s += 1 }
            for (k, name) in InjectionScorer.roleNames.enumerated() where s + name.count < r.upperBound {
                var ok = true
                for t in 0..<name.count where lower(p[s + t]) != name[t] { ok = false; break }
                if ok, p[s + name.count] == UInt8(ascii: ":"), s == 0 || p[s - 1] == 0x0A || r.lowerBound == s || p[r.lowerBound - 1] == 0x0A || true {
                    let lineStart = s == 0 || lineStartsAt(p, s)
                    if lineStart {
                        sentences[idx].role = k
                        roles.insert(k)
                    }
                }
            }
            sentences[idx].codeLiteral = isCodeLiteral(p, sentences[idx].range)
        }
        // A dialogue needs two roles, one of them the assistant or the human; a lone
        // `SYSTEM:` line still poses as the system turn.
        if roles.count >= 2, roles.contains(0) || roles.contains(1) {
            for idx in sentences.indices where sentences[idx].role != nil { sentences[idx].extra[.roles] = 0.45 }
        } else if roles.contains(3) {
            for idx in sentences.indices where sentences[idx].role == 3 && !sentences[idx].inFence {
                sentences[idx].extra[.roles] = 0.35
            }
        }
        // Markdown images and links whose URL query is to be filled in by the model.
        if memchrIndex(p, UInt8(ascii: "]"), from: 0) != nil {
            let scratch = Regex2.Scratch(captureCount: 1)
            var cursor = 0
            try? exfilLink.forEachMatch(in: UnsafeRawBufferPointer(p), scratch: scratch) { m, _ in
                // Extend to the end of the URL to look at what it asks to fill in.
                var e = m.upperBound
                while e < n, p[e] != UInt8(ascii: ")"), p[e] != 0x0A, e - m.upperBound < 400 { e += 1 }
                let url = UnsafeBufferPointer(rebasing: p[m.lowerBound..<e])
                let placeholder = InjectionScorer.hasPlaceholder(url)
                let weight = placeholder ? 0.8 : 0.25
                while cursor + 1 < sentences.count, sentences[cursor].range.upperBound <= m.lowerBound { cursor += 1 }
                // The link may span several sentences: mark every one it touches.
                var k = cursor
                while k < sentences.count, sentences[k].range.lowerBound < e {
                    sentences[k].extra[.exfilLink] = max(sentences[k].extra[.exfilLink] ?? 0, weight)
                    k += 1
                }
                return true
            }
        }
    }

    static let codeStarts: [[UInt8]] = [
        "const ", "let ", "var ", "def ", "class ", "import ", "from ", "return ", "function ", "func ",
        "package ", "public ", "private ", "async ", "await ", "#include", "if (", "for (", "while (",
        "} else", "print(", "console.", "SELECT ", "UPDATE ", "ALTER ", "INSERT ",
    ].map { Array($0.utf8) }

    /// Marks sentences on or within two lines of a line of code (not comments, not JSON).
    func markCode(_ p: UnsafeBufferPointer<UInt8>, _ sentences: inout [Sentence]) {
        let n = p.count
        var lineStarts: [Int] = [0]
        var codeLines: [Bool] = []
        var ls = 0
        while ls <= n {
            var le = ls
            while le < n, p[le] != 0x0A { le += 1 }
            codeLines.append(isCodeLine(p, ls..<le))
            if le >= n { break }
            ls = le + 1
            lineStarts.append(ls)
        }
        guard codeLines.contains(true) else { return }
        var line = 0
        for idx in sentences.indices {
            let start = sentences[idx].range.lowerBound
            while line + 1 < lineStarts.count, lineStarts[line + 1] <= start { line += 1 }
            let lo = max(0, line - 2), hi = min(codeLines.count - 1, line + 2)
            var near = false
            for k in lo...hi where codeLines[k] { near = true; break }
            if near, !isCommentLine(p, lineStarts[line]) { sentences[idx].nearCode = true }
        }
    }

    func isCommentLine(_ p: UnsafeBufferPointer<UInt8>, _ start: Int) -> Bool {
        var s = start
        while s < p.count, p[s] == 0x20 || p[s] == 0x09 { s += 1 }
        guard s < p.count else { return false }
        if p[s] == UInt8(ascii: "#") { return true }
        if s + 1 < p.count, p[s] == UInt8(ascii: "/"), p[s + 1] == UInt8(ascii: "/") || p[s + 1] == UInt8(ascii: "*") { return true }
        if s + 1 < p.count, p[s] == UInt8(ascii: "-"), p[s + 1] == UInt8(ascii: "-") { return true }
        return false
    }

    func isCodeLine(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        var s = r.lowerBound
        while s < r.upperBound, p[s] == 0x20 || p[s] == 0x09 { s += 1 }
        var e = r.upperBound
        while e > s, p[e - 1] == 0x20 || p[e - 1] == 0x0D { e -= 1 }
        guard e > s else { return false }
        let line = UnsafeBufferPointer(rebasing: p[s..<e])
        for k in InjectionScorer.codeStarts where line.count >= k.count && line.prefix(k.count).elementsEqual(k) { return true }
        if p[e - 1] == UInt8(ascii: ";") { return true }
        if HidingPlaces.find(Array("=>".utf8), in: line, from: 0, to: line.count) != nil { return true }
        // `name = value` (not `==`, not prose).
        var k = s
        while k < e, isWordByte(p[k]) || p[k] == UInt8(ascii: ".") { k += 1 }
        var t = k
        while t < e, p[t] == 0x20 { t += 1 }
        if k > s, t + 1 < e, p[t] == UInt8(ascii: "="), p[t + 1] != UInt8(ascii: "=") { return true }
        return false
    }

    @inline(__always) func lineStartsAt(_ p: UnsafeBufferPointer<UInt8>, _ s: Int) -> Bool {
        var k = s
        while k > 0, p[k - 1] == 0x20 || p[k - 1] == UInt8(ascii: "#") || p[k - 1] == UInt8(ascii: "*") { k -= 1 }
        return k == 0 || p[k - 1] == 0x0A || p[k - 1] == UInt8(ascii: ">")
    }

    /// A URL query the model is asked to fill in: `<…>`, `{…}`, `SUMMARY_OF_CONVERSATION`,
    /// or words about the conversation, secrets or keys.
    static func hasPlaceholder(_ url: UnsafeBufferPointer<UInt8>) -> Bool {
        var upperRun = 0
        for b in url {
            if b == UInt8(ascii: "<") || b == UInt8(ascii: "{") || b == UInt8(ascii: ">") { return true }
            if (b >= 0x41 && b <= 0x5A) || b == UInt8(ascii: "_") {
                upperRun += 1
                if upperRun >= 8 { return true }
            } else {
                upperRun = 0
            }
        }
        let lowered = url.map(lower)
        for w in ["conversation", "secret", "previous", "message", "history", "api key", "api%20key", "password", "token", "summary", "chat"]
            where ContextLabel.contains(lowered, anyOf: [Array(w.utf8)]) { return true }
        return false
    }

    /// Whether the sentence sits in a string literal on a line of code (a test vector or
    /// a filter pattern, not an instruction). Comment lines are instructions to readers.
    func isCodeLiteral(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        var ls = r.lowerBound
        while ls > 0, p[ls - 1] != 0x0A, r.lowerBound - ls < 400 { ls -= 1 }
        var le = r.lowerBound
        while le < p.count, p[le] != 0x0A, le - r.lowerBound < 400 { le += 1 }
        var s = ls
        while s < le, p[s] == 0x20 || p[s] == 0x09 { s += 1 }
        guard s < le else { return false }
        let first = p[s]
        if first == UInt8(ascii: "#") || first == UInt8(ascii: "*") { return false }
        if first == UInt8(ascii: "/"), s + 1 < le, p[s + 1] == UInt8(ascii: "/") || p[s + 1] == UInt8(ascii: "*") { return false }
        if first == UInt8(ascii: "-"), s + 1 < le, p[s + 1] == UInt8(ascii: "-") { return false }
        // A string literal on the line…
        var hasQuote = false
        for k in s..<le where p[k] == 0x22 || p[k] == 0x27 { hasQuote = true; break }
        guard hasQuote else { return false }
        // …of code shape: `name = …`, `name: type = …`, a call, or a list literal.
        var k = s
        while k < le, isWordByte(p[k]) || p[k] == UInt8(ascii: ".") { k += 1 }
        var t = k
        while t < le, p[t] == 0x20 { t += 1 }
        if k > s, t < le {
            if p[t] == UInt8(ascii: "("), k - s > 1 { return true }
            if p[t] == UInt8(ascii: "="), t + 1 < le, p[t + 1] != UInt8(ascii: "=") { return true }
            if p[t] == UInt8(ascii: ":") {
                // `name: type = value` (annotations), not `Subject: text`.
                var e = t + 1
                while e < le, e - t < 40, p[e] != UInt8(ascii: "=") { e += 1 }
                if e < le, p[e] == UInt8(ascii: "=") { return true }
            }
        }
        let line = UnsafeBufferPointer(rebasing: p[s..<le])
        for cue in ["= [", "= (", "re.search", "re.match", "assert", "expect(", "return ", "(r\"", "[r\""] {
            if HidingPlaces.find(Array(cue.utf8), in: line, from: 0, to: line.count) != nil { return true }
        }
        return false
    }

    /// Tag characters and invisible characters that split words.
    func markView(_ view: InjectionView, _ sentences: inout [Sentence]) {
        var si = 0
        for r in view.tagRanges {
            while si + 1 < sentences.count, sentences[si].range.upperBound <= r.lowerBound { si += 1 }
            var k = si
            while k < sentences.count, sentences[k].range.lowerBound < r.upperBound { sentences[k].isTag = true; k += 1 }
        }
        si = 0
        for pos in view.splitPositions {
            while si + 1 < sentences.count, sentences[si].range.upperBound <= pos { si += 1 }
            if si < sentences.count { sentences[si].splits += 1 }
        }
    }

    /// Marks sentences inside hiding places (two pointers over places sorted by start).
    func markHidden(_ p: UnsafeBufferPointer<UInt8>, _ sentences: inout [Sentence]) {
        guard memchrIndex(p, UInt8(ascii: "<"), from: 0) != nil || memchrIndex(p, UInt8(ascii: "]"), from: 0) != nil else { return }
        var places = HidingPlaces.find(p)
        guard !places.isEmpty else { return }
        places.sort { $0.range.lowerBound < $1.range.lowerBound }
        var pi = 0
        var covering: Range<Int>? = nil
        for idx in sentences.indices {
            let s = sentences[idx].range
            let mid = (s.lowerBound + s.upperBound) / 2
            while pi < places.count, places[pi].range.lowerBound <= mid {
                if covering == nil || places[pi].range.upperBound > covering!.upperBound { covering = places[pi].range }
                pi += 1
            }
            if let c = covering, c.upperBound > mid { sentences[idx].hiddenRange = c }
        }
    }

    // MARK: Rules

    /// The signals one sentence gives on its own and through atom combinations.
    func signals(of s: Sentence, p: UnsafeBufferPointer<UInt8>) -> [Signal: Double] {
        let a = s.atoms
        @inline(__always) func has(_ x: Atom) -> Bool { a & InjectionScorer.bit(x) != 0 }
        var out = s.extra
        guard a != 0 else { return out }
        @inline(__always) func put(_ t: Signal, _ w: Double) { out[t] = max(out[t] ?? 0, w) }

        let object = has(.instructions) || has(.systemPrompt)
        if has(.ignore), object { put(.override, has(.previous) ? 0.9 : 0.85) }
        if has(.ignore), has(.everythingTold) { put(.override, 0.8) }
        if has(.ignore), has(.previous), has(.instead) { put(.override, 0.75) }
        if has(.ignore) || has(.notFollow), has(.userRequest) { put(.override, 0.8) }
        if has(.notFollow), object { put(.override, 0.7) }
        if has(.revoked) { put(.revoked, object || has(.userRequest) || has(.previous) ? 0.7 : 0.25) }

        if has(.reveal), has(.systemPrompt) { put(.reveal, 0.6) }
        if has(.reveal), has(.secret) { put(.reveal, 0.55) }
        if has(.systemPrompt), has(.verbatim) { put(.reveal, 0.55) }
        if has(.reveal), has(.privateData) { put(.reveal, 0.3) }

        let destination = has(.url) || has(.emailAddressAtom)
        let payload = has(.secret) || has(.privateData) || has(.systemPrompt)
        if has(.send), destination, payload { put(.exfil, 0.65) }
        else if has(.send), has(.secret) || has(.privateData) { put(.exfil, 0.45) }
        else if has(.send), destination { put(.exfil, 0.2) }
        if has(.secret) || has(.privateData), destination,
           has(.tool) || has(.toolSevere) || has(.manipulate) || has(.reveal) || has(.aiAddress) {
            put(.exfil, 0.6)
        }

        if has(.delete), has(.files) { put(.delete, 0.55) }
        let code = s.inFence || s.nearCode
        if has(.toolSevere) { put(.tool, code ? 0.2 : 0.45) }
        if has(.tool) { put(.tool, code ? 0.1 : 0.35) }
        if has(.personaStrong) { put(.persona, has(.personaWeak) ? 0.6 : 0.4) }
        else if has(.personaWeak) { put(.persona, 0.2) }
        if has(.aiAddress) { put(.address, 0.45) }
        if has(.fakeTurn) { put(.fakeTurn, code || s.codeLiteral ? 0.15 : 0.45) }
        if has(.manipulate) { put(.manipulate, 0.3) }
        if has(.stealth) { put(.stealth, 0.35) }
        if has(.authorization) { put(.authorization, 0.35) }
        if has(.obligation) { put(.obligation, 0.15) }
        if has(.future) { put(.future, 0.2) }
        if has(.instead) { put(.instead, 0.12) }
        if has(.newInstructions) { put(.newInstructions, 0.3) }
        if has(.fromNow) { put(.fromNow, 0.3) }
        if has(.obfuscationCue) { put(.obfuscationCue, 0.45) }
        if has(.hijack) { put(.hijack, 0.4) }
        return out
    }

    /// Per-sentence factors: discussion of attacks (in this or the previous sentence) and
    /// code string literals damp what the sentence says; hidden text is not damped.
    func penaltiesFor(_ sentences: [Sentence]) -> [Double] {
        var out = [Double](repeating: 1, count: sentences.count)
        let doc = InjectionScorer.bit(.securityDoc)
        let code = InjectionScorer.bit(.codeCue)
        for i in sentences.indices {
            let s = sentences[i]
            if s.isTag { continue }
            var factor = 1.0
            let previousDoc = i > 0 && sentences[i - 1].atoms & doc != 0
                && s.range.lowerBound - sentences[i - 1].range.upperBound < 200
            // Hidden text that discusses attacks is odd, but is still discussion.
            if s.atoms & doc != 0 || previousDoc { factor = s.hiddenRange != nil ? 0.5 : 0.3 }
            if s.codeLiteral || (s.atoms & code != 0 && s.atoms & doc != 0) { factor = min(factor, 0.25) }
            out[i] = factor
        }
        return out
    }
}

/// Index of the first `b` at or after `from` (libc `memchr`).
@inline(__always)
func memchrIndex(_ p: UnsafeBufferPointer<UInt8>, _ b: UInt8, from: Int) -> Int? {
    guard let base = p.baseAddress, from < p.count else { return nil }
    var i = from
    while i < p.count { if base[i] == b { return i }; i += 1 }
    return nil
}

// MARK: - Explanation (diagnostics)

extension InjectionScorer {
    /// A human-readable account of the sentences that carry signals: for tuning and for
    /// audit detail. Not on the data path.
    public func explain(_ bytes: [UInt8]) -> String {
        let view = InjectionView.build(bytes.withUnsafeBufferPointer { $0 })
        return view.bytes.withUnsafeBufferPointer { p -> String in
            var sentences = InjectionScorer.segment(p)
            var cursor = 0
            var matched: [Int: [String]] = [:]
            automaton.scan(p) { end, out in
                let pos = end - 1
                while cursor + 1 < sentences.count, sentences[cursor].range.upperBound <= pos { cursor += 1 }
                let b = InjectionScorer.bit(out.atom)
                if out.transformed { sentences[cursor].transformed |= b } else { sentences[cursor].atoms |= b }
                matched[cursor, default: []].append((out.transformed ? "~" : "") + automaton.phrases[Int(out.phrase)])
            }
            markStructure(p, &sentences)
            markView(view, &sentences)
            markHidden(p, &sentences)
            let penalties = penaltiesFor(sentences)
            var lines: [String] = []
            for (i, s) in sentences.enumerated() {
                let sig = signals(of: s, p: p)
                guard !sig.isEmpty || s.transformed != 0 else { continue }
                let atoms = Atom.allCases.filter { s.atoms & InjectionScorer.bit($0) != 0 }.map { "\($0)" }
                let tr = Atom.allCases.filter { s.transformed & InjectionScorer.bit($0) != 0 }.map { "\($0)" }
                let text = String(decoding: p[s.range].prefix(100).map { $0 == 0x0A ? 0x20 : $0 }, as: UTF8.self)
                lines.append("[\(i)] pen=\(penalties[i]) hidden=\(s.hiddenRange != nil) tag=\(s.isTag) splits=\(s.splits) code=\(s.codeLiteral) atoms=\(atoms) tr=\(tr) sig=\(sig.map { "\($0.key):\($0.value)" }.sorted()) kw=\(matched[i] ?? []) | \(text)")
            }
            return lines.joined(separator: "\n")
        }
    }
}
