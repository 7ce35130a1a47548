import Foundation
import NIOConcurrencyHelpers

/// Where audit records go. The proxy writes through this protocol so tests and the gateway
/// can route records per sandbox.
public protocol AuditSink: Sendable {
    func write(_ record: AuditRecord)
    /// Writes everything queued so far; called on shutdown.
    func flush()
}

/// Appends JSON Lines to a file (or stdout) from a dedicated writer thread, so an event loop
/// never blocks on disk. Records are queued in memory (bounded) and written in batches.
public final class AuditFileWriter: AuditSink, @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `lock`/`condition`.
    private let condition = NIOConcurrencyHelpers.ConditionLock(value: 0)
    private var queue: [String] = []
    private var stopped = false
    private var inFlight = false
    private let fd: Int32
    private let ownsFD: Bool
    private var thread: Thread?
    /// Records dropped because the queue was full (disk far slower than traffic).
    public private(set) var dropped = 0
    private let maxQueued = 100_000

    /// `path == "-"` writes to stdout. The file is created 0600 and appended to.
    public init(path: String) throws {
        if path == "-" {
            fd = STDOUT_FILENO
            ownsFD = false
        } else {
            let opened = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard opened >= 0 else {
                throw AuditWriterError.cannotOpen(path: path, errno: errno)
            }
            fd = opened
            ownsFD = true
        }
        let t = Thread { [weak self] in self?.run() }
        t.name = "audit-writer"
        thread = t
        t.start()
    }

    public func write(_ record: AuditRecord) {
        let line = record.jsonLine()
        condition.lock()
        // Only the first record of a batch wakes the writer: under load, one wake-up (and one
        // write(2)) carries many records instead of one context switch per request.
        let wakeWriter = queue.isEmpty
        if queue.count >= maxQueued {
            dropped += 1
        } else {
            queue.append(line)
        }
        if wakeWriter {
            condition.unlock(withValue: 1)
        } else {
            condition.unlock()
        }
    }

    public func flush() {
        // Wait (bounded) until the writer thread has drained the queue.
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            condition.lock()
            let idle = queue.isEmpty && !inFlight
            condition.unlock()
            if idle { return }
            usleep(2_000)
        }
    }

    /// Flushes and stops the writer thread.
    public func close() {
        flush()
        condition.lock()
        stopped = true
        condition.unlock(withValue: 1)
        if ownsFD { _ = Foundation.close(fd) }
    }

    /// After a wake-up the writer lets records gather this long before it writes them.
    private static let batchDelayMicroseconds: UInt32 = 2_000

    private func run() {
        while true {
            condition.lock(whenValue: 1)
            if stopped && queue.isEmpty {
                condition.unlock(withValue: 0)
                return
            }
            if !stopped {
                condition.unlock()
                usleep(Self.batchDelayMicroseconds)
                condition.lock()
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            inFlight = true
            condition.unlock(withValue: 0)

            var data = batch.joined(separator: "\n")
            data += "\n"
            data.utf8.withContiguousStorageIfAvailable { buf in
                var offset = 0
                while offset < buf.count {
                    let n = Foundation.write(fd, buf.baseAddress! + offset, buf.count - offset)
                    if n <= 0 {
                        if errno == EINTR { continue }
                        break
                    }
                    offset += n
                }
            }
            condition.lock()
            inFlight = false
            let more = !queue.isEmpty || stopped
            condition.unlock(withValue: more ? 1 : 0)
        }
    }
}

public enum AuditWriterError: Error, CustomStringConvertible {
    case cannotOpen(path: String, errno: Int32)
    public var description: String {
        switch self {
        case .cannotOpen(let path, let e): return "cannot open audit log \(path): \(String(cString: strerror(e)))"
        }
    }
}

/// Collects records in memory (tests, dry-run).
public final class MemoryAuditSink: AuditSink, Sendable {
    private let box = NIOLockedValueBox<[AuditRecord]>([])
    public init() {}
    public func write(_ record: AuditRecord) { box.withLockedValue { $0.append(record) } }
    public func flush() {}
    public var records: [AuditRecord] { box.withLockedValue { $0 } }
}

/// Drops everything (audit disabled).
public struct NullAuditSink: AuditSink {
    public init() {}
    public func write(_ record: AuditRecord) {}
    public func flush() {}
}
