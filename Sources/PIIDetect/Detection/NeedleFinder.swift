// MARK: - Literal finder

/// Which of a fixed set of literals (the secret patterns' prefixes: `AKIA`, `ghp_`,
/// `sk-`, `-----BEGIN `…) occur in a body. A secret pattern runs only when one of its
/// literals occurs, so most bodies run none.
///
/// Found inside the start pass (``Detector/findStarts(_:into:)``): SIMD compares mark
/// the positions where a literal's first two bytes occur, and only those are compared
/// in full, so the answer is exact.
struct NeedleFinder: @unchecked Sendable {
    typealias Vector = SIMD16<UInt8>

    /// The literals (at least two bytes each, at most 32); bit `k` of a result is `needles[k]`.
    let needles: [[UInt8]]
    /// The distinct leading byte pairs, as splatted vectors (first byte, second byte).
    private let first: ContiguousArray<Vector>
    private let second: ContiguousArray<Vector>
    /// For each byte, the literals starting with it.
    private let byFirstByte: ContiguousArray<UInt32>

    init(_ literals: [[UInt8]]) {
        var unique: [[UInt8]] = []
        for l in literals where !unique.contains(l) { unique.append(l) }
        precondition(unique.count <= 32 && unique.allSatisfy { $0.count >= 2 }, "NeedleFinder: at most 32 literals of two bytes or more")
        needles = unique
        var pairs: [(UInt8, UInt8)] = []
        var table = ContiguousArray<UInt32>(repeating: 0, count: 256)
        for (k, l) in unique.enumerated() {
            if !pairs.contains(where: { $0 == (l[0], l[1]) }) { pairs.append((l[0], l[1])) }
            table[Int(l[0])] |= 1 << UInt32(k)
        }
        first = ContiguousArray(pairs.map { Vector(repeating: $0.0) })
        second = ContiguousArray(pairs.map { Vector(repeating: $0.1) })
        byFirstByte = table
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

    /// Calls `body` with the leading pairs (first bytes, second bytes, count; at least one
    /// pair when there are literals).
    @inline(__always)
    func pairs(_ body: (UnsafePointer<Vector>, UnsafePointer<Vector>, Int) -> Void) {
        guard !first.isEmpty else {
            // No literals: one placeholder pair; `match` finds nothing at its hits.
            let placeholder = [Vector(repeating: 0)]
            placeholder.withUnsafeBufferPointer { body($0.baseAddress!, $0.baseAddress!, 1) }
            return
        }
        first.withUnsafeBufferPointer { f in
            second.withUnsafeBufferPointer { s in body(f.baseAddress!, s.baseAddress!, f.count) }
        }
    }
}
