// MARK: - Aho-Corasick automaton over folded text

/// Finds lexicon phrases in one pass (Aho-Corasick with a dense `UInt16` transition table
/// over byte classes).
///
/// The byte classes do part of the folding: upper and lower case share a class, and so do
/// leetspeak stand-ins (`1`/`l`/`i`, `0`/`o`, `3`/`e`, `4`/`@`/`a`, `5`/`$`/`s`, `7`/`t`,
/// `9`/`g`, `8`/`b`); whitespace, `-` and `_` are one separator class and a run of
/// separators counts once. Keywords go through the same classes, so matching is
/// consistent. Two automata are built: one for phrases that fold to ASCII (most
/// languages once accents are folded; small alphabet, cache-friendly) and one for the
/// rest (Cyrillic, Arabic, Devanagari, CJK, Hangul), run only on text that has such bytes.
final class PhraseAutomaton: @unchecked Sendable {
    /// One keyword's meaning.
    struct Output {
        var atom: Atom
        /// Number of canonical bytes the keyword spans (to find the match start).
        var length: Int32
        /// The keyword must start at a word boundary (it starts with a letter).
        var boundaryStart: Bool
        /// The keyword must end at a word boundary (short words like `ai`, or marked `\b`).
        var boundaryEnd: Bool
        /// Index into ``phrases`` (diagnostics).
        var phrase: Int32
    }

    /// Which keywords an automaton holds.
    enum Script { case ascii, nonASCII }

    /// The lexicon phrase behind each output (diagnostics).
    let phrases: [String]
    let classCount: Int
    let separatorClass: UInt8
    let outputs: [Output]
    /// ``outputs`` in raw storage (the scan reads it per hit: no array checks).
    let outputTable: UnsafeMutablePointer<Output>
    let stateCount: Int
    /// The longest keyword, in canonical bytes (the deepest state). Read from the start
    /// state, this many non-separator bytes put the automaton in the state it would be in
    /// had it read all the text before them (``findHits``).
    let maxDepth: Int

    // Immutable after init; raw storage keeps the scan loop free of array checks.
    let classOf: UnsafeMutablePointer<UInt8>          // byte -> class
    let isWordClass: UnsafeMutablePointer<Bool>       // class -> letter/digit
    /// `(state << 5) + offsetOf[byte]` -> next state; bit 15 set when that state has
    /// outputs. Rows are cut into runs of 32 classes, and each run is a table of its own
    /// (class `c` of state `s` is at `(c / 32) * stateCount * 32 + s * 32 + c % 32`): reading
    /// text touches the first run only (its usual classes come first), 64 bytes a state,
    /// and a cache line fetched next to it holds another state's first run, not the rest
    /// of the same row.
    ///
    /// A table entry read with its flag bit (`(entry << 5) + offsetOf[byte]`, no mask) lands
    /// in a copy of the table ``flagged`` entries on, with the same entries: the scan loops
    /// step without masking the flag off.
    let transitions: UnsafeMutablePointer<UInt16>
    /// Where the copy of ``transitions`` starts: the flag bit (0x8000) shifted as states are.
    static let flagged = 0x8000 << 5
    let offsetOf: UnsafeMutablePointer<Int32>         // byte -> its class's place in a row
    let outputStart: UnsafeMutablePointer<Int32>      // state -> first output (count: next - this)

    /// The classes for ASCII: letters share case, leet digits join their letters.
    static func canonical(_ b: UInt8) -> UInt8 {
        switch b {
        case 0x41...0x5A: return canonical(b | 0x20)
        case UInt8(ascii: "1"), UInt8(ascii: "l"): return UInt8(ascii: "i")
        case UInt8(ascii: "0"): return UInt8(ascii: "o")
        case UInt8(ascii: "3"): return UInt8(ascii: "e")
        case UInt8(ascii: "4"), UInt8(ascii: "@"): return UInt8(ascii: "a")
        case UInt8(ascii: "5"), UInt8(ascii: "$"): return UInt8(ascii: "s")
        case UInt8(ascii: "7"): return UInt8(ascii: "t")
        case UInt8(ascii: "9"): return UInt8(ascii: "g")
        case UInt8(ascii: "8"): return UInt8(ascii: "b")
        case 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: "-"), UInt8(ascii: "_"): return 0x20
        default: return b
        }
    }

    /// A keyword in canonical form: folded, classes applied, separator runs collapsed.
    static func canonicalForm(_ folded: [UInt8]) -> [UInt8] {
        var canon: [UInt8] = []
        for b in folded.map(canonical) where !(b == 0x20 && (canon.last == 0x20 || canon.isEmpty)) { canon.append(b) }
        while canon.last == 0x20 { canon.removeLast() }
        return canon
    }

    init(entries: [(Atom, [String])], script: Script) {
        var keywords: [([UInt8], Output)] = []
        var phraseList: [String] = []
        for (atom, phrases) in entries {
            for rawPhrase in phrases {
                // A trailing `\b` asks for a word boundary after the phrase.
                let exact = rawPhrase.hasSuffix("\\b")
                let phrase = exact ? String(rawPhrase.dropLast(2)) : rawPhrase
                let folded = InjectionFold.foldKeyword(phrase)
                let canon = PhraseAutomaton.canonicalForm(folded)
                guard !canon.isEmpty else { continue }
                let ascii = canon.allSatisfy { $0 < 0x80 }
                guard ascii == (script == .ascii) else { continue }
                phraseList.append(rawPhrase)
                let startsWithLetter = isAlnum(folded[0])
                let endsWithLetter = folded.last.map(isAlnum) ?? false
                keywords.append((canon, Output(
                    atom: atom, length: Int32(canon.count), boundaryStart: startsWithLetter,
                    boundaryEnd: (folded.count <= 3 || exact) && endsWithLetter, phrase: Int32(phraseList.count - 1))))
            }
        }

        // Byte classes: every canonical byte used by a keyword gets a class; 0 is "other".
        var used = [Bool](repeating: false, count: 256)
        for (k, _) in keywords { for b in k { used[Int(b)] = true } }
        used[0x20] = true
        // Numbered so that text's usual bytes (the separator, letters, then the markup
        // most common in bodies) come first: a state's row then starts with their
        // entries, and reading text touches one cache line of it (32 entries).
        var next = 1
        var classOfCanonical = [UInt8](repeating: 0, count: 256)
        let first = [0x20] + Array(0x61...0x7A) + Array("<>\"./".utf8).map(Int.init)
        for b in first + Array(0..<256) where used[b] && classOfCanonical[b] == 0 {
            classOfCanonical[b] = UInt8(next)
            next += 1
        }
        let classCount = next
        let classOf = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for b in 0..<256 { classOf[b] = classOfCanonical[Int(PhraseAutomaton.canonical(UInt8(b)))] }
        let isWordClass = UnsafeMutablePointer<Bool>.allocate(capacity: classCount)
        isWordClass.initialize(repeating: false, count: classCount)
        for b in 0..<256 where isAlnum(UInt8(b)) || b >= 0x80 {
            let c = Int(classOf[b])
            if c != 0 { isWordClass[c] = true }
        }

        // Trie.
        var goto: [[UInt8: Int]] = [[:]]
        var stateOutputs: [[Output]] = [[]]
        var enteredBySeparator = [false]
        let separatorClass = classOfCanonical[0x20]
        for (k, out) in keywords {
            var s = 0
            for b in k {
                let c = classOfCanonical[Int(b)]
                if let t = goto[s][c] { s = t } else {
                    goto.append([:])
                    stateOutputs.append([])
                    enteredBySeparator.append(c == separatorClass)
                    goto[s][c] = goto.count - 1
                    s = goto.count - 1
                }
            }
            stateOutputs[s].append(out)
        }
        // States numbered breadth first: the shallow ones, where reading text spends most
        // of its time, are neighbours in the table (fewer pages and cache lines).
        var order = [0]
        var at = 0
        while at < order.count {
            let s = order[at]
            at += 1
            for c in 0..<classCount { if let t = goto[s][UInt8(c)] { order.append(t) } }
        }
        var newID = [Int](repeating: 0, count: goto.count)
        for (k, s) in order.enumerated() { newID[s] = k }
        goto = order.map { goto[$0].mapValues { newID[$0] } }
        stateOutputs = order.map { stateOutputs[$0] }
        enteredBySeparator = order.map { enteredBySeparator[$0] }
        let n = goto.count
        precondition(n < 0x7FFF, "phrase automaton too large for 15-bit states")
        var shift = 0
        while 1 << shift < classCount { shift += 1 }
        let stride = 1 << shift

        // Failure links (BFS) filling the dense table.
        var fail = [Int](repeating: 0, count: n)
        let table = UnsafeMutablePointer<UInt16>.allocate(capacity: n * stride)
        table.initialize(repeating: 0, count: n * stride)
        var queue: [Int] = []
        for c in 0..<classCount {
            if let t = goto[0][UInt8(c)] { table[c] = UInt16(t); queue.append(t) }
        }
        var head = 0
        while head < queue.count {
            let s = queue[head]
            head += 1
            stateOutputs[s].append(contentsOf: stateOutputs[fail[s]])
            for c in 0..<classCount {
                if let t = goto[s][UInt8(c)] {
                    fail[t] = Int(table[fail[s] * stride + c])
                    table[s * stride + c] = UInt16(t)
                    queue.append(t)
                } else {
                    table[s * stride + c] = table[fail[s] * stride + c]
                }
            }
        }
        // A run of separators counts once: a state entered by a separator stays put on the
        // next one (keywords never hold two separators in a row), so the scan loop needs
        // no branch for it.
        for st in 0..<n where enteredBySeparator[st] { table[st * stride + Int(separatorClass)] = UInt16(st) }
        // Flag transitions into states that report something.
        for e in 0..<(n * stride) where !stateOutputs[Int(table[e])].isEmpty { table[e] |= 0x8000 }
        // The scan's layout: runs of 32 classes, one table each (see ``transitions``), and
        // a copy of it at ``flagged``.
        let runs = (classCount + 31) / 32
        let size = runs * n * 32
        precondition(size <= PhraseAutomaton.flagged, "phrase automaton too large for its mirrored table")
        let split = UnsafeMutableRawPointer.allocate(byteCount: (PhraseAutomaton.flagged + size) * 2, alignment: 64)
            .bindMemory(to: UInt16.self, capacity: PhraseAutomaton.flagged + size)
        split.initialize(repeating: 0, count: size)
        for st in 0..<n {
            for c in 0..<classCount { split[(c >> 5) * n * 32 + st * 32 + (c & 31)] = table[st * stride + c] }
        }
        (split + PhraseAutomaton.flagged).initialize(from: split, count: size)
        table.deallocate()
        let offsetOf = UnsafeMutablePointer<Int32>.allocate(capacity: 256)
        for b in 0..<256 {
            let c = Int(classOf[b])
            offsetOf[b] = Int32((c >> 5) * n * 32 + (c & 31))
        }
        let outputStart = UnsafeMutablePointer<Int32>.allocate(capacity: n + 1)
        var flat: [Output] = []
        for s in 0..<n {
            outputStart[s] = Int32(flat.count)
            flat.append(contentsOf: stateOutputs[s])
        }
        outputStart[n] = Int32(flat.count)

        self.phrases = phraseList
        self.classCount = classCount
        self.separatorClass = separatorClass
        self.outputs = flat
        let outputTable = UnsafeMutablePointer<Output>.allocate(capacity: max(1, flat.count))
        outputTable.initialize(from: flat, count: flat.count)
        self.outputTable = outputTable
        self.stateCount = n
        self.maxDepth = keywords.reduce(1) { max($0, $1.0.count) }
        self.classOf = classOf
        self.isWordClass = isWordClass
        self.transitions = split
        self.offsetOf = offsetOf
        self.outputStart = outputStart
    }

    deinit {
        classOf.deallocate()
        isWordClass.deallocate()
        transitions.deallocate()
        offsetOf.deallocate()
        outputStart.deallocate()
        outputTable.deallocate()
    }

    /// Runs the automaton over `p`, calling `body(endExclusive, output)` for every match
    /// that satisfies its word boundaries, in position order.
    func scan(_ p: UnsafeBufferPointer<UInt8>, _ body: (Int, Output) -> Void) {
        guard let base = p.baseAddress else { return }
        let n = p.count
        let hits = UnsafeMutablePointer<UInt32>.allocate(capacity: min(n, PhraseAutomaton.maxBlock))
        defer { hits.deallocate() }
        var state = 0
        var lo = 0
        while lo < n {
            let hi = min(n, lo + PhraseAutomaton.maxBlock)
            let count = findHits(base, from: lo, to: hi, state: &state, into: hits)
            for h in 0..<count {
                let s = Int(hits[h] & 0xFFFF)
                report(base, n, lo + Int(hits[h] >> 16), Int(outputStart[s]), Int(outputStart[s &+ 1]), body)
            }
            lo = hi
        }
    }

    // MARK: Hits of a block, several parts at a time

    /// Longest stretch ``findHits`` takes (a hit stores its offset in 16 bits).
    static let maxBlock = 1 << 16

    /// Bytes a part after the first reads from the start state before its range (see
    /// ``findHits``).
    static let warmUp = 8

    /// Runs the automaton over `base[lo ..< hi]` from `state` (left in the state after the
    /// last byte) and writes every step into a reporting state to `hits`, in position
    /// order, as `(position - lo) << 16 | state`; returns how many. `hi - lo` is at most
    /// ``maxBlock`` and `hits` holds `hi - lo` entries (at most one hit per byte).
    ///
    /// Each step is a load that depends on the previous one, from a table far larger than
    /// L1 (about 11,000 states), so one chain spends its time waiting. A longer stretch is
    /// cut into equal parts run side by side. A part after the first guesses the state it
    /// starts in: the start state's after reading the ``warmUp`` bytes before its range.
    /// The automaton's state is the longest keyword prefix ending at the current byte, so
    /// the guess is right unless that prefix is longer than the warm-up (rare: a long
    /// keyword running across the cut). Once the part before it is done, its last state is
    /// the truth; where the guess was wrong, the part is read again from the true state up
    /// to where the two agree (at the latest ``maxDepth`` non-separator bytes on, where the
    /// guess has read as much as any keyword spans), and its hits up to there replaced.
    /// The result is the same as one chain's.
    func findHits(_ base: UnsafePointer<UInt8>, from lo: Int, to hi: Int, state: inout Int,
                  into hits: UnsafeMutablePointer<UInt32>) -> Int {
        let n = hi - lo
        precondition(n >= 0 && n <= PhraseAutomaton.maxBlock)
        let warm = maxDepth + maxDepth / 4   // parts: long enough to keep the chains busy
        let parts = n >= 8 * warm ? 4 : n >= 4 * warm ? 2 : 1
        let offsets = UnsafePointer(offsetOf)
        let table = UnsafePointer(transitions)
        // A state may carry the flag bit of the step into it (see ``transitions``).
        @inline(__always) func step(_ s: Int, _ b: UInt8) -> Int { Int(table[(s &<< 5) &+ Int(offsets[Int(b)])]) }
        if parts == 1 {
            var s = state, count = 0
            var p = lo
            while p < hi {
                s = step(s, base[p])
                if s & 0x8000 != 0 {
                    hits[count] = UInt32(truncatingIfNeeded: p - lo) << 16 | UInt32(truncatingIfNeeded: s & 0x7FFF)
                    count += 1
                }
                p += 1
            }
            state = s & 0x7FFF
            return count
        }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 5 * 4) { scratch in
            // Part k starts at start[k] in states[k] (part 0: `lo` in the given state, the
            // others: the guess, also kept in guess[k]), ends at end[k] (= start[k + 1]) and
            // has read up to read[k]; its hits go to its own region of `hits`, from
            // `start[k] - lo`, up to cursor[k] (at most one per byte of its range).
            let start = scratch.baseAddress!, end = start + 4, read = start + 8, cursor = start + 12, states = start + 16
            var guess = (0, 0, 0, 0)
            for k in 0..<parts {
                start[k] = lo + k * n / parts
                read[k] = start[k]
                cursor[k] = start[k] - lo
                if k > 0 { end[k - 1] = start[k] }
            }
            end[parts - 1] = hi
            states[0] = state
            let w = PhraseAutomaton.warmUp
            if parts == 4 {
                let b1 = base + start[1] - w, b2 = base + start[2] - w, b3 = base + start[3] - w
                var s1 = 0, s2 = 0, s3 = 0
                for j in 0..<w {
                    s1 = step(s1, b1[j])
                    s2 = step(s2, b2[j])
                    s3 = step(s3, b3[j])
                }
                s1 &= 0x7FFF; s2 &= 0x7FFF; s3 &= 0x7FFF
                guess = (0, s1, s2, s3)
                states[1] = s1; states[2] = s2; states[3] = s3
            } else {
                var s1 = 0
                for j in (start[1] - w)..<start[1] { s1 = step(s1, base[j]) }
                s1 &= 0x7FFF
                guess = (0, s1, 0, 0)
                states[1] = s1
            }
            // A step into state `s` that reports (the flag bit, kept in `s`): recorded.
            @inline(__always) func record(_ k: Int, _ p: Int, _ s: Int) {
                if s & 0x8000 != 0 {
                    hits[cursor[k]] = UInt32(truncatingIfNeeded: p - lo) << 16 | UInt32(truncatingIfNeeded: s & 0x7FFF)
                    cursor[k] += 1
                }
            }
            // Side by side (four or two parts) for the length all of them have, then each
            // part's rest alone.
            var m = Int.max
            for k in 0..<parts { m = min(m, end[k] - start[k]) }
            if parts == 4 {
                // The loop keeps only the four chains in registers; a step into a reporting
                // state (rare) leaves it to record, found again from the states' outputs.
                let b0 = base + start[0], b1 = base + start[1], b2 = base + start[2], b3 = base + start[3]
                var s0 = states[0], s1 = states[1], s2 = states[2], s3 = states[3]
                var j = 0
                while j < m {
                    var flags = 0
                    while j < m {
                        s0 = step(s0, b0[j])
                        s1 = step(s1, b1[j])
                        s2 = step(s2, b2[j])
                        s3 = step(s3, b3[j])
                        flags = s0 | s1 | s2 | s3
                        if flags & 0x8000 != 0 { break }
                        j &+= 1
                    }
                    guard flags & 0x8000 != 0 else { break }
                    record(0, start[0] + j, s0)
                    record(1, start[1] + j, s1)
                    record(2, start[2] + j, s2)
                    record(3, start[3] + j, s3)
                    j &+= 1
                }
                states[0] = s0 & 0x7FFF; states[1] = s1 & 0x7FFF; states[2] = s2 & 0x7FFF; states[3] = s3 & 0x7FFF
            } else {
                let b0 = base + start[0], b1 = base + start[1]
                var s0 = states[0], s1 = states[1]
                var j = 0
                while j < m {
                    s0 = step(s0, b0[j])
                    s1 = step(s1, b1[j])
                    if (s0 | s1) & 0x8000 != 0 {
                        record(0, start[0] + j, s0)
                        record(1, start[1] + j, s1)
                    }
                    j &+= 1
                }
                states[0] = s0 & 0x7FFF; states[1] = s1 & 0x7FFF
            }
            for k in 0..<parts {
                var s = states[k]
                var p = start[k] + m
                while p < end[k] {
                    s = step(s, base[p])
                    record(k, p, s)
                    p += 1
                }
                states[k] = s & 0x7FFF
            }
            // Check each guess against the true state (the previous part's last, checked
            // before it) and repair the parts guessed wrong.
            for k in 1..<parts {
                let g = k == 1 ? guess.1 : k == 2 ? guess.2 : guess.3
                if states[k - 1] != g { repair(base, lo, start[k], end[k], truth: states[k - 1], guess: g,
                                               hits: hits, cursor: &cursor[k], state: &states[k]) }
            }
            state = states[parts - 1]
            // Close the gaps between the parts' regions (each moves down: a forward copy is safe).
            var count = cursor[0]
            for k in 1..<parts {
                var r = start[k] - lo
                while r < cursor[k] { hits[count] = hits[r]; count += 1; r += 1 }
            }
            return count
        }
    }

    /// A part of ``findHits`` that started from a wrong guess: reads it again from the true
    /// state beside the guessed chain until they agree, and puts the true hits up to there
    /// in place of the guessed ones (`state`: the part's last state, changed if they never
    /// agree within it).
    @inline(never)
    private func repair(_ base: UnsafePointer<UInt8>, _ lo: Int, _ from: Int, _ to: Int, truth: Int, guess: Int,
                        hits: UnsafeMutablePointer<UInt32>, cursor: inout Int, state: inout Int) {
        let offsets = UnsafePointer(offsetOf)
        let table = UnsafePointer(transitions)
        var t = truth, g = guess
        var p = from
        var found: [UInt32] = []
        while p < to, t != g {
            let next = table[(t &<< 5) &+ Int(offsets[Int(base[p])])]
            t = Int(next & 0x7FFF)
            g = Int(table[(g &<< 5) &+ Int(offsets[Int(base[p])])] & 0x7FFF)
            if next & 0x8000 != 0 { found.append(UInt32(truncatingIfNeeded: p - lo) << 16 | UInt32(truncatingIfNeeded: t)) }
            p += 1
        }
        // Hits before `p` are replaced; from `p` on, the guessed chain was right.
        if t != g { state = t }
        let region = from - lo
        var keep = region
        while keep < cursor, Int(hits[keep] >> 16) + lo < p { keep += 1 }
        let kept = cursor - keep
        (hits + region + found.count).update(from: hits + keep, count: kept)   // memmove
        for (k, h) in found.enumerated() { hits[region + k] = h }
        cursor = region + found.count + kept
    }

    @inline(never)
    private func report(_ base: UnsafePointer<UInt8>, _ n: Int, _ i: Int, _ o0: Int, _ o1: Int, _ body: (Int, Output) -> Void) {
        for o in o0..<o1 {
            let out = outputTable[o]
            if out.boundaryEnd, i + 1 < n, isWordClass[Int(classOf[Int(base[i + 1])])] { continue }
            if out.boundaryStart {
                let s = matchStart(base, end: i, length: Int(out.length))
                if s > 0, isWordClass[Int(classOf[Int(base[s - 1])])] { continue }
            }
            body(i + 1, out)
        }
    }

    /// The start of a match of `length` canonical bytes ending at `end` (inclusive),
    /// stepping back over collapsed separator runs.
    @inline(__always)
    func matchStart(_ base: UnsafePointer<UInt8>, end: Int, length: Int) -> Int {
        var i = end
        var remaining = length - 1
        while remaining > 0, i > 0 {
            i -= 1
            if classOf[Int(base[i])] == separatorClass {
                while i > 0, classOf[Int(base[i - 1])] == separatorClass { i -= 1 }
            }
            remaining -= 1
        }
        return i
    }
}
