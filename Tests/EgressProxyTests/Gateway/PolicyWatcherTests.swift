@testable import EgressProxy
import Foundation
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("PolicyWatcher", .serialized)
struct PolicyWatcherTests {
    static var quietLogger: Logger {
        var logger = Logger(label: "watcher-test")
        logger.logLevel = .critical
        return logger
    }

    @Test("a file added, changed and removed takes effect without a call to reload")
    func pollsTheFolder() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        fx.registry.reload()
        let watcher = PolicyWatcher(registry: fx.registry, interval: .milliseconds(100), reloadOnSIGHUP: false, logger: Self.quietLogger)
        watcher.start()
        defer { watcher.stop() }

        try fx.folder.writePolicy("sb-w.yaml", gatewayPolicy(allow: ["one.example.com"]))
        #expect(eventually { fx.registry.sandboxIDs == ["sb-w"] })

        try fx.folder.writePolicy("sb-w.yaml", gatewayPolicy(allow: ["two.example.com"]))
        #expect(eventually { fx.registry.policy(for: "sb-w")?.egressAllowlist == ["two.example.com"] })

        try fx.folder.removePolicy("sb-w.yaml")
        #expect(eventually { fx.registry.sandboxIDs.isEmpty })
    }

    @Test("after stop() nothing is reloaded any more")
    func stops() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        fx.registry.reload()
        let watcher = PolicyWatcher(registry: fx.registry, interval: .milliseconds(50), reloadOnSIGHUP: false, logger: Self.quietLogger)
        watcher.start()
        #expect(watcher.isRunning)
        watcher.stop()
        #expect(!watcher.isRunning)
        try fx.folder.writePolicy("sb-late.yaml", gatewayPolicy())
        // Nothing polls now: only an explicit check sees the file.
        #expect(fx.registry.sandboxIDs.isEmpty)
        #expect(fx.registry.reloadIfChanged()?.added == ["sb-late"])
    }

    @Test("SIGHUP reloads (polling effectively off)")
    func sighup() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        fx.registry.reload()
        let watcher = PolicyWatcher(registry: fx.registry, interval: .seconds(3600), reloadOnSIGHUP: true, logger: Self.quietLogger)
        watcher.start()
        defer { watcher.stop() }
        try fx.folder.writePolicy("sb-hup.yaml", gatewayPolicy())
        #expect(fx.registry.sandboxIDs.isEmpty)
        // The watcher ignores SIGHUP's default action (terminate) before listening for it.
        // Dispatch registers the signal source asynchronously after `resume()`, so a signal
        // sent right after `start()` can be missed: send it again until it is seen (bounded).
        #expect(eventually {
            kill(getpid(), SIGHUP)
            usleep(50_000)
            return fx.registry.sandboxIDs == ["sb-hup"]
        })
    }
}
