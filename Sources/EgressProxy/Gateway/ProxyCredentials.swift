import Foundation

// MARK: - ProxyCredentials

/// `Proxy-Authorization: Basic base64(SANDBOX_ID:TOKEN)`, parsed.
///
/// The token is a secret: this type never prints it (`description` shows the sandbox id only).
public struct ProxyCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The sandbox id before the first `:`.
    public let sandbox: String
    /// The token bytes after the first `:`.
    let token: [UInt8]

    /// The longest header value accepted; anything longer is not a credential we issue.
    static let maximumHeaderLength = 4096

    /// Parses a header value; nil for anything but `Basic` with base64 of `ID:TOKEN` where
    /// both parts are non-empty. The scheme is case-insensitive (RFC 9110 section 11.1).
    public init?(headerValue: String) {
        guard headerValue.utf8.count <= Self.maximumHeaderLength else { return nil }
        let trimmed = headerValue.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        let scheme = trimmed[..<space]
        guard scheme.lowercased() == "basic" else { return nil }
        let encoded = trimmed[space...].trimmingCharacters(in: .whitespaces)
        guard !encoded.isEmpty, let data = Data(base64Encoded: encoded) else { return nil }
        let bytes = [UInt8](data)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0, colon < bytes.count - 1 else { return nil }
        guard let id = String(bytes: bytes[..<colon], encoding: .utf8) else { return nil }
        self.sandbox = id
        self.token = Array(bytes[(colon + 1)...])
    }

    /// The header value for `sandbox` and `token` (clients and tests).
    public static func headerValue(sandbox: String, token: String) -> String {
        "Basic " + Data("\(sandbox):\(token)".utf8).base64EncodedString()
    }

    public var description: String { "ProxyCredentials(sandbox: \(sandbox), token: <redacted>)" }
    public var debugDescription: String { description }
}
