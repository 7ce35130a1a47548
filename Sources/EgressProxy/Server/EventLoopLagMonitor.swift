import NIOConcurrencyHelpers
import NIOCore

/// Measures how late the event loops run a task scheduled every `interval` (10 ms): the lag a
/// request on that loop would see at that moment (TLS, parsing, inspection windows all run
/// on the loops, so a long scan shows up here). Reported by `run` and `gateway` when they
/// stop (`event-loop lag: max ... ms`), and used by `bench/inspection-lag-bench.sh`.
public final class EventLoopLagMonitor: Sendable {
    public struct Report: Sendable, CustomStringConvertible {
        /// The largest lateness seen on any loop.
        public var maximum: TimeAmount
        /// Samples taken (all loops).
        public var samples: Int
        /// Samples later than 10 ms.
        public var over10ms: Int

        public var description: String {
            let ms = Double(maximum.nanoseconds) / 1_000_000
            return "event-loop lag: max \(String(format: "%.1f", ms)) ms over \(samples) samples (\(over10ms) over 10 ms)"
        }
    }

    private let interval: TimeAmount
    private let state = NIOLockedValueBox<(report: Report, tasks: [RepeatedTask])>(
        (Report(maximum: .zero, samples: 0, over10ms: 0), []))

    public init(interval: TimeAmount = .milliseconds(10)) {
        self.interval = interval
    }

    /// Starts one sampling task on every loop of `group`.
    public func start(on group: EventLoopGroup) {
        let interval = interval
        var tasks: [RepeatedTask] = []
        for loop in group.makeIterator() {
            let expected = NIOLockedValueBox(NIODeadline.now() + interval)
            let task = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [state] _ in
                let now = NIODeadline.now()
                let late = expected.withLockedValue { e -> TimeAmount in
                    defer { e = now + interval }
                    return max(.zero, now - e)
                }
                state.withLockedValue { s in
                    s.report.samples += 1
                    if late > s.report.maximum { s.report.maximum = late }
                    if late > .milliseconds(10) { s.report.over10ms += 1 }
                }
            }
            tasks.append(task)
        }
        state.withLockedValue { $0.tasks += tasks }
    }

    public func stop() {
        let tasks = state.withLockedValue { s -> [RepeatedTask] in
            defer { s.tasks = [] }
            return s.tasks
        }
        for t in tasks { t.cancel() }
    }

    public var report: Report { state.withLockedValue { $0.report } }
}
