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

    struct Chain {
        var start = 0
        var end = 0
        var hasPlus = false
        var hasParen = false
        var digits: [UInt8] = []
        var groups: [Int] = []          // digit count per group
        var groupStarts: [Int] = []
        var separators: [Separator] = []
    }

    /// Two chains reused across a body's matches (the whole chain and a window of it), so
    /// classifying allocates only when a chain is longer than any before it.
    struct Scratch {
        var whole = Chain()
        var piece = Chain()
    }

    static func parse(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into c: inout Chain) {
        c.start = range.lowerBound
        c.end = range.upperBound
        c.hasPlus = false
        c.hasParen = false
        if !c.digits.isEmpty { c.digits.removeAll(keepingCapacity: true) }
        if !c.groups.isEmpty { c.groups.removeAll(keepingCapacity: true) }
        if !c.groupStarts.isEmpty { c.groupStarts.removeAll(keepingCapacity: true) }
        if !c.separators.isEmpty { c.separators.removeAll(keepingCapacity: true) }
        var i = range.lowerBound
        let end = range.upperBound
        var sep: Separator = 0
        while i < end {
            let b = p[i]
            if isDigit(b) {
                // A group: the whole run of digits at once.
                if !c.groups.isEmpty { c.separators.append(sep) }
                sep = 0
                let start = i
                i += 1
                while i < end, isDigit(p[i]) { i += 1 }
                c.groups.append(i - start)
                c.groupStarts.append(start)
                c.digits.append(contentsOf: UnsafeBufferPointer(rebasing: p[start..<i]))
                continue
            }
            if b == 0x2B { c.hasPlus = true }
            if b == 0x28 || b == 0x29 { c.hasParen = true }
            if !c.groups.isEmpty {
                let len = sep >> 24
                if len < 3 { sep |= UInt32(b) << (8 * len); sep = (sep & 0x00FF_FFFF) | ((len + 1) << 24) }
            }
            i += 1
        }
    }

    /// The chain of groups `groups` of `whole` over the bytes `range` (from the window's
    /// first byte: the chain's start, or a `(` before the first group, or the group), as
    /// ``parse`` would read it, without reading the bytes again: the groups, digits and
    /// separators are those of `whole`; a `+` can only lead the whole chain.
    static func window(of whole: Chain, groups: ClosedRange<Int>, _ range: Range<Int>, _ p: UnsafeBufferPointer<UInt8>, into c: inout Chain) {
        c.start = range.lowerBound
        c.end = range.upperBound
        let first = groups.lowerBound, last = groups.upperBound
        c.hasPlus = false
        c.hasParen = false
        // Bytes before the first group (`+ (` of the chain, or one `(`).
        for k in range.lowerBound..<whole.groupStarts[first] {
            let b = p[k]
            if b == 0x2B { c.hasPlus = true }
            if b == 0x28 || b == 0x29 { c.hasParen = true }
        }
        var digitStart = 0
        for g in 0..<first { digitStart += whole.groups[g] }
        var digitCount = 0
        for g in groups { digitCount += whole.groups[g] }
        c.digits.removeAll(keepingCapacity: true)
        c.digits.append(contentsOf: whole.digits[digitStart..<(digitStart + digitCount)])
        c.groups.removeAll(keepingCapacity: true)
        c.groups.append(contentsOf: whole.groups[groups])
        c.groupStarts.removeAll(keepingCapacity: true)
        c.groupStarts.append(contentsOf: whole.groupStarts[groups])
        c.separators.removeAll(keepingCapacity: true)
        c.separators.append(contentsOf: whole.separators[first..<last])
        if !c.hasParen { c.hasParen = c.separators.contains { sepContains($0, 0x28) || sepContains($0, 0x29) } }
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
        scratch: inout Scratch, into out: inout [Candidate]
    ) {
        // A chain glued to a following letter is part of an identifier (`1Z…`, `3x`).
        if range.upperBound < p.count, isWordByte(p[range.upperBound]) { return }
        // Most chains are short numbers (quantities, dates, times): count before parsing.
        var digitCount = 0, dots = 0
        for i in range { let b = p[i]; if isDigit(b) { digitCount += 1 } else if b == 0x2E { dots += 1 } }
        guard digitCount >= 9 || (digitCount >= 4 && dots == 3) else { return }
        parse(p, range, into: &scratch.whole)
        let whole = scratch.whole
        if let found = classifyChain(whole, p, types) { out.append(found); return }
        // Split where the separator style changes; try the longest windows first.
        let seps = whole.separators
        guard seps.count >= 2 else { return }
        let styles = seps.map(style)
        var starts = [0], ends: [Int] = []
        for s in 0..<styles.count {
            let changes = (s > 0 && styles[s] != styles[s - 1]) || (s + 1 < styles.count && styles[s] != styles[s + 1])
            if changes { starts.append(s + 1); ends.append(s) }
        }
        ends.append(whole.groups.count - 1)
        guard starts.count <= 8 else { return }
        var i = 0
        while i < starts.count {
            let first = starts[i]
            var matchedLast: Int? = nil
            for last in ends.reversed() where last >= first && !(first == 0 && last == whole.groups.count - 1) {
                var lo = whole.groupStarts[first]
                if first == 0 { lo = whole.start } else if p[lo - 1] == 0x28 { lo -= 1 }
                let hi = whole.groupStarts[last] + whole.groups[last]
                window(of: whole, groups: first...last, lo..<hi, p, into: &scratch.piece)
                guard scratch.piece.digits.count >= 4 else { continue }
                if let found = classifyChain(scratch.piece, p, types) {
                    out.append(found)
                    matchedLast = last
                    break
                }
            }
            if let last = matchedLast {
                while i < starts.count, starts[i] <= last { i += 1 }
            } else {
                i += 1
            }
        }
    }

    static func classifyChain(_ c: Chain, _ p: UnsafeBufferPointer<UInt8>, _ types: TypeMask) -> Candidate? {
        let n = c.digits.count
        let range = c.start..<c.end
        let dotSep: Separator = (1 << 24) | 0x2E

        // IPv4: four groups of up to three digits joined by single dots.
        if c.groups.count == 4, !c.hasPlus, !c.hasParen, c.separators.allSatisfy({ $0 == dotSep }) {
            guard types.has(.IP_ADDRESS), c.groups.allSatisfy({ $0 <= 3 }) else { return nil }
            // `Chrome/120.0.0.0`, `Safari/537.36`: a product version, not an address.
            if c.start >= 2, p[c.start - 1] == 0x2F, isAlnum(p[c.start - 2]) { return nil }
            guard let octets = IPValidator.parseIPv4(Array(UnsafeBufferPointer(rebasing: p[range]))[...]),
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
            let classic = c.groups == [3, 2, 4] && uniform && onlySpaceDash
            if classic { return Candidate(type: .US_SSN, range: range) }
            let shapeOK = c.groups.count == 1 || spaced || c.groups == [3, 2, 4]
            if shapeOK, ContextLabel.says(p, c.start, anyOf: ContextLabel.ssnWords) {
                return Candidate(type: .US_SSN, range: range)
            }
        }

        guard types.has(.PHONE_NUMBER), n >= 10, n <= 15 else { return nil }
        return isPhone(c, p: p, spaced: spaced) ? Candidate(type: .PHONE_NUMBER, range: range) : nil
    }

    static func isPhone(_ c: Chain, p: UnsafeBufferPointer<UInt8>, spaced: Bool) -> Bool {
        // `+49 (0)30 …`: the `(0)` trunk marker is not part of the international number.
        var digits = c.digits[...]
        if c.hasPlus, c.groups.count > 2, c.groups[1] == 1, digits[digits.startIndex + c.groups[0]] == 0x30,
           sepContains(c.separators[0], 0x28) {
            var d = Array(c.digits)
            d.remove(at: c.groups[0])
            digits = d[...]
        }
        if c.hasPlus { return PhoneValidator.isInternational(digits) }
        // `0044 20 …`: the international call prefix instead of `+`.
        if digits.count >= 10, digits.first == 0x30, digits[digits.startIndex + 1] == 0x30, c.groups.count >= 2 {
            return PhoneValidator.isInternational(digits.dropFirst(2))
        }
        if c.separators.contains(where: { sepContains($0, 0x2F) }) { return false }   // dates, fractions
        let g = c.groups
        // NANP layouts: (212) 736-1234, 212-736-1234, 212.736.1234, 1-212-736-1234.
        if g == [3, 3, 4] { return PhoneValidator.isNANP(digits) }
        if g == [1, 3, 3, 4], digits.first == 0x31 { return PhoneValidator.isNANP(digits.dropFirst()) }
        // Formats that also fit identifiers: not when the label names an identifier.
        let label = ContextLabel.before(p, c.start)
        if ContextLabel.contains(label, anyOf: ContextLabel.identifierWords),
           !ContextLabel.contains(label, anyOf: ContextLabel.phoneWords) { return false }
        // National numbers written with the trunk 0: 020 3706 3941, 07810 989419, 030 14069601,
        // 01 90 63 81 57.
        if g.count >= 2, g[0] >= 2, g.allSatisfy({ $0 >= 2 }) || spaced, digits.first == 0x30,
           PhoneValidator.isTrunkNational(digits) { return true }
        // Digits spread out one or two at a time: an evasion; the digits alone decide.
        if spaced { return PhoneValidator.isPlausibleDigits(digits) }
        // Anything else needs a label that says phone.
        if ContextLabel.contains(label, anyOf: ContextLabel.phoneWords)
            || ContextLabel.csvHeader(p, c.start).map({ ContextLabel.contains($0, anyOf: ContextLabel.phoneWords) }) == true {
            return PhoneValidator.isPlausibleDigits(digits)
        }
        return false
    }
}
