// MARK: - Detector

/// Finds PII and secrets in a body: decodes it (``TextDecoder``), runs the PCRE2 patterns
/// (compiled once, JIT, shared) and the Swift validators, and returns findings with byte
/// ranges in the raw input.
///
/// The PII patterns (digit chains, IBANs, IPv6, e-mail) are run anchored, at the positions
/// one table-driven pass over the decoded text marks as possible starts; the same pass
/// records which byte pairs occur, and a secret pattern runs only if its literal prefix
/// can occur. Deterministic and bounded: every pattern has bounded repetition and
/// possessive quantifiers where a chain could grow, every match runs under a PCRE2 match
/// limit, and the decoding passes are linear. Thread-safe: per-call state lives in the call.
public final class Detector: Sendable {
    /// The types this detector reports.
    public let types: Set<EntityType>

    struct Program: @unchecked Sendable {
        let regex: Regex2
        /// The types it finds, as bits (looking up a set of a `String`-backed enum hashes
        /// strings on every match).
        let typeMask: TypeMask
        /// Literals of which one must occur in the body for the program to run (bits of
        /// ``needleFinder``'s list).
        let needles: UInt32
    }

    /// The anchored PII patterns (nil when no requested type needs them).
    let numbers: Regex2?
    let iban: Regex2?
    let ipv6: Regex2?
    let email: Regex2?
    let secrets: [Program]
    let needleFinder: NeedleFinder
    let mask: TypeMask

    /// Compiles the patterns for `types` (all types by default).
    public init(types: Set<EntityType> = Set(EntityType.allCases)) throws {
        self.types = types
        let mask = TypeMask(types)
        self.mask = mask
        let wantsNumbers = mask.has(.CREDIT_CARD) || mask.has(.US_SSN) || mask.has(.PHONE_NUMBER) || mask.has(.IP_ADDRESS)
        // Compiled anchored: they run at the starts found by the Swift pass.
        numbers = wantsNumbers ? try Regex2(NumberFinder.pattern, options: .anchored) : nil
        iban = mask.has(.IBAN_CODE) ? try Regex2(IBANFinder.pattern, options: .anchored) : nil
        ipv6 = mask.has(.IP_ADDRESS) ? try Regex2(IPFinder.v6Pattern, options: .anchored) : nil
        email = mask.has(.EMAIL_ADDRESS) ? try Regex2(EmailFinder.pattern, options: .anchored) : nil
        let specs = SecretPatterns.specs.filter { !$0.types.isDisjoint(with: types) }
        let finder = NeedleFinder(specs.flatMap { $0.needles.map { Array(UnsafeBufferPointer(start: $0.utf8Start, count: $0.utf8CodeUnitCount)) } })
        needleFinder = finder
        secrets = try specs.map {
            Program(regex: try Regex2($0.pattern, options: $0.options), typeMask: TypeMask($0.types),
                    needles: finder.bits(for: $0.needles.map { Array(UnsafeBufferPointer(start: $0.utf8Start, count: $0.utf8CodeUnitCount)) }))
        }
        // The per-thread match data holds 16 groups; the patterns use at most one.
        let maxCaptures = ([numbers, iban, ipv6, email].compactMap { $0?.captureCount } + secrets.map(\.regex.captureCount)).max() ?? 0
        precondition(maxCaptures < 16, "detector patterns exceed the workspace's capture groups")
    }

    /// Findings in `bytes`, sorted by position, without overlaps.
    public func scan(_ bytes: [UInt8]) -> [Finding] {
        bytes.withUnsafeBufferPointer { scan($0) }
    }

    /// Findings in `bytes`, sorted by position, without overlaps.
    public func scan(_ bytes: UnsafeRawBufferPointer) -> [Finding] {
        scan(bytes.bindMemory(to: UInt8.self))
    }

    /// Findings in `bytes`, sorted by position, without overlaps.
    public func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> [Finding] {
        let workspace = ScanWorkspace.acquire()
        defer { workspace.release() }
        // One access to the workspace's state for the whole scan (each access to a class's
        // stored property is checked at run time).
        return scan(bytes, &workspace.state)
    }

    private func scan(_ bytes: UnsafeBufferPointer<UInt8>, _ state: inout ScanState) -> [Finding] {
        guard state.decoding.decode(bytes) else {
            // Nothing to decode: match on the body itself.
            findCandidates(in: bytes, &state)
            return resolve(state.candidates).map { Finding(type: $0.type, range: $0.range) }
        }
        // The decoded bytes live in `state.decoding`, which the candidate search does not
        // touch; its view stays valid until the next decode.
        let decoded = state.decoding.withOutput(bytes) { $0 }
        findCandidates(in: decoded, &state)
        return resolve(state.candidates).map { Finding(type: $0.type, range: state.decoding.rawRange($0.range)) }
    }

    // MARK: Start positions

    /// Roles of bytes in the start-position pass.
    enum StartRole {
        static let digit: UInt8 = 1
        static let plusParen: UInt8 = 2
        static let colon: UInt8 = 4
        static let at: UInt8 = 8
        static let word: UInt8 = 16       // letters, digits, `_` (for boundaries)
        static let chainGlue: UInt8 = 32  // `.`, `-` (a digit after them continues a token)
    }

    nonisolated(unsafe) static let startRoles: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        t.initialize(repeating: 0, count: 256)
        for b in 0x30...0x39 { t[b] = StartRole.digit | StartRole.word }
        for b in 0x41...0x5A { t[b] = StartRole.word }
        for b in 0x61...0x7A { t[b] = StartRole.word }
        t[Int(UInt8(ascii: "_"))] = StartRole.word
        t[Int(UInt8(ascii: "+"))] = StartRole.plusParen
        t[Int(UInt8(ascii: "("))] = StartRole.plusParen
        t[Int(UInt8(ascii: ":"))] = StartRole.colon
        t[Int(UInt8(ascii: "@"))] = StartRole.at
        t[Int(UInt8(ascii: "."))] = StartRole.chainGlue
        t[Int(UInt8(ascii: "-"))] = StartRole.chainGlue
        return UnsafePointer(t)
    }()

    /// Positions of one kind of start (kept from body to body).
    typealias PositionList = GrowingBuffer<Int32>

    /// Possible starts of the anchored PII patterns.
    struct Starts: ~Copyable {
        var numbers = PositionList(capacity: 64)
        var iban = PositionList(capacity: 64)
        var ipv6 = PositionList(capacity: 64)
        var email = PositionList(capacity: 64)

        mutating func reset() {
            numbers.removeAll()
            iban.removeAll()
            ipv6.removeAll()
            email.removeAll()
        }

        /// The most positions any list holds room for.
        var capacity: Int { max(numbers.capacity, iban.capacity, ipv6.capacity, email.capacity) }

        /// Records the starts at `i` (a digit, `+`, `(`, `:` or `@`; other bytes add nothing).
        @inline(__always)
        mutating func consider(_ base: UnsafePointer<UInt8>, _ n: Int, _ i: Int, _ roles: UnsafePointer<UInt8>) {
            let b = base[i]
            let role = roles[Int(b)]
            guard role & (StartRole.digit | StartRole.plusParen | StartRole.colon | StartRole.at) != 0 else { return }
            let prevByte: UInt8 = i > 0 ? base[i - 1] : 0
            let previous = roles[Int(prevByte)]   // role of the previous byte (0 at the start)
            if role & StartRole.digit != 0 {
                // A run of digits starts here (not inside a word or dotted token).
                if previous & (StartRole.word | StartRole.chainGlue) == 0 {
                    numbers.append(Int32(i))
                } else if previous & StartRole.word != 0, previous & StartRole.digit == 0,
                          i >= 2, roles[Int(base[i - 2])] & StartRole.word != 0 && roles[Int(base[i - 2])] & StartRole.digit == 0,
                          i + 1 < n, roles[Int(base[i + 1])] & StartRole.digit != 0,
                          i < 3 || roles[Int(base[i - 3])] & StartRole.word == 0 {
                    // Two letters starting a word, then two digits: an IBAN's country
                    // code and check digits.
                    iban.append(Int32(i))
                }
            } else if role & StartRole.plusParen != 0 {
                if i + 1 < n, roles[Int(base[i + 1])] & StartRole.digit != 0
                    || (i + 2 < n && (base[i + 1] == 0x20 || base[i + 1] == UInt8(ascii: "(")) && roles[Int(base[i + 2])] & StartRole.digit != 0) {
                    if previous & StartRole.word == 0 { numbers.append(Int32(i)) }
                }
            } else if role & StartRole.colon != 0 {
                if isHexDigit(prevByte) || (i + 1 < n && base[i + 1] == UInt8(ascii: ":")) { ipv6.append(Int32(i)) }
            } else {
                email.append(Int32(i))
            }
        }
    }

    /// One pass over the decoded text: where each PII pattern may start, and which of the
    /// secret patterns' literals occur (bit `k` for ``NeedleFinder/needles`` `[k]`).
    ///
    /// 16 positions at a time: SIMD compares mark the bytes that may start a pattern
    /// (the first digit of a run, `+`, `(`, `:`, `@`) and the places where a literal's
    /// first two bytes occur; only those positions are looked at one by one.
    func findStarts(_ p: UnsafeBufferPointer<UInt8>, into starts: inout Starts) -> UInt32 {
        starts.reset()
        guard let base = p.baseAddress, p.count > 0 else { return 0 }
        let n = p.count
        let roles = Detector.startRoles
        var found: UInt32 = 0

        typealias V = SIMD16<UInt8>
        let zero = V(repeating: 0x30), ten = V(repeating: 10), six = V(repeating: 6)
        let lowerA = V(repeating: 0x61), caseBit = V(repeating: 0x20), letters = V(repeating: 26)
        let underscore = V(repeating: 0x5F)
        let dot = V(repeating: 0x2E), dash = V(repeating: 0x2D), plus = V(repeating: 0x2B)
        let paren = V(repeating: 0x28), colon = V(repeating: 0x3A), at = V(repeating: 0x40)
        // The first and last blocks are read from a zero-padded copy: the two bytes before
        // the block, then the block, then padding (zero bytes start nothing and match no
        // pair).
        do {
            /// Positions `i ..< i+16`, read through `raw` at offset `o` (`raw + o - 1` and
            /// `raw + o - 2` are the bytes before position `i`).
            /// (Mutable state goes in and out as arguments: a nested function that captures a
            /// variable and is called from a closure makes the variable a heap box.)
            @inline(__always) func block(_ raw: UnsafeRawPointer, _ o: Int, _ i: Int, _ starts: inout Starts) -> UInt32 {
                let prev2 = raw.loadUnaligned(fromByteOffset: o &- 2, as: V.self)
                let prev = raw.loadUnaligned(fromByteOffset: o &- 1, as: V.self)
                let v = raw.loadUnaligned(fromByteOffset: o, as: V.self)
                let next = raw.loadUnaligned(fromByteOffset: o &+ 1, as: V.self)
                let digit = Lanes.lt(v &- zero, ten)
                let prevDigit = Lanes.lt(prev &- zero, ten)
                let prevJoins = prevDigit | Lanes.eq(prev, dot) | Lanes.eq(prev, dash)
                // A digit after a letter or `_` starts nothing, unless two of them start an
                // IBAN (``Starts/consider``: letter, letter, digit, digit): most such
                // digits are inside identifiers, hex and base64.
                let prevLetter = Lanes.lt((prev | caseBit) &- lowerA, letters) | Lanes.eq(prev, underscore)
                let prev2Letter = Lanes.lt((prev2 | caseBit) &- lowerA, letters) | Lanes.eq(prev2, underscore)
                let ibanShape = prev2Letter & Lanes.lt(next &- zero, ten)
                // A colon matters after a hex digit or before another colon (IPv6).
                let prevHex = prevDigit | Lanes.lt((prev | caseBit) &- lowerA, six)
                let colons = Lanes.eq(v, colon) & (prevHex | Lanes.eq(next, colon))
                let digitStarts = digit & ~prevJoins & (~prevLetter | ibanShape)
                let startLanes = digitStarts | Lanes.eq(v, plus) | Lanes.eq(v, paren) | colons | Lanes.eq(v, at)
                var bits = Lanes.bits(startLanes)
                while bits != 0 {
                    let j = i &+ bits.trailingZeroBitCount
                    if j < n { starts.consider(base, n, j, roles) }
                    bits &= bits &- 1
                }
                let pairLanes = NeedleFinder.lanes(v, next)
                bits = Lanes.bits(pairLanes)
                var literals: UInt32 = 0
                while bits != 0 {
                    let j = i &+ bits.trailingZeroBitCount
                    if j < n { literals |= needleFinder.match(base, n, j) }
                    bits &= bits &- 1
                }
                return literals
            }
            /// Positions `i ..< i+count` read from a zero-padded copy.
            @inline(__always) func paddedBlock(_ i: Int, _ count: Int, _ starts: inout Starts) -> UInt32 {
                var tail = (V(repeating: 0), V(repeating: 0), V(repeating: 0))
                return withUnsafeMutableBytes(of: &tail) { buf in
                    // Up to two bytes before the block, the block and the byte after it, if
                    // any (a pair's second byte).
                    let from = max(0, i - 2), to = min(i + count + 1, n)
                    (buf.baseAddress! + (2 - (i - from))).copyMemory(from: base + from, byteCount: to - from)
                    return block(UnsafeRawPointer(buf.baseAddress!), 2, i, &starts)
                }
            }
            // The first block has no byte before it and the last one may be short: both are
            // read from the padded copy; the blocks between straight from the body.
            found |= paddedBlock(0, min(16, n), &starts)
            var i = 16
            let raw = UnsafeRawPointer(base)
            while i &+ 17 <= n {
                found |= block(raw, i, i, &starts)
                i &+= 16
            }
            while i < n {
                let count = min(16, n - i)
                found |= paddedBlock(i, count, &starts)
                i &+= count
            }
        }
        return found
    }

    // MARK: Candidates

    /// Runs the PII patterns at their starts and the secret patterns whose literals may
    /// occur, over the decoded bytes.
    func findCandidates(in p: UnsafeBufferPointer<UInt8>, _ state: inout ScanState) {
        if !state.candidates.isEmpty { state.candidates.removeAll(keepingCapacity: true) }
        let scratch = state.match
        let raw = UnsafeRawBufferPointer(p)
        let literals = findStarts(p, into: &state.starts)
        // Views of the start lists (not appended to while they are read).
        let numberStarts = state.starts.numbers.elements, ibanStarts = state.starts.iban.elements
        let ipv6Starts = state.starts.ipv6.elements, emailStarts = state.starts.email.elements

        // Digit chains: cards, SSNs, phone numbers, IPv4.
        if let regex = numbers, !numberStarts.isEmpty {
            let storage = state.chains
            storage.lines.reset()
            var done = 0
            for s in numberStarts where Int(s) >= done {
                guard NumberFinder.mayHoldEntity(p, from: Int(s)) else { continue }
                guard let ov = try? regex.rawMatch(raw, from: Int(s), scratch: scratch) else { continue }
                let m = ov[0]..<ov[1]
                done = m.upperBound
                NumberFinder.classify(p, m, types: mask, storage: storage, into: &state.candidates)
            }
        }
        if let regex = iban {
            var done = 0
            for s in ibanStarts where Int(s) >= done {
                guard let ov = try? regex.rawMatch(raw, from: Int(s), scratch: scratch) else { continue }
                if let end = IBANFinder.check(p, ov[0]..<ov[1], into: &state.candidates) { done = end }
            }
        }
        if let regex = ipv6 {
            var done = 0
            for s in ipv6Starts where Int(s) >= done {
                guard let ov = try? regex.rawMatch(raw, from: Int(s), scratch: scratch) else { continue }
                done = ov[1]
                IPFinder.checkV6(p, ov[0]..<ov[1], into: &state.candidates)
            }
        }
        if let regex = email {
            for s in emailStarts {
                guard let ov = try? regex.rawMatch(raw, from: Int(s), scratch: scratch) else { continue }
                EmailFinder.check(p, ov[0]..<ov[1], into: &state.candidates)
            }
        }

        guard literals != 0 else { return }
        for k in secrets.indices where secrets[k].needles & literals != 0 {
            do {
                try findSecrets(secrets[k].regex, secrets[k].typeMask, p, raw, scratch, &state.candidates)
            } catch {
                // A limit hit stops this pattern for this body; the others still run.
                continue
            }
        }
    }

    private func findSecrets(
        _ regex: Regex2, _ secretTypes: TypeMask, _ p: UnsafeBufferPointer<UInt8>,
        _ raw: UnsafeRawBufferPointer, _ scratch: Regex2.Scratch, _ out: inout [Candidate]
    ) throws(Regex2MatchError) {
        if secretTypes.has(.PRIVATE_KEY) {
            var ends: [Int]? = nil
            try regex.forEachMatch(in: raw, scratch: scratch) { r, ov in
                if ends == nil { ends = PEMBlock.endMarkers(p) }
                let labelRange = ov[2] >= 0 && ov[3] >= ov[2] ? ov[2]..<ov[3] : r.upperBound..<r.upperBound
                if let end = PEMBlock.blockEnd(p, begin: r, label: labelRange, ends: ends ?? []) {
                    out.append(Candidate(type: .PRIVATE_KEY, range: r.lowerBound..<end))
                }
                return true
            }
            return
        }
        try regex.forEachMatch(in: raw, scratch: scratch) { r, ov in
            let s = SecretChecks.slice(p, r)
            if secretTypes.has(.AWS_ACCESS_KEY) {
                if SecretChecks.awsAccessKey(s) { out.append(Candidate(type: .AWS_ACCESS_KEY, range: r)) }
            } else if secretTypes.has(.AWS_SECRET_KEY) {
                let g = ov[2]..<ov[3]
                if mask.has(.AWS_SECRET_KEY), SecretChecks.awsSecretLabel(p, matchStart: r.lowerBound),
                   SecretChecks.awsSecret(SecretChecks.slice(p, g)) {
                    out.append(Candidate(type: .AWS_SECRET_KEY, range: g))
                }
            } else if secretTypes.has(.GITHUB_TOKEN) {
                if SecretChecks.github(s) { out.append(Candidate(type: .GITHUB_TOKEN, range: r)) }
            } else if secretTypes.has(.OPENAI_API_KEY) {
                if let t = SecretChecks.skKey(s), mask.has(t) { out.append(Candidate(type: t, range: r)) }
            } else if secretTypes.has(.SLACK_TOKEN) {
                if SecretChecks.slack(s) { out.append(Candidate(type: .SLACK_TOKEN, range: r)) }
            } else if secretTypes.has(.STRIPE_KEY) {
                if SecretChecks.stripe(s) { out.append(Candidate(type: .STRIPE_KEY, range: r)) }
            } else if secretTypes.has(.JWT) {
                if SecretChecks.jwt(s) { out.append(Candidate(type: .JWT, range: r)) }
            }
            return true
        }
    }

    /// Drops overlapping candidates: the higher-priority type wins, then the longer span.
    func resolve(_ candidates: [Candidate]) -> [Candidate] {
        guard candidates.count > 1 else { return candidates }
        // The common case: no two candidates overlap, so all are kept.
        let byStart = candidates.sorted { $0.range.lowerBound < $1.range.lowerBound }
        var disjoint = byStart[0].range.count > 0
        for k in 1..<byStart.count where disjoint {
            disjoint = byStart[k].range.count > 0 && byStart[k - 1].range.upperBound <= byStart[k].range.lowerBound
        }
        if disjoint { return byStart }
        let ranked = candidates.sorted {
            if $0.type.priority != $1.type.priority { return $0.type.priority > $1.type.priority }
            if $0.range.count != $1.range.count { return $0.range.count > $1.range.count }
            return $0.range.lowerBound < $1.range.lowerBound
        }
        // The kept candidates' bytes as bits: a candidate overlaps the kept ones when one
        // of its bytes is set (comparing with every kept candidate was quadratic: a body of
        // `x@gmail.com` repeated makes one chain of overlapping candidates).
        let end = candidates.reduce(0) { max($0, $1.range.upperBound) }
        var covered = [UInt64](repeating: 0, count: end / 64 + 1)
        var kept: [Candidate] = []
        covered.withUnsafeMutableBufferPointer { bits in
            for c in ranked where Detector.words(of: c.range, allMatch: { bits[$0] & $1 == 0 }) {
                _ = Detector.words(of: c.range) { bits[$0] |= $1; return true }
                kept.append(c)
            }
        }
        return kept.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    /// Calls `body` with each 64-bit word a bit range touches (its index, and the mask of
    /// the range's bits in it) while `body` returns true; returns whether it always did
    /// (an empty range touches no word).
    @inline(__always)
    static func words(of range: Range<Int>, allMatch body: (Int, UInt64) -> Bool) -> Bool {
        var i = range.lowerBound
        while i < range.upperBound {
            let offset = i & 63
            let count = min(64 - offset, range.upperBound - i)
            let mask = (count == 64 ? ~UInt64(0) : (UInt64(1) << UInt64(count)) - 1) << UInt64(offset)
            if !body(i >> 6, mask) { return false }
            i += count
        }
        return true
    }
}

// MARK: - PEM blocks

enum PEMBlock {
    static let endMarker = Array("-----END ".utf8)
    static let keyWords = Array("PRIVATE KEY".utf8), block = Array(" BLOCK".utf8), dashes = Array("-----".utf8)

    /// Positions of every `-----END ` in the body (one linear pass, done only when a
    /// private-key header was seen), so each header finds its footer by binary search.
    static func endMarkers(_ p: UnsafeBufferPointer<UInt8>) -> [Int] {
        var ends: [Int] = []
        guard let base = p.baseAddress else { return ends }
        let n = p.count, m = endMarker.count
        var i = dash.next(in: base, n, from: 0)
        while i + m <= n {
            if p[i + 5] == 0x45 {
                var k = 1
                while k < m, p[i + k] == endMarker[k] { k += 1 }
                if k == m { ends.append(i); i = dash.next(in: base, n, from: i + m); continue }
            }
            i = dash.next(in: base, n, from: i + 1)
        }
        return ends
    }

    static let dash = ByteSet([0x2D])

    /// The end (after `-----`) of the footer matching the header at `begin`, if the next
    /// footer is the matching one and within 64 KiB.
    static func blockEnd(_ p: UnsafeBufferPointer<UInt8>, begin: Range<Int>, label: Range<Int>, ends: [Int]) -> Int? {
        var lo = 0, hi = ends.count
        while lo < hi { let mid = (lo + hi) / 2; if ends[mid] < begin.upperBound { lo = mid + 1 } else { hi = mid } }
        guard lo < ends.count else { return nil }
        let e = ends[lo]
        guard e - begin.upperBound <= 65_536 else { return nil }
        var expected = endMarker
        expected.append(contentsOf: UnsafeBufferPointer(rebasing: p[label]))
        expected.append(contentsOf: keyWords)
        guard e + expected.count <= p.count,
              UnsafeBufferPointer(rebasing: p[e..<(e + expected.count)]).elementsEqual(expected) else { return nil }
        var j = e + expected.count
        if j + 6 <= p.count, UnsafeBufferPointer(rebasing: p[j..<(j + 6)]).elementsEqual(block) { j += 6 }
        guard j + 5 <= p.count, UnsafeBufferPointer(rebasing: p[j..<(j + 5)]).elementsEqual(dashes) else { return nil }
        return j + 5
    }
}
