import Foundation
import NIOCore
import NIOHTTP1
import PolicyEngine

/// What the live proxy keeps of one exchange for the capture: the first `limit` bytes of each
/// body and the sizes, plus the times of the response head. Loop-confined (one per
/// `Exchange`); nothing is kept when capture is off.
///
/// The request side is what the sandbox sent as the proxy forwarded it, before the secrets go
/// in (placeholders, not real values; after the PII action; a denied request's body, dropped
/// unread, is not kept); the response
/// side is what the sandbox received (after masking). Before an entry is written, request
/// headers and the body prefix also go through the secret masker, so a real value the sandbox
/// somehow holds is not written either.
final class CapturedExchange {
    let startedDate = Date()
    let limit: Int
    private(set) var requestBody: [UInt8] = []
    private(set) var requestBodySize = 0
    private(set) var responseBody: [UInt8] = []
    private(set) var responseBodySize = 0
    var responseHead: HTTPResponseHead?
    var responseHeadAt: NIODeadline?

    init(limit: Int) {
        self.limit = limit
    }

    func appendRequest(_ buffer: ByteBuffer) {
        requestBodySize += buffer.readableBytes
        Self.keep(buffer, into: &requestBody, limit: limit)
    }

    func appendResponse(_ buffer: ByteBuffer) {
        responseBodySize += buffer.readableBytes
        Self.keep(buffer, into: &responseBody, limit: limit)
    }

    /// Forgets the response kept so far (the proxy answers with its own denial instead).
    func resetResponse() {
        responseBody = []
        responseBodySize = 0
    }

    private static func keep(_ buffer: ByteBuffer, into kept: inout [UInt8], limit: Int) {
        let room = limit - kept.count
        guard room > 0, buffer.readableBytes > 0 else { return }
        let n = min(room, buffer.readableBytes)
        kept.append(contentsOf: buffer.readableBytesView.prefix(n))
    }

    /// The HAR entry of an inner request (intercepted or plain HTTP).
    func entry(request: HTTPRequestHead, url: String, record: AuditRecord, secrets: SecretsPlan, mode: ProxyMode, now: NIODeadline, start: NIODeadline) -> CaptureEntry {
        let maskedRequestHeaders = request.headers.map { (name: $0.name, value: secrets.isActive ? secrets.maskHeaderValue($0.value) : $0.value) }
        var maskedRequestBody: [UInt8]? = nil
        if requestBodySize > 0 {
            if secrets.isActive {
                var masker = secrets.makeResponseMasker()
                var out = masker.feed(ByteBuffer(bytes: requestBody))
                var tail = masker.finish()
                out.writeBuffer(&tail)
                maskedRequestBody = Array(out.readableBytesView)
            } else {
                maskedRequestBody = requestBody
            }
        }
        let waitMS = responseHeadAt.map { Double(($0 - start).nanoseconds) / 1_000_000 } ?? Double((now - start).nanoseconds) / 1_000_000
        let receiveMS = responseHeadAt.map { Double((now - $0).nanoseconds) / 1_000_000 } ?? 0
        return CaptureEntry(
            startedDateTime: startedDate, method: request.method.rawValue, url: url,
            httpVersion: "HTTP/\(request.version.major).\(request.version.minor)",
            requestHeaders: maskedRequestHeaders, requestBody: maskedRequestBody,
            requestBodySize: requestBodySize,
            responseStatus: responseHead.map { Int($0.status.code) } ?? record.status,
            responseHeaders: responseHead?.headers.map { (name: $0.name, value: $0.value) } ?? [],
            responseBody: responseBodySize > 0 ? responseBody : nil, responseBodySize: responseBodySize,
            serverIPAddress: record.ip, timings: CaptureTimings(send: 0, wait: max(0, waitMS), receive: max(0, receiveMS)),
            egress: CaptureDecision(decision: record.decision, secrets: record.secrets, mode: mode))
    }

    /// `scheme://host[:port]/path?query`, the port only when it is not the scheme's default.
    static func url(scheme: String, host: String, port: Int, pathAndQuery: String) -> String {
        let h = host.contains(":") ? "[\(host)]" : host
        let defaultPort = scheme == "https" ? 443 : 80
        let p = port == defaultPort ? "" : ":\(port)"
        let path = pathAndQuery.hasPrefix("/") ? pathAndQuery : "/" + pathAndQuery
        return "\(scheme)://\(h)\(p)\(path)"
    }
}

extension CaptureEntry {
    /// The entry of a CONNECT that was denied or tunnelled (SPEC 9): the audit record's
    /// decision, the pinned (or first resolved) address, the status the sandbox got.
    static func connect(record: AuditRecord, elapsed: TimeAmount, responseBody: ByteBuffer? = nil) -> CaptureEntry {
        let body = responseBody.map { Array($0.readableBytesView) }
        return CaptureEntry(
            startedDateTime: Date(timeIntervalSinceNow: -Double(elapsed.nanoseconds) / 1_000_000_000),
            method: "CONNECT", url: connectURL(host: record.host, port: record.port),
            requestHeaders: [(name: "Host", value: record.host.contains(":") ? "[\(record.host)]:\(record.port)" : "\(record.host):\(record.port)")],
            responseStatus: record.status,
            responseHeaders: body == nil ? [] : [(name: "Content-Type", value: "application/json")],
            responseBody: body, responseBodySize: body?.count ?? 0,
            serverIPAddress: record.ip,
            timings: CaptureTimings(send: 0, wait: Double(elapsed.nanoseconds) / 1_000_000, receive: 0),
            egress: CaptureDecision(decision: record.decision, secrets: record.secrets, mode: record.mode))
    }
}
