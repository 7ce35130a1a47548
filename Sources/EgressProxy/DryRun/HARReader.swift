import Foundation
import PIIDetect

// MARK: - HARReader

/// Reads the entries of a HAR file one at a time, in bounded memory (one read chunk plus one
/// entry), whatever the file's size.
///
/// A file cut short (a `--capture` file of a proxy that crashed, or a copy interrupted) still
/// yields every complete entry; `truncation` then says where it stopped.
public final class HARReader {
    public struct Options: Sendable {
        /// Decode `response.content.text` (dry-run doesn't need it, a round trip does).
        public var keepResponseBodies: Bool
        /// An entry larger than this (response bodies dropped) is an error.
        public var maximumEntryBytes: Int
        public var chunkBytes: Int

        public init(keepResponseBodies: Bool = false, maximumEntryBytes: Int = 64 * 1024 * 1024, chunkBytes: Int = 256 * 1024) {
            self.keepResponseBodies = keepResponseBodies
            self.maximumEntryBytes = maximumEntryBytes
            self.chunkBytes = chunkBytes
        }
    }

    /// Where a file that ended early stopped.
    public enum Truncation: Sendable, Equatable, CustomStringConvertible {
        /// After `count` complete entries, without the closing `]}}`.
        case betweenEntries(count: Int)
        /// Inside entry `index`, which was dropped.
        case insideEntry(index: Int)

        public var description: String {
            switch self {
            case .betweenEntries(let count):
                return "the file ends after entries[\(count - 1)] without closing the entries array (cut short?); \(count) entries read"
            case .insideEntry(let index):
                return "the file ends inside entries[\(index)] (cut short?); that entry is skipped, \(index) entries read"
            }
        }
    }

    public let path: String
    private let options: Options
    private let fd: Int32
    private var splitter: HAREntrySplitter
    private var pending: [[UInt8]] = []
    private var pendingIndex = 0
    private var nextIndex = 0
    private var atEnd = false
    private var buffer: [UInt8]
    /// Set once the end of input is reached, when the file ended early.
    public private(set) var truncation: Truncation?
    /// Bytes read so far.
    public private(set) var bytesRead = 0

    /// Opens `path` (`-` reads standard input).
    public init(path: String, options: Options = Options()) throws(HARError) {
        self.path = path
        self.options = options
        if path == "-" {
            fd = STDIN_FILENO
        } else {
            let opened = open(path, O_RDONLY | O_CLOEXEC)
            guard opened >= 0 else {
                throw .cannotRead(path: path, reason: String(cString: strerror(errno)))
            }
            fd = opened
        }
        var splitterOptions = HAREntrySplitter.Options()
        splitterOptions.keepResponseBodies = options.keepResponseBodies
        splitterOptions.maximumEntryBytes = options.maximumEntryBytes
        splitter = HAREntrySplitter(options: splitterOptions)
        buffer = [UInt8](repeating: 0, count: max(4096, options.chunkBytes))
    }

    deinit {
        if fd != STDIN_FILENO { _ = close(fd) }
    }

    /// The next entry, or nil after the last one.
    public func next() throws(HARError) -> HAREntry? {
        while pendingIndex >= pending.count {
            if atEnd { return nil }
            try fill()
        }
        let bytes = pending[pendingIndex]
        pending[pendingIndex] = []
        pendingIndex += 1
        let index = nextIndex
        nextIndex += 1
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw .entry(index: index, "invalid JSON: \(error.message) (at byte \(error.offset) of the entry)")
        }
        return try HAREntry.decode(json, index: index, keepResponseBody: options.keepResponseBodies)
    }

    /// Reads chunks until at least one entry is ready or the input ends.
    private func fill() throws(HARError) {
        pending.removeAll(keepingCapacity: true)
        pendingIndex = 0
        while pending.isEmpty && !atEnd {
            let count = buffer.withUnsafeMutableBytes { raw -> Int in
                while true {
                    let n = read(fd, raw.baseAddress, raw.count)
                    if n < 0 && errno == EINTR { continue }
                    return n
                }
            }
            if count < 0 {
                throw .cannotRead(path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 {
                atEnd = true
                try finishSplitter()
                break
            }
            bytesRead += count
            do {
                try buffer.withUnsafeBufferPointer { whole throws(HAREntrySplitter.Failure) in
                    try splitter.feed(UnsafeBufferPointer(rebasing: whole[0..<count]))
                }
            } catch {
                throw Self.map(error)
            }
            pending = splitter.takeReady()
            if splitter.isDone {
                // The entries array is closed: the rest of the file can't add entries.
                atEnd = true
                try finishSplitter()
            }
        }
    }

    private func finishSplitter() throws(HARError) {
        let end: HAREntrySplitter.End
        do {
            end = try splitter.finish()
        } catch {
            throw Self.map(error)
        }
        switch end {
        case .complete: truncation = nil
        case .cutBetweenEntries(let count): truncation = .betweenEntries(count: count)
        case .cutInsideEntry(let index): truncation = .insideEntry(index: index)
        }
    }

    private static func map(_ failure: HAREntrySplitter.Failure) -> HARError {
        switch failure {
        case .notHAR(let message): return .notHAR(message)
        case .syntax(let offset, let message): return .syntax(offset: offset, message)
        case .entry(let index, let offset, let message): return .entry(index: index, "\(message) (at byte \(offset) of the file)")
        }
    }
}
