import EgressProxy
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import X509

@Suite("LeafCertificateCache")
struct LeafCertificateCacheTests {
    /// The shared, always started thread pool (tests that stop a pool make their own).
    private static func makePool() -> NIOThreadPool {
        NIOThreadPool.singleton
    }

    // MARK: Leaves as openssl sees them

    @Test(
        "openssl verifies a minted leaf against the CA, for the host it names",
        arguments: [
            ("test.local", ["-verify_hostname", "test.local"], "DNS:test.local"),
            ("API.Example.COM.", ["-verify_hostname", "api.example.com"], "DNS:api.example.com"),
            ("127.0.0.1", ["-verify_ip", "127.0.0.1"], "IP Address:127.0.0.1"),
            ("::1", ["-verify_ip", "::1"], "IP Address:0:0:0:0:0:0:0:1"),
            ("[2001:db8::5]", ["-verify_ip", "2001:db8::5"], "IP Address:2001:DB8:0:0:0:0:0:5"),
        ]
    )
    func opensslVerifiesLeaf(host: String, identityCheck: [String], sanText: String) throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let pool = Self.makePool()
        let ca = try SandboxCA.generate(sandbox: "sb")
        let cache = try LeafCertificateCache(ca: ca, threadPool: pool)
        let leaf = try cache.mintLeaf(host: host)
        let caFile = try temporary.write(ca.certificatePEM, to: "ca.pem")
        let leafFile = try temporary.write(try #require(leaf.chain.first).pem(), to: "leaf.pem")

        let verify = try openssl(["verify", "-CAfile", caFile, "-purpose", "sslserver"] + identityCheck + [leafFile])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("\(leafFile): OK"))

        let text = try openssl(["x509", "-in", leafFile, "-noout", "-text"])
        #expect(text.status == 0)
        #expect(text.output.contains("X509v3 Subject Alternative Name"))
        #expect(text.output.contains(sanText), "\(text.output)")
        #expect(text.output.contains("TLS Web Server Authentication"))
        #expect(text.output.contains("Digital Signature"))
        #expect(text.output.contains("CA:FALSE"))
        #expect(text.output.contains("ASN1 OID: prime256v1"))
    }

    @Test("openssl rejects a leaf for another name, and a leaf checked against another CA")
    func opensslRejects() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let pool = Self.makePool()
        let ca = try SandboxCA.generate(sandbox: "sb")
        let other = try SandboxCA.generate(sandbox: "other")
        let cache = try LeafCertificateCache(ca: ca, threadPool: pool)
        let leafFile = try temporary.write(try #require(try cache.mintLeaf(host: "test.local").chain.first).pem(), to: "leaf.pem")
        let caFile = try temporary.write(ca.certificatePEM, to: "ca.pem")
        let otherFile = try temporary.write(other.certificatePEM, to: "other.pem")

        #expect(try openssl(["verify", "-CAfile", caFile, "-verify_hostname", "evil.local", leafFile]).status != 0)
        #expect(try openssl(["verify", "-CAfile", otherFile, leafFile]).status != 0)
    }

    @Test("a leaf has a random 16-byte serial, the CA's key id, 30 days of validity, and the shared leaf key")
    func leafFields() throws {
        let pool = Self.makePool()
        let ca = try SandboxCA.generate(sandbox: "sb")
        let cache = try LeafCertificateCache(ca: ca, threadPool: pool)
        let a = try cache.mintLeaf(host: "a.test")
        let b = try cache.mintLeaf(host: "b.test")
        let leafA = try #require(a.chain.first).x509()
        let leafB = try #require(b.chain.first).x509()

        #expect(leafA.serialNumber.bytes.count == 16)
        #expect(leafA.serialNumber != leafB.serialNumber)
        #expect(leafA.issuer == ca.certificate.subject)
        let caKeyID = try #require(try ca.certificate.extensions.subjectKeyIdentifier).keyIdentifier
        #expect(try leafA.extensions.authorityKeyIdentifier?.keyIdentifier == caKeyID)
        #expect(try leafA.extensions.subjectAlternativeNames == SubjectAlternativeNames([.dnsName("a.test")]))
        #expect(leafA.subject.description == "CN=a.test")
        let days = leafA.notValidAfter.timeIntervalSince(leafA.notValidBefore) / 86400
        #expect(abs(days - (30 + 1.0 / 24)) < 0.01)
        #expect(leafA.notValidBefore < Date() - 3500)
        // One leaf key per cache: minting is only a signature.
        #expect(leafA.publicKey == leafB.publicKey)
        #expect(a.key == b.key)
    }

    @Test("a host longer than a CN may be is named in the SAN only")
    func longHost() throws {
        let pool = Self.makePool()
        let cache = try LeafCertificateCache(ca: try SandboxCA.generate(sandbox: "sb"), threadPool: pool)
        let host = String(repeating: "a", count: 60) + ".example.com"
        let leaf = try #require(try cache.mintLeaf(host: host).chain.first).x509()
        #expect(leaf.subject.isEmpty)
        #expect(try leaf.extensions.subjectAlternativeNames == SubjectAlternativeNames([.dnsName(host)]))
    }

    @Test(
        "hosts no certificate may name are refused",
        arguments: ["", "*.example.com", "exa mple.com", "bücher.de", "a..b", "fe80::1%eth0", String(repeating: "a", count: 64) + ".com"]
    )
    func invalidHosts(host: String) async throws {
        let pool = Self.makePool()
        let cache = try LeafCertificateCache(ca: try SandboxCA.generate(sandbox: "sb"), threadPool: pool)
        #expect(throws: TLSHostError.self) { try cache.mintLeaf(host: host) }
        await #expect(throws: TLSHostError.self) { try await cache.serverContext(forHost: host) }
        #expect(cache.statistics.mints == 0)
    }

    // MARK: Caching

    @Test("50 concurrent first requests for one host mint once; a second host mints once more")
    func coalescesConcurrentMints() async throws {
        // A one-thread pool held busy until all 50 requests have arrived, so they really are
        // concurrent first requests whatever the scheduler does.
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let release = DispatchSemaphore(value: 0)
        pool.submit { _ in _ = release.wait(timeout: .now() + 20) }
        let cache = try LeafCertificateCache(ca: try SandboxCA.generate(sandbox: "sb"), threadPool: pool)
        let group = MultiThreadedEventLoopGroup.singleton

        // Each request gets a promise that fails after 10 s, so a lost waiter is a failure,
        // not a hang.
        let requests = (0..<50).map { _ -> EventLoopFuture<NIOSSLContext> in
            let loop = group.next()
            let promise = loop.makePromise(of: NIOSSLContext.self)
            bound(promise, what: "coalesced mint")
            cache.serverContext(forHost: "one.test", eventLoop: loop).cascade(to: promise)
            return promise.futureResult
        }
        #expect(cache.statistics.mints == 1)
        #expect(cache.statistics.coalesced == 49)
        release.signal()

        var contexts: [NIOSSLContext] = []
        for request in requests {
            contexts.append(try await request.get())
        }
        #expect(contexts.allSatisfy { $0 === contexts[0] })
        var statistics = cache.statistics
        #expect(statistics.mints == 1)

        let again = try await cache.serverContext(forHost: "ONE.test.")
        #expect(again === contexts[0])
        _ = try await cache.serverContext(forHost: "two.test")
        statistics = cache.statistics
        #expect(statistics.mints == 2)
        #expect(statistics.hits == 1)
        #expect(statistics.entries == 2)
        try await pool.shutdownGracefully()
    }

    @Test("the future variant completes on the event loop it was given")
    func futureCompletesOnEventLoop() async throws {
        let pool = Self.makePool()
        let group = MultiThreadedEventLoopGroup.singleton
        let cache = try LeafCertificateCache(ca: try SandboxCA.generate(sandbox: "sb"), threadPool: pool)
        let loop = group.next()

        for expectedMints in [1, 1] {
            let future = cache.serverContext(forHost: "loop.test", eventLoop: loop)
            #expect(future.eventLoop === loop)
            let onLoop = try await future.map { _ in loop.inEventLoop }.get()
            #expect(onLoop)
            #expect(cache.statistics.mints == expectedMints)
        }
        #expect(cache.statistics.hits == 1)
    }

    @Test("past capacity the least recently used host is evicted and minted again when asked for")
    func evictsLeastRecentlyUsed() async throws {
        let pool = Self.makePool()
        let cache = try LeafCertificateCache(ca: try SandboxCA.generate(sandbox: "sb"), threadPool: pool, capacity: 2)

        _ = try await cache.serverContext(forHost: "a.test")
        _ = try await cache.serverContext(forHost: "b.test")
        _ = try await cache.serverContext(forHost: "a.test")  // a is now the most recent
        _ = try await cache.serverContext(forHost: "c.test")  // evicts b
        #expect(cache.statistics.evictions == 1)
        #expect(cache.statistics.entries == 2)
        #expect(cache.statistics.mints == 3)

        _ = try await cache.serverContext(forHost: "a.test")
        #expect(cache.statistics.mints == 3, "a stayed cached")
        _ = try await cache.serverContext(forHost: "b.test")
        #expect(cache.statistics.mints == 4, "b was evicted and minted again")
    }

    @Test("a stopped thread pool fails the request instead of hanging it")
    func stoppedPool() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let cache = try LeafCertificateCache(ca: try SandboxCA.generate(sandbox: "sb"), threadPool: pool)
        try await pool.shutdownGracefully()
        await #expect(throws: (any Error).self) { try await cache.serverContext(forHost: "late.test") }
        #expect(cache.statistics.failures == 1)
    }

    // MARK: End to end

    @Test(
        "a client trusting only the CA completes a handshake with the cache's context and exchanges bytes",
        arguments: [("test.local", "test.local" as String?), ("127.0.0.1", nil)]
    )
    func endToEndHandshake(host: String, serverHostname: String?) async throws {
        let pool = Self.makePool()
        let group = MultiThreadedEventLoopGroup.singleton
        let ca = try SandboxCA.generate(sandbox: "sb")
        let cache = try LeafCertificateCache(ca: ca, threadPool: pool)
        let server = try await LoopbackTLSServer(group: group) { channel in
            cache.serverContext(forHost: host, eventLoop: channel.eventLoop)
        }

        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(ca.certificatePEM.utf8), format: .pem)])
        configuration.applicationProtocols = ["http/1.1"]
        configuration.minimumTLSVersion = .tlsv12
        let clientContext = try NIOSSLContext(configuration: configuration)

        let outcome = try await runClient(group: group, port: server.port, message: "hello through mitm") {
            try NIOSSLClientHandler(context: clientContext, serverHostname: serverHostname)
        }
        #expect(outcome.echoed == "hello through mitm")
        #expect(outcome.negotiatedProtocol == "http/1.1")

        // The same name from a client that trusts another CA is refused.
        var strangerConfiguration = TLSConfiguration.makeClientConfiguration()
        strangerConfiguration.trustRoots = .certificates([
            try NIOSSLCertificate(bytes: Array(try SandboxCA.generate(sandbox: "x").certificatePEM.utf8), format: .pem)
        ])
        let strangerContext = try NIOSSLContext(configuration: strangerConfiguration)
        await #expect(throws: NIOSSLError.self) {
            try await runClient(group: group, port: server.port) {
                try NIOSSLClientHandler(context: strangerContext, serverHostname: serverHostname)
            }
        }
        #expect(cache.statistics.mints == 1)
        await server.close()
    }
}
