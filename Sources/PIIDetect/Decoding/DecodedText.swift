// MARK: - Decoded view of a body

/// The bytes the detectors match on, and the way back to the raw body.
///
/// Built by ``TextDecoder``: JSON string escapes, percent/form encoding, HTML entities,
/// Unicode digit and fullwidth folding, invisible characters and `[at]`/`[dot]`/`[.]`
/// obfuscation are undone; every decoded byte remembers the raw bytes it came from.
public struct DecodedText: Sendable {
    /// The decoded bytes (UTF-8; invalid sequences from the raw body are kept as they are).
    public let bytes: [UInt8]
    /// Decoding passes that changed something, first pass first.
    let layers: [OffsetMap]

    init(bytes: [UInt8], layers: [OffsetMap]) {
        self.bytes = bytes
        self.layers = layers
    }

    /// Whether the decoded bytes are the raw bytes (nothing needed decoding).
    public var isIdentity: Bool { layers.isEmpty }

    /// Maps a range of ``bytes`` to the raw body's byte range it was decoded from.
    public func rawRange(_ r: Range<Int>) -> Range<Int> {
        var range = r
        for layer in layers.reversed() { range = layer.inputRange(range) }
        return range
    }
}
