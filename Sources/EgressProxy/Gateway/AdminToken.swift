import Crypto
import Foundation

// MARK: - AdminToken

/// The admin API's bearer token. Only its SHA-256 is kept, and it never prints itself.
public struct AdminToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The environment variable read when no token file is given.
    public static let environmentVariable = "EGRESS_PROXY_ADMIN_TOKEN"

    private let digest: [UInt8]

    /// nil for an empty token (after trimming surrounding whitespace).
    public init?(_ token: String) {
        let trimmed = token.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return nil }
        digest = Array(SHA256.hash(data: Array(trimmed.utf8)))
    }

    /// Why no token could be read.
    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(path: String)
        case empty(source: String)
        case missing

        public var description: String {
            switch self {
            case .unreadable(let path): return "cannot read the admin token file \(path)"
            case .empty(let source): return "the admin token in \(source) is empty"
            case .missing:
                return "no admin token: give --admin-token-file FILE or set \(AdminToken.environmentVariable)"
            }
        }
    }

    /// `--admin-token-file FILE` (surrounding whitespace trimmed), else the environment
    /// variable `EGRESS_PROXY_ADMIN_TOKEN` (SPEC section 2).
    public static func load(file: String?, environment: [String: String]) throws(LoadError) -> AdminToken {
        if let file {
            // A token file is a line; a bound keeps a wrong path (a device, a log) harmless.
            guard let handle = FileHandle(forReadingAtPath: file) else { throw .unreadable(path: file) }
            defer { try? handle.close() }
            guard let data = try? handle.read(upToCount: 64 * 1024), let text = String(data: data, encoding: .utf8) else {
                throw .unreadable(path: file)
            }
            guard let token = AdminToken(text) else { throw .empty(source: file) }
            return token
        }
        guard let value = environment[environmentVariable] else { throw .missing }
        guard let token = AdminToken(value) else { throw .empty(source: environmentVariable) }
        return token
    }

    /// Whether `Authorization: Bearer TOKEN` carries this token. Digests are compared in
    /// constant time, so neither the token's bytes nor its length leak through timing.
    public func accepts(authorization: String?) -> Bool {
        guard let authorization else { return false }
        let trimmed = authorization.trimmingCharacters(in: .whitespaces)
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return false }
        let presented = trimmed.dropFirst(7).trimmingCharacters(in: .whitespaces)
        let presentedDigest = Array(SHA256.hash(data: Array(presented.utf8)))
        return ConstantTime.equals(presentedDigest, digest)
    }

    public var description: String { "AdminToken(<redacted>)" }
    public var debugDescription: String { description }
}
