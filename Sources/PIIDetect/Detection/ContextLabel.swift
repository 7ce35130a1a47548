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
    /// row under a header row. `lines` remembers the lines already read in this body.
    static func csvHeader(_ p: UnsafeBufferPointer<UInt8>, _ pos: Int, _ lines: LineMemo) -> Range<Int>? {
        // The line `pos` is on (it must follow a newline, and `pos` be at most 4 KiB into
        // it) and its column: commas outside double quotes.
        guard let (lineStart, column, quoted) = lines.column(p, pos), !quoted else { return nil }
        guard let header = lines.header(p, above: lineStart) else { return nil }
        return field(p, column, of: header)
    }

    /// Field `column` (comma-separated) of the line `line`, if it has that many.
    static func field(_ p: UnsafeBufferPointer<UInt8>, _ column: Int, of line: Range<Int>) -> Range<Int>? {
        var index = 0, start = line.lowerBound
        for k in line.lowerBound...line.upperBound where k == line.upperBound || p[k] == 0x2C {
            if index == column { return start..<k }
            index += 1
            start = k + 1
        }
        return nil
    }

    /// The lines of a body that ``csvHeader(_:_:_:)`` has read, by the position of the
    /// newline that ends them: every line is read once per body, however many values
    /// below it look for their header (walking 64 lines of up to 4 KiB for each value made
    /// a body of long unlabeled lines take seconds).
    final class LineMemo {
        private var lines: [Int: (start: Int, isHeader: Bool)] = [:]
        /// The last header search: the line it was for and the header line found.
        private var headerQuery: (lineStart: Int, header: Range<Int>?) = (-1, nil)
        /// Where the last column count stopped: values come in increasing order, so the
        /// count goes on from there instead of reading the line again from its start.
        private var cursor: (pos: Int, lineStart: Int, column: Int, quoted: Bool) = (-1, 0, 0, false)

        /// Forgets the previous body.
        func reset() {
            if !lines.isEmpty { lines.removeAll(keepingCapacity: true) }
            headerQuery = (-1, nil)
            cursor = (-1, 0, 0, false)
        }

        /// The start of the line holding `pos`, the column of `pos` in it (commas outside
        /// double quotes before it) and whether a quote is open; `nil` when no newline
        /// precedes the line or `pos` is more than 4 KiB into it.
        func column(_ p: UnsafeBufferPointer<UInt8>, _ pos: Int) -> (Int, Int, Bool)? {
            var (from, lineStart, column, quoted) = cursor
            if from < 0 || pos < from || pos - from > 4096 {
                // Start afresh: back to the line start (at most 4 KiB).
                var s = pos
                while s > 0, pos - s < 4096, p[s - 1] != 0x0A { s -= 1 }
                guard s > 0, p[s - 1] == 0x0A else { cursor = (-1, 0, 0, false); return nil }
                (from, lineStart, column, quoted) = (s, s, 0, false)
            }
            for k in from..<pos {
                switch p[k] {
                case 0x0A: lineStart = k + 1; column = 0; quoted = false
                case 0x22: quoted.toggle()
                case 0x2C where !quoted: column += 1
                default: break
                }
            }
            // A line start at 0 means no newline before it (only a fresh start finds one).
            cursor = (pos, lineStart, column, quoted)
            guard pos - lineStart <= 4096 else { return nil }
            return (lineStart, column, quoted)
        }

        /// The header row for the line starting at `lineStart`: the nearest of the 64 lines
        /// above it that is one.
        func header(_ p: UnsafeBufferPointer<UInt8>, above lineStart: Int) -> Range<Int>? {
            if headerQuery.lineStart == lineStart { return headerQuery.header }
            var found: Range<Int>? = nil
            var lineEnd = lineStart - 1
            var count = 0
            while lineEnd > 0, count < 64 {
                let line = line(p, endingAt: lineEnd)
                if line.isHeader { found = line.start..<lineEnd; break }
                if line.start == 0 { break }
                lineEnd = line.start - 1
                count += 1
            }
            headerQuery = (lineStart, found)
            return found
        }

        /// The start of the line ending at the newline `lineEnd`, and whether it is a
        /// header row: two or more comma-separated fields that are all identifiers (a letter
        /// or `_`, then word bytes, spaces, `-`).
        func line(_ p: UnsafeBufferPointer<UInt8>, endingAt lineEnd: Int) -> (start: Int, isHeader: Bool) {
            if let known = lines[lineEnd] { return known }
            var s = lineEnd
            while s > 0, lineEnd - s < 4096, p[s - 1] != 0x0A { s -= 1 }
            var fields = 0
            var fieldStart = s
            var identifiers = true
            for k in s...lineEnd where k == lineEnd || p[k] == 0x2C {
                let first = fieldStart < k ? p[fieldStart] : 0
                guard isAlpha(first) || first == 0x5F else { identifiers = false; break }
                var j = fieldStart + 1
                while j < k, isWordByte(p[j]) || p[j] == 0x20 || p[j] == 0x2D { j += 1 }
                guard j == k else { identifiers = false; break }
                fields += 1
                fieldStart = k + 1
            }
            let line = (start: s, isHeader: identifiers && fields >= 2)
            lines[lineEnd] = line
            return line
        }
    }

    /// Whether the label in front of `pos` (or its CSV column header) contains one of `words`.
    static func says(_ p: UnsafeBufferPointer<UInt8>, _ pos: Int, anyOf words: WordList, _ lines: LineMemo) -> Bool {
        if contains(p, in: before(p, pos), anyOf: words) { return true }
        if let header = csvHeader(p, pos, lines) { return contains(p, in: header, anyOf: words) }
        return false
    }

    /// Whether the bytes `range` of `p`, lower-cased, contain any of `words`.
    static func contains(_ p: UnsafeBufferPointer<UInt8>, in range: Range<Int>, anyOf words: WordList) -> Bool {
        contains(UnsafeBufferPointer(rebasing: p[range]), anyOf: words)
    }

    /// Whether `label`, its ASCII letters lower-cased, contains any of `words` (lower case).
    static func contains<L: RandomAccessCollection<UInt8>>(_ label: L, anyOf words: WordList) -> Bool
    where L.Index == Int {
        let n = label.count
        @inline(__always) func at(_ k: Int) -> UInt8 { lower(label[label.startIndex + k]) }
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
