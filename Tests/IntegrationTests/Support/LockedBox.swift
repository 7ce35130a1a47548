import Foundation

// MARK: - LockedBox

/// A value guarded by a lock.
///
/// Shared between NIO event-loop threads (the upstream records requests there), Foundation's
/// process-reaper thread and test tasks. A plain lock keeps this target free of extra
/// dependencies: the IntegrationTests target does not link NIOConcurrencyHelpers.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the value.
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// A copy of the current value.
    var current: Value {
        withLock { $0 }
    }
}
