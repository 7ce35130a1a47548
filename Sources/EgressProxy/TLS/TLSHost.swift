import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A TLS peer identity: the host a certificate must name, either a DNS name or an IP literal.
///
/// Both sides of the MITM use it: the minted leaf names the host in its subjectAltName, and the
/// upstream check requires the server's certificate to name it there too. IP literals become
/// `iPAddress` SANs and are never sent as SNI (RFC 6066 forbids IP addresses in SNI).
public enum TLSHost: Hashable, Sendable, CustomStringConvertible {
    /// A DNS name: lowercase ASCII, no trailing dot.
    case dnsName(String)
    /// An IP literal: the 4 or 16 network-order address bytes and the text it was given as.
    case ipAddress(bytes: [UInt8], text: String)

    /// The longest DNS name RFC 1035 allows in text form.
    static let maximumDNSNameLength = 253

    // MARK: Parsing

    /// Parses and normalises a host as written in a CONNECT line or a `Host` header (without port).
    ///
    /// Lowercases, drops one trailing dot, strips the brackets of an IPv6 literal. A DNS name must
    /// be ASCII (IDNs in their punycode form) made of letters, digits, `-`, `_` and `.`; anything
    /// else, including wildcards and empty labels, is rejected so that no certificate can be
    /// minted or accepted for a name no client could ask for.
    public init(_ raw: String) throws(TLSHostError) {
        var host = Substring(raw)
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
        }
        if let bytes = Self.parseIPLiteral(String(host)) {
            self = .ipAddress(bytes: bytes, text: String(host))
            return
        }
        if host.hasSuffix(".") {
            host = host.dropLast()
        }
        let name = host.lowercased()
        guard !name.isEmpty, name.utf8.count <= Self.maximumDNSNameLength else {
            throw TLSHostError(host: raw)
        }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard !label.isEmpty, label.utf8.count <= 63,
                label.utf8.allSatisfy({ Self.isDNSCharacter($0) })
            else {
                throw TLSHostError(host: raw)
            }
        }
        self = .dnsName(name)
    }

    /// The host as text: the DNS name, or the IP literal without brackets.
    public var description: String {
        switch self {
        case .dnsName(let name): name
        case .ipAddress(_, let text): text
        }
    }

    /// The name to send in SNI: DNS names only.
    public var serverNameIndication: String? {
        switch self {
        case .dnsName(let name): name
        case .ipAddress: nil
        }
    }

    /// The subjectAltName entry a certificate for this host carries.
    var generalName: GeneralName {
        switch self {
        case .dnsName(let name): .dnsName(name)
        case .ipAddress(let bytes, _): .ipAddress(ASN1OctetString(contentBytes: bytes[...]))
        }
    }

    // MARK: Matching

    /// Whether one of `names` identifies this host: an `iPAddress` entry with the same bytes for
    /// an IP literal; for a DNS name an equal `dNSName` entry, or a wildcard `*.rest` entry whose
    /// `*` stands for exactly the first label (RFC 6125 section 6.4.3; partial-label wildcards
    /// such as `w*.example.com` never match). The subject CN is deliberately not consulted.
    func isNamed(in names: SubjectAlternativeNames) -> Bool {
        for name in names {
            switch (self, name) {
            case (.ipAddress(let bytes, _), .ipAddress(let certificateBytes)):
                if Array(certificateBytes.bytes) == bytes { return true }
            case (.dnsName(let host), .dnsName(let pattern)):
                if Self.dnsName(host, matches: pattern) { return true }
            default:
                continue
            }
        }
        return false
    }

    /// RFC 6125 matching of one lowercase host against one certificate `dNSName`.
    static func dnsName(_ host: String, matches rawPattern: String) -> Bool {
        var pattern = Substring(rawPattern.lowercased())
        if pattern.hasSuffix(".") {
            pattern = pattern.dropLast()
        }
        guard pattern.hasPrefix("*.") else {
            return pattern == host[...]
        }
        // A wildcard covers one whole label and never a bare suffix: `*.example.com` matches
        // `a.example.com`, not `example.com` and not `a.b.example.com`.
        let suffix = pattern.dropFirst(1)  // ".example.com"
        guard suffix.dropFirst().contains("."), let dot = host.firstIndex(of: ".") else {
            return false
        }
        return host[dot...] == suffix && host.startIndex != dot
    }

    // MARK: Helpers

    private static func isDNSCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    /// The network-order bytes of an IPv4 or IPv6 literal, or nil. Uses the C library's
    /// `inet_pton`, so the accepted forms are exactly the standard ones.
    static func parseIPLiteral(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

/// A host that no certificate may be minted or accepted for (empty, too long, a wildcard, a
/// character outside the DNS alphabet, an unconverted IDN).
public struct TLSHostError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The host as it was given.
    public let host: String

    public var description: String {
        "invalid TLS host name \(String(reflecting: host)): expected a DNS name (ASCII, IDNs in punycode) or an IP literal"
    }
}
