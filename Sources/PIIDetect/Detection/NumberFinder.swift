// MARK: - Digit sequences: cards, SSNs, phone numbers, IPv4

/// Classifies digit sequences ("chains": digit groups joined by short separators, with an
/// optional leading `+`) as card numbers, SSNs, phone numbers or IPv4 addresses.
///
/// One PCRE2 pattern finds the chains; the decision is made here from the digits, the
/// grouping, the separators and, for bare numbers, the field label in front. A chain that
/// holds two values (`6519-6564-4243-3777 (978-0-…`) is split where the separator style
/// changes.
enum NumberFinder {
    /// Chains of up to 65 digits; the separators are at most three of ` .-/()`.
    /// Possessive quantifiers: a chain never backtracks.
    static let pattern = #"(?<![A-Za-z0-9_.\-])(?:\+ ?)?\(?\d(?:[ .\-/()]{0,3}+\d){0,64}+"#

    /// A separator packed into one word: up to three bytes and the length in the top byte.
    typealias Separator = UInt32

    /// The most digits (and so groups) a chain holds: the pattern's bound.
    static let maxDigits = 65

    /// The parts of one chain: views into a ``Storage``'s buffers, valid until the next
    /// ``parse(_:_:into:)`` into the same storage. A window of a chain (``window(of:groups:_:_:)``)
    /// is a view of the same buffers, so splitting copies nothing.
    struct Chain {
        var start = 0
        var end = 0
        var hasPlus = false
        var hasParen = false
        var digits: UnsafeBufferPointer<UInt8>
        var groups: UnsafeBufferPointer<Int>        // digit count per group
        var groupStarts: UnsafeBufferPointer<Int>
        var separators: UnsafeBufferPointer<Separator>

        /// Whether the group sizes are exactly these (compared without building an array).
        @inline(__always) func hasGroups(_ a: Int, _ b: Int, _ c: Int) -> Bool {
            groups.count == 3 && groups[0] == a && groups[1] == b && groups[2] == c
        }
        @inline(__always) func hasGroups(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Bool {
            groups.count == 4 && groups[0] == a && groups[1] == b && groups[2] == c && groups[3] == d
        }
    }

    /// Fixed buffers a body's chains are parsed into (one per workspace), so classifying
    /// allocates nothing.
    final class Storage {
        let digits = UnsafeMutablePointer<UInt8>.allocate(capacity: NumberFinder.maxDigits)
        let groups = UnsafeMutablePointer<Int>.allocate(capacity: NumberFinder.maxDigits)
        let groupStarts = UnsafeMutablePointer<Int>.allocate(capacity: NumberFinder.maxDigits)
        let separators = UnsafeMutablePointer<Separator>.allocate(capacity: NumberFinder.maxDigits)
        /// The body's lines read while looking for CSV headers (reset per body).
        let lines = ContextLabel.LineMemo()

        deinit {
            digits.deallocate()
            groups.deallocate()
            groupStarts.deallocate()
            separators.deallocate()
        }
    }

    /// Reads the chain at `range` (a match of ``pattern``) into `storage`. Digits beyond
    /// ``maxDigits`` (which the pattern never matches) end the chain early.
    static func parse(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into storage: Storage) -> Chain {
        var hasPlus = false, hasParen = false
        var digitCount = 0, groupCount = 0, separatorCount = 0
        var i = range.lowerBound
        let end = range.upperBound
        var sep: Separator = 0
        scan: while i < end {
            let b = p[i]
            if isDigit(b) {
                // A group: the whole run of digits at once.
                if groupCount > 0 { storage.separators[separatorCount] = sep; separatorCount += 1 }
                sep = 0
                let start = i
                repeat {
                    guard digitCount < maxDigits else {
                        storage.groups[groupCount] = i - start
                        storage.groupStarts[groupCount] = start
                        groupCount += 1
                        break scan
                    }
                    storage.digits[digitCount] = p[i]
                    digitCount += 1
                    i += 1
                } while i < end && isDigit(p[i])
                storage.groups[groupCount] = i - start
                storage.groupStarts[groupCount] = start
                groupCount += 1
                continue
            }
            if b == 0x2B { hasPlus = true }
            if b == 0x28 || b == 0x29 { hasParen = true }
            if groupCount > 0 {
                let len = sep >> 24
                if len < 3 { sep |= UInt32(b) << (8 * len); sep = (sep & 0x00FF_FFFF) | ((len + 1) << 24) }
            }
            i += 1
        }
        return Chain(
            start: range.lowerBound, end: i < end ? i : end, hasPlus: hasPlus, hasParen: hasParen,
            digits: UnsafeBufferPointer(start: storage.digits, count: digitCount),
            groups: UnsafeBufferPointer(start: storage.groups, count: groupCount),
            groupStarts: UnsafeBufferPointer(start: storage.groupStarts, count: groupCount),
            separators: UnsafeBufferPointer(start: storage.separators, count: separatorCount))
    }

    /// The chain of groups `groups` of `whole` over the bytes `range` (from the window's
    /// first byte: the chain's start, or a `(` before the first group, or the group), as
    /// ``parse`` would read it, without reading the bytes again: the groups, digits and
    /// separators are those of `whole`; a `+` can only lead the whole chain.
    static func window(of whole: Chain, groups: ClosedRange<Int>, _ range: Range<Int>, _ p: UnsafeBufferPointer<UInt8>) -> Chain {
        let first = groups.lowerBound, last = groups.upperBound
        var hasPlus = false, hasParen = false
        // Bytes before the first group (`+ (` of the chain, or one `(`).
        for k in range.lowerBound..<whole.groupStarts[first] {
            let b = p[k]
            if b == 0x2B { hasPlus = true }
            if b == 0x28 || b == 0x29 { hasParen = true }
        }
        var digitStart = 0
        for g in 0..<first { digitStart += whole.groups[g] }
        var digitCount = 0
        for g in groups { digitCount += whole.groups[g] }
        let separators = UnsafeBufferPointer(rebasing: whole.separators[first..<last])
        if !hasParen { hasParen = separators.contains { sepContains($0, 0x28) || sepContains($0, 0x29) } }
        return Chain(
            start: range.lowerBound, end: range.upperBound, hasPlus: hasPlus, hasParen: hasParen,
            digits: UnsafeBufferPointer(rebasing: whole.digits[digitStart..<(digitStart + digitCount)]),
            groups: UnsafeBufferPointer(rebasing: whole.groups[groups]),
            groupStarts: UnsafeBufferPointer(rebasing: whole.groupStarts[groups]),
            separators: separators)
    }

    @inline(__always) static func sepContains(_ s: Separator, _ b: UInt8) -> Bool {
        let len = Int(s >> 24)
        for k in 0..<len where UInt8(truncatingIfNeeded: s >> (8 * UInt32(k))) == b { return true }
        return false
    }

    @inline(__always) static func sepOnly(_ s: Separator, _ allowed: (UInt8) -> Bool) -> Bool {
        let len = Int(s >> 24)
        for k in 0..<len where !allowed(UInt8(truncatingIfNeeded: s >> (8 * UInt32(k)))) { return false }
        return true
    }

    /// The style of a separator, for splitting chains where the style changes.
    static func style(_ s: Separator) -> UInt8 {
        if sepContains(s, 0x28) || sepContains(s, 0x29) { return 1 }
        if sepContains(s, 0x2F) { return 2 }
        if sepContains(s, 0x2E) { return 3 }
        if sepContains(s, 0x2D) { return 4 }
        return (s >> 24) > 1 ? 5 : 6
    }

    /// Whether the chain starting at `s` can pass ``classify``'s first test (nine digits,
    /// or four with three dots for an IPv4 address): most numbers in a body (quantities,
    /// years, dates, times) are skipped without running the pattern.
    ///
    /// The walk accepts every byte the pattern's chain can hold (and `+`), so the pattern's
    /// match lies inside it and has at most its digits and dots: the test never rejects a
    /// chain `classify` would keep. A walk from a later start inside the same chain sees a
    /// suffix, so it fails too, and skipping the pattern changes no other start's outcome.
    @inline(__always)
    static func mayHoldEntity(_ p: UnsafeBufferPointer<UInt8>, from s: Int) -> Bool {
        var i = s
        var digits = 0, dots = 0
        var gap = 0
        let n = p.count
        while i < n {
            let b = p[i]
            if isDigit(b) {
                digits += 1
                if digits >= 9 { return true }
                gap = 0
            } else if b == 0x20 || b == 0x2E || b == 0x2D || b == 0x2F || b == 0x28 || b == 0x29 || b == 0x2B {
                gap += 1
                if gap > 3 { break }
                if b == 0x2E { dots += 1 }
            } else {
                break
            }
            i += 1
        }
        return digits >= 4 && dots >= 3
    }

    /// Appends the findings in one chain (ranges in decoded bytes).
    static func classify(
        _ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, types: TypeMask,
        storage: Storage, into out: inout [Candidate]
    ) {
        // A chain glued to a following letter is part of an identifier (`1Z…`, `3x`).
        if range.upperBound < p.count, isWordByte(p[range.upperBound]) { return }
        // Most chains are short numbers (quantities, dates, times): count before parsing.
        var digitCount = 0, dots = 0
        for i in range { let b = p[i]; if isDigit(b) { digitCount += 1 } else if b == 0x2E { dots += 1 } }
        guard digitCount >= 9 || (digitCount >= 4 && dots == 3) else { return }
        let whole = parse(p, range, into: storage)
        if let found = classifyChain(whole, p, types, storage.lines) { out.append(found); return }
        // Split where the separator style changes; try the longest windows first.
        let seps = whole.separators
        guard seps.count >= 2 else { return }
        // Windows start at group 0 or after a change of style and end before one or at
        // the last group; more than eight starts: not a value worth splitting.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 3 * seps.count + 2) { buffer in
            let styles = buffer.baseAddress!, starts = styles + seps.count, ends = starts + seps.count + 1
            for s in 0..<seps.count { styles[s] = Int(style(seps[s])) }
            starts[0] = 0
            var k = 0
            for s in 0..<seps.count
            where (s > 0 && styles[s] != styles[s - 1]) || (s + 1 < seps.count && styles[s] != styles[s + 1]) {
                guard k < 7 else { return }
                starts[k + 1] = s + 1
                ends[k] = s
                k += 1
            }
            ends[k] = whole.groups.count - 1
            let count = k + 1
            var i = 0
            while i < count {
                let first = starts[i]
                var matchedLast: Int? = nil
                var e = count - 1
                while e >= 0 {
                    let last = ends[e]
                    e -= 1
                    guard last >= first, !(first == 0 && last == whole.groups.count - 1) else { continue }
                    var lo = whole.groupStarts[first]
                    if first == 0 { lo = whole.start } else if p[lo - 1] == 0x28 { lo -= 1 }
                    let hi = whole.groupStarts[last] + whole.groups[last]
                    let piece = window(of: whole, groups: first...last, lo..<hi, p)
                    guard piece.digits.count >= 4 else { continue }
                    if let found = classifyChain(piece, p, types, storage.lines) {
                        out.append(found)
                        matchedLast = last
                        break
                    }
                }
                if let last = matchedLast {
                    while i < count, starts[i] <= last { i += 1 }
                } else {
                    i += 1
                }
            }
        }
    }

    static func classifyChain(_ c: Chain, _ p: UnsafeBufferPointer<UInt8>, _ types: TypeMask, _ lines: ContextLabel.LineMemo) -> Candidate? {
        let n = c.digits.count
        let range = c.start..<c.end
        let dotSep: Separator = (1 << 24) | 0x2E

        // IPv4: four groups of up to three digits joined by single dots.
        if c.groups.count == 4, !c.hasPlus, !c.hasParen, c.separators.allSatisfy({ $0 == dotSep }) {
            guard types.has(.IP_ADDRESS), c.groups.allSatisfy({ $0 <= 3 }) else { return nil }
            // `Chrome/120.0.0.0`, `Safari/537.36`: a product version, not an address.
            if c.start >= 2, p[c.start - 1] == 0x2F, isAlnum(p[c.start - 2]) { return nil }
            guard let octets = IPValidator.parseIPv4(UnsafeBufferPointer(rebasing: p[range])),
                  IPValidator.isHostIPv4(octets) else { return nil }
            return Candidate(type: .IP_ADDRESS, range: range)
        }
        guard n >= 9 else { return nil }

        let spaced = c.groups.count >= 5 && c.groups.allSatisfy { $0 <= 2 }
        let isSpaceDash: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x2D }
        let onlySpaceDash = !c.hasParen && c.separators.allSatisfy { sepOnly($0, isSpaceDash) }
        let first = c.separators.first
        let uniform = c.separators.allSatisfy { $0 == first }

        // Cards: 13-19 digits, Luhn and an issued brand, grouped by spaces or dashes (dots
        // only in the digit-by-digit evasion or 4-4-4-4).
        if types.has(.CREDIT_CARD), !c.hasPlus, (13...19).contains(n), CardValidator.isValid(c.digits) {
            let dotted = !c.hasParen && c.separators.allSatisfy { sepOnly($0) { $0 == 0x20 || $0 == 0x2E } }
                && (spaced || (c.groups.allSatisfy { $0 == 4 } && uniform))
            if onlySpaceDash || dotted { return Candidate(type: .CREDIT_CARD, range: range) }
        }

        // SSNs: AAA-GG-SSSS, or nine digits as one run or spread out, when the label says SSN.
        if types.has(.US_SSN), n == 9, !c.hasPlus, !c.hasParen, SSNValidator.isValid(c.digits) {
            let classic = c.hasGroups(3, 2, 4) && uniform && onlySpaceDash
            if classic { return Candidate(type: .US_SSN, range: range) }
            let shapeOK = c.groups.count == 1 || spaced || c.hasGroups(3, 2, 4)
            if shapeOK, ContextLabel.says(p, c.start, anyOf: ContextLabel.ssnWords, lines) {
                return Candidate(type: .US_SSN, range: range)
            }
        }

        guard types.has(.PHONE_NUMBER), n >= 10, n <= 15 else { return nil }
        return isPhone(c, p: p, spaced: spaced, lines) ? Candidate(type: .PHONE_NUMBER, range: range) : nil
    }

    static func isPhone(_ c: Chain, p: UnsafeBufferPointer<UInt8>, spaced: Bool, _ lines: ContextLabel.LineMemo) -> Bool {
        // `+49 (0)30 …`: the `(0)` trunk marker is not part of the international number.
        if c.hasPlus, c.groups.count > 2, c.groups[1] == 1, c.digits[c.groups[0]] == 0x30,
           sepContains(c.separators[0], 0x28) {
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: c.digits.count - 1) { d in
                let trunk = c.groups[0]
                for k in 0..<trunk { d[k] = c.digits[k] }
                for k in (trunk + 1)..<c.digits.count { d[k - 1] = c.digits[k] }
                return PhoneValidator.isInternational(UnsafeBufferPointer(d))
            }
        }
        let digits = c.digits
        if c.hasPlus { return PhoneValidator.isInternational(digits) }
        // `0044 20 …`: the international call prefix instead of `+`.
        if digits.count >= 10, digits[0] == 0x30, digits[1] == 0x30, c.groups.count >= 2 {
            return PhoneValidator.isInternational(digits.dropFirst(2))
        }
        if c.separators.contains(where: { sepContains($0, 0x2F) }) { return false }   // dates, fractions
        let g = c.groups
        // NANP layouts: (212) 736-1234, 212-736-1234, 212.736.1234, 1-212-736-1234.
        if c.hasGroups(3, 3, 4) { return PhoneValidator.isNANP(digits) }
        if c.hasGroups(1, 3, 3, 4), digits[0] == 0x31 { return PhoneValidator.isNANP(digits.dropFirst()) }
        // Formats that also fit identifiers: not when the label names an identifier.
        let label = ContextLabel.before(p, c.start)
        if ContextLabel.contains(p, in: label, anyOf: ContextLabel.identifierWords),
           !ContextLabel.contains(p, in: label, anyOf: ContextLabel.phoneWords) { return false }
        // National numbers written with the trunk 0: 020 3706 3941, 07810 989419, 030 14069601,
        // 01 90 63 81 57.
        if g.count >= 2, g[0] >= 2, g.allSatisfy({ $0 >= 2 }) || spaced, digits.first == 0x30,
           PhoneValidator.isTrunkNational(digits) { return true }
        // Digits spread out one or two at a time: an evasion; the digits alone decide.
        if spaced { return PhoneValidator.isPlausibleDigits(digits) }
        // Anything else needs a label that says phone.
        if ContextLabel.contains(p, in: label, anyOf: ContextLabel.phoneWords)
            || ContextLabel.csvHeader(p, c.start, lines).map({ ContextLabel.contains(p, in: $0, anyOf: ContextLabel.phoneWords) }) == true {
            return PhoneValidator.isPlausibleDigits(digits)
        }
        return false
    }
}
