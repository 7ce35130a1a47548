#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Placeholders and low-entropy values

/// Tells real-looking key material from placeholders (`XXXX`, `your-api-key`, `****`,
/// `...`, `<token>`, `${VAR}`) and from low-entropy filler.
public enum SecretHeuristics {
    /// Shannon entropy in bits per byte.
    public static func entropy(_ s: ArraySlice<UInt8>) -> Double {
        ByteCounts.of(s) { $0.entropy }
    }

    /// Byte counts of a short value, with the set of bytes present, so the sums run over
    /// the bytes that occur (in byte order, as a loop over all 256 counts would) instead
    /// of all 256 counts. The counts live on the stack for the duration of ``of(_:_:)``.
    struct ByteCounts {
        private let counts: UnsafeMutableBufferPointer<Int32>
        private(set) var present = ByteBitmap()
        private(set) var distinct = 0
        let total: Int

        /// Counts the bytes of `s` and calls `body` with the counts.
        static func of<R>(_ s: ArraySlice<UInt8>, _ body: (ByteCounts) -> R) -> R {
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: 256) { c in
                c.initialize(repeating: 0)
                return body(ByteCounts(s, c))
            }
        }

        private init(_ s: ArraySlice<UInt8>, _ c: UnsafeMutableBufferPointer<Int32>) {
            counts = c
            total = s.count
            for b in s {
                if c[Int(b)] == 0 {
                    distinct += 1
                    present.insert(b)
                }
                c[Int(b)] += 1
            }
        }

        var entropy: Double {
            guard total > 0 else { return 0 }
            let n = Double(total)
            var h = 0.0
            // Bytes with the same count add the same term: each term is computed once
            // (the sum still runs in byte order, so the result is the same to the bit).
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 64) { terms in
                terms.initialize(repeating: .nan)
                present.forEach { b in
                    let count = Int(counts[Int(b)])
                    let term: Double
                    if count < 64, !terms[count].isNaN {
                        term = terms[count]
                    } else {
                        let p = Double(count) / n
                        term = p * log2(p)
                        if count < 64 { terms[count] = term }
                    }
                    h -= term
                }
            }
            return h
        }
    }

    /// Whether the key body (the part after a fixed prefix like `ghp_`) looks like a
    /// placeholder or filler rather than generated key material.
    public static func isPlaceholder(_ body: ArraySlice<UInt8>) -> Bool {
        if containsPlaceholderWord(body) { return true }
        return ByteCounts.of(body) { counts in
            if counts.distinct < min(8, max(3, body.count / 3)) { return true }
            return body.count >= 16 && counts.entropy < 3.0
        }
    }

    /// One pass with a switch on each byte; the words are checked only where their first
    /// letter occurs (case-insensitively).
    static func containsPlaceholderWord(_ body: ArraySlice<UInt8>) -> Bool {
        let a = body.startIndex, z = body.endIndex
        @inline(__always) func at(_ i: Int, _ w: StaticString) -> Bool {
            let n = w.utf8CodeUnitCount
            guard z - i >= n else { return false }
            let p = w.utf8Start
            for k in 0..<n where lower(body[i + k]) != p[k] { return false }
            return true
        }
        let second = placeholderSecondByte
        var i = a
        while i < z {
            // Most bytes start no word, or are not followed by the words' second byte.
            let b = lower(body[i])
            let expected = second[Int(b)]
            if expected == 0 || (expected != 1 && (i + 1 == z || lower(body[i + 1]) != expected)) {
                i += 1
                continue
            }
            switch b {
            case UInt8(ascii: "<"), UInt8(ascii: ">"): return true
            case UInt8(ascii: "x"): if at(i, "xxxx") { return true }
            case UInt8(ascii: "*"): if at(i, "**") { return true }
            case UInt8(ascii: "."): if at(i, "...") { return true }
            case UInt8(ascii: "$"): if at(i, "${") { return true }
            case UInt8(ascii: "{"): if at(i, "{{") { return true }
            case UInt8(ascii: "y"): if at(i, "your") { return true }
            case UInt8(ascii: "e"): if at(i, "example") { return true }
            case UInt8(ascii: "p"): if at(i, "placeholder") { return true }
            case UInt8(ascii: "r"): if at(i, "redacted") || at(i, "replace") { return true }
            case UInt8(ascii: "c"): if at(i, "changeme") { return true }
            case UInt8(ascii: "d"): if at(i, "dummy") { return true }
            case UInt8(ascii: "s"): if at(i, "sample") { return true }
            case UInt8(ascii: "i"): if at(i, "insert") { return true }
            case UInt8(ascii: "f"): if at(i, "fake") { return true }
            case UInt8(ascii: "t"): if at(i, "todo") { return true }
            default: break
            }
            i += 1
        }
        return false
    }

    /// For each (lower-cased) byte, the second byte of the placeholder words that start with
    /// it (they share it), 1 for `<` and `>` (a placeholder alone), 0 for the others.
    nonisolated(unsafe) static let placeholderSecondByte: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        t.initialize(repeating: 0, count: 256)
        t[Int(UInt8(ascii: "<"))] = 1
        t[Int(UInt8(ascii: ">"))] = 1
        for word in ["xxxx", "**", "...", "${", "{{", "your", "example", "placeholder", "redacted", "replace",
                     "changeme", "dummy", "sample", "insert", "fake", "todo"] {
            let u = Array(word.utf8)
            precondition(t[Int(u[0])] == 0 || t[Int(u[0])] == u[1], "placeholder words sharing a first byte share the second")
            t[Int(u[0])] = u[1]
        }
        return UnsafePointer(t)
    }()

    @inline(__always)
    static func contains(_ hay: UnsafeBufferPointer<UInt8>, _ w: [UInt8]) -> Bool {
        guard w.count <= hay.count, let first = w.first else { return false }
        var i = 0
        let last = hay.count - w.count
        while i <= last {
            if hay[i] == first {
                var k = 1
                while k < w.count, hay[i + k] == w[k] { k += 1 }
                if k == w.count { return true }
            }
            i += 1
        }
        return false
    }
}
