// MARK: - Literal finder

/// Which of a fixed set of literals (the secret patterns' prefixes: `AKIA`, `ghp_`,
/// `sk-`, `-----BEGIN `…) occur in a body. A secret pattern runs only when one of its
/// literals occurs, so most bodies run none.
///
/// Found inside the start pass (``Detector/findStarts(_:into:)``): SIMD compares mark
/// the positions where a literal may start (``lanes(_:_:)``), and only those are
/// compared in full, so the answer is exact.
final class NeedleFinder: @unchecked Sendable {
    typealias Vector = SIMD16<UInt8>

    /// The literals (at least two bytes each, at most 32); bit `k` of a result is `needles[k]`.
    let needles: [[UInt8]]
    /// For each byte, the literals starting with it (256 entries).
    private let byFirstByte: UnsafeMutablePointer<UInt32>
    /// The literals' bytes one after another, literal `k` at `offsets[k] ..< offsets[k+1]`.
    private let bytes: UnsafeMutablePointer<UInt8>
    private let offsets: UnsafeMutablePointer<Int>

    init(_ literals: [[UInt8]]) {
        var unique: [[UInt8]] = []
        for l in literals where !unique.contains(l) { unique.append(l) }
        precondition(unique.count <= 32 && unique.allSatisfy { $0.count >= 2 }, "NeedleFinder: at most 32 literals of two bytes or more")
        precondition(unique.allSatisfy(NeedleFinder.lanesCover), "NeedleFinder.lanes must mark every literal's start")
        needles = unique
        // Immutable after init (raw storage keeps the per-lane check free of array checks).
        byFirstByte = .allocate(capacity: 256)
        byFirstByte.initialize(repeating: 0, count: 256)
        offsets = .allocate(capacity: unique.count + 1)
        bytes = .allocate(capacity: max(1, unique.reduce(0) { $0 + $1.count }))
        var at = 0
        for (k, l) in unique.enumerated() {
            byFirstByte[Int(l[0])] |= 1 << UInt32(k)
            offsets[k] = at
            for b in l { bytes[at] = b; at += 1 }
        }
        offsets[unique.count] = at
    }

    deinit {
        byFirstByte.deallocate()
        bytes.deallocate()
        offsets.deallocate()
    }

    /// Lanes where one of the secret patterns' literals may start, by the literals'
    /// first two bytes. Written out (constants, no loop) because this runs on every 16
    /// bytes of every body; a test checks it covers every literal of
    /// ``SecretPatterns/specs``, and ``match(_:_:_:)`` confirms each lane. (Single bytes
    /// would be fewer compares, but `A`, `E`, `x` and `_` start one word in thirty in
    /// request bodies, and every false lane costs a call.)
    @inline(__always)
    static func lanes(_ v: Vector, _ next: Vector) -> Vector {
        @inline(__always) func eq(_ a: Vector, _ b: UInt8) -> Vector { Lanes.eq(a, Vector(repeating: b)) }
        let e = eq(v, 0x65), g = eq(v, 0x67), s = eq(v, 0x73), h = eq(v, 0x68), w = eq(v, 0x77), dash = eq(v, 0x2D)
        let upperA = eq(v, 0x41), upperE = eq(v, 0x45), x = eq(v, 0x78), low = eq(v, 0x5F)
        let aws: Vector = (upperA & (eq(next, 0x4B) | eq(next, 0x53))) | (upperE & eq(next, 0x43))   // AK AS EC
        let slackStripe: Vector = (x & (eq(next, 0x6F) | eq(next, 0x61))) | (low & (eq(next, 0x6C) | eq(next, 0x74)))  // xo xa _l _t
        let lower1: Vector = (e & (eq(next, 0x63) | eq(next, 0x79))) | (g & (eq(next, 0x68) | eq(next, 0x69)))  // ec ey gh gi
        let lower2: Vector = (s & eq(next, 0x6B)) | (h & eq(next, 0x6F)) | (w & eq(next, 0x68))   // sk ho wh
        let pairs: Vector = aws | slackStripe | lower1 | lower2 | (dash & eq(next, 0x2D))          // --
        return pairs
    }

    /// Whether ``lanes(_:_:)`` marks every position where `literal` starts.
    static func lanesCover(_ literal: [UInt8]) -> Bool {
        guard literal.count >= 2 else { return false }
        var v = [UInt8](repeating: 0, count: 16), next = [UInt8](repeating: 0, count: 16)
        v[0] = literal[0]
        next[0] = literal[1]
        let m = lanes(v.withUnsafeBytes { $0.loadUnaligned(as: Vector.self) }, next.withUnsafeBytes { $0.loadUnaligned(as: Vector.self) })
        return Lanes.bits(m) & 1 != 0
    }

    /// The bits of `literals` (each must be one of ``needles``).
    func bits(for literals: [[UInt8]]) -> UInt32 {
        literals.reduce(0) { acc, l in acc | (needles.firstIndex(of: l).map { 1 << UInt32($0) } ?? 0) }
    }

    /// The literals that occur at position `i`.
    @inline(__always)
    func match(_ base: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> UInt32 {
        var candidates = byFirstByte[Int(base[i])]
        var found: UInt32 = 0
        while candidates != 0 {
            let k = candidates.trailingZeroBitCount
            candidates &= candidates &- 1
            let start = offsets[k], length = offsets[k &+ 1] &- start
            guard i &+ length <= n else { continue }
            var j = 1
            while j < length, base[i &+ j] == bytes[start &+ j] { j &+= 1 }
            if j == length { found |= 1 << UInt32(k) }
        }
        return found
    }
}
