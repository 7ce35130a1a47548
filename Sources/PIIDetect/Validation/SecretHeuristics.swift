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
        ByteCounts(s).entropy
    }

    /// Byte counts of a short value, with the set of bytes present, so the sums run over
    /// the bytes that occur (in byte order, as a loop over all 256 counts would) instead
    /// of all 256 counts.
    struct ByteCounts {
        var counts = [Int32](repeating: 0, count: 256)
        var present = ByteBitmap()
        var distinct = 0
        let total: Int

        init(_ s: ArraySlice<UInt8>) {
            total = s.count
            counts.withUnsafeMutableBufferPointer { c in
                for b in s {
                    if c[Int(b)] == 0 {
                        distinct += 1
                        present.insert(b)
                    }
                    c[Int(b)] += 1
                }
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
                counts.withUnsafeBufferPointer { c in
                    present.forEach { b in
                        let count = Int(c[Int(b)])
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
            }
            return h
        }
    }

    /// Whether the key body (the part after a fixed prefix like `ghp_`) looks like a
    /// placeholder or filler rather than generated key material.
    public static func isPlaceholder(_ body: ArraySlice<UInt8>) -> Bool {
        if containsPlaceholderWord(body) { return true }
        let counts = ByteCounts(body)
        if counts.distinct < min(8, max(3, body.count / 3)) { return true }
        if body.count >= 16, counts.entropy < 3.0 { return true }
        return false
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
        var i = a
        while i < z {
            switch lower(body[i]) {
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
