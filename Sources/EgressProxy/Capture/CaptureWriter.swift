import Foundation
import NIOConcurrencyHelpers

// MARK: - CaptureWriter

/// Writes a HAR 1.2 capture incrementally: the head `{"log":{…,"entries":[` when opened, each
/// entry appended with one `write(2)` as soon as its exchange completes, and `]}}` on
/// `close()`. A proxy that dies loses at most the entries still queued; `HARReader` reads a
/// file without its tail (every complete entry), and one cut inside an entry (the entries
/// before it).
///
/// Serialisation and disk writes run on a serial background queue, so `record` never blocks
/// an event loop. The queue is bounded: past `maximumQueuedEntries` entries waiting for the
/// disk, new ones are dropped and counted (`droppedEntries`) rather than growing memory.
///
/// It is given only masked data (see `CaptureEntry`); the file is created with mode 0600.
public final class CaptureWriter: Sendable {
    public static let maximumQueuedEntries = 4096
    /// `--capture-max-body` default: enough for API requests and answers, bounded per exchange.
    public static let defaultMaxBodyBytes = 256 * 1024

    private struct State {
        var queued = 0
        var written = 0
        var dropped = 0
        var closed = false
        var failed: Int32?
    }

    public let path: String
    /// Bodies are cut to this many bytes.
    public let maxBodyBytes: Int
    private let fd: Int32
    private let queue = DispatchQueue(label: "egress-proxy.capture")
    private let state = NIOLockedValueBox(State())

    /// Creates (or truncates) `path` with mode 0600 and writes the HAR head.
    public init(path: String, maxBodyBytes: Int, creatorVersion: String = "1") throws {
        self.path = path
        self.maxBodyBytes = max(0, maxBodyBytes)
        let opened = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard opened >= 0 else { throw CaptureWriterError.cannotOpen(path: path, errno: errno) }
        // O_CREAT's mode applies only to a new file: an existing one is tightened too.
        _ = fchmod(opened, 0o600)
        fd = opened
        var head = JSONBytes()
        head.open("{")
        head.key("log"); head.open("{")
        head.key("version"); head.string("1.2")
        head.key("creator"); head.open("{")
        head.key("name"); head.string("egress-proxy")
        head.key("version"); head.string(creatorVersion)
        head.close("}")
        head.key("pages"); head.raw("[]")
        head.key("entries")
        var bytes = head.bytes
        bytes.append(contentsOf: Array("[\n".utf8))
        if let error = Self.writeAll(fd, bytes) {
            _ = Foundation.close(opened)
            throw CaptureWriterError.cannotWrite(path: path, errno: error)
        }
    }

    /// Queues one entry. Never blocks on disk; after `close()` it is ignored.
    public func record(_ entry: CaptureEntry) {
        let accepted = state.withLockedValue { s -> Bool in
            guard !s.closed, s.failed == nil else { return false }
            guard s.queued < Self.maximumQueuedEntries else {
                s.dropped += 1
                return false
            }
            s.queued += 1
            return true
        }
        guard accepted else { return }
        let limit = maxBodyBytes
        queue.async { [self] in
            let json = entry.harJSON(maxBodyBytes: limit)
            let first = state.withLockedValue { $0.written == 0 }
            var line: [UInt8] = []
            line.reserveCapacity(json.count + 2)
            if !first { line.append(contentsOf: Array(",\n".utf8)) }
            line.append(contentsOf: json)
            let error = Self.writeAll(fd, line)
            state.withLockedValue { s in
                s.queued -= 1
                if let error {
                    s.failed = error
                } else {
                    s.written += 1
                }
            }
        }
    }

    /// Waits until every entry queued so far is on disk.
    public func flush() {
        queue.sync {}
    }

    /// Writes the queued entries and the closing `]}}`, then closes the file. Idempotent.
    public func close() {
        let first = state.withLockedValue { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        guard first else { return }
        queue.sync {
            _ = Self.writeAll(fd, Array("\n]}}\n".utf8))
            _ = Foundation.close(fd)
        }
    }

    /// Entries written so far.
    public var writtenEntries: Int { state.withLockedValue { $0.written } }

    /// Entries dropped because the disk fell behind (or after a write error).
    public var droppedEntries: Int { state.withLockedValue { $0.dropped } }

    /// The errno of the first failed write, if any (later entries are then dropped).
    public var writeError: Int32? { state.withLockedValue { $0.failed } }

    /// One `write(2)` per entry where the kernel takes it whole, so a crash leaves either
    /// the whole entry or a prefix the reader skips.
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBytes { raw -> Int32? in
            guard let base = raw.baseAddress else { return nil }
            var offset = 0
            while offset < raw.count {
                let n = write(fd, base + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return nil
        }
    }
}

/// Why a capture file can't be written.
public enum CaptureWriterError: Error, CustomStringConvertible {
    case cannotOpen(path: String, errno: Int32)
    case cannotWrite(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let e): return "cannot create capture file \(path): \(String(cString: strerror(e)))"
        case .cannotWrite(let path, let e): return "cannot write capture file \(path): \(String(cString: strerror(e)))"
        }
    }
}
