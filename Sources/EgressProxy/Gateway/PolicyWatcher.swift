import Dispatch
import Logging
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - PolicyWatcher

/// Reloads the registry when a policy file (or the source map) changes, and on SIGHUP.
///
/// It polls: every `interval` it compares each file's inode, size and modification time with
/// what the last reload read (`SandboxRegistry.reloadIfChanged()`), which works the same on
/// every file system, including network mounts and Kubernetes ConfigMap symlink swaps where
/// inotify is unreliable. A poll is a `stat` per file. SIGHUP forces a full reload (it also
/// re-reads `file:` secrets of unchanged policies). Everything runs on one serial queue, so
/// reloads never overlap; `stop()` cancels both sources and waits for a running reload.
public final class PolicyWatcher: Sendable {
    private let registry: SandboxRegistry
    private let interval: DispatchTimeInterval
    private let reloadOnSIGHUP: Bool
    private let logger: Logger
    private let queue = DispatchQueue(label: "egress-proxy.policy-watcher")
    private let sources = NIOLockedValueBox<[Source]>([])

    /// Dispatch sources are thread-safe objects (`cancel()` may be called from any thread);
    /// the overlay just does not mark the protocol `Sendable`.
    private struct Source: @unchecked Sendable {
        let source: any DispatchSourceProtocol
    }

    /// - Parameters:
    ///   - interval: time between polls (the bound is 2 s from change to effect).
    ///   - reloadOnSIGHUP: install a SIGHUP handler (and ignore SIGHUP's default action,
    ///     which is to terminate the process).
    public init(registry: SandboxRegistry, interval: Duration = .milliseconds(500), reloadOnSIGHUP: Bool = true, logger: Logger) {
        self.registry = registry
        let (seconds, attoseconds) = interval.components
        let milliseconds = max(10, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
        self.interval = .milliseconds(milliseconds)
        self.reloadOnSIGHUP = reloadOnSIGHUP
        self.logger = logger
    }

    /// Starts polling (and listening for SIGHUP). Calling it twice does nothing more.
    public func start() {
        let registry = self.registry
        let logger = self.logger
        sources.withLockedValue { sources in
            guard sources.isEmpty else { return }
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(50))
            timer.setEventHandler {
                _ = registry.reloadIfChanged()
            }
            timer.resume()
            sources.append(Source(source: timer))
            if reloadOnSIGHUP {
                signal(SIGHUP, SIG_IGN)
                let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
                hup.setEventHandler {
                    logger.info("SIGHUP: reloading policies")
                    registry.reload(force: true)
                }
                hup.resume()
                sources.append(Source(source: hup))
            }
        }
    }

    /// Stops polling and listening; returns after a reload in progress has finished. Must not
    /// be called from a reload (the watcher's own queue).
    public func stop() {
        let stopped = sources.withLockedValue { sources -> [Source] in
            defer { sources.removeAll() }
            return sources
        }
        for entry in stopped { entry.source.cancel() }
        // Handlers run on `queue`: an empty block after the cancels runs after any handler
        // that had already started.
        queue.sync {}
    }

    /// Whether the watcher is running.
    public var isRunning: Bool { sources.withLockedValue { !$0.isEmpty } }
}
