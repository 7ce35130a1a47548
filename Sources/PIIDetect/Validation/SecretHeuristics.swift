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
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 256) { counts in
            counts.initialize(repeating: 0)
            for b in s { counts[Int(b)] += 1 }
            return entropy(counts, total: s.count)
        }
    }

    static func entropy(_ counts: UnsafeMutableBufferPointer<Int32>, total: Int) -> Double {
        guard total > 0 else { return 0 }
        let n = Double(total)
        var h = 0.0
        for c in counts where c > 0 {
            let p = Double(c) / n
            h -= p * log2(p)
        }
        return h
    }

    /// Whether the key body (the part after a fixed prefix like `ghp_`) looks like a
    /// placeholder or filler rather than generated key material.
    public static func isPlaceholder(_ body: ArraySlice<UInt8>) -> Bool {
        if containsPlaceholderWord(body) { return true }
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 256) { counts in
            counts.initialize(repeating: 0)
            for b in body { counts[Int(b)] += 1 }
            var distinct = 0
            for c in counts where c > 0 { distinct += 1 }
            if distinct < min(8, max(3, body.count / 3)) { return true }
            if body.count >= 16, entropy(counts, total: body.count) < 3.0 { return true }
            return false
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
