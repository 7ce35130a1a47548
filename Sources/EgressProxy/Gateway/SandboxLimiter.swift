import Dispatch
import NIOConcurrencyHelpers

// MARK: - SandboxLimiter

/// One sandbox's admission limits in the gateway: how many of its connections may be open at
/// once, and how many requests per second it may start (a token bucket), so that one busy
/// sandbox cannot starve the others of the shared listener.
///
/// The registry keeps one per sandbox for the sandbox's whole registration (a policy reload
/// updates the settings, not the counts).
public final class SandboxLimiter: Sendable {
    public struct Settings: Sendable, Equatable {
        /// The most connections (CONNECT sessions, plain-HTTP exchanges) open at once; nil: no bound.
        public var maxConnections: Int?
        /// Sustained requests per second; nil: no bound.
        public var requestsPerSecond: Double?
        /// Requests that may start at once after a quiet period; at least 1.
        public var burst: Double

        public init(maxConnections: Int? = nil, requestsPerSecond: Double? = nil, burst: Double? = nil) {
            self.maxConnections = maxConnections
            self.requestsPerSecond = requestsPerSecond.flatMap { $0 > 0 && $0.isFinite ? $0 : nil }
            self.burst = max(1, burst ?? self.requestsPerSecond ?? 1)
        }
    }

    private struct State {
        var settings: Settings
        var tokens: Double
        var refilledAt: UInt64
        var open = 0
    }

    private let state: NIOLockedValueBox<State>

    public init(settings: Settings, now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        state = NIOLockedValueBox(State(settings: settings, tokens: settings.burst, refilledAt: now))
    }

    /// The settings in force.
    public var settings: Settings { state.withLockedValue { $0.settings } }

    /// Replaces the settings; open connections and the bucket's level carry over (capped).
    public func update(_ settings: Settings) {
        state.withLockedValue { s in
            s.settings = settings
            s.tokens = min(s.tokens, settings.burst)
        }
    }

    /// Takes one request token; false when the sandbox is over its rate (answer 429,
    /// reason `rate_limited`). `now` is a monotonic time in nanoseconds (tests pass their own).
    public func admitRequest(now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Bool {
        state.withLockedValue { s in
            guard let rate = s.settings.requestsPerSecond else { return true }
            if now > s.refilledAt {
                s.tokens = min(s.settings.burst, s.tokens + Double(now - s.refilledAt) / 1e9 * rate)
                s.refilledAt = now
            }
            guard s.tokens >= 1 else { return false }
            s.tokens -= 1
            return true
        }
    }

    /// Counts one more open connection; false (and nothing counted) when the sandbox is at its
    /// bound. Every `true` must be paired with one `releaseConnection()`.
    public func acquireConnection() -> Bool {
        state.withLockedValue { s in
            if let bound = s.settings.maxConnections, s.open >= bound { return false }
            s.open += 1
            return true
        }
    }

    /// One connection counted by `acquireConnection()` closed.
    public func releaseConnection() {
        state.withLockedValue { s in s.open = max(0, s.open - 1) }
    }

    /// Connections counted now.
    public var openConnections: Int { state.withLockedValue { $0.open } }
}
