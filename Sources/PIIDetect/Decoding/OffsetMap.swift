// MARK: - Offset map of one decoding pass

/// Maps byte positions of a pass's output back to byte positions of its input.
///
/// The output is described as segments: a *copy* segment maps byte for byte; a *token*
/// segment (an escape, an entity, a folded character) maps every output byte to the whole
/// input token, so a finding that starts or ends inside a decoded token covers the token.
/// Input bytes that produced no output (dropped invisibles) belong to no segment: they end
/// up inside a mapped range only when they sit between its first and last byte.
struct OffsetMap: Sendable {
    struct Segment: Sendable {
        var out: Int
        var input: Int
        var outLen: Int32
        var inLen: Int32
        var isCopy: Bool
    }

    private(set) var segments: [Segment] = []

    init() {}

    /// An empty map for a pass over `inputLength` bytes, with room for the segments of a
    /// body with a handful of decoded tokens (growing one append at a time reallocates
    /// several times).
    init(inputLength: Int) {
        reset(inputLength: inputLength)
    }

    /// Empties the map for a pass over `inputLength` bytes, keeping its storage.
    mutating func reset(inputLength: Int) {
        if !segments.isEmpty { segments.removeAll(keepingCapacity: true) }
        segments.reserveCapacity(min(64, inputLength / 4 + 4))
    }

    /// Records `len` bytes copied from `input`; merges with the previous copy when adjacent.
    @inline(__always)
    mutating func copy(out: Int, input: Int, len: Int) {
        guard len > 0 else { return }
        if let last = segments.last, last.isCopy,
           last.out + Int(last.outLen) == out, last.input + Int(last.inLen) == input,
           Int(last.outLen) + len < Int(Int32.max) {
            segments[segments.count - 1].outLen += Int32(len)
            segments[segments.count - 1].inLen += Int32(len)
            return
        }
        segments.append(Segment(out: out, input: input, outLen: Int32(len), inLen: Int32(len), isCopy: true))
    }

    /// Records `outLen` output bytes decoded from the input token `input ..< input+inLen`.
    @inline(__always)
    mutating func token(out: Int, input: Int, inLen: Int, outLen: Int) {
        guard outLen > 0 else { return }
        segments.append(Segment(out: out, input: input, outLen: Int32(outLen), inLen: Int32(inLen), isCopy: false))
    }

    /// Removes the last output byte (used when a following token swallows preceding spaces).
    /// Returns the input position where that byte came from.
    mutating func dropLastOutputByte() -> Int? {
        guard var last = segments.popLast() else { return nil }
        if last.isCopy {
            let inputPos = last.input + Int(last.inLen) - 1
            last.outLen -= 1
            last.inLen -= 1
            if last.outLen > 0 { segments.append(last) }
            return inputPos
        }
        // A token: dropping one of its bytes drops the whole token's claim to its output
        // only when it was a single byte (the only case: a decoded space).
        if last.outLen > 1 {
            last.outLen -= 1
            segments.append(last)
            return last.input
        }
        return last.input
    }

    /// Index of the segment containing output position `pos`.
    @inline(__always)
    private func segmentIndex(_ pos: Int) -> Int? {
        var lo = 0, hi = segments.count - 1
        guard hi >= 0 else { return nil }
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if segments[mid].out <= pos { lo = mid } else { hi = mid - 1 }
        }
        let s = segments[lo]
        return pos >= s.out && pos < s.out + Int(s.outLen) ? lo : nil
    }

    /// Maps a non-empty output range to the input range it came from.
    func inputRange(_ r: Range<Int>) -> Range<Int> {
        guard !r.isEmpty, let a = segmentIndex(r.lowerBound), let b = segmentIndex(r.upperBound - 1) else {
            return r
        }
        let sa = segments[a], sb = segments[b]
        let start = sa.isCopy ? sa.input + (r.lowerBound - sa.out) : sa.input
        let end = sb.isCopy ? sb.input + (r.upperBound - 1 - sb.out) + 1 : sb.input + Int(sb.inLen)
        return start..<max(end, start)
    }
}
