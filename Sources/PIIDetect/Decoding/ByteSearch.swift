import CPCRE2

// MARK: - Substring search

/// Literal substring search over bytes (libc `memmem`), for the rare needles of the
/// decoding flags.
enum ByteSearch {
    /// Whether `needle` (ASCII) occurs in `p`.
    @inline(__always)
    static func contains(_ p: UnsafeBufferPointer<UInt8>, _ needle: StaticString) -> Bool {
        guard let base = p.baseAddress, p.count >= needle.utf8CodeUnitCount else { return false }
        return cpcre2_memmem(base, p.count, needle.utf8Start, needle.utf8CodeUnitCount) != nil
    }
}

// MARK: - Bigram filter

/// Which byte pairs occur in a body (4096-bit hashed set), built in one pass. A pattern
/// whose literal prefix has a pair that is absent cannot match, so it is not run: for a
/// 300-byte body this is far cheaper than a substring search per literal.
struct BigramFilter {
    private var storage: [UInt64]

    @inline(__always) static func hash(_ a: UInt8, _ b: UInt8) -> Int {
        (Int(a & 0x3F) << 6) | Int(b & 0x3F)
    }

    init(_ p: UnsafeBufferPointer<UInt8>) {
        storage = [UInt64](repeating: 0, count: 64)
        guard p.count >= 2, let base = p.baseAddress else { return }
        storage.withUnsafeMutableBufferPointer { s in
            var prev = base[0]
            for i in 1..<p.count {
                let b = base[i]
                let h = BigramFilter.hash(prev, b)
                s[h >> 6] |= 1 << UInt64(h & 63)
                prev = b
            }
        }
    }

    /// False when `needle` certainly does not occur; true when it may.
    func mayContain(_ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        let p = needle.utf8Start
        guard n >= 2 else { return true }
        for i in 1..<n {
            let h = BigramFilter.hash(p[i - 1], p[i])
            if storage[h >> 6] & (1 << UInt64(h & 63)) == 0 { return false }
        }
        return true
    }
}
