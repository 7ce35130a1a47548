import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Configuration

/// How to start one `egress-proxy run`.
struct ProxyConfiguration: Sendable {
    /// The policy YAML, written to `policy.yaml` in the proxy's directory.
    var policy: String
    /// The sandbox id the policy names; the CA lands in `<ca-dir>/<sandbox>/ca.pem`.
    var sandbox: String = PolicyYAML.sandbox
    /// `--resolve HOST:IP` pairs.
    var resolve: [String] = ["api.test:127.0.0.1", "other.test:127.0.0.1", "ws.test:127.0.0.1"]
    /// Extra environment variables for the proxy (for example the real secret values).
    var environment: [String: String] = [:]
    /// Pass the test PKI's CA as `--upstream-ca`.
    var trustUpstreamCA = true
    var extraArguments: [String] = []
    /// Set: start `egress-proxy gateway` over these policies (sandbox id → YAML) instead of
    /// `run`; each sandbox's CA is made beforehand with `ca init`. `policy` is then unused.
    var gatewayPolicies: [String: String]?
    /// Gateway only: start the admin API on a free port with this bearer token.
    var adminToken: String?

    init(policy: String) {
        self.policy = policy
    }

    /// A gateway over `policies` (sandbox id → policy YAML).
    static func gateway(_ policies: [String: String], adminToken: String? = nil) -> ProxyConfiguration {
        var configuration = ProxyConfiguration(policy: "")
        configuration.gatewayPolicies = policies
        configuration.adminToken = adminToken
        return configuration
    }
}

// MARK: - Exit

/// How a child process ended.
struct ProcessExit: Sendable, Equatable, CustomStringConvertible {
    /// The exit code, or the signal number when `signalled`.
    let code: Int32
    let signalled: Bool

    /// Exit code 0, what SIGTERM must lead to (SPEC section 2).
    var isClean: Bool { !signalled && code == 0 }

    var description: String { signalled ? "killed by signal \(code)" : "exit code \(code)" }
}

// MARK: - Process

/// A running `egress-proxy run` child process on 127.0.0.1 with a kernel-chosen port.
///
/// Its stdout and stderr go to files in its directory, so tests can wait for the
/// `listening on` line and later grep everything it printed.
final class ProxyProcess: Sendable {
    let pid: Int32
    let port: Int
    /// The admin API's port (gateway with an admin token).
    let adminPort: Int?
    let directory: TemporaryDirectory
    let policyPath: String
    let caDirectory: String
    /// The sandbox CA clients must trust: `<ca-dir>/<sandbox>/ca.pem`.
    let caCertificatePath: String
    let auditLogPath: String
    let stdoutPath: String
    let stderrPath: String
    private let exitStatus: LockedBox<ProcessExit?>
    private let stopRequested = LockedBox(false)
    /// Kept so Foundation keeps watching the child; never touched after start.
    private let process: Process

    private init(
        pid: Int32, port: Int, adminPort: Int?, directory: TemporaryDirectory, sandbox: String,
        exitStatus: LockedBox<ProcessExit?>, process: Process
    ) {
        self.pid = pid
        self.port = port
        self.adminPort = adminPort
        self.directory = directory
        self.policyPath = directory.file("policy.yaml")
        self.caDirectory = directory.file("ca")
        self.caCertificatePath = directory.file("ca/\(sandbox)/ca.pem")
        self.auditLogPath = directory.file("audit.jsonl")
        self.stdoutPath = directory.file("stdout.log")
        self.stderrPath = directory.file("stderr.log")
        self.exitStatus = exitStatus
        self.process = process
    }

    /// `http://127.0.0.1:PORT`, for curl's `-x`.
    var proxyURL: String { "http://127.0.0.1:\(port)" }

    /// Gateway: the folder of `<sandbox>.yaml` policies.
    var policiesDirectory: String { directory.file("policies") }

    /// Gateway: sandbox `id`'s CA certificate.
    func caCertificatePath(sandbox id: String) -> String { directory.file("ca/\(id)/ca.pem") }

    // MARK: Start

    /// Writes the policy, starts the binary and waits (at most `startTimeout`) for
    /// `listening on HOST:PORT` on stderr.
    static func start(_ configuration: ProxyConfiguration, startTimeout: Duration = .seconds(30)) async throws
        -> ProxyProcess
    {
        let binary = try TestEnvironment.requireProxyBinary()
        let pki = try await TestPKI.shared()
        let directory = try TemporaryDirectory(prefix: "proxy")
        let policyPath = try directory.write("policy.yaml", configuration.policy)
        let stdoutPath = directory.file("stdout.log")
        let stderrPath = directory.file("stderr.log")
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)

        var arguments = [
            "run", "--policy", policyPath, "--listen", "127.0.0.1:0",
            "--ca-dir", directory.file("ca"), "--audit-log", directory.file("audit.jsonl"),
        ]
        if let policies = configuration.gatewayPolicies {
            let folder = directory.file("policies")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (id, text) in policies {
                try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/\(id).yaml"))
                let made = try await Subprocess.run(binary, ["ca", "init", "--sandbox", id, "--ca-dir", directory.file("ca")])
                guard made.exitCode == 0 else { throw HarnessError("ca init \(id): \(made.combinedText)") }
            }
            arguments = [
                "gateway", "--policies", folder, "--listen", "127.0.0.1:0",
                "--ca-dir", directory.file("ca"), "--audit-log", directory.file("audit.jsonl"),
            ]
            if let token = configuration.adminToken {
                let tokenFile = try directory.write("admin-token", token + "\n")
                arguments += ["--admin-listen", "127.0.0.1:0", "--admin-token-file", tokenFile]
            }
        }
        if configuration.trustUpstreamCA {
            arguments += ["--upstream-ca", pki.caCertificatePath]
        }
        for pair in configuration.resolve {
            arguments += ["--resolve", pair]
        }
        arguments += configuration.extraArguments

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = TestEnvironment.cleanEnvironment(adding: configuration.environment)
        guard let stdout = FileHandle(forWritingAtPath: stdoutPath),
            let stderr = FileHandle(forWritingAtPath: stderrPath)
        else {
            throw HarnessError("cannot open the proxy's log files in \(directory.path)")
        }
        defer {
            // The child has its own copies; the test process must not keep descriptors open.
            try? stdout.close()
            try? stderr.close()
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = stderr
        let exitStatus = LockedBox<ProcessExit?>(nil)
        process.terminationHandler = { finished in
            let exit = ProcessExit(
                code: finished.terminationStatus, signalled: finished.terminationReason == .uncaughtSignal)
            exitStatus.withLock { $0 = exit }
            TestRun.runningProxies.withLock { _ = $0.remove(finished.processIdentifier) }
        }
        try process.run()
        let pid = process.processIdentifier
        TestRun.runningProxies.withLock { running in
            // The handler may already have run for a process that died at once.
            if exitStatus.current == nil {
                running.insert(pid)
            }
        }

        let deadline = ContinuousClock.now + startTimeout
        while true {
            let text = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            if let port = listeningPort(in: text) {
                let proxy = ProxyProcess(
                    pid: pid, port: port,
                    adminPort: configuration.adminToken == nil ? nil : listeningPort(in: text, prefix: "admin listening on "),
                    directory: directory, sandbox: configuration.sandbox,
                    exitStatus: exitStatus, process: process)
                return proxy
            }
            if let status = exitStatus.current {
                throw HarnessError("egress-proxy exited with \(status) before listening; stderr:\n\(text)")
            }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                throw HarnessError("egress-proxy did not print `listening on` within \(startTimeout); stderr:\n\(text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The port of the first line that starts with `prefix` (`listening on HOST:PORT`).
    static func listeningPort(in stderr: String, prefix: String = "listening on ") -> Int? {
        for line in stderr.split(separator: "\n") {
            guard let range = line.range(of: prefix) else { continue }
            // `listening on` must not match the gateway's `admin listening on` line.
            if line[..<range.lowerBound].hasSuffix("admin ") && !prefix.hasPrefix("admin") { continue }
            let address = line[range.upperBound...].prefix { !$0.isWhitespace }
            if let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) {
                return port
            }
        }
        return nil
    }

    // MARK: Observation

    /// Everything the proxy printed to stderr so far.
    var stderrText: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    /// The last `lines` lines of stderr, for failure messages.
    func stderrTail(lines: Int = 40) -> String {
        stderrText.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    var stdoutText: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    /// The raw audit log.
    var auditText: String { (try? String(contentsOfFile: auditLogPath, encoding: .utf8)) ?? "" }

    /// The audit records written so far.
    func auditRecords() throws -> [AuditRecord] {
        try AuditRecord.parseFile(auditLogPath)
    }

    /// Waits (bounded) for an audit record matching `predicate`; audit writes may be
    /// asynchronous. Returns nil at the deadline.
    func waitForAudit(
        timeout: Duration = .seconds(10), where predicate: (AuditRecord) -> Bool
    ) async throws -> AuditRecord? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let match = try auditRecords().first(where: predicate) {
                return match
            }
            if ContinuousClock.now >= deadline {
                return nil
            }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    /// The peak resident set size (`VmHWM` in /proc/PID/status), in bytes.
    func peakRSSBytes() -> Int? { procStatusKiB("VmHWM").map { $0 * 1024 } }
    /// The current resident set size (`VmRSS`), in bytes.
    func currentRSSBytes() -> Int? { procStatusKiB("VmRSS").map { $0 * 1024 } }

    private func procStatusKiB(_ field: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("\(field):") {
            return Int(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ")[0])
        }
        return nil
    }

    var isRunning: Bool { exitStatus.current == nil }

    // MARK: Stop

    /// How the process ended, nil while it runs.
    var exit: ProcessExit? { exitStatus.current }

    /// How the process ended when it ended without being asked to (a crash).
    var unexpectedExit: ProcessExit? { stopRequested.current ? nil : exit }

    /// Sends SIGTERM and waits (bounded) for the exit; SIGKILL by PID if it does not come.
    /// Returns how it ended, or nil when SIGKILL was needed.
    @discardableResult
    func stop(gracePeriod: Duration = .seconds(15)) async -> ProcessExit? {
        stopRequested.withLock { $0 = true }
        if let status = exitStatus.current {
            return status
        }
        kill(pid, SIGTERM)
        if let status = await waitForExit(timeout: gracePeriod) {
            return status
        }
        kill(pid, SIGKILL)
        _ = await waitForExit(timeout: .seconds(5))
        return nil
    }

    private func waitForExit(timeout: Duration) async -> ProcessExit? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exitStatus.current {
                return status
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return exitStatus.current
    }
}
