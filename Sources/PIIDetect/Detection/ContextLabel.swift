// MARK: - Field names and words in front of a value

/// Reads what names a value: the words right in front of it (a JSON/XML/form field name,
/// "Social Security No. is") or, in CSV, the header of its column. Used where a bare
/// number is ambiguous (nine digits are an SSN only when something says so).
enum ContextLabel {
    /// Bytes skipped between the label and the value: quotes, `:`, `=`, `>`, brackets,
    /// spaces, newlines.
    @inline(__always) static func isGlue(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x22 || b == 0x27 || b == 0x3A || b == 0x3D || b == 0x3E || b == 0x28 || b == 0x29
            || b == 0x5B || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x23 || b == 0x2D
    }

    /// Bytes that make up label words (field names with `_`, `-`, `.`; non-ASCII letters).
    @inline(__always) static func isLabelByte(_ b: UInt8) -> Bool {
        isWordByte(b) || b == 0x2D || b == 0x2E || b >= 0x80
    }

    /// Where the words (at most `maxWords`) that end right before `pos` are: the label,
    /// compared lower-cased by ``contains(_:in:anyOf:)``.
    static func before(_ p: UnsafeBufferPointer<UInt8>, _ pos: Int, maxWords: Int = 4, maxLength: Int = 48) -> Range<Int> {
        var i = pos
        var skipped = 0
        while i > 0, skipped < 10, isGlue(p[i - 1]) { i -= 1; skipped += 1 }
        let end = i
        var words = 0
        while i > 0, end - i < maxLength {
            guard isLabelByte(p[i - 1]) else { break }
            while i > 0, end - i < maxLength, isLabelByte(p[i - 1]) { i -= 1 }
            words += 1
            // One space joins words of a phrase; anything else ends the label.
            if words < maxWords, i > 1, p[i - 1] == 0x20, isLabelByte(p[i - 2]) { i -= 1 } else { break }
        }
        return i..<end
    }

    /// Where the CSV header field of the column `pos` is in, if the line looks like a CSV
    /// row under a header row.
    static func csvHeader(_ p: UnsafeBufferPointer<UInt8>, _ pos: Int) -> Range<Int>? {
        var lineStart = pos
        while lineStart > 0, pos - lineStart < 4096, p[lineStart - 1] != 0x0A { lineStart -= 1 }
        guard lineStart > 0, p[lineStart - 1] == 0x0A else { return nil }
        // Column index: commas outside double quotes.
        var column = 0
        var quoted = false
        for k in lineStart..<pos {
            if p[k] == 0x22 { quoted.toggle() } else if p[k] == 0x2C, !quoted { column += 1 }
        }
        guard !quoted else { return nil }
        // Walk up to the header: the nearest line of two or more fields that are all
        // identifiers (a letter or `_`, then word bytes, spaces, `-`).
        var lineEnd = lineStart - 1
        var lines = 0
        while lineEnd > 0, lines < 64 {
            var s = lineEnd
            while s > 0, lineEnd - s < 4096, p[s - 1] != 0x0A { s -= 1 }
            var fields = 0
            var fieldStart = s
            var wanted: Range<Int>? = nil
            var isHeader = true
            for k in s...lineEnd where k == lineEnd || p[k] == 0x2C {
                // The field `fieldStart ..< k`.
                let first = fieldStart < k ? p[fieldStart] : 0
                guard isAlpha(first) || first == 0x5F else { isHeader = false; break }
                var j = fieldStart + 1
                while j < k, isWordByte(p[j]) || p[j] == 0x20 || p[j] == 0x2D { j += 1 }
                guard j == k else { isHeader = false; break }
                if fields == column { wanted = fieldStart..<k }
                fields += 1
                fieldStart = k + 1
            }
            if isHeader, fields >= 2 { return wanted }
            if s == 0 { break }
            lineEnd = s - 1
            lines += 1
        }
        return nil
    }

    /// Whether the label in front of `pos` (or its CSV column header) contains one of `words`.
    static func says(_ p: UnsafeBufferPointer<UInt8>, _ pos: Int, anyOf words: WordList) -> Bool {
        if contains(p, in: before(p, pos), anyOf: words) { return true }
        if let header = csvHeader(p, pos) { return contains(p, in: header, anyOf: words) }
        return false
    }

    /// Whether the bytes `range` of `p`, lower-cased, contain any of `words`.
    static func contains(_ p: UnsafeBufferPointer<UInt8>, in range: Range<Int>, anyOf words: WordList) -> Bool {
        contains(UnsafeBufferPointer(rebasing: p[range]), lowering: true, anyOf: words)
    }

    /// Whether `label` contains any of `words` (lower-case ASCII); with `lowering`, the
    /// label's ASCII letters are compared lower-cased.
    static func contains<L: RandomAccessCollection<UInt8>>(_ label: L, lowering: Bool = false, anyOf words: WordList) -> Bool
    where L.Index == Int {
        let n = label.count
        @inline(__always) func at(_ k: Int) -> UInt8 { lowering ? lower(label[label.startIndex + k]) : label[label.startIndex + k] }
        // At each position, only the words that start with its byte.
        for i in 0..<n {
            let first = Int(at(i))
            var w = words.firstWord[first]
            let end = words.firstWord[first + 1]
            while w < end {
                let start = words.offsets[w], length = words.offsets[w + 1] - start
                if length <= n - i {
                    var k = 1
                    while k < length, at(i + k) == words.bytes[start + k] { k += 1 }
                    if k == length { return true }
                }
                w += 1
            }
        }
        return false
    }

    /// Label words (lower-case ASCII or UTF-8), grouped by first byte so a label position
    /// is compared only with the words that can start there.
    final class WordList: @unchecked Sendable {
        /// Word `w` (in first-byte order) is `bytes[offsets[w] ..< offsets[w + 1]]`; the
        /// words starting with byte `b` are `firstWord[b] ..< firstWord[b + 1]`.
        let bytes: UnsafeMutablePointer<UInt8>
        let offsets: UnsafeMutablePointer<Int>
        let firstWord: UnsafeMutablePointer<Int>

        init(_ words: [String]) {
            let sorted = words.map { Array($0.utf8) }.filter { !$0.isEmpty }.sorted { $0[0] < $1[0] }
            bytes = .allocate(capacity: max(1, sorted.reduce(0) { $0 + $1.count }))
            offsets = .allocate(capacity: sorted.count + 1)
            firstWord = .allocate(capacity: 257)
            var at = 0
            for (w, word) in sorted.enumerated() {
                offsets[w] = at
                for b in word { bytes[at] = b; at += 1 }
            }
            offsets[sorted.count] = at
            var w = 0
            for b in 0...256 {
                firstWord[b] = w
                while w < sorted.count, Int(sorted[w][0]) == b { w += 1 }
            }
        }

        deinit {
            bytes.deallocate()
            offsets.deallocate()
            firstWord.deallocate()
        }
    }

    static let ssnWords = WordList([
        "ssn", "social", "s.s.n", "soc sec", "soc.sec", "soc_sec", "socsec", "ss#", "ss_num", "ssnum", "tax id",
        "taxpayer", "itin",
    ])
    /// Labels of identifiers that look like numbers in a national format.
    static let identifierWords = WordList([
        "serial", "order", "invoice", "ref", "sku", "isbn", "tracking", "account", "acct", "ticket", "batch",
        "iban", "bic", "routing", "transaction", "txn", "customer no", "member no",
    ])

    static let phoneWords = WordList([
        "phone", "tel", "cell", "mobile", "mobil", "whatsapp", "call", "sms", "fax", "contact", "kontakt",
        "handy", "movil", "móvil", "celular", "numero", "número", "ring", "text me", "reach", "dial", "mob",
        "msisdn", "telefono", "teléfono", "portable", "cellulare", "landline", "hotline", "helpline",
    ])
}
