// MARK: - Content kind

/// What a body is, read from its `Content-Type` and `Content-Encoding`: whether it is text
/// the stages may rewrite, whether it is a stream whose events must flow as they arrive, and
/// how it is compressed.
struct ContentKind: Sendable, Equatable {
    /// How events are delimited in a streaming body.
    enum Streaming: Sendable, Equatable {
        /// Not a stream of events: one document.
        case none
        /// `text/event-stream`: events end with a blank line.
        case events
        /// NDJSON / JSON Lines: one record a line.
        case lines
    }

    /// `Content-Encoding` of the body.
    enum Coding: Sendable, Equatable {
        case identity
        case gzip
        case deflate
        /// An encoding the proxy cannot decode (br, zstd, compress, or a chain of several).
        case unsupported(String)
    }

    /// The media type, lower-cased, without parameters (`text/html`); nil when absent.
    var mediaType: String?
    var streaming: Streaming
    var coding: Coding

    init(contentType: String?, contentEncoding: [String]) {
        let media = contentType.flatMap { HeaderList.tokens($0).first }
        self.mediaType = media
        switch media {
        case "text/event-stream": streaming = .events
        case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines",
             "application/stream+json":
            streaming = .lines
        default: streaming = .none
        }
        let codings = contentEncoding.flatMap(HeaderList.tokens).filter { $0 != "identity" }
        switch codings.count {
        case 0: coding = .identity
        case 1:
            switch codings[0] {
            case "gzip", "x-gzip": coding = .gzip
            case "deflate": coding = .deflate
            default: coding = .unsupported(codings[0])
            }
        default: coding = .unsupported(codings.joined(separator: ", "))
        }
    }

    /// Text that rewriting stages may change without corrupting it. A body without a type
    /// is treated as text: servers that omit it send text far more often than binary data.
    var isTextual: Bool {
        guard let media = mediaType else { return true }
        if media.hasPrefix("text/") { return true }
        if media.hasSuffix("+json") || media.hasSuffix("+xml") { return true }
        if streaming != .none { return true }
        switch media {
        case "application/json", "application/xml", "application/javascript", "application/ecmascript",
             "application/x-javascript", "application/x-www-form-urlencoded", "application/graphql",
             "application/x-yaml", "application/yaml", "application/xhtml+xml", "application/rss+xml",
             "application/atom+xml", "application/ld+json", "multipart/form-data", "multipart/mixed",
             "multipart/related", "multipart/alternative":
            return true
        default:
            return false
        }
    }

    /// `application/x-www-form-urlencoded`: tokens written into it are percent-encoded.
    var isForm: Bool { mediaType == "application/x-www-form-urlencoded" }

    /// JSON documents and JSON records: restored values are JSON-escaped.
    var isJSON: Bool {
        guard let media = mediaType else { return false }
        return media == "application/json" || media.hasSuffix("+json") || streaming == .lines
    }

    /// The stream framing the windowed stages commit on.
    var framing: WindowFraming {
        switch streaming {
        case .none: return .bytes
        case .events: return .events
        case .lines: return .lines
        }
    }
}
