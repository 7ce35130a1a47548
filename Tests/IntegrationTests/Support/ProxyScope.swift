import Foundation
import Testing

// MARK: - Scoped use

/// Bounds how many proxies run at once: each test starts its own, and on 2 cores a few at a
/// time keeps start-up and transfer times far from the harness's deadlines.
actor ProxySlots {
    static let shared = ProxySlots(limit: 4)

    private let limit: Int
    private var inUse = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) {
        self.limit = limit
    }

    func acquire() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            inUse -= 1
        } else {
            // The slot passes straight to the next waiter.
            waiters.removeFirst().resume()
        }
    }
}

/// Runs `body` with a started proxy and stops it afterwards (SIGTERM, then SIGKILL), also
/// when `body` throws. The proxy's directory is removed unless `EGRESS_ITEST_KEEP` is set.
///
/// Every test therefore also checks that the proxy survived what the test did to it: a crash
/// (or any exit other than 0 on SIGTERM) is recorded as an issue with the end of its stderr.
func withProxy<Result>(
    _ configuration: ProxyConfiguration,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (ProxyProcess) async throws -> Result
) async throws -> Result {
    await ProxySlots.shared.acquire()
    let proxy: ProxyProcess
    do {
        proxy = try await ProxyProcess.start(configuration)
    } catch {
        await ProxySlots.shared.release()
        throw error
    }
    func cleanUp() async {
        let crashed = proxy.unexpectedExit
        // The slot bounds load; a proxy draining after SIGTERM is idle, so the next test may start.
        await ProxySlots.shared.release()
        let exit = await proxy.stop()
        if let crashed {
            Issue.record(
                "egress-proxy died during the test (\(crashed)); stderr ends:\n\(proxy.stderrTail())",
                sourceLocation: sourceLocation)
        } else if exit?.isClean != true {
            let how = exit.map(\.description) ?? "needed SIGKILL"
            Issue.record(
                "egress-proxy did not exit 0 on SIGTERM (\(how)); stderr ends:\n\(proxy.stderrTail())",
                sourceLocation: sourceLocation)
        }
        if !TestRun.keepFiles {
            proxy.directory.remove()
        }
    }
    do {
        let result = try await body(proxy)
        await cleanUp()
        return result
    } catch {
        await cleanUp()
        throw error
    }
}
