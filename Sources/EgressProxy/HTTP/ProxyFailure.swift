import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PIIDetect
import PolicyEngine

/// Where an error came from. Every failure the sandbox sees is mapped to a status and a
/// reason code in exactly one place (`ProxyFailure.status`), so the sandbox gets a short,
/// stable reason and the audit record the detail.
public enum ErrorSource: String, Sendable {
    case downstream, upstream, policy, `internal`
}

/// A failure with its source, reason code, and a secret-free detail for the audit record.
public struct ProxyFailure: Error, Sendable {
    public var source: ErrorSource
    public var reason: Reason
    public var detail: String

    public init(_ source: ErrorSource, _ reason: Reason, _ detail: String) {
        self.source = source
        self.reason = reason
        self.detail = detail
    }

    /// The HTTP status the sandbox sees (SPEC section 4 step 7).
    public var status: HTTPResponseStatus {
        switch reason {
        case .dns_failure, .upstream_tls, .upstream_error: return .badGateway
        case .upstream_timeout: return .gatewayTimeout
        case .host_mismatch: return .misdirectedRequest
        case .bad_request: return .badRequest
        case .proxy_auth_required: return .proxyAuthenticationRequired
        case .rate_limited: return .tooManyRequests
        case .uninspectable: return .payloadTooLarge
        default: return .forbidden
        }
    }

    /// Classifies an error raised while dialling or talking to the upstream.
    static func upstream(_ error: Error) -> ProxyFailure {
        if let f = error as? ProxyFailure { return f }
        if let ce = error as? ChannelError, case .connectTimeout = ce {
            return ProxyFailure(.upstream, .upstream_timeout, "connect timeout")
        }
        if error is NIOSSLError || error is BoringSSLError || UpstreamTLS.isTLSFailure(error) {
            return ProxyFailure(.upstream, .upstream_tls, "tls: \(String(describing: error).prefix(200))")
        }
        if let io = error as? IOError {
            return ProxyFailure(.upstream, .upstream_error, "io: \(io.description.prefix(200))")
        }
        if let nc = error as? NIOConnectionError {
            return ProxyFailure(.upstream, .upstream_error, "connect: \(String(describing: nc).prefix(200))")
        }
        return ProxyFailure(.upstream, .upstream_error, String(describing: error).prefix(200).description)
    }
}

// MARK: - Denial responses

/// The response a sandbox gets for a denied CONNECT or request (SPEC section 4): status,
/// `X-Egress-Decision`, and a JSON body an agent can read.
enum DenialResponse {
    static func make(
        status: HTTPResponseStatus, reason: Reason, rule: String?, host: String,
        message: String? = nil, keepAlive: Bool, version: HTTPVersion = .http1_1,
        allocator: ByteBufferAllocator
    ) -> (HTTPResponseHead, ByteBuffer) {
        let msg = message ?? Self.message(reason: reason, host: host)
        var body = "{\"error\":\(JSONText.quote(errorCode(reason)))"
        body += ",\"reason\":\(JSONText.quote(reason.rawValue))"
        body += ",\"rule\":" + (rule.map(JSONText.quote) ?? "null")
        body += ",\"host\":\(JSONText.quote(host))"
        body += ",\"message\":\(JSONText.quote(msg))}\n"
        var buffer = allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        headers.add(name: "X-Egress-Decision", value: "deny; reason=\(reason.rawValue)")
        headers.add(name: "Cache-Control", value: "no-store")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        if status == .proxyAuthenticationRequired {
            headers.add(name: "Proxy-Authenticate", value: "Basic realm=\"egress-proxy\"")
        }
        return (HTTPResponseHead(version: version, status: status, headers: headers), buffer)
    }

    /// The wire form of a complete response whose head and body the proxy made itself
    /// (used where the HTTP encoder is already out of the pipeline or would drop the body).
    static func serialize(head: HTTPResponseHead, body: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: 256 + body.readableBytes)
        out.writeString("HTTP/\(head.version.major).\(head.version.minor) \(head.status.code) \(head.status.reasonPhrase)\r\n")
        for (name, value) in head.headers {
            out.writeString(name)
            out.writeString(": ")
            out.writeString(value)
            out.writeString("\r\n")
        }
        out.writeString("\r\n")
        var b = body
        out.writeBuffer(&b)
        return out
    }

    static func errorCode(_ reason: Reason) -> String {
        switch reason {
        case .dns_failure, .upstream_tls, .upstream_error, .upstream_timeout: return "upstream_failed"
        case .bad_request: return "bad_request"
        case .proxy_auth_required: return "proxy_auth_required"
        case .host_mismatch: return "misdirected_request"
        default: return "egress_denied"
        }
    }

    static func message(reason: Reason, host: String) -> String {
        switch reason {
        case .host_denied:
            return "Egress to \(host) is denied by the sandbox's policy (host deny list). Retrying through another route, address or proxy will be denied too."
        case .cidr_denied:
            return "Egress to the addresses of \(host) is denied by the sandbox's network policy. Retrying through another route, address or proxy will be denied too."
        case .special_range:
            return "\(host) resolves to a private, loopback, link-local or otherwise special address, which the sandbox may not reach. Retrying through another name or address form will be denied too."
        case .rule_denied:
            return "This request to \(host) is denied by an L7 rule of the sandbox's policy. Retrying through another route will be denied too."
        case .secret_host_mismatch:
            return "The request carries a secret placeholder that is not allowed for \(host); it was not sent. Secrets are only substituted over TLS on their allowed hosts."
        case .host_mismatch:
            return "The request's Host does not match the CONNECT host \(host). Open a new connection to the other host."
        case .sni_mismatch:
            return "The TLS server name does not match the CONNECT host \(host)."
        case .dns_failure:
            return "The name \(host) could not be resolved."
        case .upstream_tls:
            return "The TLS connection to \(host) failed verification or the handshake failed."
        case .upstream_error:
            return "The connection to \(host) was refused or reset."
        case .upstream_timeout:
            return "The upstream \(host) did not answer in time."
        case .bad_request:
            return "The request could not be parsed."
        case .uninspectable:
            return "The request body to \(host) exceeds what the proxy may inspect, and the policy blocks what it cannot inspect."
        default:
            return "Egress to \(host) is denied by the sandbox's policy (\(reason.rawValue)). Retrying through another route will be denied too."
        }
    }
}
