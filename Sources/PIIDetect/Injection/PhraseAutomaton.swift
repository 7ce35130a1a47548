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
    /// log2 of the row stride (the class count rounded up to a power of two).
    let shift: Int
    let separatorClass: UInt8
    let outputs: [Output]
    let stateCount: Int

    // Immutable after init; raw storage keeps the scan loop free of array checks.
    let classOf: UnsafeMutablePointer<UInt8>          // byte -> class
    let isWordClass: UnsafeMutablePointer<Bool>       // class -> letter/digit
    /// `(state << shift) | class` -> next state; bit 15 set when that state has outputs.
    let transitions: UnsafeMutablePointer<UInt16>
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
        var next = 1
        var classOfCanonical = [UInt8](repeating: 0, count: 256)
        for b in 0..<256 where used[b] {
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
        let outputStart = UnsafeMutablePointer<Int32>.allocate(capacity: n + 1)
        var flat: [Output] = []
        for s in 0..<n {
            outputStart[s] = Int32(flat.count)
            flat.append(contentsOf: stateOutputs[s])
        }
        outputStart[n] = Int32(flat.count)

        self.phrases = phraseList
        self.classCount = classCount
        self.shift = shift
        self.separatorClass = separatorClass
        self.outputs = flat
        self.stateCount = n
        self.classOf = classOf
        self.isWordClass = isWordClass
        self.transitions = table
        self.outputStart = outputStart
    }

    deinit {
        classOf.deallocate()
        isWordClass.deallocate()
        transitions.deallocate()
        outputStart.deallocate()
    }

    /// Runs the automaton over `p`, calling `body(endExclusive, output)` for every match
    /// that satisfies its word boundaries.
    @inline(__always)
    func scan(_ p: UnsafeBufferPointer<UInt8>, _ body: (Int, Output) -> Void) {
        guard let base = p.baseAddress else { return }
        let n = p.count
        let shift = self.shift
        // Local copies: the loop must not reload the object's fields.
        let classes = UnsafePointer(classOf)
        let table = UnsafePointer(transitions)
        var state = 0
        var i = 0
        while i < n {
            let t = table[(state &<< shift) | Int(classes[Int(base[i])])]
            state = Int(t & 0x7FFF)
            if t & 0x8000 != 0 {
                report(base, n, i, Int(outputStart[state]), Int(outputStart[state &+ 1]), body)
            }
            i += 1
        }
    }

    @inline(never)
    private func report(_ base: UnsafePointer<UInt8>, _ n: Int, _ i: Int, _ o0: Int, _ o1: Int, _ body: (Int, Output) -> Void) {
        for o in o0..<o1 {
            let out = outputs[o]
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
