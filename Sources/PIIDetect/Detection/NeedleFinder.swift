// MARK: - Literal finder

/// Which of a fixed set of literals (the secret patterns' prefixes: `AKIA`, `ghp_`,
/// `sk-`, `-----BEGIN `…) occur in a body. A secret pattern runs only when one of its
/// literals occurs, so most bodies run none.
///
/// Found inside the start pass (``Detector/findStarts(_:into:)``): SIMD compares mark
/// the positions where a literal may start (``lanes(_:_:)``), and only those are
/// compared in full, so the answer is exact.
struct NeedleFinder: @unchecked Sendable {
    typealias Vector = SIMD16<UInt8>

    /// The literals (at least two bytes each, at most 32); bit `k` of a result is `needles[k]`.
    let needles: [[UInt8]]
    /// For each byte, the literals starting with it.
    private let byFirstByte: ContiguousArray<UInt32>

    init(_ literals: [[UInt8]]) {
        var unique: [[UInt8]] = []
        for l in literals where !unique.contains(l) { unique.append(l) }
        precondition(unique.count <= 32 && unique.allSatisfy { $0.count >= 2 }, "NeedleFinder: at most 32 literals of two bytes or more")
        precondition(unique.allSatisfy(NeedleFinder.lanesCover), "NeedleFinder.lanes must mark every literal's start")
        needles = unique
        var table = ContiguousArray<UInt32>(repeating: 0, count: 256)
        for (k, l) in unique.enumerated() {
            table[Int(l[0])] |= 1 << UInt32(k)
        }
        byFirstByte = table
    }

    /// Lanes where one of the secret patterns' literals may start: the literals that
    /// begin with a byte rarely seen in text (`A`, `E`, `x`, `_`) by that byte alone, the
    /// others by their first two bytes. Written out (constants, no loop) because this runs
    /// on every 16 bytes of every body; a test checks it covers every literal of
    /// ``SecretPatterns/specs``, and ``match(_:_:_:)`` confirms each lane.
    @inline(__always)
    static func lanes(_ v: Vector, _ next: Vector) -> Vector {
        @inline(__always) func eq(_ a: Vector, _ b: UInt8) -> Vector { Lanes.eq(a, Vector(repeating: b)) }
        let singles = eq(v, 0x41) | eq(v, 0x45) | eq(v, 0x78) | eq(v, 0x5F)            // A E x _
        let e = eq(v, 0x65), g = eq(v, 0x67), s = eq(v, 0x73), h = eq(v, 0x68), w = eq(v, 0x77), dash = eq(v, 0x2D)
        let pairs = (e & (eq(next, 0x63) | eq(next, 0x79)))                             // ec ey
            | (g & (eq(next, 0x68) | eq(next, 0x69)))                                   // gh gi
            | (s & eq(next, 0x6B)) | (h & eq(next, 0x6F)) | (w & eq(next, 0x68))        // sk ho wh
            | (dash & eq(next, 0x2D))                                                   // --
        return singles | pairs
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
        var candidates = byFirstByte.withUnsafeBufferPointer { $0[Int(base[i])] }
        guard candidates != 0 else { return 0 }
        var found: UInt32 = 0
        while candidates != 0 {
            let k = candidates.trailingZeroBitCount
            candidates &= candidates &- 1
            let l = needles[k]
            guard i + l.count <= n else { continue }
            var j = 1
            while j < l.count, base[i + j] == l[j] { j &+= 1 }
            if j == l.count { found |= 1 << UInt32(k) }
        }
        return found
    }
}
