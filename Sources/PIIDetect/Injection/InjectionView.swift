// MARK: - The text injection scoring reads

/// A response body as the injection scorer reads it: JSON string escapes and HTML entities
/// decoded, invisible characters removed (and counted where they split words), Unicode tag
/// characters read as the ASCII they hide, confusables and accents folded; ASCII keeps its
/// case (the phrase automaton folds case, base64 needs it). Letter-spaced text
/// (`I G N O R E   A L L`) is collapsed on request (``LetterSpacing``). Every view byte
/// maps back to the raw body.
struct InjectionView {
    /// The view bytes (empty when ``isRaw``).
    var bytes: [UInt8]
    /// Nothing needed decoding: the view is the raw body itself, not copied.
    var isRaw = false
    /// View → raw mapping layers (empty: the view is the raw body).
    var layers: [OffsetMap]
    /// View ranges that came from Unicode tag characters (invisible text).
    var tagRanges: [Range<Int>]
    /// View positions where an invisible character was removed from inside a word.
    var splitPositions: [Int]

    /// Calls `body` with the view bytes (`raw` itself when ``isRaw``).
    @inline(__always)
    func withBytes<R>(raw: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        isRaw ? body(raw) : bytes.withUnsafeBufferPointer(body)
    }

    /// Maps a view range to the raw body.
    func rawRange(_ r: Range<Int>) -> Range<Int> {
        var range = r
        for layer in layers.reversed() { range = layer.inputRange(range) }
        return range
    }

    nonisolated(unsafe) static let needsDecoding: UnsafePointer<Bool> = {
        let t = UnsafeMutablePointer<Bool>.allocate(capacity: 256)
        t.initialize(repeating: false, count: 256)
        t[Int(UInt8(ascii: "\\"))] = true
        t[Int(UInt8(ascii: "&"))] = true
        for b in 0x80...0xFF { t[b] = true }
        return UnsafePointer(t)
    }()

    /// Bytes in `x` that may need decoding (a backslash, an ampersand, 0x80 or more).
    @inline(__always) static func decodingCandidates(_ x: UInt64) -> UInt64 {
        (x & ByteWord.highs) | ByteWord.equal(x, UInt8(ascii: "\\")) | ByteWord.equal(x, UInt8(ascii: "&"))
    }

    /// Index of the first byte at or after `from` that may need decoding (`p.count`: none).
    @inline(__always)
    static func firstToDecode(_ p: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        guard let base = p.baseAddress else { return p.count }
        let n = p.count
        var i = from
        // Sixteen at a time: a byte's top bit, or a lane matching `\` or `&`.
        let backslash = ByteVector.splat(UInt8(ascii: "\\")), ampersand = ByteVector.splat(UInt8(ascii: "&"))
        while i &+ 16 <= n {
            let x = ByteVector.load(base, i)
            let bits = Lanes.bits(x | Lanes.eq(x, backslash) | Lanes.eq(x, ampersand))
            if bits != 0 { return i &+ bits.trailingZeroBitCount }
            i &+= 16
        }
        while i + 8 <= n {
            let f = decodingCandidates(ByteWord.load(base + i))
            if f != 0 { return i + ByteWord.first(f) }
            i += 8
        }
        let table = needsDecoding
        while i < n, !table[Int(base[i])] { i += 1 }
        return i
    }

    static func build(_ raw: UnsafeBufferPointer<UInt8>) -> InjectionView {
        let first = firstToDecode(raw, from: 0)
        guard first < raw.count else {
            return InjectionView(bytes: [], isRaw: true, layers: [], tagRanges: [], splitPositions: [])
        }
        var builder = Builder(raw)
        builder.i = first
        builder.run()
        return InjectionView(bytes: builder.out, layers: [builder.map], tagRanges: builder.tagRanges,
                             splitPositions: builder.splitPositions)
    }

    // MARK: Builder

    struct Builder {
        let p: UnsafeBufferPointer<UInt8>
        let n: Int
        var out: [UInt8] = []
        var map = OffsetMap()
        var i = 0
        var runStart = 0
        var tagRanges: [Range<Int>] = []
        var splitPositions: [Int] = []
        var tagStart: Int? = nil

        init(_ p: UnsafeBufferPointer<UInt8>) {
            self.p = p
            self.n = p.count
            out.reserveCapacity(p.count)
            map = OffsetMap(inputLength: p.count)
        }

        @inline(__always) mutating func flush(_ upTo: Int) {
            if upTo > runStart {
                map.copy(out: out.count, input: runStart, len: upTo - runStart)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<upTo]))
            }
        }

        /// Emits the fold of `cp`, decoded from the raw token `start ..< end`.
        @inline(__always) mutating func emit(_ cp: UInt32, from start: Int, to end: Int) {
            flush(start)
            // Tag characters: the ASCII they shadow, remembered as hidden text.
            if cp >= 0xE0020 && cp <= 0xE007E {
                if tagStart == nil { tagStart = out.count }
                map.token(out: out.count, input: start, inLen: end - start, outLen: 1)
                out.append(UInt8(cp - 0xE0000))
            } else {
                closeTagRun()
                if let f = InjectionFold.fold(cp) {
                    let o = out.count
                    let k = UTF8Scalar.encode(f, into: &out)
                    map.token(out: o, input: start, inLen: end - start, outLen: k)
                } else if cp != 0xFEFF || out.count > 0 {
                    // An invisible character inside a word hides the word from filters.
                    if let last = out.last, isAlnum(last) || last == 0x20 { splitPositions.append(out.count) }
                }
            }
            i = end
            runStart = end
        }

        mutating func closeTagRun() {
            if let s = tagStart {
                tagRanges.append(s..<out.count)
                tagStart = nil
            }
        }

        mutating func run() {
            let table = InjectionView.needsDecoding
            while i < n {
                // Outside tag-character runs, plain bytes are skipped eight at a time.
                // (Dense escapes or entities: the byte here often needs decoding itself, and
                // is checked before any search.)
                if tagStart == nil, !table[Int(p[i])] {
                    i = InjectionView.firstToDecode(p, from: i)
                    guard i < n else { break }
                }
                let b = p[i]
                if !table[Int(b)] {
                    if tagStart != nil { flush(i); runStart = i; closeTagRun() }
                    i += 1
                    continue
                }
                if b >= 0x80 {
                    if let (cp, len) = UTF8Scalar.decode(p, at: i) {
                        emit(cp, from: i, to: i + len)
                    } else {
                        i += 1
                    }
                } else if b == UInt8(ascii: "\\") {
                    if let (cp, len) = jsonEscape(at: i) { emit(cp, from: i, to: i + len) } else { i += 1 }
                } else {
                    if let (cp, len) = entity(at: i) { emit(cp, from: i, to: i + len) } else { i += 1 }
                }
            }
            flush(n)
            closeTagRun()
        }

        func jsonEscape(at s: Int) -> (UInt32, Int)? {
            guard s + 1 < n else { return nil }
            switch p[s + 1] {
            case UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"): return (0x0A, 2)
            case UInt8(ascii: "\""): return (0x22, 2)
            case UInt8(ascii: "\\"): return (0x5C, 2)
            case UInt8(ascii: "/"): return (0x2F, 2)
            case UInt8(ascii: "'"): return (0x27, 2)
            case UInt8(ascii: "u"): return EscapePass.unicodeEscape(p, at: s)
            default: return nil
            }
        }

        static let named: [String: UInt32] = [
            "lt": 0x3C, "gt": 0x3E, "amp": 0x26, "quot": 0x22, "apos": 0x27, "nbsp": 0x20, "copy": 0xA9,
            "shy": 0xAD, "zwj": 0x200D, "zwnj": 0x200C, "lsquo": 0x2018, "rsquo": 0x2019, "ldquo": 0x201C,
            "rdquo": 0x201D, "mdash": 0x2014, "ndash": 0x2013, "hellip": 0x2026, "commat": 0x40, "num": 0x23,
            "lpar": 0x28, "rpar": 0x29, "lsqb": 0x5B, "rsqb": 0x5D, "excl": 0x21, "vert": 0x7C, "sol": 0x2F,
        ]

        func entity(at s: Int) -> (UInt32, Int)? {
            var j = s + 1
            guard j < n else { return nil }
            if p[j] == UInt8(ascii: "#") {
                j += 1
                var v: UInt32 = 0, digits = 0
                if j < n, p[j] | 0x20 == UInt8(ascii: "x") {
                    j += 1
                    while j < n, isHexDigit(p[j]), digits < 7 { v = v << 4 | hexValue(p[j]); j += 1; digits += 1 }
                } else {
                    while j < n, isDigit(p[j]), digits < 8 { v = v * 10 + UInt32(p[j] - 0x30); j += 1; digits += 1 }
                }
                guard digits > 0, v <= 0x10FFFF else { return nil }
                if j < n, p[j] == UInt8(ascii: ";") { j += 1 }
                return (v, j - s)
            }
            // The name (up to eight letters and digits), packed into an integer.
            var name: UInt64 = 0, length = 0
            while j < n, isAlnum(p[j]), length < 8 { name |= UInt64(p[j]) << UInt64(8 * length); length += 1; j += 1 }
            guard length > 0, j < n, p[j] == UInt8(ascii: ";"),
                  let k = Builder.packedNames.firstIndex(of: name) else { return nil }
            return (Builder.namedValues[k], j + 1 - s)
        }

        /// ``named``, keys packed as in ``entity(at:)`` (names hold no zero byte, so
        /// packing keeps them apart).
        static let packedNames: [UInt64] = namedList.map { name in
            name.utf8.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << UInt64(8 * $1.offset) }
        }
        static let namedValues: [UInt32] = namedList.map { named[$0]! }
        static let namedList = Array(named.keys)
    }
}

// MARK: - Letter spacing

/// `I G N O R E   A L L   P R E V I O U S`: single characters separated by single spaces,
/// words by runs of spaces. Collapsed so the phrase automaton reads `IGNORE ALL PREVIOUS`.
enum LetterSpacing {
    @inline(__always) static func isPunctuation(_ b: UInt8) -> Bool {
        b == UInt8(ascii: ".") || b == UInt8(ascii: ",") || b == UInt8(ascii: ":") || b == UInt8(ascii: "!")
            || b == UInt8(ascii: "?") || b == UInt8(ascii: ";")
    }

    /// Minimum run of spaced characters worth collapsing.
    static let minimumRun = 6

    /// Length of the spaced run starting at `i` (single-character tokens separated by
    /// spaces): token count and the end of the last token.
    @inline(__always)
    static func spacedRun(_ p: UnsafeBufferPointer<UInt8>, from i: Int) -> (count: Int, end: Int) {
        let n = p.count
        var j = i, count = 0, end = i
        while j < n, p[j] != 0x20, p[j] != 0x0A,
              j + 1 == n || p[j + 1] == 0x20
                || (isPunctuation(p[j + 1]) && (j + 2 == n || p[j + 2] == 0x20 || p[j + 2] == 0x0A)) {
            if j + 1 < n, p[j + 1] != 0x20 {
                // A last token with trailing punctuation ("K.") ends the run.
                count += 1
                end = j + 2
                break
            }
            count += 1
            end = j + 1
            var k = j + 1
            while k < n, p[k] == 0x20 { k += 1 }
            j = k
        }
        return (count, end)
    }

    static func collapse(_ p: UnsafeBufferPointer<UInt8>) -> ([UInt8], OffsetMap)? {
        let n = p.count
        var i = 0
        var found = false
        while i < n {
            if p[i] != 0x20, i + 1 < n, p[i + 1] == 0x20, i == 0 || p[i - 1] == 0x20 || p[i - 1] == 0x0A {
                let r = spacedRun(p, from: i)
                if r.count >= minimumRun { found = true; break }
                i = max(r.end, i + 1)
                continue
            }
            i += 1
        }
        guard found else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(n)
        var map = OffsetMap()
        var runStart = 0
        i = 0
        while i < n {
            guard p[i] != 0x20, i == 0 || p[i - 1] == 0x20 || p[i - 1] == 0x0A else { i += 1; continue }
            let r = spacedRun(p, from: i)
            guard r.count >= minimumRun else { i = max(r.end, i + 1); continue }
            if i > runStart {
                map.copy(out: out.count, input: runStart, len: i - runStart)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<i]))
            }
            // Drop single spaces; a run of two or more spaces separates words.
            var k = i
            while k < r.end {
                if p[k] == 0x20 {
                    var e = k
                    while e < r.end, p[e] == 0x20 { e += 1 }
                    if e - k >= 2 {
                        map.token(out: out.count, input: k, inLen: e - k, outLen: 1)
                        out.append(0x20)
                    }
                    k = e
                } else {
                    map.copy(out: out.count, input: k, len: 1)
                    out.append(p[k])
                    k += 1
                }
            }
            i = r.end
            runStart = r.end
        }
        if n > runStart {
            map.copy(out: out.count, input: runStart, len: n - runStart)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<n]))
        }
        return (out, map)
    }
}
