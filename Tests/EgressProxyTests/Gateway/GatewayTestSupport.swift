import Crypto
@testable import EgressProxy
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PolicyEngine

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Folder

/// A fresh folder with `policies/` and `certs/` inside, removed by `remove()`.
struct GatewayFolder {
    let root: String
    var policies: String { root + "/policies" }
    var certs: String { root + "/certs" }

    init() throws {
        root = NSTemporaryDirectory() + "/egress-gateway-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root + "/policies", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/certs", withIntermediateDirectories: true)
    }

    /// Writes `text` to `policies/<name>` (not atomically: tests that need an in-place edit use it).
    @discardableResult
    func writePolicy(_ name: String, _ text: String) throws -> String {
        let path = policies + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func removePolicy(_ name: String) throws {
        try FileManager.default.removeItem(atPath: policies + "/" + name)
    }

    func exists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: root + "/" + relative)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}

struct GatewayTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Policies

/// Lowercase hex SHA-256 of a token, as `gateway.token_sha256` holds it.
func tokenDigestHex(_ token: String) -> String {
    SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
}

/// A small valid policy: `allow` hosts in `allow_out`, the token's digest, optional sandbox key.
func gatewayPolicy(token: String? = nil, allow: [String] = ["api.example.com"], sandbox: String? = nil, extra: String = "") -> String {
    var text = "version: 1\n"
    if let sandbox { text += "sandbox: \(sandbox)\n" }
    text += "network:\n  allow_out: [\(allow.joined(separator: ", "))]\n"
    if let token { text += "gateway:\n  token_sha256: \(tokenDigestHex(token))\n" }
    text += extra
    return text
}

/// The environment secrets in test policies are read from.
let gatewayTestEnvironment = ["GATEWAY_TEST_SECRET": "real-secret-value-123"]

// MARK: - Registry

/// The shared pieces a registry needs, started once per test and shut down by `close()`.
final class GatewayFixture: Sendable {
    let folder: GatewayFolder
    let threadPool: NIOThreadPool
    let group: MultiThreadedEventLoopGroup
    let audit: MemoryAuditSink
    let metrics: ProxyMetrics
    let registry: SandboxRegistry

    init(sourceMap: String? = nil, refusedFeatures: Set<String> = []) throws {
        let folder = try GatewayFolder()
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let audit = MemoryAuditSink()
        let metrics = ProxyMetrics()
        var logger = Logger(label: "gateway-test")
        logger.logLevel = .critical
        let tls = try NIOSSLContext(configuration: .makeClientConfiguration())
        self.registry = SandboxRegistry(
            configuration: .init(policiesDirectory: folder.policies, caDirectory: folder.certs,
                                 sourceMapFile: sourceMap.map { folder.root + "/" + $0 },
                                 refusedFeatures: refusedFeatures, environment: gatewayTestEnvironment),
            upstreamTLS: tls, resolver: Resolver(overrides: [:], threadPool: threadPool), audit: audit,
            threadPool: threadPool, logger: logger, metrics: metrics)
        self.folder = folder
        self.threadPool = threadPool
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.audit = audit
        self.metrics = metrics
    }

    func close() {
        try? threadPool.syncShutdownGracefully()
        try? group.syncShutdownGracefully()
        folder.remove()
    }
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass; returns whether it held.
/// For effects of background work (the watcher), not for timing assertions.
func eventually(within seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

// MARK: - A blocking HTTP/1.1 client

/// One HTTP response as read off the socket.
struct RawHTTPResponse {
    var status: Int
    /// Header names lowercased.
    var headers: [String: String]
    var body: String
}

/// A blocking TCP connection to 127.0.0.1 whose sends and receives time out after 10 s, so a
/// hung server fails the test instead of hanging it.
final class RawConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw GatewayTestFailure("socket() failed") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw GatewayTestFailure("connect to 127.0.0.1:\(port) failed")
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw GatewayTestFailure("send failed") }
            sent += n
        }
    }

    /// Reads until `stop` holds for what was read, EOF, or 16 MiB.
    func receive(until stop: ([UInt8]) -> Bool = { _ in false }) throws -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while received.count < 16 * 1024 * 1024, !stop(received) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw GatewayTestFailure("recv failed or timed out after \(received.count) bytes") }
            received += buffer[0..<n]
        }
        return received
    }
}

/// Parses a whole HTTP/1.1 response (head and body up to EOF).
func parseRawResponse(_ received: [UInt8]) throws -> RawHTTPResponse {
    let text = String(decoding: received, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { throw GatewayTestFailure("no header end in: \(text)") }
    let headLines = text[..<split.lowerBound].components(separatedBy: "\r\n")
    let statusParts = headLines.first?.split(separator: " ") ?? []
    guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw GatewayTestFailure("bad status line: \(headLines.first ?? "")") }
    var parsed: [String: String] = [:]
    for line in headLines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        parsed[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return RawHTTPResponse(status: status, headers: parsed, body: String(text[split.upperBound...]))
}

/// Sends one request with `Connection: close` to 127.0.0.1 and reads the response to EOF.
func rawHTTP(port: Int, method: String, path: String, headers: [String: String] = [:], body: String? = nil) throws -> RawHTTPResponse {
    let connection = try RawConnection(port: port)
    var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    for (name, value) in headers { request += "\(name): \(value)\r\n" }
    let bodyBytes = Array((body ?? "").utf8)
    if body != nil { request += "Content-Length: \(bodyBytes.count)\r\n" }
    request += "\r\n"
    try connection.send(Array(request.utf8) + bodyBytes)
    return try parseRawResponse(try connection.receive())
}

/// Parses a JSON object body.
func jsonObject(_ text: String) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw GatewayTestFailure("not a JSON object: \(text)")
    }
    return object
}
