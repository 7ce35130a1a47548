import CByteVector

// MARK: - A set of byte values

/// 256 bits, one per byte value.
struct ByteBitmap {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init() {}

    init<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes { insert(b) }
    }

    @inline(__always) mutating func insert(_ b: UInt8) {
        let bit: UInt64 = 1 << UInt64(b & 63)
        switch b >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    @inline(__always) func contains(_ b: UInt8) -> Bool {
        let word: UInt64
        switch b >> 6 {
        case 0: word = words.0
        case 1: word = words.1
        case 2: word = words.2
        default: word = words.3
        }
        return word & (1 << UInt64(b & 63)) != 0
    }

    /// Calls `body` with each byte in the set, in ascending order.
    @inline(__always) func forEach(_ body: (UInt8) -> Void) {
        for (word, offset) in [(words.0, 0), (words.1, 64), (words.2, 128), (words.3, 192)] {
            var w = word
            while w != 0 {
                body(UInt8(offset + w.trailingZeroBitCount))
                w &= w - 1
            }
        }
    }
}

// MARK: - Finding the next interesting byte, 16 bytes at a time

/// A set of up to eight byte values (optionally with every non-ASCII byte), searched for
/// 16 bytes at a time with SIMD compares. The passes over a body use it to jump from one
/// byte they act on to the next instead of testing every byte: most bytes of a body are
/// letters, digits and spaces that no pass changes.
///
/// The constants are vectors (comparing a vector with a scalar literal makes Swift fall
/// back to a per-lane loop).
struct ByteSet {
    typealias Vector = SIMD16<UInt8>
    private let values: (Vector, Vector, Vector, Vector, Vector, Vector, Vector, Vector)
    private let highMask: Vector
    /// Per-byte membership, for the tail shorter than a vector.
    private let member: ByteBitmap
    /// How many of ``values`` the search compares: the values rounded up to 2, 4 or 8
    /// (the slots past the last value repeat the first).
    private let compared: Int

    init(_ bytes: [UInt8], nonASCII: Bool = false) {
        precondition(!bytes.isEmpty && bytes.count <= 8, "ByteSet holds one to eight values")
        var v = [Vector](repeating: Vector(repeating: bytes[0]), count: 8)
        for (k, b) in bytes.enumerated() { v[k] = Vector(repeating: b) }
        values = (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])
        // `b & highMask != 0` holds for every non-ASCII byte when enabled, never otherwise.
        highMask = Vector(repeating: nonASCII ? 0x80 : 0)
        member = ByteBitmap(bytes + (nonASCII ? Array(0x80...0xFF) : []))
        compared = bytes.count <= 2 ? 2 : bytes.count <= 4 ? 4 : 8
    }

    @inline(__always) func contains(_ b: UInt8) -> Bool { member.contains(b) }

    /// Lanes of `x` in the set, comparing the first `count` values (2, 4 or 8).
    @inline(__always) private func matches(_ x: Vector, _ count: Int) -> Vector {
        var m = Lanes.eq(x, values.0) | Lanes.eq(x, values.1)
        if count > 2 { m |= Lanes.eq(x, values.2) | Lanes.eq(x, values.3) }
        if count > 4 { m |= Lanes.eq(x, values.4) | Lanes.eq(x, values.5) | Lanes.eq(x, values.6) | Lanes.eq(x, values.7) }
        return m | Lanes.ne(x & highMask, Vector(repeating: 0))
    }

    /// The position of the first byte at or after `start` that is in the set, or `n`.
    @inline(__always)
    func next(in base: UnsafePointer<UInt8>, _ n: Int, from start: Int) -> Int {
        // One loop per number of compares, so the loop itself has no branch for it.
        switch compared {
        case 2: return next(in: base, n, from: start, comparing: 2)
        case 4: return next(in: base, n, from: start, comparing: 4)
        default: return next(in: base, n, from: start, comparing: 8)
        }
    }

    @inline(__always)
    private func next(in base: UnsafePointer<UInt8>, _ n: Int, from start: Int, comparing count: Int) -> Int {
        var i = start
        let raw = UnsafeRawPointer(base)
        while i &+ 16 <= n {
            let bits = Lanes.bits(matches(raw.loadUnaligned(fromByteOffset: i, as: Vector.self), count))
            if bits != 0 { return i &+ bits.trailingZeroBitCount }
            i &+= 16
        }
        guard i < n else { return n }
        if n >= 16 {
            // The last 16 bytes of the body, of which the positions before `i` were seen.
            let bits = Lanes.bits(matches(raw.loadUnaligned(fromByteOffset: n &- 16, as: Vector.self), count)) >> UInt32(i &- (n &- 16))
            return bits != 0 ? i &+ bits.trailingZeroBitCount : n
        }
        while i < n, !contains(base[i]) { i &+= 1 }
        return i
    }
}

/// Lane masks as plain vectors: 0xFF in a lane that holds, 0 in one that does not.
///
/// Swift's `SIMDMask` operators (`.&`, `.|`) make LLVM re-normalise the lanes after
/// every step (a shift, an and and a compare); kept as bytes, a mask is combined with
/// one instruction. A `SIMDMask<SIMD16<Int8>>` is stored as exactly these bytes.
enum Lanes {
    typealias Vector = SIMD16<UInt8>

    @inline(__always) static func eq(_ a: Vector, _ b: Vector) -> Vector { unsafeBitCast(a .== b, to: Vector.self) }
    @inline(__always) static func ne(_ a: Vector, _ b: Vector) -> Vector { unsafeBitCast(a .!= b, to: Vector.self) }
    /// Lanes where `a < b` (unsigned).
    @inline(__always) static func lt(_ a: Vector, _ b: Vector) -> Vector { unsafeBitCast(a .< b, to: Vector.self) }

    /// One bit per lane (lane `k` → bit `k`), so the set lanes can be visited with
    /// `trailingZeroBitCount`.
    @inline(__always)
    static func bits(_ m: Vector) -> UInt32 {
        cbv_movemask(m)
    }
}
