import EgressProxy
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import X509

@Suite("UpstreamTLS")
struct UpstreamTLSTests {
    /// A trusted test root (passed as `--upstream-ca`), the client context trusting it, and a
    /// loop group; `close()` tears them down.
    private struct Fixture {
        let temporary: TemporaryDirectory
        let group: MultiThreadedEventLoopGroup = .singleton
        let trusted: TestPKI
        let rootsFile: String
        let context: NIOSSLContext

        init() throws {
            self.temporary = try TemporaryDirectory()
            self.trusted = try TestPKI(name: "Upstream Test Root")
            let unrelated = try TestPKI(name: "Unrelated Root")
            // Every certificate in the file is trusted, not only the first.
            self.rootsFile = try self.temporary.write(try unrelated.root.pem() + self.trusted.root.pem(), to: "roots.pem")
            self.context = try UpstreamTLS.makeClientContext(extraRootsPEMFile: self.rootsFile)
        }

        /// Serves a certificate from `pki` and connects to it as `host`.
        func connect(
            host: String,
            commonName: String?,
            subjectAltNames: [GeneralName],
            pki: TestPKI? = nil,
            sniSeen: NIOLockedValueBox<[String?]>? = nil
        ) async throws -> ClientOutcome {
            let (certificate, key) = try (pki ?? self.trusted).server(commonName: commonName, subjectAltNames: subjectAltNames)
            let server = try await LoopbackTLSServer.serving(certificate, key: key, group: self.group, sniSeen: sniSeen)
            let context = self.context
            let outcome: Result<ClientOutcome, any Error>
            do {
                outcome = .success(
                    try await runClient(group: self.group, port: server.port) {
                        try UpstreamTLS.makeClientHandler(context: context, host: host)
                    }
                )
            } catch {
                outcome = .failure(error)
            }
            await server.close()
            return try outcome.get()
        }

        func close() {
            self.temporary.remove()
        }
    }

    /// Runs `connect` and returns the error it failed with.
    private func failure(_ connect: () async throws -> ClientOutcome) async -> (any Error)? {
        do {
            _ = try await connect()
            return nil
        } catch {
            return error
        }
    }

    // MARK: Accepted

    @Test("a server certified by a root from the extra roots file is accepted, with SNI = host")
    func acceptsExtraRoot() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let sniSeen = NIOLockedValueBox<[String?]>([])
        let outcome = try await fixture.connect(
            host: "upstream.test",
            commonName: "upstream.test",
            subjectAltNames: [.dnsName("upstream.test")],
            sniSeen: sniSeen
        )
        #expect(outcome.echoed == "ping")
        #expect(outcome.negotiatedProtocol == "http/1.1")
        #expect(sniSeen.withLockedValue { $0 } == ["upstream.test"])
    }

    @Test("a wildcard SAN covers one label")
    func acceptsWildcard() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let outcome = try await fixture.connect(host: "api.upstream.test", commonName: nil, subjectAltNames: [.dnsName("*.upstream.test")])
        #expect(outcome.echoed == "ping")
    }

    @Test("an IP literal sends no SNI and is accepted by an IP SAN")
    func acceptsIPLiteral() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let sniSeen = NIOLockedValueBox<[String?]>([])
        let outcome = try await fixture.connect(
            host: "127.0.0.1",
            commonName: nil,
            subjectAltNames: [try ipAddressName("127.0.0.1")],
            sniSeen: sniSeen
        )
        #expect(outcome.echoed == "ping")
        #expect(sniSeen.withLockedValue { $0 } == [nil])
    }

    // MARK: Refused

    @Test("a server certified by an untrusted root fails as a TLS failure")
    func rejectsUntrusted() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let stranger = try TestPKI(name: "Stranger Root")
        let error = await self.failure {
            try await fixture.connect(host: "upstream.test", commonName: "upstream.test", subjectAltNames: [.dnsName("upstream.test")], pki: stranger)
        }
        let unwrapped = try #require(error)
        #expect(UpstreamTLS.isTLSFailure(unwrapped), "\(unwrapped)")
        #expect(unwrapped is NIOSSLError)
    }

    @Test("without the extra roots file the test root is not trusted")
    func systemStoreAloneRejects() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let systemOnly = try UpstreamTLS.makeClientContext(extraRootsPEMFile: nil)
        let (certificate, key) = try fixture.trusted.server(commonName: nil, subjectAltNames: [.dnsName("upstream.test")])
        let server = try await LoopbackTLSServer.serving(certificate, key: key, group: fixture.group)
        let error = await self.failure {
            try await runClient(group: fixture.group, port: server.port) {
                try UpstreamTLS.makeClientHandler(context: systemOnly, host: "upstream.test")
            }
        }
        await server.close()
        #expect(error.map(UpstreamTLS.isTLSFailure) == true)
    }

    @Test("a certificate naming the host only in its subject CN fails (NIOSSL alone would accept it)")
    func rejectsCommonNameOnly() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        // NIOSSL's own verification accepts the CN-only certificate; this pins the reason
        // our extra check exists.
        let (certificate, key) = try fixture.trusted.server(commonName: "upstream.test", subjectAltNames: [])
        let server = try await LoopbackTLSServer.serving(certificate, key: key, group: fixture.group)
        let context = fixture.context
        let plain = try await runClient(group: fixture.group, port: server.port) {
            try NIOSSLClientHandler(context: context, serverHostname: "upstream.test")
        }
        #expect(plain.echoed == "ping")
        await server.close()

        let error = await self.failure {
            try await fixture.connect(host: "upstream.test", commonName: "upstream.test", subjectAltNames: [])
        }
        let tlsError = try #require(error as? UpstreamTLSError)
        #expect(tlsError.kind == .noSubjectAltName)
        #expect(UpstreamTLS.isTLSFailure(tlsError))
    }

    @Test("a SAN for another name fails, whatever the CN says")
    func rejectsOtherName() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let error = await self.failure {
            try await fixture.connect(host: "upstream.test", commonName: "upstream.test", subjectAltNames: [.dnsName("other.test")])
        }
        let unwrapped = try #require(error)
        #expect(UpstreamTLS.isTLSFailure(unwrapped), "\(unwrapped)")
    }

    @Test("an IP SAN equal to the dialled address does not vouch for a DNS name")
    func rejectsIPSANForName() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let error = await self.failure {
            try await fixture.connect(host: "upstream.test", commonName: nil, subjectAltNames: [try ipAddressName("127.0.0.1")])
        }
        let tlsError = try #require(error as? UpstreamTLSError)
        #expect(tlsError.kind == .subjectAltNameMismatch)
    }

    @Test("an IP literal is not vouched for by a DNS SAN or another IP", arguments: [
        [GeneralName.dnsName("127.0.0.1")],
        [GeneralName.dnsName("localhost")],
    ])
    func rejectsIPLiteralWithoutIPSAN(names: [GeneralName]) async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let error = await self.failure {
            try await fixture.connect(host: "127.0.0.1", commonName: "127.0.0.1", subjectAltNames: names)
        }
        #expect(error.map(UpstreamTLS.isTLSFailure) == true, "\(String(describing: error))")
    }

    @Test("a wildcard does not cover the bare domain or two labels", arguments: ["upstream.test", "a.b.upstream.test"])
    func rejectsWildcardMisuse(host: String) async throws {
        let fixture = try Fixture()
        defer { fixture.close() }
        let error = await self.failure {
            try await fixture.connect(host: host, commonName: nil, subjectAltNames: [.dnsName("*.upstream.test")])
        }
        #expect(error.map(UpstreamTLS.isTLSFailure) == true)
    }

    // MARK: Errors that are not TLS

    @Test("a refused connection and a peer that hangs up mid-handshake are not TLS failures")
    func connectionErrorsAreNotTLS() async throws {
        let fixture = try Fixture()
        defer { fixture.close() }

        // A port that was just free: nothing listens there.
        let closed = try await ServerBootstrap(group: fixture.group).bind(host: "127.0.0.1", port: 0).get()
        let closedPort = try #require(closed.localAddress?.port)
        try await closed.close()
        let context = fixture.context
        let refused = await self.failure {
            try await runClient(group: fixture.group, port: closedPort) {
                try UpstreamTLS.makeClientHandler(context: context, host: "upstream.test")
            }
        }
        #expect(refused != nil)
        #expect(refused.map(UpstreamTLS.isTLSFailure) == false, "\(String(describing: refused))")

        // A server that accepts and closes at once.
        let hangUp = try await ServerBootstrap(group: fixture.group)
            .childChannelInitializer { channel in channel.close() }
            .bind(host: "127.0.0.1", port: 0).get()
        let hangUpPort = try #require(hangUp.localAddress?.port)
        let eof = await self.failure {
            try await runClient(group: fixture.group, port: hangUpPort) {
                try UpstreamTLS.makeClientHandler(context: context, host: "upstream.test")
            }
        }
        try await hangUp.close()
        #expect(eof != nil)
        #expect(eof.map(UpstreamTLS.isTLSFailure) == false, "\(String(describing: eof))")
    }

    @Test("the classifier's table")
    func classifierTable() {
        #expect(UpstreamTLS.isTLSFailure(NIOSSLExtraError.failedToValidateHostname))
        #expect(UpstreamTLS.isTLSFailure(NIOSSLError.handshakeFailed(.sslError([]))))
        #expect(!UpstreamTLS.isTLSFailure(NIOSSLError.handshakeFailed(.sslError([.eofDuringHandshake]))))
        #expect(!UpstreamTLS.isTLSFailure(NIOSSLError.uncleanShutdown))
        #expect(!UpstreamTLS.isTLSFailure(ChannelError.connectTimeout(.seconds(1))))
        #expect(!UpstreamTLS.isTLSFailure(IOError(errnoCode: ECONNRESET, reason: "read")))
    }

    // MARK: Configuration

    @Test("an extra roots file that is missing or holds no certificate is an error naming the file")
    func invalidExtraRoots() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let missing = temporary.file("missing.pem")
        let empty = try temporary.write("no certificates here\n", to: "empty.pem")
        for path in [missing, empty] {
            let error = try #require(throws: UpstreamTLSError.self) {
                try UpstreamTLS.makeClientContext(extraRootsPEMFile: path)
            }
            #expect(error.kind == .invalidExtraRoots)
            #expect(error.description.contains(path))
        }
    }
}
