import NIOConcurrencyHelpers
import NIOCore
import PolicyEngine

/// The policy's secrets, compiled once per policy for the request path: placeholder
/// substitution per host (cached), and masking of real values in responses.
public struct SecretsPlan: Sendable {
    let bindings: [SecretBinding]
    private let masker: ResponseMasker
    private let perHost = NIOLockedValueBox<[HostKey: PlaceholderSubstituter]>([:])
    private static let perHostCacheLimit = 4096

    private struct HostKey: Hashable {
        var host: String
        var tls: Bool
    }

    init(policy: CompiledPolicy) {
        bindings = policy.secrets
        masker = ResponseMasker(bindings.map { (name: $0.name, value: $0.value.bytes, placeholder: Array($0.placeholder.utf8)) })
    }

    /// Whether any secret exists (then requests are checked and responses masked).
    var isActive: Bool { !bindings.isEmpty }

    /// The substituter for one request's host. A secret is allowed only on its allowed
    /// hosts and only over TLS to that host (MITM); over plain HTTP every placeholder refuses.
    func requestPlan(host: String, overTLS: Bool) -> RequestSecrets {
        let key = HostKey(host: host, tls: overTLS)
        if let cached = perHost.withLockedValue({ $0[key] }) {
            return RequestSecrets(substituter: cached)
        }
        let sub = PlaceholderSubstituter(bindings.map { b in
            (
                name: b.name, placeholder: Array(b.placeholder.utf8), value: b.value.bytes,
                allowed: overTLS && b.isAllowed(host: host),
                injectIn: Set(b.injectIn.compactMap { PlaceholderSubstituter.Location(rawValue: $0.rawValue) }),
                headerNames: b.headerNames
            )
        })
        perHost.withLockedValue {
            if $0.count >= Self.perHostCacheLimit { $0.removeAll(keepingCapacity: true) }
            $0[key] = sub
        }
        return RequestSecrets(substituter: sub)
    }

    func maskHeaderValue(_ value: String) -> String {
        masker.maskHeaderValue(value).0
    }

    func makeResponseMasker() -> StreamingReplacer {
        masker.makeStream()
    }
}

/// Secret handling for one request.
struct RequestSecrets {
    /// Secrets refused for placeholders found in `text` (e.g. the path, never substituted).
    func refusedIn(_ text: String) -> [String] {
        var b = ByteBuffer()
        b.writeString(text)
        return substituter.findPlaceholders(in: b)
    }

    let substituter: PlaceholderSubstituter

    func substituteHeader(name: String, value: String) -> (value: String, substituted: [String], refused: [String]) {
        let r = substituter.substituteHeader(name: name, value: value)
        return (r.0, r.substituted, r.refused)
    }

    func substituteQuery(_ query: String) -> (value: String, substituted: [String], refused: [String]) {
        let r = substituter.substituteQuery(query)
        return (r.0, r.substituted, r.refused)
    }

    /// nil when the body needs neither substitution nor refusal checks.
    func makeBodyPlan() -> RequestBodyPlan? {
        let rewrites = substituter.substitutesInBody
        let detects = substituter.detectsRefused
        guard rewrites || detects else { return nil }
        return RequestBodyPlan(
            rewrites: rewrites,
            replacer: rewrites ? substituter.makeBodyStream() : nil,
            detector: detects ? substituter.makeRefusalDetector() : nil)
    }
}

/// Streams a request body through placeholder substitution (allowed secrets with `body` in
/// `inject_in`) and refusal detection (placeholders of secrets this host may not get).
public struct RequestBodyPlan {
    public let rewrites: Bool
    var replacer: StreamingReplacer?
    var detector: PlaceholderDetector?

    public mutating func feed(_ chunk: ByteBuffer) -> (output: ByteBuffer, refused: Set<String>) {
        if detector != nil {
            detector!.feed(chunk)
            let found = detector!.found
            if !found.isEmpty { return (ByteBuffer(), Set(found)) }
        }
        if replacer != nil { return (replacer!.feed(chunk), []) }
        return (chunk, [])
    }

    public mutating func finish() -> (output: ByteBuffer, refused: Set<String>) {
        if detector != nil {
            detector!.finish()
            let found = detector!.found
            if !found.isEmpty { return (ByteBuffer(), Set(found)) }
        }
        if replacer != nil { return (replacer!.finish(), []) }
        return (ByteBuffer(), [])
    }

    public var substitutedNames: [String] { replacer?.matchedLabels ?? [] }
}
