// MARK: - Detector

/// Finds PII and secrets in a body: decodes it (``TextDecoder``), runs the PCRE2 patterns
/// (compiled once, JIT, shared) and the Swift validators, and returns findings with byte
/// ranges in the raw input.
///
/// Deterministic and bounded: every pattern has bounded repetition and possessive
/// quantifiers where a chain could grow, every match runs under a PCRE2 match limit, and
/// the decoding passes are linear. Thread-safe: per-call state lives in the call.
public final class Detector: Sendable {
    /// The types this detector reports.
    public let types: Set<EntityType>

    struct Program: @unchecked Sendable {
        let regex: Regex2
        let kind: Kind
        /// Literals of which one must occur in the body for the program to run (none: always).
        let needles: [StaticString]
        enum Kind { case pii([PIIAlternative]), secret(Set<EntityType>) }
    }

    /// The finders behind the alternatives of the combined PII pattern, in group order.
    enum PIIAlternative { case numbers, iban, ipv6, email }

    let programs: [Program]
    let maxCaptures: Int

    /// Compiles the patterns for `types` (all types by default).
    public init(types: Set<EntityType> = Set(EntityType.allCases)) throws {
        self.types = types
        var programs: [Program] = []
        func add(_ pattern: String, _ kind: Program.Kind, _ needles: [StaticString] = [], _ options: Regex2.Options = []) throws {
            programs.append(Program(regex: try Regex2(pattern, options: options), kind: kind, needles: needles))
        }
        // One pass for the PII tokens: each alternative is a capture group, so the match
        // says which finder it belongs to. Their first bytes differ (digit/`+`/`(` for
        // numbers, a digit after two letters for IBANs, `:` for IPv6, `@` for e-mail), so
        // the JIT's first-byte search serves all four at once.
        var alternatives: [(String, PIIAlternative)] = []
        if !types.isDisjoint(with: [.CREDIT_CARD, .US_SSN, .PHONE_NUMBER, .IP_ADDRESS]) { alternatives.append((NumberFinder.pattern, .numbers)) }
        if types.contains(.IBAN_CODE) { alternatives.append((IBANFinder.pattern, .iban)) }
        if types.contains(.IP_ADDRESS) { alternatives.append((IPFinder.v6Pattern, .ipv6)) }
        if types.contains(.EMAIL_ADDRESS) { alternatives.append((EmailFinder.pattern, .email)) }
        if !alternatives.isEmpty {
            let combined = alternatives.map { "(" + $0.0 + ")" }.joined(separator: "|")
            try add(combined, .pii(alternatives.map(\.1)))
        }
        for spec in SecretPatterns.specs where !spec.types.isDisjoint(with: types) {
            try add(spec.pattern, .secret(spec.types), spec.needles, spec.options)
        }
        self.programs = programs
        self.maxCaptures = programs.map(\.regex.captureCount).max() ?? 0
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
        let decoded = TextDecoder.decode(bytes)
        let candidates = decoded.bytes.withUnsafeBufferPointer { findCandidates(in: $0) }
        return resolve(candidates).map { Finding(type: $0.type, range: decoded.rawRange($0.range)) }
    }

    /// Runs every program over the decoded bytes.
    func findCandidates(in p: UnsafeBufferPointer<UInt8>) -> [Candidate] {
        var out: [Candidate] = []
        let scratch = Regex2.Scratch(captureCount: maxCaptures)
        let raw = UnsafeRawBufferPointer(p)
        let bigrams = BigramFilter(p)
        for program in programs {
            if !program.needles.isEmpty, !program.needles.contains(where: { bigrams.mayContain($0) }) { continue }
            let regex = program.regex
            do {
                switch program.kind {
                case .pii(let alternatives):
                    var offset = 0
                    while offset < p.count, let ov = try regex.rawMatch(raw, from: offset, scratch: scratch) {
                        let m = ov[0]..<ov[1]
                        var group = 0
                        while group < alternatives.count, ov[2 * (group + 1)] < 0 { group += 1 }
                        offset = max(m.upperBound, m.lowerBound + 1)
                        guard group < alternatives.count else { continue }
                        switch alternatives[group] {
                        case .numbers: NumberFinder.classify(p, m, types: types, into: &out)
                        case .email: EmailFinder.check(p, m, into: &out)
                        case .ipv6: IPFinder.checkV6(p, m, into: &out)
                        case .iban:
                            // A valid IBAN may end before the greedy match does: resume right
                            // after it; an invalid one must not hide what follows its start.
                            offset = IBANFinder.check(p, m, into: &out) ?? (m.lowerBound + 1)
                        }
                    }
                case .secret(let secretTypes):
                    try findSecrets(regex, secretTypes, p, raw, scratch, &out)
                }
            } catch {
                // A limit hit stops this pattern for this body; the others still run.
                continue
            }
        }
        return out
    }

    private func findSecrets(
        _ regex: Regex2, _ secretTypes: Set<EntityType>, _ p: UnsafeBufferPointer<UInt8>,
        _ raw: UnsafeRawBufferPointer, _ scratch: Regex2.Scratch, _ out: inout [Candidate]
    ) throws(Regex2MatchError) {
        if secretTypes.contains(.PRIVATE_KEY) {
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
            if secretTypes.contains(.AWS_ACCESS_KEY) {
                if SecretChecks.awsAccessKey(s) { out.append(Candidate(type: .AWS_ACCESS_KEY, range: r)) }
            } else if secretTypes.contains(.AWS_SECRET_KEY) {
                let g = ov[2]..<ov[3]
                if types.contains(.AWS_SECRET_KEY), SecretChecks.awsSecretLabel(p, matchStart: r.lowerBound),
                   SecretChecks.awsSecret(SecretChecks.slice(p, g)) {
                    out.append(Candidate(type: .AWS_SECRET_KEY, range: g))
                }
            } else if secretTypes.contains(.GITHUB_TOKEN) {
                if SecretChecks.github(s) { out.append(Candidate(type: .GITHUB_TOKEN, range: r)) }
            } else if secretTypes.contains(.OPENAI_API_KEY) {
                if let t = SecretChecks.skKey(s), types.contains(t) { out.append(Candidate(type: t, range: r)) }
            } else if secretTypes.contains(.SLACK_TOKEN) {
                if SecretChecks.slack(s) { out.append(Candidate(type: .SLACK_TOKEN, range: r)) }
            } else if secretTypes.contains(.STRIPE_KEY) {
                if SecretChecks.stripe(s) { out.append(Candidate(type: .STRIPE_KEY, range: r)) }
            } else if secretTypes.contains(.JWT) {
                if SecretChecks.jwt(s) { out.append(Candidate(type: .JWT, range: r)) }
            }
            return true
        }
    }

    /// Drops overlapping candidates: the higher-priority type wins, then the longer span.
    func resolve(_ candidates: [Candidate]) -> [Candidate] {
        guard candidates.count > 1 else { return candidates }
        let ranked = candidates.sorted {
            if $0.type.priority != $1.type.priority { return $0.type.priority > $1.type.priority }
            if $0.range.count != $1.range.count { return $0.range.count > $1.range.count }
            return $0.range.lowerBound < $1.range.lowerBound
        }
        var kept: [Candidate] = []
        for c in ranked where !kept.contains(where: { $0.range.overlaps(c.range) }) {
            kept.append(c)
        }
        return kept.sorted { $0.range.lowerBound < $1.range.lowerBound }
    }
}

// MARK: - PEM blocks

enum PEMBlock {
    static let endMarker = Array("-----END ".utf8)

    /// Positions of every `-----END ` in the body (one linear pass, done only when a
    /// private-key header was seen), so each header finds its footer by binary search.
    static func endMarkers(_ p: UnsafeBufferPointer<UInt8>) -> [Int] {
        var ends: [Int] = []
        let n = p.count, m = endMarker.count
        var i = 0
        while i + m <= n {
            if p[i] == 0x2D, p[i + 5] == 0x45 {
                var k = 0
                while k < m, p[i + k] == endMarker[k] { k += 1 }
                if k == m { ends.append(i); i += m; continue }
            }
            i += 1
        }
        return ends
    }

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
        expected.append(contentsOf: Array("PRIVATE KEY".utf8))
        guard e + expected.count <= p.count,
              UnsafeBufferPointer(rebasing: p[e..<(e + expected.count)]).elementsEqual(expected) else { return nil }
        var j = e + expected.count
        if j + 6 <= p.count, UnsafeBufferPointer(rebasing: p[j..<(j + 6)]).elementsEqual(Array(" BLOCK".utf8)) { j += 6 }
        guard j + 5 <= p.count, UnsafeBufferPointer(rebasing: p[j..<(j + 5)]).elementsEqual(Array("-----".utf8)) else { return nil }
        return j + 5
    }
}
