import ArgumentParser
import EgressProxy
import Foundation
import Logging
import ServiceLifecycle
import NIOCore
import NIOPosix
import PIIDetect
import PolicyEngine

/// `egress-proxy`: the command line of SPEC section 2. A thin layer over the libraries.
@main
struct EgressProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "egress-proxy",
        abstract: "Egress security proxy for code sandboxes.",
        subcommands: [Run.self, Gateway.self, CA.self, PolicyCommand.self, Secrets.self, Scan.self, DryRun.self]
    )
}

/// Exit codes of SPEC section 2.
enum Exit {
    static let runtimeFailure = ExitCode(1)
    static let invalidConfiguration = ExitCode(2)
}

/// Prints to stderr.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Loads and compiles a policy, or prints every diagnostic as `FILE:LINE:COLUMN: message` and
/// exits 2.
func loadPolicyOrExit(path: String, sandbox: String?) throws -> CompiledPolicy {
    do {
        return try PolicyLoader.loadCompiled(path: path, sandboxOverride: sandbox)
    } catch {
        for d in error.diagnostics { printError(d.description) }
        throw Exit.invalidConfiguration
    }
}

/// Compiles the policy's content inspection (SPEC 6) the way the proxy will: bad or
/// backtracking-prone patterns are refused with `FILE:LINE:COLUMN`; notes (an unsupported
/// `pii.types` entry, say) are printed.
@discardableResult
func checkInspection(_ policy: CompiledPolicy, environment: SandboxEnvironment = SandboxEnvironment([:])) throws -> InspectionPlan? {
    guard !policy.enabledInspectionFeatures.isEmpty else { return nil }
    do {
        let plan = try InspectionPlan.compile(policy, environment: environment)
        for warning in plan.warnings { printError("warning: \(warning)") }
        return plan
    } catch {
        for d in error.diagnostics { printError(d.description) }
        throw Exit.invalidConfiguration
    }
}

// MARK: - run

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sidecar: one sandbox, one policy.")

    @Option(help: "Policy file (YAML or JSON).") var policy = "policies/default.yaml"
    @Option(help: "Sandbox id (overrides the policy's).") var sandbox: String?
    @Option(help: "Listen address HOST:PORT (port 0 picks a free port).") var listen = "127.0.0.1:3128"
    @Option(name: .customLong("ca-dir"), help: "Folder of the sandbox CAs.") var caDir = "certs"
    @Option(name: .customLong("audit-log"), help: "Audit log file, or - for stdout.") var auditLog: String?
    @Option(name: .customLong("upstream-ca"), help: "Extra PEM roots trusted for upstream servers.") var upstreamCA: String?
    @Option(name: .customLong("resolve"), help: "HOST:IP, use IP for HOST instead of DNS (repeatable).") var resolve: [String] = []
    @Option(help: "Write a HAR 1.2 capture of the proxied traffic to this file (mode 0600; secrets masked).") var capture: String?
    @Option(name: .customLong("capture-max-body"), help: "Bytes of each body kept in the capture.") var captureMaxBody = CaptureWriter.defaultMaxBodyBytes
    @Option(name: .customLong("sandbox-env"), help: "KEY=VALUE file of the sandbox's environment.") var sandboxEnv: String?

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .info
            return h
        }
        let logger = Logger(label: "egress-proxy")
        let compiled = try loadPolicyOrExit(path: policy, sandbox: sandbox)
        var environment = SandboxEnvironment([:])
        if let sandboxEnv {
            guard let text = try? String(contentsOfFile: sandboxEnv, encoding: .utf8) else {
                printError("--sandbox-env: cannot read \(sandboxEnv)")
                throw Exit.invalidConfiguration
            }
            environment = SandboxEnvironment.parse(text)
        } else if !compiled.document.env.maskPatterns.isEmpty {
            printError("warning: env.mask_patterns is set but no --sandbox-env FILE was given: no environment value is masked")
        }
        try checkInspection(compiled, environment: environment)
        guard let (host, port) = parseListen(listen) else {
            printError("--listen: expected HOST:PORT, got \(listen)")
            throw Exit.invalidConfiguration
        }
        let overrides = try parseResolveOptions(resolve)

        let threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let lag = EventLoopLagMonitor()
        lag.start(on: group)

        let runtime: SandboxRuntime
        let auditWriter: AuditFileWriter?
        let captureWriter: CaptureWriter?
        do {
            captureWriter = try capture.map { try CaptureWriter(path: $0, maxBodyBytes: captureMaxBody) }
            let ca = try SandboxCA.loadOrCreate(directory: caDir + "/" + compiled.sandbox, sandbox: compiled.sandbox)
            let leaves = try LeafCertificateCache(ca: ca, threadPool: threadPool)
            let upstreamTLS = try UpstreamTLS.makeClientContext(extraRootsPEMFile: upstreamCA)
            let auditPath = auditLog ?? compiled.audit.path ?? "-"
            let sink: AuditSink
            if compiled.audit.enabled {
                let w = try AuditFileWriter(path: auditPath)
                auditWriter = w
                sink = w
            } else {
                auditWriter = nil
                sink = NullAuditSink()
            }
            runtime = try SandboxRuntime(
                policy: compiled, ca: ca, leafCache: leaves, upstreamTLS: upstreamTLS,
                resolver: Resolver(overrides: overrides, threadPool: threadPool), audit: sink, capture: captureWriter,
                limiter: compiled.limits.requestsPerSecond.map {
                    SandboxLimiter(settings: .init(maxConnections: nil, requestsPerSecond: $0))
                },
                environment: environment, logger: logger)
        } catch let e as ExitCode {
            throw e
        } catch {
            printError("egress-proxy: \(error)")
            throw Exit.invalidConfiguration
        }

        let server = ProxyServer(runtime: runtime, group: group, configuration: .init(host: host, port: port))
        let listen = listen
        try await runUntilTerminated(logger: logger) {
            let bound: SocketAddress
            do {
                bound = try await server.start()
            } catch {
                printError("egress-proxy: cannot listen on \(listen): \(error)")
                throw Exit.runtimeFailure
            }
            let shown = bound.ipAddress.map { $0.contains(":") ? "[\($0)]" : $0 } ?? host
            printError("listening on \(shown):\(bound.port ?? port)")
        } drain: {
            printError("egress-proxy: stopping")
            await server.shutdown(grace: .seconds(10))
            lag.stop()
            printError(lag.report.description)
            auditWriter?.close()
            captureWriter?.close()
        }
        try? await group.shutdownGracefully()
        try? await threadPool.shutdownGracefully()
    }
}

/// `--resolve HOST:IP` options as the resolver's override map (repeatable per host).
func parseResolveOptions(_ options: [String]) throws -> [String: [IPAddress]] {
    var overrides: [String: [IPAddress]] = [:]
    for option in options {
        guard let (host, ip) = Resolver.parseOverride(option) else {
            printError("--resolve: expected HOST:IP, got \(option)")
            throw Exit.invalidConfiguration
        }
        overrides[host, default: []].append(ip)
    }
    return overrides
}

/// `HOST:PORT` or `[v6]:PORT`.
func parseListen(_ s: String) -> (String, Int)? {
    if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
        let host = String(s[s.index(after: s.startIndex)..<close])
        let rest = s[s.index(after: close)...]
        guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), (0...65535).contains(p) else { return nil }
        return (host, p)
    }
    guard let colon = s.lastIndex(of: ":"), let p = Int(s[s.index(after: colon)...]), (0...65535).contains(p) else { return nil }
    return (String(s[..<colon]), p)
}

/// The process lifecycle (swift-service-lifecycle): the signal handlers for SIGTERM and
/// SIGINT are in place before `start` binds the listener (no window in which a signal would
/// kill the process), then the service waits for graceful shutdown and runs `drain`: stop
/// accepting, finish in-flight requests (bounded), flush audit and capture.
func runUntilTerminated(
    logger: Logger, start: @escaping @Sendable () async throws -> Void, drain: @escaping @Sendable () async -> Void
) async throws {
    signal(SIGPIPE, SIG_IGN)
    var quiet = logger
    quiet.logLevel = .warning
    let group = ServiceGroup(
        services: [ProxyLifecycle(start: start, drain: drain)],
        gracefulShutdownSignals: [.sigterm, .sigint], logger: quiet)
    do {
        try await group.run()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError("egress-proxy: \(error)")
        throw Exit.runtimeFailure
    }
}

/// Start, wait for SIGTERM/SIGINT, drain.
struct ProxyLifecycle: Service {
    let start: @Sendable () async throws -> Void
    let drain: @Sendable () async -> Void

    func run() async throws {
        try await start()
        // Returns on graceful shutdown; throws on cancellation, which drains too.
        try? await gracefulShutdown()
        await drain()
    }
}

// MARK: - ca

struct CA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "Sandbox CAs.", subcommands: [Init.self, Export.self])

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a sandbox CA (kept if it exists).")
        @Option var sandbox: String
        @Option(name: .customLong("ca-dir")) var caDir = "certs"
        func run() throws {
            do {
                let ca = try SandboxCA.loadOrCreate(directory: caDir + "/" + sandbox, sandbox: sandbox)
                _ = ca
                printError("CA for \(sandbox) in \(caDir)/\(sandbox)/ca.pem")
            } catch {
                printError("egress-proxy: \(error)")
                throw Exit.runtimeFailure
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a sandbox CA certificate (PEM).")
        @Option var sandbox: String
        @Option(name: .customLong("ca-dir")) var caDir = "certs"
        func run() throws {
            do {
                print(try SandboxCA.export(directory: caDir + "/" + sandbox), terminator: "")
            } catch {
                printError("egress-proxy: \(error)")
                throw Exit.runtimeFailure
            }
        }
    }
}

// MARK: - policy check

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy", abstract: "Policies.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate policy files: exit 0, or 2 with FILE:LINE:COLUMN: message lines.")
        @Argument var files: [String]
        func run() throws {
            var failed = false
            for f in files {
                do {
                    let document = try PolicyLoader.load(path: f)
                    // The inspection patterns too (a transformation that could backtrack
                    // badly is refused here, as at start), without needing secret values.
                    if !document.enabledInspectionFeatures.isEmpty {
                        _ = try InspectionPlan.compile(try DryRunPolicy.compile(document))
                    }
                } catch {
                    failed = true
                    for d in error.diagnostics { print(d.description) }
                }
            }
            if failed { throw Exit.invalidConfiguration }
        }
    }
}

// MARK: - secrets env

struct Secrets: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Secret placeholders.", subcommands: [Env.self])

    struct Env: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print NAME=placeholder lines: the sandbox's environment instead of real values.")
        @Option var policy: String
        func run() throws {
            let doc: PolicyDocument
            do {
                doc = try PolicyLoader.load(path: policy, sandboxOverride: "secrets-env")
            } catch {
                for d in error.diagnostics { printError(d.description) }
                throw Exit.invalidConfiguration
            }
            for entry in doc.secrets.entries {
                print("\(entry.name)=\(entry.placeholder)")
            }
        }
    }
}

// MARK: - scan

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the detectors over {\"id\",\"text\"} JSON lines; print one result line per record.")
    @Option(help: "Policy whose pii.types and injection_defense sensitivity/threshold apply (default: every type, medium).")
    var policy: String?
    @Argument(help: "JSON Lines input, or - for stdin.") var input: String = "-"

    func run() throws {
        var types = Set(EntityType.allCases)
        var scorer = InjectionScorer(sensitivity: .medium)
        if let policy {
            let compiled = try loadPolicyOrExit(path: policy, sandbox: "scan")
            if let pii = compiled.document.pii, pii.enabled {
                var chosen = Set<EntityType>()
                for t in pii.types { chosen.formUnion(EntityType.types(forPolicyName: t.rawValue) ?? []) }
                if !chosen.isEmpty { types = chosen }
            }
            if let inj = compiled.document.injectionDefense, inj.enabled {
                if let t = inj.threshold {
                    scorer = InjectionScorer(threshold: t)
                } else if let s = Sensitivity(rawValue: inj.sensitivity.rawValue) {
                    scorer = InjectionScorer(sensitivity: s)
                }
            }
        }
        let detector: Detector
        do {
            detector = try Detector(types: types)
        } catch {
            printError("scan: \(error)")
            throw Exit.runtimeFailure
        }
        let handle: FileHandle
        if input == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let h = FileHandle(forReadingAtPath: input) else {
                printError("scan: cannot read \(input)")
                throw Exit.invalidConfiguration
            }
            handle = h
        }
        var out = Data()
        var pending = Data()
        func emit(_ line: Data) {
            guard let text = String(data: line, encoding: .utf8),
                  let result = ScanFormat.scanLine(text, detector: detector, injection: scorer) else { return }
            out.append(contentsOf: Array(result.utf8))
            out.append(0x0A)
            if out.count > 1 << 16 {
                FileHandle.standardOutput.write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let nl = pending.firstIndex(of: 0x0A) {
                emit(pending[pending.startIndex..<nl])
                pending.removeSubrange(pending.startIndex...nl)
            }
        }
        if !pending.isEmpty { emit(pending) }
        FileHandle.standardOutput.write(out)
    }
}
