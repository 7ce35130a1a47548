// MARK: - SecretBinding

/// A secret with its real value resolved and bound to the hosts it may be sent to.
/// Printing it (any way) never shows the value.
public struct SecretBinding: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The environment variable name the sandbox sees, e.g. `OPENAI_API_KEY`.
    public let name: String
    /// What the sandbox holds instead of the value.
    public let placeholder: String
    public let value: SecretValue
    public let allowedHosts: HostPatternSet
    /// Default `[.headers]`.
    public let injectIn: Set<InjectLocation>
    /// Lower-cased; nil = all headers.
    public let headerNames: Set<String>?
    /// `secrets.entries.OPENAI_API_KEY`.
    public let path: String

    public init(name: String, placeholder: String, value: SecretValue, allowedHosts: HostPatternSet,
                injectIn: Set<InjectLocation> = [.headers], headerNames: Set<String>? = nil, path: String? = nil) {
        self.name = name
        self.placeholder = placeholder
        self.value = value
        self.allowedHosts = allowedHosts
        self.injectIn = injectIn
        self.headerNames = headerNames
        self.path = path ?? "secrets.entries.\(name)"
    }

    /// Whether the secret may be sent to `host`.
    public func isAllowed(host: String) -> Bool {
        allowedHosts.matches(host)
    }

    /// Whether placeholders in header `name` are substituted.
    public func substitutes(inHeader name: String) -> Bool {
        injectIn.contains(.headers) && (headerNames?.contains(name.lowercased()) ?? true)
    }

    public var description: String {
        "SecretBinding(name: \(name), placeholder: \(placeholder), value: <redacted>, allowed_hosts: \(allowedHosts.patterns))"
    }

    public var debugDescription: String { description }
}
