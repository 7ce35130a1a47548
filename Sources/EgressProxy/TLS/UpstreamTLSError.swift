/// Why an upstream's TLS setup or certificate was refused by the proxy's own checks (the ones
/// on top of NIOSSL's chain and hostname verification). All of them map to `upstream_tls`.
public struct UpstreamTLSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Kind: Hashable, Sendable {
        /// The server's certificate has no subjectAltName: it names its host, if at all, only in
        /// the subject CN, which the proxy does not accept (SPEC section 4 step 7).
        case noSubjectAltName
        /// The server's certificate has subjectAltNames, none of them the host asked for.
        case subjectAltNameMismatch
        /// The server's certificate could not be read back for the subjectAltName check.
        case unreadableCertificate
        /// The `--upstream-ca` file could not be read or holds no PEM certificate.
        case invalidExtraRoots
    }

    /// What was wrong.
    public let kind: Kind
    /// The host, or for `invalidExtraRoots` the file.
    public let subject: String
    /// Detail for logs and the audit record.
    public let detail: String

    init(_ kind: Kind, subject: String, detail: String) {
        self.kind = kind
        self.subject = subject
        self.detail = detail
    }

    public var description: String {
        switch self.kind {
        case .noSubjectAltName:
            "upstream certificate for \(self.subject) has no subjectAltName (a subject CN alone is not accepted)"
        case .subjectAltNameMismatch:
            "upstream certificate does not name \(self.subject) in its subjectAltName: \(self.detail)"
        case .unreadableCertificate:
            "upstream certificate for \(self.subject) could not be parsed: \(self.detail)"
        case .invalidExtraRoots:
            "invalid upstream CA file \(self.subject): \(self.detail)"
        }
    }
}
