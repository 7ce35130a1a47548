import Foundation

// MARK: - Raw HTTP client

/// One HTTP response as the raw client read it.
struct RawResponse: Sendable {
    let status: Int?
    /// Lowercased names.
    let headers: [String: [String]]
    let body: Data
    let raw: Data
    let closed: Bool
    let sendError: String?
    let receiveError: String?

    var bodyText: String { String(decoding: body, as: UTF8.self) }
    var rawText: String { String(decoding: raw, as: UTF8.self) }

    func header(_ name: String) -> String? { headers[name.lowercased()]?.first }
}

/// Sends exact bytes to a port on 127.0.0.1 (malformed requests, hand-written CONNECTs).
enum RawClient {
    /// Sends `bytes` and reads one response. `headOnly`: a 2xx response ends with its head.
    static func send(_ bytes: [UInt8], port: Int, headOnly: Bool = false, timeout: Int = 10) async throws
        -> RawResponse
    {
        let scratch = try TemporaryDirectory(prefix: "raw")
        defer { scratch.remove() }
        let dataFile = scratch.file("request.bin")
        try Data(bytes).write(to: URL(fileURLWithPath: dataFile))
        let output = try await Subprocess.run(
            TestEnvironment.python3,
            [
                try PythonScripts.path("raw_client.py"), "--port", String(port), "--data-file", dataFile,
                "--timeout", String(timeout),
            ] + (headOnly ? ["--head-only"] : []),
            timeout: .seconds(timeout + 15))
        guard output.exitCode == 0, let json = try? JSONValue.parse(output.stdout) else {
            throw HarnessError("raw client failed (\(output.exitCode)): \(output.combinedText)")
        }
        var headers: [String: [String]] = [:]
        for pair in json["headers"]?.arrayValue ?? [] {
            guard let fields = pair.arrayValue, fields.count == 2, let name = fields[0].stringValue,
                let value = fields[1].stringValue
            else { continue }
            headers[name.lowercased(), default: []].append(value)
        }
        return RawResponse(
            status: json["status"]?.intValue,
            headers: headers,
            body: Data(base64Encoded: json["body_b64"]?.stringValue ?? "") ?? Data(),
            raw: Data(base64Encoded: json["raw_b64"]?.stringValue ?? "") ?? Data(),
            closed: json["closed"]?.boolValue ?? false,
            sendError: json["send_error"]?.stringValue,
            receiveError: json["recv_error"]?.stringValue)
    }

    static func send(_ text: String, port: Int, headOnly: Bool = false, timeout: Int = 10) async throws
        -> RawResponse
    {
        try await send(Array(text.utf8), port: port, headOnly: headOnly, timeout: timeout)
    }

    /// `CONNECT authority` by hand, so a refusal's status, headers and body can all be read.
    static func connect(_ authority: String, port: Int) async throws -> RawResponse {
        try await send("CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n\r\n", port: port, headOnly: true)
    }
}

// MARK: - Held connection

/// A TCP connection to 127.0.0.1 that sends nothing: holds one of the proxy's connection slots.
final class RawConnection: Sendable {
    private let fd: Int32

    private init(fd: Int32) {
        self.fd = fd
    }

    static func open(port: Int) async throws -> RawConnection {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let e = errno
            _ = Glibc.close(fd)
            throw HarnessError("connect: errno \(e)")
        }
        // Give the proxy a moment to accept it, so the slot is taken before the next step.
        try await Task.sleep(for: .milliseconds(200))
        return RawConnection(fd: fd)
    }

    func close() {
        _ = Glibc.close(fd)
    }
}

// MARK: - Refusing port

/// A port on 127.0.0.1 that is bound but never listens: connecting to it is refused, and no
/// other test can take it while this is alive (a port merely released could be reused).
final class RefusingPort: Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            let e = errno
            _ = Glibc.close(fd)
            throw HarnessError("bind: errno \(e)")
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit {
        _ = Glibc.close(fd)
    }
}
