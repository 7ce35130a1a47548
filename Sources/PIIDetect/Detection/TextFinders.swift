// MARK: - E-mail, IP and IBAN finders

/// A finding in decoded-byte coordinates, before mapping back to the raw body.
struct Candidate {
    var type: EntityType
    var range: Range<Int>
}

enum EmailFinder {
    /// `@domain.tld`; the local part is read backwards from the `@` in Swift (PCRE2 10.42
    /// has no variable-length lookbehind, and anchoring on `@` keeps the scan fast).
    static let pattern = #"@(?:(?:[A-Za-z0-9]|[^\x00-\x7F])(?:(?:[A-Za-z0-9\-]|[^\x00-\x7F]){0,62}(?:[A-Za-z0-9]|[^\x00-\x7F]))?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-])"#

    @inline(__always) static func isLocalByte(_ b: UInt8) -> Bool {
        isAlnum(b) || b == 0x2E || b == 0x5F || b == 0x2B || b == 0x2D || b >= 0x80
    }

    static func check(_ p: UnsafeBufferPointer<UInt8>, _ match: Range<Int>, into out: inout [Candidate]) {
        let at = match.lowerBound
        var s = at
        while s > 0, at - s < 64, isLocalByte(p[s - 1]) { s -= 1 }
        // Trim punctuation that cannot start a local part; skip UTF-8 continuation starts.
        while s < at, p[s] == 0x2E || p[s] == 0x2D || p[s] == 0x2B || (p[s] & 0xC0) == 0x80 { s += 1 }
        guard s < at else { return }
        // URL credentials (`https://user@host`) are not mailboxes.
        if s >= 3, p[s - 1] == 0x2F, p[s - 2] == 0x2F, p[s - 3] == 0x3A { return }
        // `git@github.com:org/repo.git`.
        if match.upperBound < p.count, p[match.upperBound] == 0x3A { return }
        let personal = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: match.count) { domain in
            var n = 0
            for k in (at + 1)..<match.upperBound { domain[n] = lower(p[k]); n += 1 }
            return EmailValidator.isPersonalDomain(UnsafeBufferPointer(rebasing: domain[0..<n]))
        }
        guard personal else { return }
        out.append(Candidate(type: .EMAIL_ADDRESS, range: s..<match.upperBound))
    }
}

enum IPFinder {
    /// IPv6 candidates start at their first `:` (a rare byte, so JIT's first-byte search
    /// skips most of the body); the leading hex group is read backwards in Swift.
    static let v6Pattern = #"(?:(?<=[0-9A-Fa-f])|(?=::)):[0-9A-Fa-f:]{1,40}+(?:\.\d{1,3}(?:\.\d{1,3}){3})?(?:%[A-Za-z0-9]{1,15})?"#

    static func checkV6(_ p: UnsafeBufferPointer<UInt8>, _ m: Range<Int>, into out: inout [Candidate]) {
        guard !m.isEmpty else { return }
        var s = m.lowerBound
        while s > 0, m.lowerBound - s < 4, isHexDigit(p[s - 1]) { s -= 1 }
        if s > 0 {
            let before = p[s - 1]
            if isWordByte(before) || before == 0x3A || before == 0x2E { return }
        }
        if m.upperBound < p.count {
            let next = p[m.upperBound]
            if isWordByte(next) || next == 0x3A || next == 0x2E && m.upperBound + 1 < p.count && isHexDigit(p[m.upperBound + 1]) {
                return
            }
        }
        let text = UnsafeBufferPointer(rebasing: p[s..<m.upperBound])
        let colons = text.reduce(0) { $0 + ($1 == 0x3A ? 1 : 0) }
        guard colons >= 2, let bytes = IPValidator.parseIPv6(text), IPValidator.isHostIPv6(bytes) else { return }
        // Hex words joined by `::` in code (`a::b`) parse but are not addresses: require a digit.
        guard text.contains(where: { isDigit($0) }) else { return }
        out.append(Candidate(type: .IP_ADDRESS, range: s..<m.upperBound))
    }
}

enum IBANFinder {
    /// Anchored on the check digits (digits are rarer than letters, so the JIT tries fewer
    /// positions); the country code is the two letters behind them.
    /// The two letters before the check digits must start a word: in hex digests and
    /// identifiers they do not, and the attempt fails at once.
    static let pattern = #"(?<=(?<![A-Za-z0-9])[A-Za-z]{2})\d{2}(?: ?[A-Za-z0-9]){11,32}+"#

    /// Validates the IBAN whose check digits start `m` and returns where it ends (so the
    /// scan can continue right after it), or `nil`.
    static func check(_ p: UnsafeBufferPointer<UInt8>, _ m: Range<Int>, into out: inout [Candidate]) -> Int? {
        let s = m.lowerBound - 2
        guard s >= 0, s == 0 || !isAlnum(p[s - 1]) else { return nil }
        guard let length = IBANValidator.length(country: p[s], p[s + 1]) else { return nil }
        // The letters and digits, without the spaces between groups (at most 34: the
        // longest registered length).
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: length) { buffer -> Int? in
            var count = 0
            var i = s
            var lastGroupSpace = -1
            while i < m.upperBound, count < length {
                let b = p[i]
                if b == 0x20 {
                    // Spaces only between groups of four (the printed form).
                    guard count % 4 == 0, count != lastGroupSpace else { return nil }
                    lastGroupSpace = count
                } else {
                    buffer[count] = b
                    count += 1
                }
                i += 1
            }
            guard count == length else { return nil }
            if i < p.count, isAlnum(p[i]) { return nil }
            let compact = UnsafeBufferPointer(buffer)
            // Mixed case within the letters is not how IBANs are written.
            let upper = !compact.contains { $0 >= 0x61 && isAlpha($0) }, lowerCase = !compact.contains { $0 < 0x61 && isAlpha($0) }
            guard upper || lowerCase, IBANValidator.isValid(compact) else { return nil }
            out.append(Candidate(type: .IBAN_CODE, range: s..<i))
            return i
        }
    }
}
