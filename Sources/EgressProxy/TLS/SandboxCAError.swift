/// Why a sandbox CA could not be created, loaded or exported. The message names the file.
///
/// A CA is never regenerated behind the operator's back: sandboxes already trust the old
/// certificate, so a broken pair is reported and left for a person to fix.
public struct SandboxCAError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for callers that map errors to exit codes or tests.
    public enum Kind: Hashable, Sendable {
        /// No CA exists in the directory (`ca export` before `ca init`).
        case notFound
        /// Only one of `ca.pem` and `ca.key` exists.
        case incomplete
        /// A file exists but does not parse as what it should hold.
        case corrupt
        /// `ca.key` is not the private key of the certificate in `ca.pem`.
        case mismatched
        /// The certificate is not usable as a CA (not CA:TRUE, expired, or a non-P-256 key).
        case unusable
        /// A file or directory could not be read.
        case unreadable
        /// A file or directory could not be created or written.
        case unwritable
        /// The sandbox identifier is empty.
        case invalidSandbox
    }

    /// What went wrong.
    public let kind: Kind
    /// The file or directory concerned.
    public let path: String
    /// Human-readable detail. Never contains key material.
    public let detail: String

    init(_ kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    public var description: String {
        switch self.kind {
        case .notFound: "no sandbox CA at \(self.path): \(self.detail)"
        case .incomplete: "incomplete sandbox CA at \(self.path): \(self.detail)"
        case .corrupt: "corrupt sandbox CA file \(self.path): \(self.detail)"
        case .mismatched: "sandbox CA key and certificate do not match: \(self.path): \(self.detail)"
        case .unusable: "unusable sandbox CA certificate \(self.path): \(self.detail)"
        case .unreadable: "cannot read \(self.path): \(self.detail)"
        case .unwritable: "cannot write \(self.path): \(self.detail)"
        case .invalidSandbox: "invalid sandbox identifier: \(self.detail)"
        }
    }
}
