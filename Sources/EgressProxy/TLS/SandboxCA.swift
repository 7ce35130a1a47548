import Crypto
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The certificate authority of one sandbox: it signs the leaf certificates the proxy presents
/// to that sandbox, and only that sandbox trusts it.
///
/// On disk it is `<ca-dir>/<sandbox>/ca.pem` (certificate) and `ca.key` (PKCS#8 PEM, mode 0600).
/// The key is ECDSA P-256; the certificate is self-signed, CA:TRUE with pathLen 0 (it signs
/// leaves only), valid for ten years from an hour ago (the hour absorbs clock skew between the
/// proxy and the sandbox).
public final class SandboxCA: Sendable {
    /// The sandbox this CA belongs to.
    public let sandbox: String
    /// The CA certificate.
    public let certificate: Certificate
    /// The CA certificate in PEM, ending in a newline: what a sandbox adds to its trust store.
    public let certificatePEM: String

    /// The CA's private key.
    let privateKey: P256.Signing.PrivateKey
    /// The same key, as swift-certificates signs with it.
    let signingKey: Certificate.PrivateKey
    /// The CA's subjectKeyIdentifier, which every leaf names as its authorityKeyIdentifier.
    let keyIdentifier: ArraySlice<UInt8>

    /// Validity of a new CA certificate.
    static let validity: TimeInterval = 10 * 365.25 * 24 * 3600
    /// How far back `notBefore` is set, for clocks that are a little behind ours.
    static let backdating: TimeInterval = 3600

    // MARK: Creating

    private init(sandbox: String, certificate: Certificate, key: P256.Signing.PrivateKey) throws {
        self.sandbox = sandbox
        self.certificate = certificate
        self.privateKey = key
        self.signingKey = Certificate.PrivateKey(key)
        self.certificatePEM = try certificate.serializeAsPEM().pemString + "\n"
        // A CA made elsewhere may lack the extension; RFC 5280's method 1 gives the same value
        // our own CAs carry.
        self.keyIdentifier =
            (try? certificate.extensions.subjectKeyIdentifier)?.keyIdentifier
            ?? SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
    }

    /// Makes a new CA in memory (tests, and the gateway's per-sandbox CAs before they are saved).
    public static func generate(sandbox: String) throws -> SandboxCA {
        guard !sandbox.isEmpty else {
            throw SandboxCAError(.invalidSandbox, path: "", detail: "the sandbox identifier is empty")
        }
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let now = Date()
        // RFC 5280's upper bound for a CN is 64 characters; a long sandbox id is cut, the key
        // identifier tells CAs apart anyway.
        let commonName = String("egress-proxy CA \(sandbox)".prefix(64))
        let name = try DistinguishedName {
            CommonName(commonName)
            OrganizationName("egress-proxy")
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now - Self.backdating,
            notValidAfter: now + Self.validity,
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return try SandboxCA(sandbox: sandbox, certificate: certificate, key: key)
    }

    // MARK: Files

    /// Loads the CA in `directory` (`<ca-dir>/<sandbox>/`), creating it when neither file exists.
    ///
    /// Creation makes the directory (mode 0700), writes `ca.key` (mode 0600 from its creation,
    /// moved into place atomically) and then `ca.pem`; the certificate comes last, so a crash in
    /// between leaves an `incomplete` CA that is reported rather than a half-trusted one. A
    /// lock file serialises processes that start at the same moment.
    ///
    /// - Throws: ``SandboxCAError`` naming the file: `incomplete` when only one file exists,
    ///   `corrupt` when a file does not parse, `mismatched` when the key is not the
    ///   certificate's, `unusable` when the certificate is not a valid P-256 CA.
    public static func loadOrCreate(directory: String, sandbox: String) throws -> SandboxCA {
        guard !sandbox.isEmpty else {
            throw SandboxCAError(.invalidSandbox, path: directory, detail: "the sandbox identifier is empty")
        }
        let store = CAFileStore(directory: directory)
        try store.createDirectory()
        return try store.withLock { () throws(SandboxCAError) -> SandboxCA in
            let haveCertificate = CAFileStore.exists(store.certificatePath)
            let haveKey = CAFileStore.exists(store.keyPath)
            switch (haveCertificate, haveKey) {
            case (true, true):
                return try Self.load(store: store, sandbox: sandbox)
            case (false, false):
                let ca: SandboxCA
                do {
                    ca = try Self.generate(sandbox: sandbox)
                } catch {
                    throw SandboxCAError(.unwritable, path: store.directory, detail: "could not generate a CA: \(error)")
                }
                try ca.save(to: store)
                return ca
            case (true, false):
                throw SandboxCAError(
                    .incomplete,
                    path: store.keyPath,
                    detail: "\(store.certificatePath) exists but its key is missing; restore the key or remove the certificate to create a new CA (sandboxes must then trust the new one)"
                )
            case (false, true):
                throw SandboxCAError(
                    .incomplete,
                    path: store.certificatePath,
                    detail: "\(store.keyPath) exists but the certificate is missing; restore the certificate or remove the key to create a new CA"
                )
            }
        }
    }

    /// The PEM certificate of the CA that already exists in `directory`, for `ca export`.
    ///
    /// - Throws: ``SandboxCAError`` `notFound` when there is no `ca.pem`, `corrupt` when it does
    ///   not parse.
    public static func export(directory: String) throws -> String {
        let store = CAFileStore(directory: directory)
        guard CAFileStore.exists(store.certificatePath) else {
            throw SandboxCAError(
                .notFound,
                path: store.certificatePath,
                detail: "no CA certificate; create one with `egress-proxy ca init --sandbox ID`"
            )
        }
        let certificate = try Self.parseCertificate(at: store.certificatePath)
        return try certificate.serializeAsPEM().pemString + "\n"
    }

    private func save(to store: CAFileStore) throws(SandboxCAError) {
        // `pemRepresentation` is the key as PKCS#8 PEM (written 0600, never committed).
        let keyPEM = self.privateKey.pemRepresentation + "\n"
        try CAFileStore.writeAtomically(Array(keyPEM.utf8), to: store.keyPath, mode: CAFileStore.keyFileMode)
        try CAFileStore.writeAtomically(
            Array(self.certificatePEM.utf8),
            to: store.certificatePath,
            mode: CAFileStore.certificateFileMode
        )
    }

    private static func load(store: CAFileStore, sandbox: String) throws(SandboxCAError) -> SandboxCA {
        let certificate = try Self.parseCertificate(at: store.certificatePath)
        let keyText = String(decoding: try CAFileStore.readFile(store.keyPath), as: UTF8.self)
        let key: P256.Signing.PrivateKey
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: keyText)
        } catch {
            // The parser's message is not shown: it could quote part of the key.
            throw SandboxCAError(.corrupt, path: store.keyPath, detail: "not a PEM ECDSA P-256 private key (PKCS#8 or SEC1)")
        }
        guard Certificate.PublicKey(key.publicKey) == certificate.publicKey else {
            throw SandboxCAError(
                .mismatched,
                path: store.keyPath,
                detail: "\(store.keyPath) is not the private key of the certificate in \(store.certificatePath)"
            )
        }
        guard case .some(.isCertificateAuthority) = try? certificate.extensions.basicConstraints else {
            throw SandboxCAError(.unusable, path: store.certificatePath, detail: "basicConstraints CA:TRUE is missing")
        }
        guard certificate.notValidAfter > Date() else {
            throw SandboxCAError(
                .unusable,
                path: store.certificatePath,
                detail: "the certificate expired at \(certificate.notValidAfter); remove both files to create a new CA"
            )
        }
        do {
            return try SandboxCA(sandbox: sandbox, certificate: certificate, key: key)
        } catch {
            throw SandboxCAError(.corrupt, path: store.certificatePath, detail: "\(error)")
        }
    }

    private static func parseCertificate(at path: String) throws(SandboxCAError) -> Certificate {
        let text = String(decoding: try CAFileStore.readFile(path), as: UTF8.self)
        do {
            return try Certificate(pemEncoded: text)
        } catch {
            throw SandboxCAError(.corrupt, path: path, detail: "not a PEM certificate: \(error)")
        }
    }
}
