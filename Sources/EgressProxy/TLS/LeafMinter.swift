import Crypto
import NIOSSL
import SwiftASN1
import X509

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Signs per-host leaf certificates with a sandbox CA.
///
/// One P-256 leaf key serves every leaf of a minter, so minting is one ECDSA signature
/// (about 15 µs) instead of a key generation as well. That key never leaves the proxy's memory
/// and every leaf it is in is for a host the same sandbox asked for, so sharing it gives a
/// client nothing it could not already see.
struct LeafMinter: Sendable {
    /// The issuing CA.
    let ca: SandboxCA
    /// The key every leaf certifies.
    let leafKey: P256.Signing.PrivateKey
    /// `leafKey` as NIOSSL serves it, converted once.
    let nioLeafKey: NIOSSLPrivateKey

    /// How long a leaf is valid: well under the 398 days clients accept, short enough that a
    /// leaked leaf soon stops mattering.
    static let validity: TimeInterval = 30 * 24 * 3600
    /// How far back `notBefore` is set, for sandbox clocks a little behind ours.
    static let backdating: TimeInterval = 3600
    /// RFC 5280's upper bound for a CN (`ub-common-name`); longer hosts are named in the SAN only.
    static let maximumCommonNameLength = 64

    init(ca: SandboxCA) throws {
        self.ca = ca
        // Not compact-representable: generation is about twice as fast and nothing here needs
        // the compact form.
        self.leafKey = P256.Signing.PrivateKey(compactRepresentable: false)
        self.nioLeafKey = try NIOSSLPrivateKey(bytes: Array(self.leafKey.derRepresentation), format: .der)
    }

    /// A leaf for `host` and the instant after which it should be replaced.
    struct Leaf: Sendable {
        /// The leaf certificate (the chain sent is the leaf alone: the sandbox trusts the CA).
        var certificate: NIOSSLCertificate
        /// When to stop serving this leaf: a day before it expires.
        var refreshAfter: Date
    }

    /// Signs a leaf certificate for `host`.
    ///
    /// SAN = the host (`dNSName`, or `iPAddress` for an IP literal), CN = the host when it fits,
    /// EKU serverAuth, keyUsage digitalSignature, authorityKeyIdentifier = the CA's key id,
    /// random 16-byte serial, valid from an hour ago for 30 days (never past the CA's own end).
    func mint(_ host: TLSHost, now: Date = Date()) throws -> Leaf {
        let notBefore = now - Self.backdating
        let notAfter = min(now + Self.validity, self.ca.certificate.notValidAfter)
        let hostText = host.description
        let subject = try DistinguishedName {
            if hostText.utf8.count <= Self.maximumCommonNameLength {
                CommonName(hostText)
            }
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Self.randomSerialNumber(),
            publicKey: Certificate.PublicKey(self.leafKey.publicKey),
            notValidBefore: notBefore,
            notValidAfter: notAfter,
            issuer: self.ca.certificate.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([host.generalName])
                AuthorityKeyIdentifier(keyIdentifier: self.ca.keyIdentifier)
            },
            issuerPrivateKey: self.ca.signingKey
        )
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        let nioCertificate = try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der)
        return Leaf(certificate: nioCertificate, refreshAfter: notAfter - 24 * 3600)
    }

    /// A positive 16-byte serial number from the system CSPRNG.
    private static func randomSerialNumber() -> Certificate.SerialNumber {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        // Top bit clear keeps the INTEGER positive; the next bit set keeps it exactly 16 bytes.
        bytes[0] = (bytes[0] & 0x7F) | 0x40
        return Certificate.SerialNumber(bytes: bytes)
    }
}
