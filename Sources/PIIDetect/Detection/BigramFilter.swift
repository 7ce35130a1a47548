// MARK: - Bigram filter

/// Which byte pairs occur in a body (4096-bit hashed set), built in one pass. A pattern
/// whose literal prefix has a pair that is absent cannot match, so it is not run: for a
/// 300-byte body this is far cheaper than a substring search per literal.
struct BigramFilter {
    private var bits = (
        UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
        UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
        UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
        UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
        UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
        UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
        UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
        UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0)
    )

    @inline(__always) static func hash(_ a: UInt8, _ b: UInt8) -> Int {
        (Int(a & 0x3F) << 6) | Int(b & 0x3F)
    }

    init() {}

    /// Records the pair `a b`.
    @inline(__always) mutating func add(_ a: UInt8, _ b: UInt8) {
        let h = BigramFilter.hash(a, b)
        withUnsafeMutableBytes(of: &bits) { raw in
            let words = raw.baseAddress!.assumingMemoryBound(to: UInt64.self)
            words[h >> 6] |= 1 << UInt64(h & 63)
        }
    }

    @inline(__always) func has(_ h: Int) -> Bool {
        withUnsafeBytes(of: bits) { raw in
            raw.load(fromByteOffset: (h >> 6) * 8, as: UInt64.self) & (1 << UInt64(h & 63)) != 0
        }
    }

    /// False when `needle` certainly does not occur; true when it may.
    func mayContain(_ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        let p = needle.utf8Start
        guard n >= 2 else { return true }
        for i in 1..<n where !has(BigramFilter.hash(p[i - 1], p[i])) { return false }
        return true
    }
}
