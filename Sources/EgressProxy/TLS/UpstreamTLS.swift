import NIOCore
import NIOSSL
import SwiftASN1
import X509

/// TLS from the proxy to upstream servers: one shared client context, one handler per
/// connection, and the classification of its errors as `upstream_tls`.
///
/// Verification is BoringSSL's full chain validation against the system trust store plus the
/// `--upstream-ca` roots, NIOSSL's hostname check, and then the proxy's own subjectAltName
/// check. The last one exists because NIOSSL 2.37.6 (`validIdentityForService` in
/// `IdentityVerification.swift`) falls back to the subject CN when a certificate has no
/// subjectAltName, and also accepts an `iPAddress` SAN equal to the dialled address for a
/// DNS name; SPEC section 4 step 7 requires the host to be named in the subjectAltName itself.
public enum UpstreamTLS {
    /// The ALPN list offered upstream by default (HTTP/2 comes later).
    public static let defaultApplicationProtocols = ["http/1.1"]

    // MARK: Context

    /// The client context for every upstream connection: system roots plus every certificate
    /// in `extraRootsPEMFile`, full verification, TLS 1.2 or later.
    ///
    /// Building it parses the whole system trust store (a few ms): build it once at start-up
    /// and share it (`NIOSSLContext` is `Sendable`).
    ///
    /// - Throws: ``UpstreamTLSError`` `invalidExtraRoots` naming the file when it cannot be read
    ///   or holds no PEM certificate.
    public static func makeClientContext(
        extraRootsPEMFile: String?,
        applicationProtocols: [String] = UpstreamTLS.defaultApplicationProtocols
    ) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = .default
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = applicationProtocols
        if let extraRootsPEMFile {
            configuration.additionalTrustRoots = [.certificates(try Self.loadRoots(extraRootsPEMFile))]
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Every certificate in a PEM file.
    private static func loadRoots(_ path: String) throws -> [NIOSSLCertificate] {
        let bytes: [UInt8]
        do {
            bytes = try CAFileStore.readFile(path)
        } catch {
            throw UpstreamTLSError(.invalidExtraRoots, subject: path, detail: error.detail)
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw UpstreamTLSError(.invalidExtraRoots, subject: path, detail: "not a PEM certificate file: \(error)")
        }
        guard !certificates.isEmpty else {
            throw UpstreamTLSError(.invalidExtraRoots, subject: path, detail: "the file holds no PEM certificate")
        }
        return certificates
    }

    // MARK: Handler

    /// A client handler for one connection to `host` (the CONNECT host, already dialled at its
    /// pinned address).
    ///
    /// A DNS name is sent as SNI and must be a `dNSName` SAN of the certificate; an IP literal
    /// sends no SNI (RFC 6066) and must be an `iPAddress` SAN. The check runs inside the
    /// handshake, after chain validation and before `TLSUserEvent.handshakeCompleted` and before
    /// any buffered write is sent, so nothing (no secret) reaches an unverified server.
    ///
    /// - Throws: ``TLSHostError`` for a host no certificate can name.
    public static func makeClientHandler(context: NIOSSLContext, host: String) throws -> NIOSSLClientHandler {
        let target = try TLSHost(host)
        // `_makeSSLClientHandler` is NIOSSL's hook that runs after its own verification
        // succeeded. The public `customVerificationCallback` would replace BoringSSL's chain
        // validation instead of adding to it.
        return try NIOSSLClientHandler._makeSSLClientHandler(
            context: context,
            serverHostname: target.serverNameIndication,
            additionalPeerCertificateVerificationCallback: { leaf, channel in
                do {
                    try Self.checkSubjectAltName(of: leaf, names: target)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        )
    }

    /// Requires `leaf` to name `host` in its subjectAltName; the subject CN is never used.
    static func checkSubjectAltName(of leaf: NIOSSLCertificate, names host: TLSHost) throws(UpstreamTLSError) {
        let names: SubjectAlternativeNames?
        do {
            names = try Certificate(derEncoded: leaf.toDERBytes()).extensions.subjectAlternativeNames
        } catch {
            throw UpstreamTLSError(.unreadableCertificate, subject: host.description, detail: "\(error)")
        }
        guard let names, !names.isEmpty else {
            throw UpstreamTLSError(.noSubjectAltName, subject: host.description, detail: "")
        }
        guard host.isNamed(in: names) else {
            throw UpstreamTLSError(.subjectAltNameMismatch, subject: host.description, detail: "\(names)")
        }
    }

    // MARK: Errors

    /// Whether `error` from an upstream connection is a TLS failure (`upstream_tls`): a failed
    /// handshake (protocol, no shared cipher, untrusted or expired chain), a hostname or
    /// subjectAltName mismatch, an invalid SNI name.
    ///
    /// The upstream closing or resetting the TCP connection during the handshake is not: that
    /// is `upstream_error`, like any other refused or reset connection.
    public static func isTLSFailure(_ error: any Error) -> Bool {
        switch error {
        case is UpstreamTLSError, is TLSHostError, is NIOSSLExtraError:
            return true
        case let error as BoringSSLError:
            return !Self.isConnectionLoss(error)
        case let error as NIOSSLError:
            switch error {
            case .handshakeFailed(let cause):
                return !Self.isConnectionLoss(cause)
            case .noCertificateToValidate, .unableToValidateCertificate, .cannotMatchULabel, .cannotFindPeerIP:
                return true
            default:
                // Shutdown and I/O-state errors after a handshake are not TLS verdicts.
                return false
            }
        default:
            return false
        }
    }

    /// The peer went away mid-handshake rather than refusing us in TLS terms.
    private static func isConnectionLoss(_ error: BoringSSLError) -> Bool {
        switch error {
        case .syscallError, .zeroReturn:
            return true
        case .sslError(let stack):
            return !stack.isEmpty && stack.allSatisfy { $0 == .eofDuringHandshake }
        default:
            return false
        }
    }
}
