import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Server TLS contexts for MITM, one per host, minted by a sandbox CA and cached.
///
/// A hit is a dictionary lookup under a lock and never leaves the caller's thread. A miss mints
/// the leaf and builds its `NIOSSLContext` on the `NIOThreadPool` given at init, never on an
/// event loop; concurrent first requests for one host share a single mint. Entries are kept in
/// least-recently-used order up to `capacity` and replaced a day before their leaf expires.
public final class LeafCertificateCache: Sendable {
    /// The default number of hosts kept.
    public static let defaultCapacity = 10_000
    /// The default ALPN list of the server contexts (HTTP/2 comes later).
    public static let defaultApplicationProtocols = ["http/1.1"]

    /// Counters since the cache was made, read together under the cache lock.
    public struct Statistics: Hashable, Sendable {
        /// Requests answered from the cache.
        public var hits: Int = 0
        /// Requests that found no usable entry and started a mint (equals the number of mints).
        public var mints: Int = 0
        /// Requests that found a mint for their host under way and waited for it.
        public var coalesced: Int = 0
        /// Mints that failed (invalid host, thread pool stopped).
        public var failures: Int = 0
        /// Entries dropped to stay within capacity.
        public var evictions: Int = 0
        /// Entries held now.
        public var entries: Int = 0
    }

    /// The CA that signs the leaves.
    public let ca: SandboxCA
    /// The most hosts kept.
    public let capacity: Int

    private let minter: LeafMinter
    private let threadPool: NIOThreadPool
    private let applicationProtocols: [String]
    private let state: NIOLockedValueBox<State>

    // MARK: State

    /// Called once with the outcome of a mint, on the thread pool.
    private typealias Waiter = @Sendable (Result<NIOSSLContext, any Error>) -> Void

    private struct Entry: Sendable {
        var context: NIOSSLContext
        var refreshAfter: Date
    }

    private struct State: Sendable {
        var entries: LRUCache<TLSHost, Entry>
        /// Hosts being minted, with everyone waiting for them.
        var inFlight: [TLSHost: [Waiter]] = [:]
        var statistics = Statistics()
    }

    /// What a request found under the lock.
    private enum Admission {
        case hit(NIOSSLContext)
        case joined
        case mint
    }

    // MARK: Init

    /// - Parameters:
    ///   - ca: the sandbox CA that signs every leaf.
    ///   - threadPool: where leaves are minted; must be started, and outlive the cache's use.
    ///   - capacity: the most hosts kept (at least 1).
    ///   - applicationProtocols: the ALPN list the server contexts offer.
    public init(
        ca: SandboxCA,
        threadPool: NIOThreadPool,
        capacity: Int = LeafCertificateCache.defaultCapacity,
        applicationProtocols: [String] = LeafCertificateCache.defaultApplicationProtocols
    ) throws {
        precondition(capacity >= 1, "LeafCertificateCache capacity must be at least 1")
        self.ca = ca
        self.capacity = capacity
        self.minter = try LeafMinter(ca: ca)
        self.threadPool = threadPool
        self.applicationProtocols = applicationProtocols
        self.state = NIOLockedValueBox(State(entries: LRUCache(capacity: capacity)))
    }

    /// The counters so far.
    public var statistics: Statistics {
        self.state.withLockedValue { state in
            var statistics = state.statistics
            statistics.entries = state.entries.count
            return statistics
        }
    }

    // MARK: Lookup

    /// The server TLS context for `host`, completed on `eventLoop`.
    ///
    /// Succeeds at once on a hit; otherwise mints on the thread pool. Fails with
    /// ``TLSHostError`` for a host no certificate can name.
    public func serverContext(forHost host: String, eventLoop: any EventLoop) -> EventLoopFuture<NIOSSLContext> {
        let parsed: TLSHost
        do {
            parsed = try TLSHost(host)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        if let context = self.cachedContext(parsed, now: Date()) {
            return eventLoop.makeSucceededFuture(context)
        }
        let promise = eventLoop.makePromise(of: NIOSSLContext.self)
        self.obtain(parsed) { promise.completeWith($0) }
        return promise.futureResult
    }

    /// The server TLS context for `host`; see ``serverContext(forHost:eventLoop:)``.
    public func serverContext(forHost host: String) async throws -> NIOSSLContext {
        let parsed = try TLSHost(host)
        if let context = self.cachedContext(parsed, now: Date()) {
            return context
        }
        return try await withCheckedThrowingContinuation { continuation in
            self.obtain(parsed) { continuation.resume(with: $0) }
        }
    }

    /// Mints a leaf for `host` now, on the calling thread, bypassing the cache and counters.
    ///
    /// For tests and diagnostics: the proxy uses ``serverContext(forHost:eventLoop:)``.
    public func mintLeaf(host: String) throws -> (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey) {
        let leaf = try self.minter.mint(TLSHost(host))
        return ([leaf.certificate], self.minter.nioLeafKey)
    }

    /// A cached, still fresh context: the fast path, which takes the lock once.
    private func cachedContext(_ host: TLSHost, now: Date) -> NIOSSLContext? {
        self.state.withLockedValue { state in
            guard let entry = state.entries.value(forKey: host), entry.refreshAfter > now else {
                return nil
            }
            state.statistics.hits += 1
            return entry.context
        }
    }

    /// Hands `waiter` the context for `host`: from the cache if it appeared since the fast path
    /// looked, from a mint under way, or from a new mint started here.
    private func obtain(_ host: TLSHost, waiter: @escaping Waiter) {
        let now = Date()
        let admission = self.state.withLockedValue { state -> Admission in
            if let entry = state.entries.value(forKey: host), entry.refreshAfter > now {
                state.statistics.hits += 1
                return .hit(entry.context)
            }
            if state.inFlight[host] != nil {
                state.inFlight[host]?.append(waiter)
                state.statistics.coalesced += 1
                return .joined
            }
            state.inFlight[host] = [waiter]
            state.statistics.mints += 1
            return .mint
        }
        switch admission {
        case .hit(let context):
            waiter(.success(context))
        case .joined:
            break
        case .mint:
            self.threadPool.submit { [self] workState in
                guard case .active = workState else {
                    self.finish(host, with: .failure(NIOThreadPoolError.ThreadPoolInactive()))
                    return
                }
                self.finish(host, with: Result { try self.makeContext(host) })
            }
        }
    }

    /// Runs on the thread pool: signs the leaf and builds its server context.
    private func makeContext(_ host: TLSHost) throws -> Entry {
        let leaf = try self.minter.mint(host)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(leaf.certificate)],
            privateKey: .privateKey(self.minter.nioLeafKey)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = self.applicationProtocols
        return Entry(context: try NIOSSLContext(configuration: configuration), refreshAfter: leaf.refreshAfter)
    }

    /// Stores a successful mint and wakes everyone waiting for `host`, outside the lock.
    private func finish(_ host: TLSHost, with result: Result<Entry, any Error>) {
        let waiters = self.state.withLockedValue { state -> [Waiter] in
            switch result {
            case .success(let entry):
                if state.entries.setValue(entry, forKey: host) != nil {
                    state.statistics.evictions += 1
                }
            case .failure:
                // Failures are not cached: the next request tries again.
                state.statistics.failures += 1
            }
            return state.inFlight.removeValue(forKey: host) ?? []
        }
        let outcome = result.map(\.context)
        for waiter in waiters {
            waiter(outcome)
        }
    }
}
