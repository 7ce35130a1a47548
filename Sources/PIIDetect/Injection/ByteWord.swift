// MARK: - Eight bytes at a time

/// Byte tests on eight bytes at once (SWAR: SIMD within a register) for the scorer's
/// linear passes, which spend most of their time on bytes that need nothing. A word is
/// loaded little-endian: text byte `k` of the word is bits `8k ..< 8k + 8`. The tests are
/// exact for every byte value and set the high bit of each byte that passes (no carry
/// crosses a byte: every sum below stays under 0x100 per byte).
enum ByteWord {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080
    static let lows: UInt64 = 0x7F7F_7F7F_7F7F_7F7F

    /// The eight bytes at `p` (unaligned).
    @inline(__always) static func load(_ p: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
    }

    /// Bytes equal to `c`.
    @inline(__always) static func equal(_ x: UInt64, _ c: UInt8) -> UInt64 {
        let z = x ^ (ones &* UInt64(c))
        return ~(((z & lows) &+ lows) | z) & highs
    }

    /// Bytes below `n` (`n` at most 0x80).
    @inline(__always) static func below(_ x: UInt64, _ n: UInt8) -> UInt64 {
        ~((x & lows) &+ ones &* UInt64(0x80 - n)) & ~x & highs
    }

    /// Bytes above `n` (`n` below 0x80).
    @inline(__always) static func above(_ x: UInt64, _ n: UInt8) -> UInt64 {
        (((x & lows) &+ ones &* UInt64(0x7F - n)) | x) & highs
    }

    /// Index (0 ..< 8) of the first byte flagged in a non-zero result of the tests above.
    @inline(__always) static func first(_ flags: UInt64) -> Int {
        flags.trailingZeroBitCount >> 3
    }
}

// MARK: - Sixteen bytes at a time

/// Byte tests on sixteen bytes at once with SSE2 compares (``Lanes``): a test gives a lane
/// mask, and ``Lanes/bits(_:)`` (one `pmovmskb`) turns it into bit `k` for text byte `k`.
/// The constants are vectors, never scalar literals (see ``ByteSet``).
enum ByteVector {
    typealias Vector = SIMD16<UInt8>

    /// The sixteen bytes at `p + offset` (unaligned).
    @inline(__always) static func load(_ p: UnsafePointer<UInt8>, _ offset: Int) -> Vector {
        UnsafeRawPointer(p).loadUnaligned(fromByteOffset: offset, as: Vector.self)
    }

    @inline(__always) static func splat(_ b: UInt8) -> Vector { Vector(repeating: b) }
}

extension ByteVector {
    /// The first position in `from ..< to` holding `c`, or `to` if none does.
    @inline(__always)
    static func first(_ c: UInt8, in base: UnsafePointer<UInt8>, from: Int, to: Int) -> Int {
        var i = from
        let v = splat(c)
        while i &+ 16 <= to {
            let bits = Lanes.bits(Lanes.eq(load(base, i), v))
            if bits != 0 { return i &+ bits.trailingZeroBitCount }
            i &+= 16
        }
        while i < to, base[i] != c { i &+= 1 }
        return i
    }
}
