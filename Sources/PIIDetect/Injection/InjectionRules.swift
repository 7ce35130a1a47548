// MARK: - Structure and rules of the injection scorer

extension InjectionScorer {
    // MARK: Structure

    static let roleNames: [[UInt8]] = ["human", "assistant", "user", "system", "ai", "model", "gpt", "claude", "bot"]
        .map { Array($0.utf8) }

    /// Bit `c - "a"` set: some role name starts with the letter `c`.
    static let roleInitials: UInt32 = roleNames.reduce(0) { $0 | 1 << UInt32($1[0] - 0x61) }

    /// Chat-role lines, code context and exfiltration links.
    func markStructure(_ p: UnsafeBufferPointer<UInt8>, _ sentences: inout [Sentence], sawLink: Bool) {
        let n = p.count
        // The loops below read and write the sentences in place (no array checks).
        sentences.withUnsafeMutableBufferPointer { list in
            // Chat-role lines ("Human:", "Assistant:", "SYSTEM:") start a line.
            var roles: UInt16 = 0
            for idx in list.indices where list[idx].atLineStart {
                var s = list[idx].start
                while s < list[idx].end, p[s] == 0x20 || p[s] == UInt8(ascii: "#") || p[s] == UInt8(ascii: "*") { s += 1 }
                guard s < n, isAlpha(p[s]) else { continue }
                let first = lower(p[s])
                guard (InjectionScorer.roleInitials >> UInt32(first - 0x61)) & 1 != 0 else { continue }
                for (k, name) in InjectionScorer.roleNames.enumerated() where name[0] == first && s + name.count < list[idx].end {
                    var ok = true
                    for t in 1..<name.count where lower(p[s + t]) != name[t] { ok = false; break }
                    if ok, p[s + name.count] == UInt8(ascii: ":") {
                        list[idx].role = Int8(k)
                        roles |= 1 << UInt16(k)
                        break
                    }
                }
            }
            // A dialogue needs two roles, one of them the human or the assistant; a lone
            // `SYSTEM:` line still poses as the system turn.
            if roles.nonzeroBitCount >= 2, roles & 0b11 != 0 {
                for idx in list.indices where list[idx].role >= 0 { list[idx].roles = 0.45 }
            } else if roles & 0b1000 != 0 {
                for idx in list.indices where list[idx].role == 3 && !list[idx].inFence { list[idx].roles = 0.35 }
            }

            // Code context: one line map per body, built only when some sentence could carry
            // a verdict; then every sentence that signals anything is placed in it.
            var strong = false
            for idx in list.indices where list[idx].atoms & InjectionScorer.triggerAtoms != 0
                && signals(of: list[idx]).strongest >= 0.3 { strong = true; break }
            if strong {
                var codeMap = CodeMap(p)
                for idx in list.indices where list[idx].atoms & InjectionScorer.triggerAtoms != 0 {
                    list[idx].codeLiteral = codeMap.isCodeLiteral(list[idx].range)
                    list[idx].nearCode = codeMap.isNearCode(list[idx].start)
                }
            }
        }

        // Markdown images and links whose URL query the model is to fill in.
        if sawLink {
            let scratch = Regex2.Scratch(captureCount: 1)
            var cursor = 0
            try? exfilLink.forEachMatch(in: UnsafeRawBufferPointer(p), scratch: scratch) { m, _ in
                var e = m.upperBound
                while e < n, p[e] != UInt8(ascii: ")"), p[e] != 0x0A, e - m.upperBound < 400 { e += 1 }
                let placeholder = InjectionScorer.hasPlaceholder(UnsafeBufferPointer(rebasing: p[m.lowerBound..<e]))
                let weight: Float = placeholder ? 0.8 : 0.25
                while cursor + 1 < sentences.count, sentences[cursor].end <= m.lowerBound { cursor += 1 }
                var k = cursor
                while k < sentences.count, sentences[k].start < e {
                    sentences[k].exfilLink = max(sentences[k].exfilLink, weight)
                    k += 1
                }
                return true
            }
        }
    }

    static let placeholderWords = ContextLabel.WordList([
        "conversation", "secret", "previous", "message", "history", "api key", "api%20key", "password", "token",
        "summary", "chat",
    ])

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
        return ContextLabel.contains(url, anyOf: placeholderWords)
    }

    /// Tag characters and invisible characters that split words.
    func markView(_ view: InjectionView, _ sentences: inout [Sentence]) {
        var si = 0
        for r in view.tagRanges {
            while si + 1 < sentences.count, sentences[si].end <= r.lowerBound { si += 1 }
            var k = si
            while k < sentences.count, sentences[k].start < r.upperBound { sentences[k].isTag = true; k += 1 }
        }
        si = 0
        for pos in view.splitPositions {
            while si + 1 < sentences.count, sentences[si].end <= pos { si += 1 }
            if si < sentences.count { sentences[si].splits += 1 }
        }
    }

    /// Marks sentences inside hiding places (two pointers over places sorted by start).
    func markHidden(_ p: UnsafeBufferPointer<UInt8>, _ sentences: inout [Sentence]) {
        var places = HidingPlaces.find(p)
        guard !places.isEmpty else { return }
        places.sort { $0.range.lowerBound < $1.range.lowerBound }
        var pi = 0
        var covering: Range<Int>? = nil
        for idx in sentences.indices {
            let mid = (sentences[idx].start + sentences[idx].end) / 2
            while pi < places.count, places[pi].range.lowerBound <= mid {
                if covering.map({ places[pi].range.upperBound > $0.upperBound }) ?? true { covering = places[pi].range }
                pi += 1
            }
            if let c = covering, c.upperBound > mid {
                sentences[idx].hiddenStart = c.lowerBound
                sentences[idx].hiddenEnd = c.upperBound
            }
        }
    }

    // MARK: Rules

    /// Atoms that can start a signal (alone or with others); a sentence without any of
    /// them signals nothing.
    static let triggerAtoms: UInt64 = {
        var m: UInt64 = 0
        for a: Atom in [.ignore, .notFollow, .revoked, .reveal, .systemPrompt, .send, .secret, .privateData, .delete,
                        .tool, .toolSevere, .personaStrong, .personaWeak, .aiAddress, .fakeTurn, .manipulate, .stealth,
                        .authorization, .obligation, .future, .instead, .newInstructions, .fromNow, .obfuscationCue,
                        .hijack] {
            m |= bit(a)
        }
        return m
    }()

    /// The signals one sentence gives on its own and through atom combinations.
    func signals(of s: Sentence) -> SignalSet {
        var out = SignalSet()
        if s.roles > 0 { out.put(.roles, s.roles) }
        if s.exfilLink > 0 { out.put(.exfilLink, s.exfilLink) }
        let a = s.atoms
        guard a & InjectionScorer.triggerAtoms != 0 else { return out }
        @inline(__always) func has(_ x: Atom) -> Bool { a & InjectionScorer.bit(x) != 0 }

        let object = has(.instructions) || has(.systemPrompt)
        if has(.ignore), object { out.put(.override, has(.previous) ? 0.9 : 0.85) }
        if has(.ignore), has(.everythingTold) { out.put(.override, 0.8) }
        if has(.ignore) || has(.notFollow), has(.userRequest) { out.put(.override, 0.8) }
        if has(.ignore), has(.previous), has(.instead) { out.put(.override, 0.75) }
        if has(.notFollow), object { out.put(.override, 0.7) }
        if has(.revoked) { out.put(.revoked, object || has(.userRequest) || has(.previous) ? 0.7 : 0.25) }

        if has(.reveal), has(.systemPrompt) { out.put(.reveal, 0.6) }
        if has(.reveal), has(.secret) { out.put(.reveal, 0.55) }
        if has(.systemPrompt), has(.verbatim) { out.put(.reveal, 0.55) }
        if has(.reveal), has(.privateData) { out.put(.reveal, 0.3) }

        let destination = has(.url) || has(.emailAddressAtom)
        let payload = has(.secret) || has(.privateData) || has(.systemPrompt)
        if has(.send), destination, payload { out.put(.exfil, 0.65) }
        else if has(.send), has(.secret) || has(.privateData) { out.put(.exfil, 0.45) }
        else if has(.send), destination { out.put(.exfil, 0.2) }
        if has(.secret) || has(.privateData), destination,
           has(.tool) || has(.toolSevere) || has(.manipulate) || has(.reveal) || has(.aiAddress) {
            out.put(.exfil, 0.6)
        }

        let code = s.inFence || s.nearCode
        if has(.delete), has(.files) { out.put(.delete, code ? 0.2 : 0.55) }
        if has(.toolSevere) { out.put(.tool, code ? 0.2 : 0.45) }
        if has(.tool) { out.put(.tool, code ? 0.1 : 0.35) }
        if has(.personaStrong) { out.put(.persona, has(.personaWeak) ? 0.6 : 0.4) }
        else if has(.personaWeak) { out.put(.persona, 0.2) }
        if has(.aiAddress) { out.put(.address, 0.45) }
        if has(.fakeTurn) { out.put(.fakeTurn, code || s.codeLiteral ? 0.15 : 0.45) }
        if has(.manipulate) { out.put(.manipulate, 0.3) }
        if has(.stealth) { out.put(.stealth, 0.35) }
        if has(.authorization) { out.put(.authorization, 0.35) }
        if has(.obligation) { out.put(.obligation, 0.15) }
        if has(.future) { out.put(.future, 0.2) }
        if has(.instead) { out.put(.instead, 0.12) }
        if has(.newInstructions) { out.put(.newInstructions, 0.3) }
        if has(.fromNow) { out.put(.fromNow, 0.3) }
        if has(.obfuscationCue) { out.put(.obfuscationCue, 0.45) }
        if has(.hijack) { out.put(.hijack, 0.4) }
        return out
    }

    /// Discussion of attacks (in this or the previous sentence) and code string literals
    /// damp what a sentence says; hidden text is damped less, tag-character text not at all.
    func penaltyFor(_ sentences: [Sentence], _ i: Int) -> Double {
        let s = sentences[i]
        if s.isTag { return 1 }
        let doc = InjectionScorer.bit(.securityDoc)
        let code = InjectionScorer.bit(.codeCue)
        var factor = 1.0
        let previousDoc = i > 0 && sentences[i - 1].atoms & doc != 0 && s.start - sentences[i - 1].end < 200
        if s.atoms & doc != 0 || previousDoc { factor = s.isHidden ? 0.5 : 0.3 }
        if s.codeLiteral || (s.atoms & code != 0 && s.atoms & doc != 0) { factor = min(factor, 0.25) }
        return factor
    }
}

// MARK: - Explanation (diagnostics)

extension InjectionScorer {
    /// A human-readable account of the sentences that carry signals: for tuning and for
    /// audit detail. Not on the data path.
    public func explain(_ bytes: [UInt8]) -> String {
        let view = bytes.withUnsafeBufferPointer { InjectionView.build($0) }
        return bytes.withUnsafeBufferPointer { raw in view.withBytes(raw: raw) { p -> String in
            var lines: [String] = []
            let a = analyze(p, view: view, depth: 1)
            lines.append("score=\(a.score) spaced=\(a.letterSpaced)")
            for auto in [ascii, nonASCII] {
                var found: [String] = []
                auto.scan(p) { end, out in found.append("\(auto.phrases[Int(out.phrase)])@\(end)") }
                if !found.isEmpty { lines.append("phrases: " + found.joined(separator: ", ")) }
            }
            return lines.joined(separator: "\n")
        } }
    }
}
