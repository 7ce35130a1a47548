// MARK: - PathGlob

/// A compiled path pattern: segments separated by `/`; `*` matches any run of characters
/// within one segment, a `**` segment matches zero or more whole segments.
///
/// `/repos/**` matches `/repos`, `/repos/a` and `/repos/a/b`; `/repos/*/issues` matches
/// `/repos/x/issues` only.
public struct PathGlob: Sendable, Equatable, CustomStringConvertible {
    /// The pattern as written.
    public let pattern: String
    private let segments: [Segment]

    private enum Segment: Sendable, Equatable {
        /// `**`: any number of segments.
        case anySegments
        /// Literal pieces separated by `*` wildcards (a single piece when there is no `*`).
        case glob([[UInt8]])
    }

    /// Why a pattern was refused.
    public struct PatternError: Error, Sendable, Equatable {
        public let message: String
    }

    /// Compiles a pattern; it must start with `/`, and `**` must be a whole segment.
    public init(_ pattern: String) throws(PatternError) {
        guard pattern.hasPrefix("/") else {
            throw PatternError(message: "bad path glob '\(pattern)': must start with '/'")
        }
        guard !pattern.contains("?"), !pattern.contains("#") else {
            throw PatternError(message: "bad path glob '\(pattern)': the path is matched without query or fragment; remove '?' and '#'")
        }
        guard pattern.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
            throw PatternError(message: "bad path glob '\(pattern)': only visible ASCII characters are allowed (percent-encode others)")
        }
        var segments: [Segment] = []
        for raw in pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if raw == "**" {
                // Consecutive "**" mean the same as one.
                if segments.last != .anySegments { segments.append(.anySegments) }
            } else if raw.contains("**") {
                throw PatternError(message: "bad path glob '\(pattern)': '**' must be a whole path segment")
            } else {
                segments.append(.glob(raw.utf8.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: false).map { Array($0) }))
            }
        }
        self.pattern = pattern
        self.segments = segments
    }

    public var description: String { pattern }

    /// Whether `path` (already normalised, see `RequestPath.normalize`) matches.
    public func matches(_ path: String) -> Bool {
        guard path.hasPrefix("/") else { return false }
        // Bytes, not Characters: grapheme clustering must not change what a segment is.
        let bytes = Array(path.utf8)
        let parts = bytes.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        return Self.match(segments[...], parts[...])
    }

    /// Segment matcher with backtracking over `**`; memoised so that many `**` stay linear-ish.
    private static func match(_ pattern: ArraySlice<Segment>, _ parts: ArraySlice<ArraySlice<UInt8>>) -> Bool {
        var memo: [Int: Bool] = [:]
        let patternBase = pattern.startIndex
        let partsBase = parts.startIndex
        let partsCount = parts.count
        func go(_ p: Int, _ s: Int) -> Bool {
            let key = p * (partsCount + 1) + s
            if let known = memo[key] { return known }
            let result: Bool
            if p == pattern.count {
                result = s == partsCount
            } else {
                switch pattern[patternBase + p] {
                case .anySegments:
                    // Zero segments, or swallow one and stay on "**".
                    result = go(p + 1, s) || (s < partsCount && go(p, s + 1))
                case .glob(let pieces):
                    result = s < partsCount && matchSegment(pieces, parts[partsBase + s]) && go(p + 1, s + 1)
                }
            }
            memo[key] = result
            return result
        }
        return go(0, 0)
    }

    /// `*`-glob within one segment: pieces must appear in order, the first anchored at the
    /// start and the last at the end.
    private static func matchSegment(_ pieces: [[UInt8]], _ text: ArraySlice<UInt8>) -> Bool {
        if pieces.count == 1 { return pieces[0].elementsEqual(text) }
        guard let first = pieces.first, let last = pieces.last,
              text.count >= first.count + last.count,
              text.prefix(first.count).elementsEqual(first),
              text.suffix(last.count).elementsEqual(last) else { return false }
        var rest = text.dropFirst(first.count).dropLast(last.count)
        for piece in pieces.dropFirst().dropLast() where !piece.isEmpty {
            guard let start = firstIndex(of: piece, in: rest) else { return false }
            rest = rest[(start + piece.count)...]
        }
        return true
    }

    private static func firstIndex(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var index = haystack.startIndex
        while index + needle.count <= haystack.endIndex {
            if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

// MARK: - RequestPath

/// Normalisation of a request target's path before rules see it, so that `/%61dmin`,
/// `/x/../admin` and `//admin` cannot slip past a rule written for `/admin`.
public enum RequestPath {
    /// The path without query and fragment, with percent-encoded unreserved characters decoded
    /// (RFC 3986 6.2.2.2), dot segments removed (RFC 3986 5.2.4) and repeated slashes collapsed.
    /// An absolute-form target (`http://host/p`) is reduced to its path; an empty path is `/`.
    public static func normalize(_ target: String) -> String {
        var path = Substring(target)
        if let end = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<end] }
        if let scheme = path.range(of: "://"), !path[..<scheme.lowerBound].contains("/") {
            let afterAuthority = path[scheme.upperBound...]
            path = afterAuthority.firstIndex(of: "/").map { afterAuthority[$0...] } ?? "/"
        }
        if path.isEmpty || path == "*" { return "/" }
        let decoded = decodeUnreserved(path)
        var output: [Substring] = []
        let segments = decoded.split(separator: "/", omittingEmptySubsequences: true)
        for segment in segments {
            switch segment {
            case ".": continue
            case "..": if !output.isEmpty { output.removeLast() }
            default: output.append(segment)
            }
        }
        let trailingSlash = decoded.hasSuffix("/") && !output.isEmpty
        return "/" + output.joined(separator: "/") + (trailingSlash ? "/" : "")
    }

    private static func decodeUnreserved(_ text: Substring) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes = Array(text.utf8)
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                let value = high << 4 | low
                if isUnreserved(value) {
                    result.append(value)
                } else {
                    // Keep reserved escapes (e.g. %2F) encoded, upper-cased for one spelling.
                    result.append(contentsOf: [UInt8(ascii: "%"), upperHex(high), upperHex(low)])
                }
                index += 3
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        bytes = result
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    private static func upperHex(_ value: UInt8) -> UInt8 {
        value < 10 ? value + 0x30 : value - 10 + 0x41
    }
}
