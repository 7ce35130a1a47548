import Foundation

// MARK: - Requests and results

/// One URL fetched by curl, with options that apply to it alone.
struct CurlRequest: Sendable {
    var url: String
    /// curl options for this transfer only (`-H`, `--data-binary`, `-X`, `-T` ...).
    var arguments: [String]

    init(_ url: String, _ arguments: [String] = []) {
        self.url = url
        self.arguments = arguments
    }
}

/// What curl reported for one transfer (from `-w '%{json}'` and `%{header_json}`).
struct CurlTransfer: Sendable {
    /// The final response's status (`http_code`), 0 when there was none.
    let status: Int
    /// The proxy's answer to CONNECT (`http_connect`), 0 when no CONNECT was sent.
    let connectStatus: Int
    /// New connections this transfer opened (`num_connects`): 0 means it reused one.
    let numConnects: Int
    /// curl's exit code for this transfer.
    let exitCode: Int
    let errorMessage: String
    /// The final response's headers, lowercased names.
    let headers: [String: [String]]
    /// Where the body was written.
    let bodyPath: String
    /// All write-out variables, for anything not lifted into a field.
    let writeOut: JSONValue
    /// Keeps the body's directory alive as long as this transfer is.
    let storage: OwnedDirectory

    /// The body (read from `bodyPath`; empty when curl wrote none).
    var body: Data { FileManager.default.contents(atPath: bodyPath) ?? Data() }
    var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The status a user sees: a refused CONNECT's status, else the response's.
    var effectiveStatus: Int {
        connectStatus != 0 && connectStatus != 200 ? connectStatus : status
    }

    /// The first value of header `name` (case-insensitive).
    func header(_ name: String) -> String? {
        headers[name.lowercased()]?.first
    }
}

/// One curl invocation: its exit code, stderr and one entry per transfer.
struct CurlResult: Sendable {
    let exitCode: Int32
    let stderr: String
    let transfers: [CurlTransfer]

    /// The only (or first) transfer. Throws when curl reported none, e.g. a usage error.
    func first() throws -> CurlTransfer {
        guard let transfer = transfers.first else {
            throw HarnessError("curl reported no transfer (exit \(exitCode)): \(stderr)")
        }
        return transfer
    }
}

// MARK: - Runner

/// Runs the real `/usr/bin/curl`, always bounded in time (`--max-time` and a process deadline).
enum Curl {
    private static let startMarker = "<<curl-transfer>>"
    private static let headerMarker = "<<curl-headers>>"
    private static let endMarker = "<<curl-end>>"

    /// Fetches `requests` in one invocation (joined with `--next`, so curl may reuse its
    /// connection between them). Through `proxy` when given, trusting `caFile` (`--cacert`).
    static func run(
        proxy: ProxyProcess?,
        caFile: String?,
        _ requests: [CurlRequest],
        commonArguments: [String] = [],
        maxTime: Int = 60
    ) async throws -> CurlResult {
        let storage = OwnedDirectory(try TemporaryDirectory(prefix: "curl"))
        let scratch = storage.directory
        var common = ["-sS", "--max-time", String(maxTime)]
        if let proxy {
            common += ["-x", proxy.proxyURL]
        }
        if let caFile {
            common += ["--cacert", caFile]
        }
        common += commonArguments
        // The format must not start with "@": curl would read it from a file of that name.
        let writeOut = "\(startMarker)%{json}\(headerMarker)%{header_json}\(endMarker)\n"

        // `-q` first: ignore any ~/.curlrc.
        var arguments = ["-q"]
        for (index, request) in requests.enumerated() {
            if index > 0 {
                arguments.append("--next")
            }
            arguments += common + request.arguments
            arguments += ["-o", scratch.file("body-\(index)"), "-w", writeOut, request.url]
        }
        let output = try await Subprocess.run(
            TestEnvironment.curl, arguments, timeout: .seconds(maxTime + 15))
        if output.timedOut {
            throw HarnessError("curl was killed at its deadline: \(output.stderrText)")
        }
        let transfers = try parseTransfers(output.stdoutText, storage: storage)
        return CurlResult(exitCode: output.exitCode, stderr: output.stderrText, transfers: transfers)
    }

    /// One GET (or whatever `arguments` say) through `proxy`.
    static func fetch(
        proxy: ProxyProcess?, caFile: String?, _ url: String, _ arguments: [String] = [], maxTime: Int = 60
    ) async throws -> (CurlResult, CurlTransfer) {
        let result = try await run(proxy: proxy, caFile: caFile, [CurlRequest(url, arguments)], maxTime: maxTime)
        return (result, try result.first())
    }

    private static func parseTransfers(_ stdout: String, storage: OwnedDirectory) throws -> [CurlTransfer] {
        var transfers: [CurlTransfer] = []
        var rest = Substring(stdout)
        while let start = rest.range(of: startMarker) {
            guard let middle = rest.range(of: headerMarker, range: start.upperBound..<rest.endIndex),
                let end = rest.range(of: endMarker, range: middle.upperBound..<rest.endIndex)
            else {
                throw HarnessError("cannot parse curl write-out: \(stdout)")
            }
            let info = try JSONValue.parse(String(rest[start.upperBound..<middle.lowerBound]))
            let headerJSON = try? JSONValue.parse(String(rest[middle.upperBound..<end.lowerBound]))
            var headers: [String: [String]] = [:]
            for (name, values) in headerJSON?.objectValue ?? [:] {
                headers[name.lowercased()] = values.arrayValue?.compactMap(\.stringValue) ?? []
            }
            transfers.append(
                CurlTransfer(
                    status: info["http_code"]?.intValue ?? 0,
                    connectStatus: info["http_connect"]?.intValue ?? 0,
                    numConnects: info["num_connects"]?.intValue ?? -1,
                    exitCode: info["exitcode"]?.intValue ?? -1,
                    errorMessage: info["errormsg"]?.stringValue ?? "",
                    headers: headers,
                    bodyPath: storage.directory.file("body-\(transfers.count)"),
                    writeOut: info,
                    storage: storage))
            rest = rest[end.upperBound...]
        }
        return transfers
    }
}
