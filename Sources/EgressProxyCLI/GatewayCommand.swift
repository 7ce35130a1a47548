import ArgumentParser
import EgressProxy
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PolicyEngine

/// `egress-proxy gateway`: many sandboxes on one listener (SPEC section 8).
struct Gateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Multi-tenant gateway: one policy per sandbox in --policies DIR, sandbox from Proxy-Authorization.")

    @Option(help: "Folder of <sandbox>.yaml policies (reloaded on change and SIGHUP).") var policies: String
    @Option(help: "Proxy listen address HOST:PORT.") var listen = "127.0.0.1:3128"
    @Option(name: .customLong("admin-listen"), help: "Admin API address HOST:PORT (off when not given).") var adminListen: String?
    @Option(name: .customLong("admin-token-file"), help: "File holding the admin bearer token (or EGRESS_PROXY_ADMIN_TOKEN).") var adminTokenFile: String?
    @Option(name: .customLong("ca-dir"), help: "Folder of the sandbox CAs (created on first use).") var caDir = "certs"
    @Option(name: .customLong("audit-log"), help: "Audit log file, or - for stdout.") var auditLog = "-"
    @Option(name: .customLong("upstream-ca"), help: "Extra PEM roots trusted for upstream servers.") var upstreamCA: String?
    @Option(name: .customLong("resolve"), help: "HOST:IP, use IP for HOST instead of DNS (repeatable).") var resolve: [String] = []
    @Option(name: .customLong("source-map"), help: "File of 'IP SANDBOX' lines for sandboxes that can't send credentials.") var sourceMap: String?
    @Option(name: .customLong("capture-dir"), help: "Write each sandbox's traffic to DIR/<sandbox>.har (mode 0600; secrets masked).") var captureDir: String?
    @Option(name: .customLong("capture-max-body"), help: "Bytes of each body kept in a capture.") var captureMaxBody = CaptureWriter.defaultMaxBodyBytes

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .info
            return h
        }
        let logger = Logger(label: "egress-proxy.gateway")
        if let captureDir {
            var isCaptureDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: captureDir, isDirectory: &isCaptureDir) {
                do {
                    try FileManager.default.createDirectory(atPath: captureDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                } catch {
                    printError("--capture-dir: cannot create \(captureDir): \(error)")
                    throw Exit.invalidConfiguration
                }
            } else if !isCaptureDir.boolValue {
                printError("--capture-dir: \(captureDir) is not a folder")
                throw Exit.invalidConfiguration
            }
        }
        guard let (host, port) = parseListen(listen) else {
            printError("--listen: expected HOST:PORT, got \(listen)")
            throw Exit.invalidConfiguration
        }
        var adminAddress: (String, Int)?
        if let adminListen {
            guard let a = parseListen(adminListen) else {
                printError("--admin-listen: expected HOST:PORT, got \(adminListen)")
                throw Exit.invalidConfiguration
            }
            adminAddress = a
        }
        let overrides = try parseResolveOptions(resolve)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: policies, isDirectory: &isDir), isDir.boolValue else {
            printError("--policies: \(policies) is not a folder")
            throw Exit.invalidConfiguration
        }

        let threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let lag = EventLoopLagMonitor()
        lag.start(on: group)
        let metrics = ProxyMetrics()
        let registry: SandboxRegistry
        let auditWriter: AuditFileWriter
        var token: AdminToken?
        do {
            if adminAddress != nil {
                token = try AdminToken.load(file: adminTokenFile, environment: ProcessInfo.processInfo.environment)
            }
            auditWriter = try AuditFileWriter(path: auditLog)
            let upstreamTLS = try UpstreamTLS.makeClientContext(extraRootsPEMFile: upstreamCA)
            registry = SandboxRegistry(
                configuration: .init(
                    policiesDirectory: policies, caDirectory: caDir, sourceMapFile: sourceMap,
                    captureDirectory: captureDir, captureMaxBodyBytes: captureMaxBody),
                upstreamTLS: upstreamTLS,
                resolver: Resolver(overrides: overrides, threadPool: threadPool),
                audit: auditWriter, threadPool: threadPool, logger: logger, metrics: metrics)
        } catch {
            printError("egress-proxy: \(error)")
            throw Exit.invalidConfiguration
        }
        let report = registry.reload(force: true)
        for failure in report.failures { printError(failure.description) }

        let server = ProxyServer(
            context: ServerContext(
                // Records without a sandbox (407, unparsable requests) are counted too.
                tenants: registry, fallbackAudit: MetricsAuditSink(base: auditWriter, metrics: metrics),
                defaultLimits: Limits.defaults),
            group: group, configuration: .init(host: host, port: port))
        let watcher = PolicyWatcher(registry: registry, logger: logger)
        let admin = NIOLockedValueBox<AdminServer?>(nil)
        let adminToken = token
        let adminListenAddress = adminAddress
        try await runUntilTerminated(logger: logger) {
            do {
                let bound = try await server.start()
                let shown = bound.ipAddress.map { $0.contains(":") ? "[\($0)]" : $0 } ?? host
                if let adminAddress = adminListenAddress, let adminToken {
                    let a = AdminServer(
                        configuration: .init(host: adminAddress.0, port: adminAddress.1), token: adminToken,
                        registry: registry, metrics: metrics, group: group, threadPool: threadPool, logger: logger)
                    let adminBound = try await a.start()
                    admin.withLockedValue { $0 = a }
                    printError("admin listening on \(adminBound.ipAddress ?? adminAddress.0):\(adminBound.port ?? adminAddress.1)")
                }
                watcher.start()
                printError("listening on \(shown):\(bound.port ?? port)")
            } catch {
                printError("egress-proxy: cannot listen: \(error)")
                throw Exit.runtimeFailure
            }
        } drain: {
            printError("egress-proxy: stopping")
            watcher.stop()
            await admin.withLockedValue { $0 }?.shutdown()
            await server.shutdown(grace: .seconds(10))
            lag.stop()
            printError(lag.report.description)
            auditWriter.close()
            registry.closeCaptures()
        }
        try? await group.shutdownGracefully()
        try? await threadPool.shutdownGracefully()
    }
}
