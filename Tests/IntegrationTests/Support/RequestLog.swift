import Foundation
import NIOHTTP1

// MARK: - Recorded request

/// One request exactly as an upstream server received it: how a test sees what the proxy
/// really forwarded (for example the substituted secret, which the proxy masks in responses).
struct RecordedRequest: Sendable {
    static let bodyPrefixLimit = 64 * 1024

    let method: String
    let uri: String
    let headers: HTTPHeaders
    let bodyLength: Int
    let bodySHA256: String
    /// The first `bodyPrefixLimit` bytes of the body.
    let bodyPrefix: [UInt8]
    /// Sequence number of the TCP connection it arrived on (per upstream, from 1).
    let connection: Int

    /// All values of the header `name` (case-insensitive).
    func header(_ name: String) -> [String] {
        headers[name]
    }

    var path: String {
        String(uri.prefix { $0 != "?" })
    }

    /// Every header line and the body prefix as one text, for "never contains" checks.
    var allText: String {
        let headerText = headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
        return "\(method) \(uri)\n\(headerText)\n\n" + String(decoding: bodyPrefix, as: UTF8.self)
    }
}

// MARK: - Log

/// The thread-safe list of requests an upstream has received, in arrival order.
final class RequestLog: Sendable {
    private let entries = LockedBox<[RecordedRequest]>([])

    func append(_ request: RecordedRequest) {
        entries.withLock { $0.append(request) }
    }

    var all: [RecordedRequest] {
        entries.current
    }

    /// Requests whose path (without query) is `path`.
    func requests(path: String) -> [RecordedRequest] {
        all.filter { $0.path == path }
    }

    /// Waits (bounded) until a request with `path` was recorded; the upstream records a
    /// request when its body has ended, which may be just after the client saw the response.
    func waitForRequest(path: String, timeout: Duration = .seconds(10)) async -> RecordedRequest? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = requests(path: path).last {
                return found
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return requests(path: path).last
    }
}
