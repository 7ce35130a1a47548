import PIIDetect
// MARK: - HAREntrySplitter

/// Cuts the `log.entries` array of a HAR file into one byte string per entry, fed chunk by
/// chunk, so a 100 MB capture is never held whole: memory is one chunk plus one entry.
///
/// A small tokenizer: it tracks strings and escapes, the container stack and, for the few
/// objects on the way (`log`, an entry, its `response.content`), which member a value belongs
/// to. Everything else is skipped byte by byte; each entry is then parsed on its own by
/// `JSONParser`, so its syntax errors name the entry.
///
/// Response bodies (`response.content.text`) are replaced by `""` while cutting unless
/// `keepResponseBodies`: a decision never depends on them, and they are most of a browser
/// HAR's bytes.
struct HAREntrySplitter {
    struct Options {
        var keepResponseBodies = false
        /// An entry larger than this (after dropping response bodies) is an error.
        var maximumEntryBytes = 64 * 1024 * 1024
    }

    /// How the input ended.
    enum End: Equatable {
        /// `]` closed the entries array.
        case complete
        /// The input stopped between entries (a capture cut short after `count` entries).
        case cutBetweenEntries(count: Int)
        /// The input stopped inside entry `index`, which is dropped.
        case cutInsideEntry(index: Int)
    }

    enum Failure: Error, Equatable {
        /// No `log.entries` array (not a HAR).
        case notHAR(String)
        /// A structural error outside any entry, at a byte offset.
        case syntax(offset: Int, message: String)
        /// A structural error or size overflow inside entry `index`.
        case entry(index: Int, offset: Int, message: String)
    }

    private enum Tag: UInt8 { case root, log, entries, entry, response, content, other }
    private enum Key: UInt8 { case log, entries, response, content, text, other }

    private struct Frame {
        var isObject: Bool
        var expectKey: Bool
        var tag: Tag
    }

    let options: Options
    /// Complete entries not yet taken by the reader.
    private(set) var ready: [[UInt8]] = []
    /// Entries started so far (the index of the next one).
    private(set) var entriesStarted = 0
    private(set) var entriesFound = false
    private(set) var finishedEntries = false

    private var frames: [Frame] = []
    private var inString = false
    private var escape = false
    private var stringIsKey = false
    private var capturingKey = false
    private var keyBytes: [UInt8] = []
    private var lastKey: Key = .other
    private var capturing = false
    private var eliding = false
    private var entry: [UInt8] = []
    private var offset = 0
    private var topLevelDone = false

    init(options: Options = Options()) {
        self.options = options
        keyBytes.reserveCapacity(16)
    }

    mutating func takeReady() -> [[UInt8]] {
        defer { ready.removeAll(keepingCapacity: true) }
        return ready
    }

    /// Whether nothing after the current point can yield another entry.
    var isDone: Bool { finishedEntries || topLevelDone }

    // MARK: Feeding

    mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>) throws(Failure) {
        guard !isDone else {
            offset += chunk.count
            return
        }
        var captureFrom = 0
        var i = 0
        let n = chunk.count
        // Some Windows tools (Fiddler) start the file with a UTF-8 byte order mark.
        if offset == 0, n >= 3, chunk[0] == 0xEF, chunk[1] == 0xBB, chunk[2] == 0xBF { i = 3 }
        while i < n {
            if inString {
                // Skip to the next quote or backslash.
                if escape {
                    escape = false
                    if capturingKey { appendKey(chunk[i]) }
                    i += 1
                    continue
                }
                var j = i
                while j < n {
                    let c = chunk[j]
                    if c == 0x22 || c == 0x5c { break }
                    j += 1
                }
                if capturingKey { for k in i..<j { appendKey(chunk[k]) } }
                if j == n { i = n; break }
                if chunk[j] == 0x5c {
                    escape = true
                    if capturingKey { appendKey(0x5c) }
                    i = j + 1
                    continue
                }
                // Closing quote.
                inString = false
                if stringIsKey {
                    lastKey = capturingKey ? Self.classify(keyBytes) : .other
                    capturingKey = false
                } else if eliding {
                    eliding = false
                    captureFrom = j
                }
                i = j + 1
                continue
            }
            let c = chunk[i]
            switch c {
            case 0x20, 0x09, 0x0a, 0x0d:
                break
            case 0x22:  // "
                try startString(chunk: chunk, at: i, captureFrom: &captureFrom)
            case 0x3a:  // :
                if !frames.isEmpty, frames[frames.count - 1].isObject { frames[frames.count - 1].expectKey = false }
            case 0x2c:  // ,
                if !frames.isEmpty, frames[frames.count - 1].isObject { frames[frames.count - 1].expectKey = true }
            case 0x7b, 0x5b:  // { [
                try open(c == 0x7b, at: i, captureFrom: &captureFrom)
            case 0x7d, 0x5d:  // } ]
                try close(c == 0x7d, chunk: chunk, at: i, captureFrom: captureFrom)
                if isDone {
                    offset += n
                    return
                }
            default:
                // A number or literal. As an element of `entries` it is not an entry.
                if let top = frames.last, top.tag == .entries {
                    throw .entry(index: entriesStarted, offset: offset + i, message: "is not an object")
                }
                if frames.isEmpty {
                    throw .notHAR("the file does not start with a JSON object")
                }
            }
            i += 1
        }
        if capturing && !eliding && captureFrom < n {
            entry.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[captureFrom..<n]))
        }
        if capturing && entry.count > options.maximumEntryBytes {
            throw .entry(index: entriesStarted, offset: offset + n,
                         message: "is larger than \(options.maximumEntryBytes) bytes (without response bodies)")
        }
        offset += n
    }

    /// The state at end of input.
    func finish() throws(Failure) -> End {
        if finishedEntries { return .complete }
        guard entriesFound else {
            if offset == 0 { throw .notHAR("the file is empty") }
            throw .notHAR("no log.entries array found")
        }
        if capturing { return .cutInsideEntry(index: entriesStarted) }
        return .cutBetweenEntries(count: entriesStarted)
    }

    // MARK: Tokens

    private mutating func startString(chunk: UnsafeBufferPointer<UInt8>, at i: Int, captureFrom: inout Int) throws(Failure) {
        inString = true
        escape = false
        guard let top = frames.last else {
            throw .notHAR("the file does not start with a JSON object")
        }
        if top.isObject && top.expectKey {
            stringIsKey = true
            switch top.tag {
            case .root, .log, .entry, .response, .content:
                capturingKey = true
                keyBytes.removeAll(keepingCapacity: true)
            default:
                capturingKey = false
            }
            return
        }
        stringIsKey = false
        if top.tag == .entries {
            throw .entry(index: entriesStarted, offset: offset + i, message: "is not an object")
        }
        if top.tag == .content && lastKey == .text && capturing && !options.keepResponseBodies {
            // Keep the opening quote, drop the body, resume at the closing quote.
            eliding = true
            entry.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[captureFrom...i]))
        }
    }

    private mutating func open(_ isObject: Bool, at i: Int, captureFrom: inout Int) throws(Failure) {
        let tag: Tag
        if let top = frames.last {
            if top.isObject {
                switch (top.tag, lastKey, isObject) {
                case (.root, .log, true): tag = .log
                case (.log, .entries, false):
                    tag = .entries
                    entriesFound = true
                case (.entry, .response, true): tag = .response
                case (.response, .content, true): tag = .content
                default: tag = .other
                }
                lastKey = .other
            } else if top.tag == .entries {
                guard isObject else {
                    throw .entry(index: entriesStarted, offset: offset + i, message: "is not an object")
                }
                tag = .entry
                capturing = true
                entry.removeAll(keepingCapacity: true)
                captureFrom = i
            } else {
                tag = .other
            }
        } else {
            guard isObject else { throw .notHAR("the top level is not a JSON object") }
            tag = .root
        }
        if frames.count >= JSONParser.maximumDepth + 8 {
            if capturing { throw .entry(index: entriesStarted, offset: offset + i, message: "is nested too deeply") }
            throw .syntax(offset: offset + i, message: "nesting too deep")
        }
        frames.append(Frame(isObject: isObject, expectKey: isObject, tag: tag))
    }

    private mutating func close(_ isObject: Bool, chunk: UnsafeBufferPointer<UInt8>, at i: Int, captureFrom: Int) throws(Failure) {
        guard let top = frames.popLast(), top.isObject == isObject else {
            let what = isObject ? "'}'" : "']'"
            if capturing { throw .entry(index: entriesStarted, offset: offset + i, message: "has an unexpected \(what)") }
            throw .syntax(offset: offset + i, message: "unexpected \(what)")
        }
        switch top.tag {
        case .entry:
            entry.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[captureFrom...i]))
            if entry.count > options.maximumEntryBytes {
                throw .entry(index: entriesStarted, offset: offset + i,
                             message: "is larger than \(options.maximumEntryBytes) bytes (without response bodies)")
            }
            ready.append(entry)
            entry = []
            capturing = false
            entriesStarted += 1
        case .entries:
            finishedEntries = true
        default:
            break
        }
        if frames.isEmpty { topLevelDone = true }
    }

    private mutating func appendKey(_ byte: UInt8) {
        // Only short names matter; a longer one can't be one we look for.
        if keyBytes.count < 16 { keyBytes.append(byte) } else { capturingKey = false }
    }

    private static let names: [(bytes: [UInt8], key: Key)] = [
        (Array("log".utf8), .log), (Array("text".utf8), .text), (Array("entries".utf8), .entries),
        (Array("content".utf8), .content), (Array("response".utf8), .response),
    ]

    private static func classify(_ key: [UInt8]) -> Key {
        for (bytes, k) in names where bytes == key { return k }
        return .other
    }
}
