import NIOCore

/// Finds placeholders in a byte stream fed in chunks, without changing it: a placeholder split
/// across chunks is still found. Made by `PlaceholderSubstituter.makeRefusalDetector()` for the
/// placeholders of secrets that the request's host may not receive.
public struct PlaceholderDetector: Sendable {
    /// A replacer whose replacements equal its patterns: its output is discarded, its
    /// counters and carry do the work (the carry keeps a placeholder cut by a chunk boundary).
    private var replacer: StreamingReplacer

    init(replacer: StreamingReplacer) {
        self.replacer = replacer
    }

    /// The names of the secrets whose placeholders were found so far, in the order given.
    public var found: [String] { replacer.matchedLabels }

    /// Scans the next chunk.
    public mutating func feed(_ chunk: ByteBuffer) {
        _ = replacer.feed(chunk)
    }

    /// Ends the stream (decides the bytes held back at the end).
    public mutating func finish() {
        _ = replacer.finish()
    }
}

// MARK: - Redacted descriptions

extension PlaceholderDetector: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "PlaceholderDetector(<redacted>, found: [\(found.joined(separator: ", "))])" }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: ["found": found], displayStyle: .struct) }
}
