// MARK: - Aho-Corasick automaton over folded text

/// Finds every lexicon phrase in one pass over the folded text (Aho-Corasick with a
/// dense transition table over byte classes).
///
/// The byte classes do part of the folding: upper and lower case share a class, and so do
/// leetspeak stand-ins (`1`/`l`/`i`, `0`/`o`, `3`/`e`, `4`/`@`/`a`, `5`/`$`/`s`,
/// `7`/`t`, `9`/`g`, `8`/`b`); whitespace, `-` and `_` are one separator class and runs of
/// separators count once. Keywords are mapped through the same classes, so matching is
/// consistent. Every keyword is also added reversed and ROT13-encoded (when at least five
/// letters long) to read text written backwards or in ROT13.
final class PhraseAutomaton: @unchecked Sendable {
    /// One keyword's meaning.
    struct Output {
        var atom: Atom
        /// Number of folded bytes the keyword spans (for the match start).
        var length: Int32
        /// Whether the keyword must start at a word boundary (it starts with a letter).
        var boundaryStart: Bool
        /// Whether the keyword must end at a word boundary (short words like `ai`).
        var boundaryEnd: Bool
        /// Found only through reversal or ROT13.
        var transformed: Bool
        /// Index into ``phrases`` (diagnostics).
        var phrase: Int32 = 0
    }

    /// The lexicon phrase behind each output (diagnostics).
    let phrases: [String]

    let classOf: [UInt8]          // byte -> class
    let classCount: Int
    let separatorClass: UInt8
    let letterClass: [Bool]       // class -> is a letter/digit (for boundaries)
    let transitions: [UInt32]     // state * classCount + class -> state
    let outputStart: [Int32]      // state -> first index into outputs (count in next entry)
    let outputs: [Output]

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

    static func rot13(_ b: UInt8) -> UInt8 {
        switch b {
        case 0x61...0x7A: return (b - 0x61 + 13) % 26 + 0x61
        case 0x41...0x5A: return (b - 0x41 + 13) % 26 + 0x41
        default: return b
        }
    }

    init(entries: [(Atom, [String])]) {
        // Keywords in folded, canonical byte form, with their variants.
        var keywords: [([UInt8], Output)] = []
        var phraseList: [String] = []
        for (atom, phrases) in entries {
            for rawPhrase in phrases {
                phraseList.append(rawPhrase)
                // A trailing `\\b` asks for a word boundary after the phrase.
                let exact = rawPhrase.hasSuffix("\\b")
                let phrase = exact ? String(rawPhrase.dropLast(2)) : rawPhrase
                let folded = InjectionFold.foldKeyword(phrase)
                guard !folded.isEmpty else { continue }
                // Separator runs count once in the text, so they must in the keyword too.
                var canon: [UInt8] = []
                for b in folded.map(PhraseAutomaton.canonical) where !(b == 0x20 && (canon.last == 0x20 || canon.isEmpty)) {
                    canon.append(b)
                }
                while canon.last == 0x20 { canon.removeLast() }
                guard !canon.isEmpty else { continue }
                let letters = folded.filter { isAlpha($0) }.count
                let startsWithLetter = isAlnum(folded[0])
                let endsWithLetter = folded.last.map(isAlnum) ?? false
                let short = folded.count <= 3
                let base = Output(atom: atom, length: Int32(canon.count), boundaryStart: startsWithLetter,
                                  boundaryEnd: (short || exact) && endsWithLetter, transformed: false,
                                  phrase: Int32(phraseList.count - 1))
                keywords.append((canon, base))
                let asciiOnly = folded.allSatisfy { $0 < 0x80 }
                if asciiOnly, letters >= 5, atom != .securityDoc, atom != .codeCue {
                    var reversed = base
                    reversed.transformed = true
                    reversed.boundaryStart = endsWithLetter
                    reversed.boundaryEnd = false
                    keywords.append((Array(canon.reversed()), reversed))
                    var rot = base
                    rot.transformed = true
                    var rotCanon: [UInt8] = []
                    for b in folded.map(PhraseAutomaton.rot13).map(PhraseAutomaton.canonical)
                        where !(b == 0x20 && (rotCanon.last == 0x20 || rotCanon.isEmpty)) { rotCanon.append(b) }
                    while rotCanon.last == 0x20 { rotCanon.removeLast() }
                    keywords.append((rotCanon, rot))
                }
            }
        }

        // Byte classes: every byte used by a keyword gets its own class; class 0 is "other".
        var classOf = [UInt8](repeating: 0, count: 256)
        var used = [Bool](repeating: false, count: 256)
        for (k, _) in keywords { for b in k { used[Int(b)] = true } }
        var next: UInt8 = 1
        var classOfCanonical = [UInt8](repeating: 0, count: 256)
        for b in 0..<256 where used[b] {
            classOfCanonical[b] = next
            next += 1
        }
        for b in 0..<256 { classOf[b] = classOfCanonical[Int(PhraseAutomaton.canonical(UInt8(b)))] }
        let classCount = Int(next)
        let separator = classOfCanonical[0x20]
        var letterClass = [Bool](repeating: false, count: classCount)
        for b in 0..<256 where isAlnum(UInt8(b)) || b >= 0x80 { letterClass[Int(classOf[b])] = true }
        letterClass[0] = false

        // Trie.
        var goto: [[UInt8: UInt32]] = [[:]]
        var stateOutputs: [[Output]] = [[]]
        for (k, out) in keywords {
            var s: UInt32 = 0
            for b in k {
                let c = classOfCanonical[Int(b)]
                if let t = goto[Int(s)][c] { s = t } else {
                    goto.append([:])
                    stateOutputs.append([])
                    let t = UInt32(goto.count - 1)
                    goto[Int(s)][c] = t
                    s = t
                }
            }
            stateOutputs[Int(s)].append(out)
        }

        // Failure links (BFS) and the dense table.
        let n = goto.count
        var fail = [UInt32](repeating: 0, count: n)
        var table = [UInt32](repeating: 0, count: n * classCount)
        var queue: [UInt32] = []
        for c in 0..<classCount {
            if let t = goto[0][UInt8(c)] { table[c] = t; queue.append(t) }
        }
        var head = 0
        while head < queue.count {
            let s = queue[head]
            head += 1
            stateOutputs[Int(s)].append(contentsOf: stateOutputs[Int(fail[Int(s)])])
            for c in 0..<classCount {
                if let t = goto[Int(s)][UInt8(c)] {
                    fail[Int(t)] = table[Int(fail[Int(s)]) * classCount + c]
                    table[Int(s) * classCount + c] = t
                    queue.append(t)
                } else {
                    table[Int(s) * classCount + c] = table[Int(fail[Int(s)]) * classCount + c]
                }
            }
        }
        var outputStart = [Int32](repeating: 0, count: n + 1)
        var flat: [Output] = []
        for s in 0..<n {
            outputStart[s] = Int32(flat.count)
            flat.append(contentsOf: stateOutputs[s])
        }
        outputStart[n] = Int32(flat.count)

        self.phrases = phraseList
        self.classOf = classOf
        self.classCount = classCount
        self.separatorClass = separator
        self.letterClass = letterClass
        self.transitions = table
        self.outputStart = outputStart
        self.outputs = flat
    }

    /// A phrase found in the text: where it ends (exclusive) and what it means.
    struct Hit {
        var end: Int
        var output: Output
    }

    /// Runs the automaton over `p`, calling `body` for every hit that satisfies its word
    /// boundaries.
    @inline(__always)
    func scan(_ p: UnsafeBufferPointer<UInt8>, _ body: (Int, Output) -> Void) {
        guard let base = p.baseAddress else { return }
        let n = p.count
        transitions.withUnsafeBufferPointer { table in
            classOf.withUnsafeBufferPointer { classes in
                outputStart.withUnsafeBufferPointer { starts in
                    var state = 0
                    var previousWasSeparator = true
                    let k = classCount
                    let sep = separatorClass
                    for i in 0..<n {
                        let c = classes[Int(base[i])]
                        if c == sep {
                            if previousWasSeparator { continue }
                            previousWasSeparator = true
                        } else {
                            previousWasSeparator = false
                        }
                        state = Int(table[state &* k &+ Int(c)])
                        let o0 = Int(starts[state]), o1 = Int(starts[state &+ 1])
                        if o0 != o1 {
                            for o in o0..<o1 {
                                let out = outputs[o]
                                if out.boundaryEnd, i + 1 < n, letterClass[Int(classes[Int(base[i + 1])])] { continue }
                                if out.boundaryStart {
                                    let s = matchStart(base, end: i, length: Int(out.length))
                                    if s > 0, letterClass[Int(classes[Int(base[s - 1])])] { continue }
                                }
                                body(i + 1, out)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The start of a match of `length` canonical bytes ending at `end` (inclusive),
    /// stepping back over collapsed separator runs.
    @inline(__always)
    private func matchStart(_ base: UnsafePointer<UInt8>, end: Int, length: Int) -> Int {
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
