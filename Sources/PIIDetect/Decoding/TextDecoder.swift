// MARK: - Decoding layer in front of the detectors

/// Undoes the encodings and evasions a PII value can hide behind, in two bounded linear
/// passes, each keeping an ``OffsetMap`` back to its input.
///
/// 1. Escapes: JSON string escapes (`\n`, `\"`, `\uXXXX` with surrogate pairs), percent
///    encoding (`%40`, multi-byte UTF-8 as `%E2%80%8D`), and `+` as space inside
///    form-encoded segments (`a=b&c=d`, `?q=`).
/// 2. Characters: HTML entities (`&#64;`, `&#x40;`, `&commat;`, `&amp;`…), decimal digits
///    of every script and fullwidth forms to ASCII, invisible characters dropped, space and
///    dash variants unified, and e-mail/IP obfuscation (`[at]`, `(dot)`, `[.]`, and bare
///    `at`/`dot` words when they sit inside an obfuscated address).
///
/// A pass whose trigger bytes do not occur is skipped, so plain ASCII text costs one scan.
public enum TextDecoder {
    /// Decodes `raw` for detection; `nil` when nothing in it needs decoding.
    static func decodeIfNeeded(_ raw: UnsafeBufferPointer<UInt8>) -> DecodedText? {
        var buffers = DecodeBuffers()
        guard buffers.decode(raw) else { return nil }
        return text(of: buffers, raw)
    }

    /// Decodes `raw` for detection.
    public static func decode(_ raw: UnsafeBufferPointer<UInt8>) -> DecodedText {
        var buffers = DecodeBuffers()
        buffers.decode(raw)
        return text(of: buffers, raw)
    }

    /// A copy of what `buffers` decoded from `raw`.
    private static func text(of buffers: borrowing DecodeBuffers, _ raw: UnsafeBufferPointer<UInt8>) -> DecodedText {
        var layers: [OffsetMap] = []
        if buffers.escaped { layers.append(buffers.escapeMap) }
        if buffers.folded { layers.append(buffers.foldMap) }
        return DecodedText(bytes: buffers.withOutput(raw) { Array($0) }, layers: layers)
    }

    /// Decodes `raw` for detection.
    public static func decode(_ raw: [UInt8]) -> DecodedText {
        raw.withUnsafeBufferPointer { decode($0) }
    }
}

// MARK: - Growing buffers in raw storage

/// Elements in raw storage that grows as needed and is kept from one body to the next (a
/// decoding pass's output, a list of start positions). An array append checks uniqueness
/// and capacity out of line on every element; here it is a compare, a store and an
/// increment.
struct GrowingBuffer<Element: BitwiseCopyable>: ~Copyable {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int = 0) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    /// Empties the buffer and makes room for `expected` elements.
    mutating func reset(expected: Int) {
        count = 0
        if capacity < expected { grow(expected) }
    }

    mutating func removeAll() { count = 0 }

    @inline(__always) mutating func append(_ element: Element) {
        if count == capacity { grow(count + 1) }
        base[count] = element
        count &+= 1
    }

    @inline(__always) mutating func append(contentsOf elements: UnsafeBufferPointer<Element>) {
        guard let source = elements.baseAddress else { return }
        if count + elements.count > capacity { grow(count + elements.count) }
        (base + count).update(from: source, count: elements.count)
        count &+= elements.count
    }

    @inline(never) private mutating func grow(_ needed: Int) {
        let size = max(needed, 2 * capacity, 64)
        let larger = UnsafeMutablePointer<Element>.allocate(capacity: size)
        larger.update(from: base, count: count)
        base.deallocate()
        base = larger
        capacity = size
    }

    var last: Element? { count > 0 ? base[count - 1] : nil }

    mutating func removeLast() {
        precondition(count > 0, "removeLast on an empty buffer")
        count -= 1
    }

    subscript(_ i: Int) -> Element {
        precondition(i >= 0 && i < count, "buffer index out of range")
        return base[i]
    }

    /// The elements written so far (valid until the next write).
    var elements: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }
}

/// A decoding pass's output bytes.
typealias ByteOutput = GrowingBuffer<UInt8>

// MARK: - Reusable decoding output

/// The passes' output for one body, written into buffers that are kept (emptied, capacity
/// kept) from one body to the next: a scan's workspace holds one, so decoding a body
/// allocates nothing once the buffers have grown to the usual body size.
struct DecodeBuffers: ~Copyable {
    /// The escape pass's output and map (valid when ``escaped``).
    var escapeOutput = ByteOutput()
    var escapeMap = OffsetMap()
    /// The character pass's output and map (valid when ``folded``).
    var foldOutput = ByteOutput()
    var foldMap = OffsetMap()
    /// Which passes ran for the last body.
    private(set) var escaped = false
    private(set) var folded = false

    /// Runs the passes `raw` needs (``ByteFlags/scan(_:)``); returns whether any ran
    /// (when none did, the output is `raw` itself).
    @discardableResult
    mutating func decode(_ raw: UnsafeBufferPointer<UInt8>) -> Bool {
        var flags = ByteFlags.scan(raw)
        escaped = false
        folded = false
        if flags.contains(.escape) {
            let significant = EscapePass.run(raw, into: &escapeOutput, &escapeMap)
            escaped = true
            // When every decoded byte is one the flags ignore (the common JSON escapes),
            // whatever the flags find in the output was already in the body next to the
            // same bytes, so the body's flags hold (a superset at worst: the character
            // pass then changes nothing). Otherwise the output is scanned again.
            if significant { flags = ByteFlags.scan(escapeOutput.elements) }
        }
        if flags.contains(.character) || flags.contains(.bareWord) {
            let bare = flags.contains(.bareWord)
            if escaped {
                // The input is read while the output is written: different buffers.
                CharacterPass.run(escapeOutput.elements, bareWords: bare, into: &foldOutput, &foldMap)
            } else {
                CharacterPass.run(raw, bareWords: bare, into: &foldOutput, &foldMap)
            }
            folded = true
        }
        return escaped || folded
    }

    /// Calls `body` with the decoded bytes of the last body (`raw` itself when nothing
    /// needed decoding).
    func withOutput<R>(_ raw: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if folded { return body(foldOutput.elements) }
        if escaped { return body(escapeOutput.elements) }
        return body(raw)
    }

    /// Maps a range of the decoded bytes to the raw body's byte range it came from.
    func rawRange(_ r: Range<Int>) -> Range<Int> {
        var range = r
        if folded { range = foldMap.inputRange(range) }
        if escaped { range = escapeMap.inputRange(range) }
        return range
    }

    /// Drops buffers a huge body grew, so a workspace does not keep them.
    mutating func trim(above limit: Int) {
        if escapeOutput.capacity > limit { escapeOutput = ByteOutput(); escapeMap = OffsetMap() }
        if foldOutput.capacity > limit { foldOutput = ByteOutput(); foldMap = OffsetMap() }
    }
}

// MARK: - Byte classes

/// What a body contains, from one table-driven scan: which passes have work to do.
struct ByteFlags: OptionSet {
    let rawValue: UInt8
    /// `\`, `%` or `+`: the escape pass.
    static let escape = ByteFlags(rawValue: 1)
    /// Non-ASCII, `&`, `[`, `(`, `{`: the character pass.
    static let character = ByteFlags(rawValue: 2)
    /// The words ` dot `/` DOT `, or ` at `/` AT ` next to a bracket: e-mail obfuscation
    /// written with bare words, which needs the character pass to look at spaces.
    static let bareWord = ByteFlags(rawValue: 4)
    static let bracket = ByteFlags(rawValue: 16)

    /// Byte role for the scan: a byte that may start a character-pass token (checked more
    /// closely when seen).
    static let checkCharacter: UInt8 = 32

    nonisolated(unsafe) static let table: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        t.initialize(repeating: 0, count: 256)
        for c in ["\\", "%", "+"] { t[Int(Character(c).asciiValue!)] = escape.rawValue }
        for c in ["&", "[", "(", "{"] { t[Int(Character(c).asciiValue!)] = checkCharacter }
        // Lead bytes of characters the fold changes: NBSP/soft hyphen (C2), Arabic-Indic
        // and other digits (D9, DB, DF, E0, E1, EA, EB), spaces/dashes/zero-width (E2),
        // ideographic space and full stop (E3), fullwidth forms and BOM (EF), tags and
        // mathematical digits (F0, F3). Latin accents, Cyrillic, CJK text need no pass.
        for b in [0xC2, 0xD9, 0xDB, 0xDF, 0xE0, 0xE1, 0xE2, 0xE3, 0xEA, 0xEB, 0xEF, 0xF0, 0xF3] { t[b] = character.rawValue }
        return UnsafePointer(t)
    }()

    /// The bytes the scan acts on: the table's ASCII entries and every non-ASCII byte.
    static let interesting = ByteSet(Array("\\%+&[({".utf8), nonASCII: true)
    /// The bytes that can still add a flag, by the flags found so far (index: the
    /// `escape` and `character` bits): once a body has an escape, the escape bytes are no
    /// longer stops (JSON bodies are full of `\\"`); once it has a character token, only
    /// brackets can add something (`bracket`).
    static let remaining: [ByteSet] = [
        interesting,
        ByteSet(Array("&[({".utf8), nonASCII: true),
        ByteSet(Array("\\%+[({".utf8)),
        ByteSet(Array("[({".utf8)),
    ]

    static func scan(_ p: UnsafeBufferPointer<UInt8>) -> ByteFlags {
        guard let base = p.baseAddress else { return [] }
        var acc: UInt8 = 0
        let table = ByteFlags.table
        let all = escape.rawValue | character.rawValue | bracket.rawValue
        let n = p.count
        let remaining = ByteFlags.remaining
        var stops = remaining[0]
        var found: UInt8 = 0   // `acc & (escape | character)` when `stops` was chosen
        var i = stops.next(in: base, n, from: 0)
        while i < n {
            if base[i] >= 0x80 {
                // Non-ASCII text (CJK, Cyrillic, emoji) byte by byte: the vector search
                // would stop at every byte. Its table entries are `character` or nothing.
                while i < n, base[i] >= 0x80 { acc |= table[Int(base[i])]; i &+= 1 }
            } else {
                let f = table[Int(base[i])]
                if f != 0 {
                    if f & checkCharacter == 0 {
                        acc |= f & escape.rawValue | f & character.rawValue
                    } else if ByteFlags.needsCharacterPass(base, n, i) {
                        acc |= character.rawValue | (base[i] == UInt8(ascii: "&") ? 0 : bracket.rawValue)
                    }
                }
                i &+= 1
            }
            // Nothing further can change the result.
            if acc == all { break }
            if acc & 3 != found {
                found = acc & 3
                stops = remaining[Int(found)]
            }
            i = stops.next(in: base, n, from: i)
        }
        var f = ByteFlags(rawValue: acc)
        // ` dot ` / ` DOT ` anywhere, or ` at ` / ` AT ` next to a bracket form.
        if containsWord(p, "dot") || (f.contains(.bracket) && containsWord(p, "at")) { f.insert(.bareWord) }
        return f
    }

    /// Whether ` word ` occurs (all lower or all upper case), 16 positions at a time: a
    /// SIMD test for a space before the word's first letter, then a check at the few hits.
    static func containsWord(_ p: UnsafeBufferPointer<UInt8>, _ word: StaticString) -> Bool {
        guard let base = p.baseAddress else { return false }
        let n = p.count
        let w = word.utf8Start
        let wl = word.utf8CodeUnitCount
        guard n >= wl + 2 else { return false }
        let first = w[0] | 0x20
        @inline(__always) func check(_ i: Int) -> Bool {
            guard i >= 1, i + wl < n, base[i - 1] == 0x20, base[i + wl] == 0x20 else { return false }
            let upper = base[i] < 0x61
            for k in 0..<wl {
                let c = base[i + k]
                guard c | 0x20 == w[k], (c < 0x61) == upper else { return false }
            }
            return true
        }
        // 16 positions at a time: a space followed by the first letter (either case).
        typealias V = SIMD16<UInt8>
        let space = V(repeating: 0x20), letter = V(repeating: UInt8(first)), caseBit = V(repeating: 0x20)
        let raw = UnsafeRawPointer(base)
        var s = 0   // candidate space position
        while s + 17 <= n {
            let spaces = Lanes.eq(raw.loadUnaligned(fromByteOffset: s, as: V.self), space)
            let letters = Lanes.eq(raw.loadUnaligned(fromByteOffset: s + 1, as: V.self) | caseBit, letter)
            var bits = Lanes.bits(spaces & letters)
            while bits != 0 {
                if check(s + bits.trailingZeroBitCount + 1) { return true }
                bits &= bits - 1
            }
            s += 16
        }
        while s + 1 < n {
            if base[s] == 0x20, base[s + 1] | 0x20 == UInt8(first), check(s + 1) { return true }
            s += 1
        }
        return false
    }

    /// `&` starting an entity, or a bracket starting `[.]`, `(dot)`, `[at]`, `{@}`, `[:]`.
    static func needsCharacterPass(_ base: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Bool {
        guard i + 2 < n else { return false }
        let next = base[i + 1]
        if base[i] == UInt8(ascii: "&") { return next == UInt8(ascii: "#") || isAlpha(next) }
        switch next | 0x20 {
        case UInt8(ascii: "."), UInt8(ascii: "@"), UInt8(ascii: ":"): return true
        case UInt8(ascii: "d"): return i + 3 < n && (base[i + 2] | 0x20) == UInt8(ascii: "o")
        case UInt8(ascii: "a"): return (base[i + 2] | 0x20) == UInt8(ascii: "t")
        default: return false
        }
    }
}

@inline(__always) func isHexDigit(_ b: UInt8) -> Bool {
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
}

@inline(__always) func hexValue(_ b: UInt8) -> UInt32 {
    if b <= 0x39 { return UInt32(b - 0x30) }
    if b <= 0x46 { return UInt32(b - 0x41 + 10) }
    return UInt32(b - 0x61 + 10)
}

@inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
@inline(__always) func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
@inline(__always) func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || isAlpha(b) }
@inline(__always) func isWordByte(_ b: UInt8) -> Bool { isAlnum(b) || b == 0x5F }
@inline(__always) func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

// MARK: - Pass 1: escapes

enum EscapePass {
    /// The bytes that may start an escape: `\\`, `%`, `+`.
    static let bytes = ByteSet(Array("\\%+".utf8))

    /// The bytes that end a form-encoded segment (``isSegmentDelimiter``), and the bytes
    /// that make a segment form-encoded.
    static let segmentDelimiters = ByteSet([0x20, 0x09, 0x0A, 0x0D, 0x22, 0x27, 0x3C, 0x3E])
    static let formBytes = ByteSet(Array("=&?%".utf8))

    /// Bytes that end a form-encoded segment.
    @inline(__always) static func isSegmentDelimiter(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x22 || b == 0x27 || b == 0x3C || b == 0x3E
    }

    /// Copies the pending run `start ..< upTo` to the output. (A static function with
    /// `inout` arguments: a nested function capturing `out` and `map` would box them and
    /// check exclusivity at run time on every access.)
    @inline(__always)
    static func flush(_ out: inout ByteOutput, _ map: inout OffsetMap, _ p: UnsafeBufferPointer<UInt8>, from start: Int, to upTo: Int) {
        if upTo > start {
            map.copy(out: out.count, input: start, len: upTo - start)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[start..<upTo]))
        }
    }

    /// Whether a decoded byte can take part in what ``ByteFlags`` looks for: non-ASCII,
    /// letters, `#`, `.`, `@`, `:`, space, `&`, `[`, `(`, `{`. The simple JSON escapes
    /// (`\\n`, `\\"`, `\\/`…) decode to none of them.
    @inline(__always)
    static func isSignificant(_ b: UInt8) -> Bool {
        b >= 0x80 || isAlpha(b) || b == 0x23 || b == 0x2E || b == 0x40 || b == 0x3A || b == 0x20
            || b == 0x26 || b == 0x5B || b == 0x28 || b == 0x7B
    }

    static func run(_ p: UnsafeBufferPointer<UInt8>) -> ([UInt8], OffsetMap, emittedSignificant: Bool) {
        var out = ByteOutput(), map = OffsetMap()
        let significant = run(p, into: &out, &map)
        return (Array(out.elements), map, significant)
    }

    /// Decodes `p` into `out` and `map` (cleared first, their capacity reused); returns
    /// whether a decoded byte is one ``ByteFlags`` acts on (``isSignificant(_:)``).
    static func run(_ p: UnsafeBufferPointer<UInt8>, into out: inout ByteOutput, _ map: inout OffsetMap) -> Bool {
        let n = p.count
        var significant = false
        out.reset(expected: n)
        map.reset(inputLength: n)
        var i = 0
        var runStart = 0
        // Cache of the last form-segment decision, so `+` handling stays linear.
        var segEnd = -1
        var segIsForm = false
        var scannedUpTo = 0


        let escapes = EscapePass.bytes
        guard let base = p.baseAddress else { return false }
        while i < n {
            i = escapes.next(in: base, n, from: i)
            guard i < n else { break }
            let b = p[i]
            switch b {
            case 0x5C: // backslash
                guard i + 1 < n else { i += 1; continue }
                let c = p[i + 1]
                var value: UInt8? = nil
                switch c {
                case UInt8(ascii: "n"): value = 0x0A
                case UInt8(ascii: "r"): value = 0x0D
                case UInt8(ascii: "t"): value = 0x09
                case UInt8(ascii: "b"): value = 0x08
                case UInt8(ascii: "f"): value = 0x0C
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "'"): value = c
                case UInt8(ascii: "u"):
                    if let (cp, len) = unicodeEscape(p, at: i) {
                        flush(&out, &map, p, from: runStart, to: i)
                        let o = out.count
                        significant = significant || cp >= 0x80 || isSignificant(UInt8(cp))
                        let k = UTF8Scalar.encode(cp, into: &out)
                        map.token(out: o, input: i, inLen: len, outLen: k)
                        i += len
                        runStart = i
                        continue
                    }
                default: break
                }
                if let v = value {
                    flush(&out, &map, p, from: runStart, to: i)
                    map.token(out: out.count, input: i, inLen: 2, outLen: 1)
                    out.append(v)
                    i += 2
                    runStart = i
                } else {
                    i += 1
                }
            case 0x25: // percent
                if i + 2 < n, isHexDigit(p[i + 1]), isHexDigit(p[i + 2]) {
                    flush(&out, &map, p, from: runStart, to: i)
                    map.token(out: out.count, input: i, inLen: 3, outLen: 1)
                    let byte = UInt8(hexValue(p[i + 1]) << 4 | hexValue(p[i + 2]))
                    significant = significant || isSignificant(byte)
                    out.append(byte)
                    i += 3
                    runStart = i
                } else {
                    i += 1
                }
            default: // plus
                if i >= segEnd {
                    // Find the segment around i: back to the previous delimiter (never
                    // further back than already scanned), forward to the next one.
                    var s = i
                    while s > scannedUpTo, !isSegmentDelimiter(p[s - 1]) { s -= 1 }
                    let e = EscapePass.segmentDelimiters.next(in: base, n, from: i)
                    var hasEq = false, hasAmpOrQuery = false
                    var k = EscapePass.formBytes.next(in: base, e, from: s)
                    while k < e {
                        let c = p[k]
                        if c == 0x3D { hasEq = true }
                        else if c == 0x26 || c == 0x3F { hasAmpOrQuery = true }
                        else if c == 0x25, k + 2 < e, isHexDigit(p[k + 1]), isHexDigit(p[k + 2]) { hasAmpOrQuery = true }
                        if hasEq && hasAmpOrQuery { break }
                        k = EscapePass.formBytes.next(in: base, e, from: k + 1)
                    }
                    segEnd = e
                    scannedUpTo = e
                    segIsForm = hasEq && hasAmpOrQuery
                }
                if segIsForm {
                    flush(&out, &map, p, from: runStart, to: i)
                    map.token(out: out.count, input: i, inLen: 1, outLen: 1)
                    significant = true   // a space
                    out.append(0x20)
                    i += 1
                    runStart = i
                } else {
                    i += 1
                }
            }
        }
        flush(&out, &map, p, from: runStart, to: n)
        return significant
    }

    /// Parses `\uXXXX` (and a following low surrogate) at `i`.
    @inline(__always)
    static func unicodeEscape(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int)? {
        guard i + 5 < p.count else { return nil }
        var v: UInt32 = 0
        for k in 2...5 {
            let c = p[i + k]
            guard isHexDigit(c) else { return nil }
            v = v << 4 | hexValue(c)
        }
        if (0xD800...0xDBFF).contains(v), i + 11 < p.count, p[i + 6] == 0x5C, p[i + 7] == UInt8(ascii: "u") {
            var lo: UInt32 = 0
            var ok = true
            for k in 8...11 {
                let c = p[i + k]
                guard isHexDigit(c) else { ok = false; break }
                lo = lo << 4 | hexValue(c)
            }
            if ok, (0xDC00...0xDFFF).contains(lo) {
                return (0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00), 12)
            }
        }
        return (v, 6)
    }
}

// MARK: - Pass 2: characters

enum CharacterPass {

    /// Named HTML entities that matter for the detectors (and the common ones).
    static let namedEntities: [String: UInt32] = [
        "amp": 0x26, "lt": 0x3C, "gt": 0x3E, "quot": 0x22, "apos": 0x27, "nbsp": 0xA0,
        "commat": 0x40, "period": 0x2E, "sol": 0x2F, "colon": 0x3A, "lpar": 0x28, "rpar": 0x29,
        "lsqb": 0x5B, "rsqb": 0x5D, "lbrack": 0x5B, "rbrack": 0x5D, "hyphen": 0x2010, "dash": 0x2010,
        "plus": 0x2B, "num": 0x23, "percnt": 0x25, "equals": 0x3D, "comma": 0x2C, "lowbar": 0x5F,
        "shy": 0xAD, "zwj": 0x200D, "zwnj": 0x200C, "ensp": 0x2002, "emsp": 0x2003,
        "thinsp": 0x2009, "ndash": 0x2013, "mdash": 0x2014, "minus": 0x2212, "excl": 0x21,
        "quest": 0x3F, "semi": 0x3B, "ast": 0x2A, "dollar": 0x24, "bsol": 0x5C, "verbar": 0x7C,
        "lcub": 0x7B, "rcub": 0x7D, "grave": 0x60, "Hat": 0x5E, "tilde": 0x7E, "copy": 0xA9,
    ]

    /// ``namedEntities`` keyed by the name's bytes packed into a word (first byte lowest),
    /// so a lookup builds no string.
    static let entityByKey: [UInt64: UInt32] = {
        var table: [UInt64: UInt32] = [:]
        for (name, value) in namedEntities {
            precondition(name.utf8.count <= 8, "entity names are packed into eight bytes")
            var key: UInt64 = 0
            for (k, b) in name.utf8.enumerated() { key |= UInt64(b) << (8 * UInt64(k)) }
            table[key] = value
        }
        return table
    }()

    /// Bytes that stop the copy loop (every non-ASCII byte too); the space only in
    /// bare-word mode.
    static let stops = ByteSet(Array("&[({".utf8), nonASCII: true)
    static let stopsWithSpace = ByteSet(Array("&[({ ".utf8), nonASCII: true)

    static func run(_ p: UnsafeBufferPointer<UInt8>, bareWords: Bool) -> ([UInt8], OffsetMap) {
        var out = ByteOutput(), map = OffsetMap()
        run(p, bareWords: bareWords, into: &out, &map)
        return (Array(out.elements), map)
    }

    /// Decodes `p` into `out` and `map` (cleared first, their capacity reused).
    static func run(_ p: UnsafeBufferPointer<UInt8>, bareWords: Bool, into out: inout ByteOutput, _ map: inout OffsetMap) {
        out.reset(expected: p.count)
        withUnsafeMutablePointer(to: &out) { output in
            // The map moves into the state and back (an assignment would share it, and
            // the first append would copy).
            var state = State(p, output)
            swap(&state.map, &map)
            state.map.reset(inputLength: p.count)
            state.run(stops: bareWords ? stopsWithSpace : stops)
            swap(&state.map, &map)
        }
    }

    struct State {
        let p: UnsafeBufferPointer<UInt8>
        let n: Int
        /// The pass's output (the caller's buffer, for the duration of the pass).
        let out: UnsafeMutablePointer<ByteOutput>
        var map: OffsetMap
        var i = 0
        var runStart = 0

        init(_ p: UnsafeBufferPointer<UInt8>, _ out: UnsafeMutablePointer<ByteOutput>) {
            self.p = p
            self.n = p.count
            self.out = out
            self.map = OffsetMap()
        }

        @inline(__always) mutating func flush(_ upTo: Int) {
            if upTo > runStart {
                map.copy(out: out.pointee.count, input: runStart, len: upTo - runStart)
                out.pointee.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<upTo]))
            }
        }

        /// Emits one ASCII byte for the input token `start ..< end`.
        @inline(__always) mutating func emit(_ byte: UInt8, from start: Int, to end: Int) {
            flush(start)
            map.token(out: out.pointee.count, input: start, inLen: end - start, outLen: 1)
            out.pointee.append(byte)
            i = end
            runStart = end
        }

        /// Emits the fold of `cp` for the token `start ..< end`.
        @inline(__always) mutating func emitScalar(_ cp: UInt32, from start: Int, to end: Int) {
            flush(start)
            switch UnicodeFolding.foldForDetection(cp) {
            case .drop:
                break
            case .ascii(let a):
                map.token(out: out.pointee.count, input: start, inLen: end - start, outLen: 1)
                out.pointee.append(a)
            case .keep:
                let o = out.pointee.count
                let k = UTF8Scalar.encode(cp, into: &out.pointee)
                map.token(out: o, input: start, inLen: end - start, outLen: k)
            }
            i = end
            runStart = end
        }

        /// Removes spaces just emitted before an obfuscation token and returns the input
        /// position the token's mapping should start from.
        mutating func swallowTrailingSpaces(tokenStart: Int) -> Int {
            flush(tokenStart)
            runStart = tokenStart
            var start = tokenStart
            var k = 0
            while k < 2, out.pointee.last == 0x20 {
                out.pointee.removeLast()
                if let pos = map.dropLastOutputByte() { start = min(start, pos) }
                k += 1
            }
            return start
        }

        mutating func run(stops: ByteSet) {
            guard let base = p.baseAddress else { return }
            while i < n {
                // Non-ASCII bytes are stops themselves: jump only from ASCII (in non-Latin
                // text the vector search would stop at every byte).
                if base[i] < 0x80 {
                    i = stops.next(in: base, n, from: i)
                    guard i < n else { break }
                }
                let b = p[i]
                if b >= 0x80 {
                    if let (cp, len) = UTF8Scalar.decode(p, at: i) {
                        if case .keep = UnicodeFolding.foldForDetection(cp) { i += len; continue }
                        emitScalar(cp, from: i, to: i + len)
                    } else {
                        i += 1
                    }
                    continue
                }
                switch b {
                case 0x26: // &
                    if let (cp, end) = entity(at: i) {
                        emitScalar(cp, from: i, to: end)
                    } else {
                        i += 1
                    }
                case 0x20:
                    if !bareWord(at: i) { i += 1 }
                default:
                    if !bracketToken(at: i) { i += 1 }
                }
            }
            flush(n)
        }

        // MARK: Entities

        func entity(at start: Int) -> (UInt32, Int)? {
            var j = start + 1
            guard j < n else { return nil }
            if p[j] == UInt8(ascii: "#") {
                j += 1
                var v: UInt32 = 0
                var digits = 0
                if j < n, p[j] | 0x20 == UInt8(ascii: "x") {
                    j += 1
                    while j < n, isHexDigit(p[j]), digits < 7 { v = v << 4 | hexValue(p[j]); j += 1; digits += 1 }
                } else {
                    while j < n, isDigit(p[j]), digits < 8 { v = v * 10 + UInt32(p[j] - 0x30); j += 1; digits += 1 }
                }
                guard digits > 0, v <= 0x10FFFF else { return nil }
                if j < n, p[j] == UInt8(ascii: ";") { return (v, j + 1) }
                if j < n, isAlnum(p[j]) { return nil }
                return (v, j)
            }
            // The name packed into a word (the table's names are at most eight bytes).
            var key: UInt64 = 0
            var length = 0
            while j < n, isAlnum(p[j]), length < 10 {
                if length < 8 { key |= UInt64(p[j]) << (8 * UInt64(length)) }
                length += 1
                j += 1
            }
            guard length > 0, length <= 8, j < n, p[j] == UInt8(ascii: ";") else { return nil }
            guard let v = CharacterPass.entityByKey[key] else { return nil }
            return (v, j + 1)
        }

        // MARK: Obfuscation

        /// `[.]`, `(dot)`, `[at]`, `{@}`… at `start` (an opening bracket).
        mutating func bracketToken(at start: Int) -> Bool {
            let open = p[start]
            let close: UInt8 = open == 0x5B ? 0x5D : (open == 0x28 ? 0x29 : 0x7D)
            var j = start + 1
            // The word between the brackets (at most five bytes), lower-cased and packed
            // into a word, first byte lowest.
            var word: UInt64 = 0
            while j < n, j - start <= 5, p[j] != close { word |= UInt64(lower(p[j])) << (8 * UInt64(j - start - 1)); j += 1 }
            guard j < n, p[j] == close else { return false }
            let replacement: UInt8
            switch (word, j - start - 1) {
            case (0x2E, 1), (0x74_6F_64, 3): replacement = 0x2E     // `.`, `dot`
            case (0x40, 1), (0x74_61, 2): replacement = 0x40        // `@`, `at`
            case (0x3A, 1):
                // Defanged IPv6 `fe80[:][:]1`: no spaces belong to it.
                emit(0x3A, from: start, to: j + 1)
                return true
            default: return false
            }
            var end = j + 1
            var k = 0
            while end < n, p[end] == 0x20, k < 2 { end += 1; k += 1 }
            // Spaces only belong to the token when a label follows them.
            if end > j + 1, end < n, !isAlnum(p[end]) { end = j + 1 }
            let begin = swallowTrailingSpaces(tokenStart: start)
            emit(replacement, from: begin, to: end)
            return true
        }

        /// Bare ` at ` / ` dot ` (all lower or all upper case) inside an obfuscated e-mail.
        mutating func bareWord(at start: Int) -> Bool {
            guard start + 3 < n else { return false }
            let c1 = p[start + 1]
            if (c1 == UInt8(ascii: "a") && p[start + 2] == UInt8(ascii: "t"))
                || (c1 == UInt8(ascii: "A") && p[start + 2] == UInt8(ascii: "T")) {
                let previous: UInt8? = start > runStart ? p[start - 1] : out.pointee.last
                guard p[start + 3] == 0x20, let previous, isLocalPartByte(previous),
                      obfuscatedDomainFollows(from: start + 4) else { return false }
                emit(0x40, from: start, to: start + 4)
                return true
            }
            if (c1 == UInt8(ascii: "d") && start + 4 < n && p[start + 2] == UInt8(ascii: "o") && p[start + 3] == UInt8(ascii: "t"))
                || (c1 == UInt8(ascii: "D") && start + 4 < n && p[start + 2] == UInt8(ascii: "O") && p[start + 3] == UInt8(ascii: "T")) {
                guard p[start + 4] == 0x20, start + 5 < n, isAlpha(p[start + 5]), insideEmailDomain(before: start) else {
                    return false
                }
                emit(0x2E, from: start, to: start + 5)
                return true
            }
            return false
        }

        @inline(__always) func isLocalPartByte(_ b: UInt8) -> Bool {
            isAlnum(b) || b == 0x2E || b == 0x5F || b == 0x2B || b == 0x2D
        }

        /// After ` at `: a domain label followed by an obfuscated dot.
        func obfuscatedDomainFollows(from start: Int) -> Bool {
            var j = start
            while j < n, j - start < 64, isAlnum(p[j]) || p[j] == 0x2D { j += 1 }
            guard j > start, j < n else { return false }
            var k = j
            while k < n, p[k] == 0x20, k - j < 2 { k += 1 }
            guard k < n else { return false }
            let c = p[k]
            if c == 0x5B || c == 0x28 || c == 0x7B {
                var m = k + 1
                var word: [UInt8] = []
                while m < n, m - k <= 4, isAlpha(p[m]) || p[m] == 0x2E { word.append(lower(p[m])); m += 1 }
                return word == [0x2E] || word == Array("dot".utf8)
            }
            if k > j, k + 3 < n {
                let w = [p[k], p[k + 1], p[k + 2]]
                return (w == Array("dot".utf8) || w == Array("DOT".utf8)) && p[k + 3] == 0x20
            }
            return false
        }

        /// Whether the output ends in `…@label(.label)*` (an e-mail domain being written).
        func insideEmailDomain(before start: Int) -> Bool {
            // Look at what was emitted plus the pending copy run.
            var tail: [UInt8] = []
            var j = start - 1
            while j >= runStart, tail.count < 80 { tail.append(p[j]); j -= 1 }
            var k = out.pointee.count - 1
            while k >= 0, tail.count < 80 { tail.append(out.pointee[k]); k -= 1 }
            var sawLabel = false
            for c in tail {
                if isAlnum(c) || c == 0x2D { sawLabel = true; continue }
                if c == 0x2E { continue }
                return c == 0x40 && sawLabel
            }
            return false
        }
    }
}
