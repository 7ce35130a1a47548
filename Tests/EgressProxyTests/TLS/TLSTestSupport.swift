import Crypto
import EgressProxy
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import X509

// MARK: - Temporary directories

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        self.path = NSTemporaryDirectory() + "/egress-tls-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: false)
    }

    func file(_ name: String) -> String { self.path + "/" + name }

    func write(_ text: String, to name: String) throws -> String {
        let path = self.file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}

/// A failure of the test harness itself (not of the code under test).
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The permission bits of `path`.
func fileMode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    guard let mode = attributes[.posixPermissions] as? NSNumber else {
        throw TestFailure("no permissions for \(path)")
    }
    return mode.intValue & 0o777
}

// MARK: - openssl CLI

/// The result of one `openssl` run.
struct CommandResult {
    var status: Int32
    var output: String
}

/// Runs `/usr/bin/openssl` with `arguments`, stdout and stderr together, killing it (by its own
/// PID) if it has not finished within 20 s.
func openssl(_ arguments: [String]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // openssl's output here is a few KiB, well under a pipe buffer, so reading after exit
    // cannot deadlock.
    var polls = 0
    while process.isRunning && polls < 2_000 {
        usleep(10_000)
        polls += 1
    }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw TestFailure("openssl \(arguments.joined(separator: " ")) did not finish within 20 s")
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    return CommandResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

// MARK: - Certificates

extension NIOSSLCertificate {
    /// The certificate as swift-certificates parses it.
    func x509() throws -> Certificate {
        try Certificate(derEncoded: self.toDERBytes())
    }

    /// The certificate in PEM.
    func pem() throws -> String {
        try self.x509().serializeAsPEM().pemString + "\n"
    }
}

extension Certificate {
    /// The certificate as NIOSSL serves it.
    func nio() throws -> NIOSSLCertificate {
        try NIOSSLCertificate(bytes: Array(self.pem().utf8), format: .pem)
    }

    func pem() throws -> String {
        try self.serializeAsPEM().pemString + "\n"
    }
}

/// A CA and server certificates signed by it, made with swift-certificates for upstream tests.
struct TestPKI {
    let rootKey: P256.Signing.PrivateKey
    let root: Certificate

    init(name: String) throws {
        self.rootKey = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        let publicKey = Certificate.PublicKey(self.rootKey.publicKey)
        self.root = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: publicKey,
            notValidBefore: Date() - 3600,
            notValidAfter: Date() + 86400,
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(self.rootKey)
        )
    }

    /// A server certificate with the given CN (if any) and subjectAltNames (none when empty).
    func server(commonName: String?, subjectAltNames: [GeneralName]) throws -> (NIOSSLCertificate, NIOSSLPrivateKey) {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            if let commonName { CommonName(commonName) }
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: Date() - 3600,
            notValidAfter: Date() + 86400,
            issuer: self.root.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                if !subjectAltNames.isEmpty {
                    SubjectAlternativeNames(subjectAltNames)
                }
            },
            issuerPrivateKey: Certificate.PrivateKey(self.rootKey)
        )
        return (try certificate.nio(), try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der))
    }
}

/// The 4 or 16 bytes of an IP literal for an `iPAddress` GeneralName.
func ipAddressName(_ literal: String) throws -> GeneralName {
    var v4 = in_addr()
    if inet_pton(AF_INET, literal, &v4) == 1 {
        return .ipAddress(.init(contentBytes: withUnsafeBytes(of: &v4) { Array($0) }[...]))
    }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, literal, &v6) == 1 {
        return .ipAddress(.init(contentBytes: withUnsafeBytes(of: &v6) { Array($0) }[...]))
    }
    throw TestFailure("not an IP literal: \(literal)")
}

// MARK: - Loopback TLS peers

/// Fails a promise if it has not completed within `seconds`, so no test waits forever.
func bound<T>(_ promise: EventLoopPromise<T>, seconds: Int64 = 10, what: String) {
    let timeout = promise.futureResult.eventLoop.scheduleTask(in: .seconds(seconds)) {
        promise.fail(TestFailure("\(what) did not finish within \(seconds) s"))
    }
    promise.futureResult.whenComplete { _ in timeout.cancel() }
}

/// Echoes every byte back: the TLS server's application.
final class EchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A TLS echo server on 127.0.0.1 whose server context `makeContext` picks per connection.
final class LoopbackTLSServer: Sendable {
    let channel: any Channel
    var port: Int { self.channel.localAddress?.port ?? 0 }

    init(
        group: any EventLoopGroup,
        makeContext: @escaping @Sendable (any Channel) -> EventLoopFuture<NIOSSLContext>
    ) async throws {
        self.channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                makeContext(channel).flatMapThrowing { context in
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    /// A server that always presents `certificate`, recording each ClientHello's SNI.
    static func serving(
        _ certificate: NIOSSLCertificate,
        key: NIOSSLPrivateKey,
        group: any EventLoopGroup,
        sniSeen: NIOLockedValueBox<[String?]>? = nil
    ) async throws -> LoopbackTLSServer {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(certificate)],
            privateKey: .privateKey(key)
        )
        configuration.applicationProtocols = ["http/1.1"]
        if let sniSeen {
            configuration.sslContextCallback = { values, promise in
                sniSeen.withLockedValue { $0.append(values.serverHostname) }
                promise.succeed(.init())
            }
        }
        let context = try NIOSSLContext(configuration: configuration)
        return try await LoopbackTLSServer(group: group) { channel in
            channel.eventLoop.makeSucceededFuture(context)
        }
    }

    func close() async {
        try? await self.channel.close()
    }
}

/// What a client saw: the negotiated ALPN protocol and the bytes echoed back.
struct ClientOutcome: Sendable {
    var negotiatedProtocol: String?
    var echoed: String
}

/// Records the handshake outcome and the echoed bytes of one client connection.
final class ClientProbe: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let message: String
    private let outcome: EventLoopPromise<ClientOutcome>
    private var negotiatedProtocol: String?
    private var received = ""

    init(message: String, outcome: EventLoopPromise<ClientOutcome>) {
        self.message = message
        self.outcome = outcome
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent {
            self.negotiatedProtocol = negotiated
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: self.message)), promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        self.received += buffer.readString(length: buffer.readableBytes) ?? ""
        if self.received.utf8.count >= self.message.utf8.count {
            self.outcome.succeed(ClientOutcome(negotiatedProtocol: self.negotiatedProtocol, echoed: self.received))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The first error is the verdict (NIOSSL fires the TLS error before closing).
        self.outcome.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.outcome.fail(TestFailure("connection closed before the echo arrived"))
        context.fireChannelInactive()
    }
}

/// Connects to 127.0.0.1:`port`, runs the TLS handshake with the handler `makeTLSHandler`
/// returns, sends `message` and returns what came back (or throws the first error).
func runClient(
    group: any EventLoopGroup,
    port: Int,
    message: String = "ping",
    makeTLSHandler: @escaping @Sendable () throws -> NIOSSLClientHandler
) async throws -> ClientOutcome {
    let eventLoop = group.next()
    let outcome = eventLoop.makePromise(of: ClientOutcome.self)
    bound(outcome, what: "TLS client exchange")
    let connect = ClientBootstrap(group: eventLoop)
        .connectTimeout(.seconds(5))
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(makeTLSHandler())
                try channel.pipeline.syncOperations.addHandler(ClientProbe(message: message, outcome: outcome))
            }
        }
        .connect(host: "127.0.0.1", port: port)
    connect.whenFailure { outcome.fail($0) }
    let result = try await outcome.futureResult.get()
    if let channel = try? await connect.get() {
        try? await channel.close()
    }
    return result
}
