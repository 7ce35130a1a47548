@testable import EgressProxy
import Testing

@Suite("SandboxLimiter")
struct SandboxLimiterTests {
    @Test("requests per second: a burst, then one more per 1/rate seconds")
    func tokenBucket() {
        let t0: UInt64 = 1_000_000_000
        let limiter = SandboxLimiter(settings: .init(requestsPerSecond: 2, burst: 3), now: t0)
        #expect((0..<3).map { _ in limiter.admitRequest(now: t0) } == [true, true, true])
        #expect(!limiter.admitRequest(now: t0))
        #expect(!limiter.admitRequest(now: t0 + 400_000_000), "0.4 s at 2/s is less than one token")
        #expect(limiter.admitRequest(now: t0 + 500_000_000))
        #expect(!limiter.admitRequest(now: t0 + 500_000_000))
        // A long pause refills only up to the burst.
        let later = t0 + 60_000_000_000
        #expect((0..<4).map { _ in limiter.admitRequest(now: later) } == [true, true, true, false])
    }

    @Test("no rate configured admits everything")
    func unlimited() {
        let limiter = SandboxLimiter(settings: .init())
        #expect((0..<1000).allSatisfy { _ in limiter.admitRequest(now: 0) })
    }

    @Test("connections: at most maxConnections; released ones free a slot")
    func connections() {
        let limiter = SandboxLimiter(settings: .init(maxConnections: 2))
        #expect(limiter.acquireConnection())
        #expect(limiter.acquireConnection())
        #expect(!limiter.acquireConnection())
        #expect(limiter.openConnections == 2)
        limiter.releaseConnection()
        #expect(limiter.acquireConnection())
        limiter.update(.init(maxConnections: 5))
        #expect(limiter.acquireConnection(), "a reload that raises the bound takes effect at once")
        #expect(limiter.openConnections == 3)
    }

    @Test("the registry keeps one limiter per sandbox and follows limits.max_connections on reload")
    func registryLimiter() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-l.yaml", gatewayPolicy(extra: "limits:\n  max_connections: 1\n"))
        try fx.folder.writePolicy("sb-k.yaml", gatewayPolicy())
        fx.registry.reload()
        let limiter = try #require(fx.registry.limiter(for: "sb-l"))
        #expect(limiter !== fx.registry.limiter(for: "sb-k"))
        #expect(limiter.acquireConnection())
        #expect(!limiter.acquireConnection())
        #expect(fx.registry.limiter(for: "sb-k")?.acquireConnection() == true, "one sandbox's bound does not affect another")

        try fx.folder.writePolicy("sb-l.yaml", gatewayPolicy(extra: "limits:\n  max_connections: 2\n"))
        fx.registry.reload()
        #expect(fx.registry.limiter(for: "sb-l") === limiter)
        #expect(limiter.acquireConnection())
        #expect(fx.registry.limiter(for: "sb-none") == nil)
    }
}
