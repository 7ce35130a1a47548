import Foundation

/// A compiled, immutable set of byte patterns, searched leftmost-longest and non-overlapping.
///
/// This is the shared engine under `StreamingReplacer`, `ResponseMasker` and
/// `PlaceholderSubstituter`. It is built once per policy (or per masker) and shared by every
/// stream, so a stream costs only its carry and its counters.
///
/// The search is Wu-Manber with two-byte blocks: a window of `minLength` bytes slides along the
/// data and the last block of the window looks up how far the window may jump without skipping
/// the start of any pattern. Only when that shift is 0 are candidate patterns compared. With
/// patterns of 8 bytes or more (the rule for secret forms) text without matches is crossed
/// several bytes a step, with no allocation; a longer shortest pattern means longer steps.
final class SecretPatternSet: Sendable {
    /// The outcome of `scan`.
    struct ScanResult {
        /// Matches found, in order: start offset in the scanned buffer and pattern index.
        var matches: [(start: Int, pattern: Int)] = []
        /// The first position not decided. With `needMore` false every start position before
        /// `limit` has been decided and `resume` (>= limit, or the buffer's end) is where the
        /// next scan continues; with `needMore` true the bytes from `resume` on may begin a
        /// pattern that continues in data not seen yet, and must be carried.
        var resume: Int = 0
        var needMore: Bool = false
    }

    // MARK: Patterns

    /// Pattern bytes, all patterns one after another (compared with `memcmp`).
    private let bytes: [UInt8]
    /// Start of each pattern in `bytes`.
    private let offsets: [Int]
    /// Length of each pattern; 0 for an empty pattern, which never matches.
    let lengths: [Int]
    /// The number of patterns, empty ones included (indices stay the caller's).
    let count: Int
    /// Shortest and longest non-empty pattern; 0 when there is none.
    let minLength: Int
    let maxLength: Int

    // MARK: Tables

    /// Block size: 2, or 1 when the shortest pattern has one byte.
    private let blockSize: Int
    /// Shift for each block: 4,096 entries (hashed two-byte blocks) or 256 (one-byte blocks).
    private let shifts: [UInt8]
    /// Candidates by first byte: `firstItems[firstStarts[b] ..< firstStarts[b + 1]]`, longest
    /// pattern first, so the first full match met is the longest one.
    private let firstStarts: [Int32]
    private let firstItems: [Int32]

    /// Compiles `patterns`. Empty patterns are kept (so indices stay the caller's) but never match.
    init(_ patterns: [[UInt8]]) {
        var bytes: [UInt8] = []
        var offsets: [Int] = []
        var lengths: [Int] = []
        for pattern in patterns {
            offsets.append(bytes.count)
            lengths.append(pattern.count)
            bytes.append(contentsOf: pattern)
        }
        let nonEmpty = lengths.filter { $0 > 0 }
        let minLength = nonEmpty.min() ?? 0
        let maxLength = nonEmpty.max() ?? 0
        let blockSize = minLength >= 2 ? 2 : 1

        // Shift table: for every block inside the first `minLength` bytes of a pattern, ending at
        // q (blockSize...minLength), a window whose last block is that one may move by at most
        // minLength - q. Blocks that occur nowhere allow the full window jump.
        let tableSize = blockSize == 2 ? Self.pairTableSize : 256
        let defaultShift = max(1, min(255, minLength - blockSize + 1))
        var shifts = [UInt8](repeating: UInt8(defaultShift), count: tableSize)
        for pattern in patterns where !pattern.isEmpty {
            for end in blockSize...minLength {
                let block = blockSize == 2
                    ? Self.pairHash(pattern[end - 2], pattern[end - 1])
                    : Int(pattern[end - 1])
                let shift = min(255, minLength - end)
                if shift < Int(shifts[block]) { shifts[block] = UInt8(shift) }
            }
        }

        // First-byte buckets, longest first; equal lengths keep the caller's order so the
        // earlier of two identical patterns wins.
        let order = patterns.indices
            .filter { !patterns[$0].isEmpty }
            .sorted { lengths[$0] != lengths[$1] ? lengths[$0] > lengths[$1] : $0 < $1 }
        var buckets = [[Int32]](repeating: [], count: 256)
        for index in order { buckets[Int(patterns[index][0])].append(Int32(index)) }
        var firstStarts: [Int32] = [0]
        var firstItems: [Int32] = []
        for bucket in buckets {
            firstItems.append(contentsOf: bucket)
            firstStarts.append(Int32(firstItems.count))
        }

        self.bytes = bytes
        self.offsets = offsets
        self.lengths = lengths
        self.count = patterns.count
        self.minLength = minLength
        self.maxLength = maxLength
        self.blockSize = blockSize
        self.shifts = shifts
        self.firstStarts = firstStarts
        self.firstItems = firstItems
    }

    /// Two-byte blocks are hashed into a 4 KiB table: the scan loop is bound by the latency of
    /// this lookup, and a table that stays in L1 cache is several times faster than a 64 KiB
    /// one. Collisions only make a shift smaller (the minimum of the blocks sharing a slot), so
    /// they cost speed, never a match.
    private static let pairTableSize = 4096

    @inline(__always)
    private static func pairHash(_ first: UInt8, _ second: UInt8) -> Int {
        (Int(first) << 4 ^ Int(second)) & (pairTableSize - 1)
    }

    /// True when no pattern can ever match.
    var isEmpty: Bool { maxLength == 0 }

    // MARK: Scanning

    /// Finds the matches that start at positions `from ..< limit` of `data`.
    ///
    /// - Parameters:
    ///   - final: no byte follows `data`; a pattern cut by the end of `data` is a mismatch.
    ///     Otherwise the scan stops at the first position where a pattern may still match once
    ///     more data comes (`needMore`), so that position and everything after it are carried.
    func scan(_ data: UnsafeRawBufferPointer, from start: Int, limit: Int, final: Bool) -> ScanResult {
        var result = ScanResult()
        let n = data.count
        guard maxLength > 0, start < limit, start < n, let base = data.baseAddress else {
            result.resume = max(start, min(limit, n))
            return result
        }
        let input = base.assumingMemoryBound(to: UInt8.self)
        let m = minLength
        return shifts.withUnsafeBufferPointer { shiftTable in
            guard let shift = shiftTable.baseAddress else { return result }
            var i = start

            // Whole windows: the fast path.
            if blockSize == 2 {
                while i < limit && i + m <= n {
                    let block = Self.pairHash(input[i + m - 2], input[i + m - 1])
                    let step = Int(shift[block])
                    if step != 0 { i += step; continue }
                    switch verify(input, at: i, count: n, final: final) {
                    case .match(let pattern):
                        result.matches.append((i, pattern))
                        i += lengths[pattern]
                    case .none:
                        i += 1
                    case .needMore:
                        result.resume = i
                        result.needMore = true
                        return result
                    }
                }
            } else {
                while i < limit && i + m <= n {
                    let step = Int(shift[Int(input[i + m - 1])])
                    if step != 0 { i += step; continue }
                    switch verify(input, at: i, count: n, final: final) {
                    case .match(let pattern):
                        result.matches.append((i, pattern))
                        i += lengths[pattern]
                    case .none:
                        i += 1
                    case .needMore:
                        result.resume = i
                        result.needMore = true
                        return result
                    }
                }
            }

            // The last bytes, too few for a window: no pattern fits whole, but one may begin
            // here and continue in the next chunk.
            while i < limit && i < n {
                if !final, case .needMore = verify(input, at: i, count: n, final: false) {
                    result.resume = i
                    result.needMore = true
                    return result
                }
                i += 1
            }
            result.resume = i
            return result
        }
    }

    private enum Verdict {
        case match(Int)
        case none
        case needMore
    }

    /// Compares the patterns beginning with `input[i]`, longest first. A longer pattern that is
    /// cut by the end of the data wins over a shorter full match (leftmost-longest), so the
    /// decision waits for more data.
    @inline(__always)
    private func verify(_ input: UnsafePointer<UInt8>, at i: Int, count n: Int, final: Bool) -> Verdict {
        let first = Int(input[i])
        let lower = Int(firstStarts[first])
        let upper = Int(firstStarts[first + 1])
        if lower == upper { return .none }
        let available = n - i
        return bytes.withUnsafeBufferPointer { patternBytes in
            guard let patternBase = patternBytes.baseAddress else { return .none }
            for k in lower..<upper {
                let pattern = Int(firstItems[k])
                let length = lengths[pattern]
                let candidate = patternBase + offsets[pattern]
                if length <= available {
                    if memcmp(input + i, candidate, length) == 0 { return .match(pattern) }
                } else if !final {
                    if memcmp(input + i, candidate, available) == 0 { return .needMore }
                }
            }
            return .none
        }
    }
}
