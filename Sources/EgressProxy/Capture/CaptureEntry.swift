import Foundation
import PolicyEngine

// MARK: - CaptureEntry

/// One exchange for the HAR capture (`run --capture`, `gateway --capture-dir`): what the
/// proxy saw from the sandbox and sent back to it, plus its own decision.
///
/// **The caller passes only what the sandbox already holds**: request headers and bodies as
/// the sandbox sent them (placeholders, never the substituted real values), responses after
/// secret masking, bodies after the policy's PII action (`redact`: the redacted text). The
/// writer never receives a real secret value, so it cannot write one. As a second line it
/// replaces the value of `Proxy-Authorization` (the gateway credential) with `[REDACTED]`.
///
/// Which entries exist (SPEC 9): one per inner HTTP request (intercepted or plain HTTP), and
/// one with method `CONNECT` and url `https://HOST:PORT/` for each CONNECT that was denied or
/// tunnelled (no inner request seen).
public struct CaptureEntry: Sendable {
    public var startedDateTime: Date
    public var method: String
    /// Absolute URL (`https://host/path?q`); `https://HOST:PORT/` for a CONNECT entry.
    public var url: String
    /// `HTTP/1.1`.
    public var httpVersion: String
    public var requestHeaders: [(name: String, value: String)]
    /// What the sandbox sent (already masked); the writer keeps the first `maxBodyBytes`.
    public var requestBody: [UInt8]?
    /// The body's full size when the caller kept only a prefix; nil: `requestBody.count`.
    public var requestBodySize: Int?
    /// The status the sandbox got (the proxy's own 403 for a denial); nil: no response.
    public var responseStatus: Int?
    public var responseHeaders: [(name: String, value: String)]
    /// What the sandbox received (after masking).
    public var responseBody: [UInt8]?
    public var responseBodySize: Int?
    /// The pinned address the proxy dialled (or the first resolved one when denied).
    public var serverIPAddress: String?
    public var timings: CaptureTimings
    /// The `_egress` object.
    public var egress: CaptureDecision

    public init(
        startedDateTime: Date, method: String, url: String, httpVersion: String = "HTTP/1.1",
        requestHeaders: [(name: String, value: String)] = [], requestBody: [UInt8]? = nil, requestBodySize: Int? = nil,
        responseStatus: Int? = nil, responseHeaders: [(name: String, value: String)] = [], responseBody: [UInt8]? = nil,
        responseBodySize: Int? = nil, serverIPAddress: String? = nil, timings: CaptureTimings = CaptureTimings(),
        egress: CaptureDecision
    ) {
        self.startedDateTime = startedDateTime
        self.method = method
        self.url = url
        self.httpVersion = httpVersion
        self.requestHeaders = requestHeaders
        self.requestBody = requestBody
        self.requestBodySize = requestBodySize
        self.responseStatus = responseStatus
        self.responseHeaders = responseHeaders
        self.responseBody = responseBody
        self.responseBodySize = responseBodySize
        self.serverIPAddress = serverIPAddress
        self.timings = timings
        self.egress = egress
    }

    /// The url of a CONNECT entry: `https://HOST:PORT/` (IPv6 in brackets).
    public static func connectURL(host: String, port: Int) -> String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "https://\(h):\(port)/"
    }
}

/// HAR `timings`, in milliseconds: `send` (request out), `wait` (until the response head),
/// `receive` (the response body).
public struct CaptureTimings: Sendable, Equatable {
    public var send: Double
    public var wait: Double
    public var receive: Double

    public init(send: Double = 0, wait: Double = 0, receive: Double = 0) {
        self.send = send
        self.wait = wait
        self.receive = receive
    }
}

/// The proxy's decision for an entry, written as `"_egress": {decision, reason, rule,
/// secrets, mode}` (secrets by name: substituted when allowed, refused when denied).
public struct CaptureDecision: Sendable, Equatable {
    public var decision: Decision
    public var secrets: [String]
    public var mode: ProxyMode?

    public init(decision: Decision, secrets: [String] = [], mode: ProxyMode? = nil) {
        self.decision = decision
        self.secrets = secrets
        self.mode = mode
    }
}
