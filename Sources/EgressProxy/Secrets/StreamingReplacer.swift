import NIOCore

/// Multi-pattern find and replace over a byte stream that arrives in arbitrary chunks.
///
/// A pattern split across two (or more) chunks is still replaced: the replacer holds back the
/// bytes at the end of a chunk that may begin a pattern (the carry, never more than the longest
/// pattern's length − 1) and decides them when the next chunk arrives, or in `finish()`.
///
/// Semantics are leftmost-longest and non-overlapping, as a single pass over the whole stream
/// would give: at the leftmost position where some pattern matches, the longest pattern matching
/// there is replaced, and scanning resumes after it. Replacements are not scanned again.
///
/// Its description never shows patterns, replacements or carried bytes: they are secrets.
public struct StreamingReplacer: Sendable {
    // MARK: State

    private let patternSet: SecretPatternSet
    private let replacements: [[UInt8]]
    private let labels: [String]?
    /// Bytes held back from the previous chunk: they may begin a pattern.
    private var carry: [UInt8] = []

    /// Matches so far, by pattern index (the order given to the initialiser).
    public private(set) var matchCounts: [Int]

    // MARK: Creating

    /// Creates a replacer for `patterns`; `labels` (one a pattern, e.g. the secret's name) lets
    /// `matchedLabels` report what was replaced. Empty patterns never match.
    public init(patterns: [(pattern: [UInt8], replacement: [UInt8])], labels: [String]? = nil) {
        precondition(labels == nil || labels?.count == patterns.count, "one label a pattern")
        self.init(
            patternSet: SecretPatternSet(patterns.map(\.pattern)),
            replacements: patterns.map(\.replacement),
            labels: labels
        )
    }

    /// Shares an already compiled pattern set (so making a stream per message is cheap).
    init(patternSet: SecretPatternSet, replacements: [[UInt8]], labels: [String]?) {
        self.patternSet = patternSet
        self.replacements = replacements
        self.labels = labels
        self.matchCounts = [Int](repeating: 0, count: patternSet.count)
    }

    // MARK: Inspecting

    /// The number of bytes held back, waiting for the next chunk.
    public var carriedByteCount: Int { carry.count }

    /// The most bytes the replacer ever holds back: the longest pattern's length − 1.
    public var maximumCarry: Int { max(0, patternSet.maxLength - 1) }

    /// The total number of replacements so far.
    public var totalMatches: Int { matchCounts.reduce(0, +) }

    /// The distinct labels of the patterns replaced so far, in pattern order.
    public var matchedLabels: [String] {
        guard let labels else { return [] }
        var seen = Set<String>()
        var result: [String] = []
        for (index, count) in matchCounts.enumerated() where count > 0 {
            if seen.insert(labels[index]).inserted { result.append(labels[index]) }
        }
        return result
    }

    // MARK: Streaming

    /// Feeds the next chunk and returns the bytes that are safe to emit now.
    ///
    /// When nothing matches and nothing is carried, the result is a slice of `chunk` (no copy).
    public mutating func feed(_ chunk: ByteBuffer) -> ByteBuffer {
        if patternSet.isEmpty { return chunk }
        var output: ByteBuffer? = nil
        var chunkStart = 0

        // The junction: the carry plus just enough of the chunk to decide every position of
        // the carry (the longest pattern starting at its last byte).
        if !carry.isEmpty {
            let carried = carry.count
            let taken = min(chunk.readableBytes, patternSet.maxLength)
            var junction = carry
            junction.append(contentsOf: chunk.readableBytesView.prefix(taken))
            let result = junction.withUnsafeBytes {
                patternSet.scan($0, from: 0, limit: carried, final: false)
            }
            var out = ByteBuffer()
            junction.withUnsafeBytes { emit($0, from: 0, to: result.resume, matches: result.matches, into: &out) }
            if result.needMore {
                // Only possible when the whole chunk fitted into the junction: a longer chunk
                // decides every carried position. Keep any rest anyway rather than lose bytes.
                carry = Array(junction[result.resume...])
                if taken < chunk.readableBytes { carry += chunk.readableBytesView.dropFirst(taken) }
                return out
            }
            carry = []
            chunkStart = result.resume - carried
            output = out
        }

        // The chunk itself, scanned in place.
        let length = chunk.readableBytes
        let result = chunk.withUnsafeReadableBytes {
            patternSet.scan($0, from: chunkStart, limit: length, final: false)
        }
        let view = chunk.readableBytesView
        carry = Array(view[(view.startIndex + result.resume)...])
        if output == nil && result.matches.isEmpty {
            return chunk.getSlice(at: chunk.readerIndex + chunkStart, length: result.resume - chunkStart)
                ?? ByteBuffer()
        }
        var out = output ?? ByteBuffer()
        chunk.withUnsafeReadableBytes {
            emit($0, from: chunkStart, to: result.resume, matches: result.matches, into: &out)
        }
        return out
    }

    /// Ends the stream: decides the carried bytes (a pattern cut by the end of the stream does
    /// not match) and returns them. The replacer can then start a new stream; counts are kept.
    public mutating func finish() -> ByteBuffer {
        guard !carry.isEmpty else { return ByteBuffer() }
        let pending = carry
        carry = []
        let result = pending.withUnsafeBytes {
            patternSet.scan($0, from: 0, limit: pending.count, final: true)
        }
        var out = ByteBuffer()
        pending.withUnsafeBytes { emit($0, from: 0, to: pending.count, matches: result.matches, into: &out) }
        return out
    }

    /// Replaces in one complete buffer: `feed` then `finish`.
    public mutating func replaceAll(in buffer: ByteBuffer) -> ByteBuffer {
        var head = feed(buffer)
        var tail = finish()
        if tail.readableBytes == 0 { return head }
        head.writeBuffer(&tail)
        return head
    }

    // MARK: Output

    /// Writes `data[start ..< end]` into `out` with every match replaced, and counts the matches.
    private mutating func emit(
        _ data: UnsafeRawBufferPointer,
        from start: Int,
        to end: Int,
        matches: [(start: Int, pattern: Int)],
        into out: inout ByteBuffer
    ) {
        var growth = 0
        for match in matches {
            growth += replacements[match.pattern].count - patternSet.lengths[match.pattern]
        }
        out.reserveCapacity(minimumWritableBytes: max(0, end - start + growth))
        var literalStart = start
        for match in matches {
            if match.start > literalStart {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: data[literalStart..<match.start]))
            }
            out.writeBytes(replacements[match.pattern])
            matchCounts[match.pattern] += 1
            literalStart = match.start + patternSet.lengths[match.pattern]
        }
        if end > literalStart {
            out.writeBytes(UnsafeRawBufferPointer(rebasing: data[literalStart..<end]))
        }
    }
}

// MARK: - Redacted descriptions

extension StreamingReplacer: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Counts only: patterns, replacements and carried bytes are secret.
    public var description: String {
        "StreamingReplacer(<redacted>, patterns: \(patternSet.count), matches: \(totalMatches), carried: \(carry.count))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
