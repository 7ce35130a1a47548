// MARK: - Which lines of a body are code

/// Per-line facts for the code checks of the injection scorer: whether a line is code, a
/// comment, and whether it holds a string literal next to code syntax. Lines are found
/// once per body (only when some sentence needs them); a line's facts are worked out the
/// first time a check looks at it, since checks look at few lines.
struct CodeMap {
    struct Line {
        var start: Int
        var end: Int
        /// The facts below are known.
        var known = false
        var isCode = false
        var isComment = false
        /// A string literal next to code syntax: decided on demand (``isCodeLiteral(_:)``).
        var literalCandidate = false
        var codeShaped = false
    }

    private let text: UnsafeBufferPointer<UInt8>

    private(set) var lines: [Line] = []

    static let codeStarts: [[UInt8]] = [
        "const ", "let ", "var ", "def ", "class ", "import ", "from ", "return ", "function ", "func ",
        "package ", "public ", "private ", "async ", "await ", "#include", "if (", "for (", "while (",
        "} else", "print(", "console.", "SELECT ", "UPDATE ", "ALTER ", "INSERT ",
    ].map { Array($0.utf8) }
    static let callStarts: [[UInt8]] = ["assert", "expect(", "return ", "print(", "console.", "it(", "test(", "self.assert"]
        .map { Array($0.utf8) }

    init(_ p: UnsafeBufferPointer<UInt8>) {
        text = p
        let n = p.count
        lines.reserveCapacity(n / 16 + 2)
        // Line ends: newlines, sixteen (near the end eight) bytes at a time.
        var ls = 0, i = 0
        if let base = p.baseAddress {
            let newline = ByteVector.splat(0x0A)
            while i &+ 16 <= n {
                var f = Lanes.bits(Lanes.eq(ByteVector.load(base, i), newline))
                while f != 0 {
                    let le = i &+ f.trailingZeroBitCount
                    lines.append(Line(start: ls, end: le))
                    ls = le &+ 1
                    f &= f &- 1
                }
                i &+= 16
            }
            while i + 8 <= n {
                var f = ByteWord.equal(ByteWord.load(base + i), 0x0A)
                while f != 0 {
                    let le = i + ByteWord.first(f)
                    lines.append(Line(start: ls, end: le))
                    ls = le + 1
                    f &= f &- 1
                }
                i += 8
            }
            while i < n {
                if base[i] == 0x0A { lines.append(Line(start: ls, end: i)); ls = i + 1 }
                i += 1
            }
        }
        lines.append(Line(start: ls, end: n))
    }

    /// Line `k` with its facts.
    private mutating func line(_ k: Int) -> Line {
        if !lines[k].known { lines[k] = CodeMap.facts(text, lines[k]) }
        return lines[k]
    }

    /// The facts of `line` (one pass over it).
    private static func facts(_ p: UnsafeBufferPointer<UInt8>, _ line: Line) -> Line {
        let ls = line.start, le = line.end
        let (hasQuote, hasCodeByte, hasArrow) = CodeMap.codeBytes(p, ls, le)
        var line = Line(start: ls, end: le, known: true)
        var s = ls
        while s < le, p[s] == 0x20 || p[s] == 0x09 { s += 1 }
        var e = le
        while e > s, p[e - 1] == 0x20 || p[e - 1] == 0x0D { e -= 1 }
        if s < e {
            line.isComment = CodeMap.isComment(p, s, e)
            if !line.isComment {
                let shaped = hasCodeByte && CodeMap.isCodeShaped(p, s, e)
                line.isCode = p[e - 1] == UInt8(ascii: ";") || hasArrow || (shaped && p[s] != 0x22)
                    || CodeMap.startsWithKeyword(p, s, e)
                line.codeShaped = shaped
                line.literalCandidate = hasQuote && hasCodeByte
            }
        }
        return line
    }

    /// Whether `p[ls ..< le]` holds a quote, a code byte (`=`, `(`) and an arrow (`=>`, its
    /// `>` possibly past `le`).
    static func codeBytes(_ p: UnsafeBufferPointer<UInt8>, _ ls: Int, _ le: Int) -> (quote: Bool, codeByte: Bool, arrow: Bool) {
        let n = p.count
        var hasQuote = false, hasCodeByte = false, hasArrow = false
        var k = ls
        let dq = ByteVector.splat(0x22), sq = ByteVector.splat(0x27), eq = ByteVector.splat(UInt8(ascii: "="))
        let paren = ByteVector.splat(UInt8(ascii: "("))
        while k < le {
            // Quotes, `=` and `(`: the other bytes are skipped sixteen (near the end eight) at a time.
            if k &+ 16 <= le, let base = p.baseAddress {
                let x = ByteVector.load(base, k)
                let f = Lanes.bits(Lanes.eq(x, dq) | Lanes.eq(x, sq) | Lanes.eq(x, eq) | Lanes.eq(x, paren))
                if f == 0 { k &+= 16; continue }
                k &+= f.trailingZeroBitCount
            } else if k + 8 <= le, let base = p.baseAddress {
                let x = ByteWord.load(base + k)
                let f = ByteWord.equal(x, 0x22) | ByteWord.equal(x, 0x27) | ByteWord.equal(x, UInt8(ascii: "="))
                    | ByteWord.equal(x, UInt8(ascii: "("))
                if f == 0 { k += 8; continue }
                k += ByteWord.first(f)
            }
            let b = p[k]
            if b == 0x22 || b == 0x27 { hasQuote = true }
            else if b == UInt8(ascii: "=") || b == UInt8(ascii: "(") {
                hasCodeByte = true
                if b == UInt8(ascii: "="), k + 1 < n, p[k + 1] == UInt8(ascii: ">") { hasArrow = true }
            }
            k += 1
        }
        return (hasQuote, hasCodeByte, hasArrow)
    }

    /// Index of the line holding `pos`.
    func lineIndex(_ pos: Int) -> Int {
        var lo = 0, hi = lines.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lines[mid].start <= pos { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// A string literal on a line of code (a test vector, a filter pattern).
    /// Whether a line the range spans holds a string literal next to code syntax.
    mutating func isCodeLiteral(_ range: Range<Int>) -> Bool {
        guard !lines.isEmpty, !range.isEmpty else { return false }
        let first = lineIndex(range.lowerBound), last = lineIndex(range.upperBound - 1)
        for k in first...last where isCodeLiteral(line: line(k)) { return true }
        return false
    }

    private func isCodeLiteral(line: Line) -> Bool {
        guard line.literalCandidate else { return false }
        if line.codeShaped { return true }
        // Test and filter code: `assert x("…")`, `expect(…)`, `return re.search(…)`.
        var s = line.start
        while s < line.end, text[s] == 0x20 || text[s] == 0x09 { s += 1 }
        return CodeMap.callStarts.contains { k in
            line.end - s >= k.count && k.indices.allSatisfy { text[s + $0] == k[$0] }
        }
    }

    /// A non-comment line with code on it or within two lines.
    mutating func isNearCode(_ pos: Int) -> Bool {
        guard !lines.isEmpty else { return false }
        let i = lineIndex(pos)
        if line(i).isComment { return false }
        for k in max(0, i - 2)...min(lines.count - 1, i + 2) where line(k).isCode { return true }
        return false
    }

    static func isComment(_ p: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Bool {
        let b = p[s]
        if b == UInt8(ascii: "#") || b == UInt8(ascii: "*") { return true }
        if s + 1 < e, b == UInt8(ascii: "/"), p[s + 1] == UInt8(ascii: "/") || p[s + 1] == UInt8(ascii: "*") { return true }
        if s + 1 < e, b == UInt8(ascii: "-"), p[s + 1] == UInt8(ascii: "-") { return true }
        return false
    }

    /// `name = …` (not `==`), a call `name(…`, or `name: type = …`.
    static func isCodeShaped(_ p: UnsafeBufferPointer<UInt8>, _ s: Int, _ le: Int) -> Bool {
        var k = s
        while k < le, isWordByte(p[k]) || p[k] == UInt8(ascii: ".") { k += 1 }
        var t = k
        while t < le, p[t] == 0x20 { t += 1 }
        guard k > s, t < le else { return false }
        if p[t] == UInt8(ascii: "("), k - s > 1 { return true }
        if p[t] == UInt8(ascii: "="), t + 1 < le, p[t + 1] != UInt8(ascii: "=") { return true }
        if p[t] == UInt8(ascii: ":") {
            var e = t + 1
            while e < le, e - t < 40, p[e] != UInt8(ascii: "=") { e += 1 }
            if e < le, p[e] == UInt8(ascii: "=") { return true }
        }
        return false
    }

    static func startsWithKeyword(_ p: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Bool {
        let first = p[s]
        for k in codeStarts where k[0] == first && e - s >= k.count {
            var same = true
            for t in 1..<k.count where p[s + t] != k[t] { same = false; break }
            if same { return true }
        }
        return false
    }
}
