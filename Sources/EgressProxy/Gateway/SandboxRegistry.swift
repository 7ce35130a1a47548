import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PolicyEngine

// MARK: - SandboxRegistry

/// The gateway's sandboxes: one policy file each in `--policies DIR` (`<sandbox>.yaml`,
/// `.yml` or `.json`), one `SandboxRuntime` each, made on the sandbox's first request.
///
/// Nothing crosses sandboxes: each runtime has its own compiled policy (with its secret
/// values), its own CA (`<ca-dir>/<sandbox>/`) and leaf cache, and an audit sink that stamps
/// nothing but writes records that carry their `sandbox`. What is shared holds no per-sandbox
/// state: the verified upstream `NIOSSLContext`, the resolver, the thread pool, the audit file.
///
/// `reload()` re-reads the folder: a changed file swaps its runtime's policy atomically
/// (connections in flight keep theirs), a new file registers a sandbox, a removed file
/// unregisters it (its new requests get 407), an invalid file is refused with
/// `FILE:LINE:COLUMN: message` lines and its sandbox keeps the old policy.
public final class SandboxRegistry: Sendable {
    public struct Configuration: Sendable {
        /// `--policies DIR`.
        public var policiesDirectory: String
        /// `--ca-dir DIR`: each sandbox's CA lives in `DIR/<sandbox>/`.
        public var caDirectory: String
        /// `--source-map FILE`: `IP SANDBOX` lines for clients that send no credentials.
        public var sourceMapFile: String?
        /// Features (`PolicyDocument.enabledInspectionFeatures` names) this build does not
        /// enforce: a policy enabling one is refused, never silently half-applied.
        public var refusedFeatures: Set<String>
        /// The environment `env:` secret values are read from.
        public var environment: [String: String]
        /// The most hosts each sandbox's leaf cache keeps.
        public var leafCacheCapacity: Int
        /// `--capture-dir`: each sandbox's traffic goes to `DIR/<sandbox>.har`; nil: no capture.
        public var captureDirectory: String?
        public var captureMaxBodyBytes: Int

        public init(
            policiesDirectory: String, caDirectory: String, sourceMapFile: String? = nil,
            refusedFeatures: Set<String> = [], environment: [String: String] = ProcessInfo.processInfo.environment,
            leafCacheCapacity: Int = LeafCertificateCache.defaultCapacity,
            captureDirectory: String? = nil, captureMaxBodyBytes: Int = CaptureWriter.defaultMaxBodyBytes
        ) {
            self.captureDirectory = captureDirectory
            self.captureMaxBodyBytes = captureMaxBodyBytes
            self.policiesDirectory = policiesDirectory
            self.caDirectory = caDirectory
            self.sourceMapFile = sourceMapFile
            self.refusedFeatures = refusedFeatures
            self.environment = environment
            self.leafCacheCapacity = leafCacheCapacity
        }
    }

    public let configuration: Configuration
    private let upstreamTLS: NIOSSLContext
    private let resolver: Resolver
    private let audit: AuditSink
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let metrics: ProxyMetrics?

    private let state = NIOLockedValueBox(State())
    /// Serialises reloads, PUT and DELETE: they read and write the folder and must not
    /// interleave. Never taken by the request path.
    private let mutation = NIOLock()
    /// Serialises runtime creation so that two first requests of a sandbox make one CA.
    private let creation = NIOLock()
    /// One capture file per sandbox for the life of the process (a sandbox removed and added
    /// again keeps writing the same file instead of truncating it).
    private let captures = NIOLockedValueBox<[String: CaptureWriter]>([:])

    /// A registered sandbox.
    private struct Entry {
        var file: String
        /// SHA-256 of the file's bytes: a reload swaps only what really changed.
        var digest: [UInt8]
        var policy: CompiledPolicy
        var runtime: SandboxRuntime?
        /// Kept across policy swaps; its `enabled` flag follows `audit.enabled`.
        let auditSink: SandboxAuditSink
        /// Kept across policy swaps; its connection bound follows `limits.max_connections`.
        let limiter: SandboxLimiter
        /// Leaf-cache hits already counted in the metrics.
        var reportedLeafHits = 0
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var sourceMap = SourceAddressMap()
        /// What the folder looked like when the last reload started to read it.
        var fingerprint: FolderFingerprint?
    }

    /// The digest compared when a sandbox id is unknown or has no token, so that every failed
    /// authentication does the same work.
    private static let unmatchableDigest = [UInt8](repeating: 0, count: 32)

    /// - Parameters:
    ///   - audit: the shared sink. Pass the raw sink: the registry counts each sandbox's
    ///     records in `metrics` itself (wrapping it in `MetricsAuditSink` would count twice).
    ///   - threadPool: where leaf certificates are minted (started; outlives the registry's use).
    ///
    /// The registry starts empty: call `reload()` to read the folder.
    public init(
        configuration: Configuration, upstreamTLS: NIOSSLContext, resolver: Resolver, audit: AuditSink,
        threadPool: NIOThreadPool, logger: Logger, metrics: ProxyMetrics? = nil
    ) {
        self.configuration = configuration
        self.upstreamTLS = upstreamTLS
        self.resolver = resolver
        self.audit = audit
        self.threadPool = threadPool
        self.logger = logger
        self.metrics = metrics
        metrics?.addScrapeHook { [weak self] in self?.publishCacheMetrics() }
    }

    // MARK: Lookups

    /// Registered sandbox ids, sorted.
    public var sandboxIDs: [String] { state.withLockedValue { $0.entries.keys.sorted() } }

    /// The policy new connections of `sandbox` get; nil when it is not registered.
    public func policy(for sandbox: String) -> CompiledPolicy? {
        state.withLockedValue { $0.entries[sandbox]?.policy }
    }

    /// The file `sandbox`'s policy was read from.
    public func policyFile(for sandbox: String) -> String? {
        state.withLockedValue { $0.entries[sandbox]?.file }
    }

    /// The admission limits of a registered sandbox (the proxy asks it per request and per
    /// connection); nil when the sandbox is not registered.
    public func limiter(for sandbox: String) -> SandboxLimiter? {
        state.withLockedValue { $0.entries[sandbox]?.limiter }
    }

    /// The source-address map in force.
    public var sourceMap: SourceAddressMap { state.withLockedValue { $0.sourceMap } }

    // MARK: Authentication

    /// The runtime of the sandbox named by `Proxy-Authorization: Basic base64(ID:TOKEN)`, when
    /// SHA-256(TOKEN) equals the policy's `gateway.token_sha256`; nil on any failure (missing
    /// or malformed header, unknown id, no token configured, wrong token) with no hint which.
    /// The digest comparison is constant-time and happens for unknown ids too.
    public func authenticate(proxyAuthorization: String?) -> SandboxRuntime? {
        guard let header = proxyAuthorization, let credentials = ProxyCredentials(headerValue: header) else { return nil }
        let expected = state.withLockedValue { $0.entries[credentials.sandbox]?.policy.gatewayTokenSHA256 }
        let presented = Array(SHA256.hash(data: credentials.token))
        let matches = ConstantTime.equals(presented, expected ?? Self.unmatchableDigest)
        guard matches, expected != nil else { return nil }
        return runtime(for: credentials.sandbox)
    }

    /// The runtime of the sandbox the source map assigns to `address`; nil when none.
    public func runtime(forSourceAddress address: SocketAddress?) -> SandboxRuntime? {
        guard let sandbox = state.withLockedValue({ $0.sourceMap.sandbox(for: address) }) else { return nil }
        return runtime(for: sandbox)
    }

    /// The runtime of a registered sandbox, made on first use: its CA is loaded from (or
    /// created in) `<ca-dir>/<sandbox>/` and it gets its own leaf cache. nil when the sandbox
    /// is not registered or its CA cannot be loaded (logged).
    ///
    /// First use runs on the caller's thread (an event loop in the proxy): loading a CA is a
    /// few file reads, creating one a P-256 key and a signature, once per sandbox and process.
    public func runtime(for sandbox: String) -> SandboxRuntime? {
        if let existing = state.withLockedValue({ $0.entries[sandbox]?.runtime }) { return existing }
        return creation.withLock { () -> SandboxRuntime? in
            guard let entry = state.withLockedValue({ $0.entries[sandbox] }) else { return nil }
            if let runtime = entry.runtime { return runtime }
            let made: SandboxRuntime
            do {
                let ca = try SandboxCA.loadOrCreate(
                    directory: PolicyDirectory.join(configuration.caDirectory, sandbox), sandbox: sandbox)
                let leaves = try LeafCertificateCache(ca: ca, threadPool: threadPool, capacity: configuration.leafCacheCapacity)
                var sandboxLogger = logger
                sandboxLogger[metadataKey: "sandbox"] = "\(sandbox)"
                // env.mask_patterns: the sandbox's environment is `<policies>/<sandbox>.env`
                // (KEY=VALUE lines), read when the sandbox is first used.
                let envFile = PolicyDirectory.join(configuration.policiesDirectory, sandbox + ".env")
                let environment = FileManager.default.contents(atPath: envFile)
                    .map { SandboxEnvironment.parse(String(decoding: $0, as: UTF8.self)) } ?? SandboxEnvironment([:])
                if !entry.policy.document.env.maskPatterns.isEmpty && environment.names.isEmpty {
                    sandboxLogger.warning("env.mask_patterns is set but \(envFile) is missing or empty: no environment value is masked")
                }
                var capture = captures.withLockedValue { $0[sandbox] }
                if capture == nil, let dir = configuration.captureDirectory {
                    let w = try CaptureWriter(path: PolicyDirectory.join(dir, sandbox + ".har"), maxBodyBytes: configuration.captureMaxBodyBytes)
                    captures.withLockedValue { $0[sandbox] = w }
                    capture = w
                }
                made = try SandboxRuntime(
                    policy: entry.policy, ca: ca, leafCache: leaves, upstreamTLS: upstreamTLS,
                    resolver: resolver, audit: entry.auditSink, capture: capture, limiter: entry.limiter,
                    environment: environment, logger: sandboxLogger)
            } catch {
                logger.error("sandbox \(sandbox): cannot load its CA: \(error)")
                return nil
            }
            // A reload may have replaced or removed the entry while the CA was loading.
            return state.withLockedValue { s -> SandboxRuntime? in
                guard var current = s.entries[sandbox] else { return nil }
                if let runtime = current.runtime { return runtime }
                if current.policy !== entry.policy { try? made.swapPolicy(current.policy) }
                current.runtime = made
                s.entries[sandbox] = current
                return made
            }
        }
    }

    /// Completes every capture file (on shutdown).
    public func closeCaptures() {
        let writers = captures.withLockedValue { Array($0.values) }
        for w in writers { w.close() }
    }

    // MARK: Reload

    /// Re-reads the policies folder and the source map. `force` also re-compiles unchanged
    /// files (SIGHUP: secret files named by `file:` may have changed) and swaps them in.
    @discardableResult
    public func reload(force: Bool = false) -> ReloadReport {
        mutation.withLock { reloadLocked(force: force) }
    }

    /// Reloads when a policy file or the source map changed since the last reload (inode,
    /// size or modification time); nil when nothing changed. The watcher's poll.
    public func reloadIfChanged() -> ReloadReport? {
        mutation.withLock { () -> ReloadReport? in
            let now = currentFingerprint()
            guard state.withLockedValue({ $0.fingerprint }) != now else { return nil }
            return reloadLocked(force: false)
        }
    }

    private func currentFingerprint() -> FolderFingerprint {
        PolicyDirectory.fingerprint(configuration.policiesDirectory, extraFiles: configuration.sourceMapFile.map { [$0] } ?? [])
    }

    /// What a reload decided for one sandbox id.
    private enum Outcome {
        case unchanged
        case replace(file: String, digest: [UInt8], policy: CompiledPolicy, contentChanged: Bool)
        case keep
    }

    private func reloadLocked(force: Bool) -> ReloadReport {
        var report = ReloadReport()
        // Taken before reading: a change made while we read shows up as a difference next poll.
        let fingerprint = currentFingerprint()
        let previous = state.withLockedValue { $0.entries }

        let files: [PolicyFile]
        do {
            files = try PolicyDirectory.list(configuration.policiesDirectory)
        } catch {
            // A folder that vanished or became unreadable is an operator error, not "every
            // sandbox deleted": keep everything.
            report.failures.append(ReloadFailure(
                file: configuration.policiesDirectory, sandbox: nil,
                diagnostics: [PolicyDiagnostic(file: configuration.policiesDirectory, line: 1, column: 1, path: "", message: error.description)],
                keptPrevious: true))
            state.withLockedValue { $0.fingerprint = fingerprint }
            finish(&report)
            return report
        }

        var outcomes: [String: Outcome] = [:]
        for (sandbox, group) in Dictionary(grouping: files, by: \.sandbox).sorted(by: { $0.key < $1.key }) {
            let old = previous[sandbox]
            guard group.count == 1, let file = group.first else {
                let names = group.map(\.name).joined(separator: ", ")
                for f in group {
                    report.failures.append(ReloadFailure(
                        file: f.path, sandbox: sandbox,
                        diagnostics: [PolicyDiagnostic(file: f.path, line: 1, column: 1, path: "",
                                                       message: "sandbox '\(sandbox)' is named by more than one file (\(names)); remove all but one")],
                        keptPrevious: old != nil))
                }
                if old != nil { outcomes[sandbox] = .keep }
                continue
            }
            do {
                let bytes = try PolicyDirectory.read(file.path)
                let digest = Array(SHA256.hash(data: bytes))
                if let old, old.file == file.path, old.digest == digest, !force {
                    outcomes[sandbox] = .unchanged
                    continue
                }
                let policy = try compile(bytes: bytes, file: file.path, sandbox: sandbox)
                let contentChanged = old.map { $0.file != file.path || $0.digest != digest } ?? true
                outcomes[sandbox] = .replace(file: file.path, digest: digest, policy: policy, contentChanged: contentChanged)
            } catch {
                report.failures.append(ReloadFailure(file: file.path, sandbox: sandbox, diagnostics: error.diagnostics, keptPrevious: old != nil))
                if old != nil { outcomes[sandbox] = .keep }
            }
        }

        // Apply everything under one lock: a request sees the folder before or after, not half.
        // Running runtimes are swapped after it: building an `ActivePolicy` (secret engines)
        // is real work, and the request path takes this lock.
        let sink = audit
        let metrics = self.metrics
        let swaps = state.withLockedValue { s -> [(SandboxRuntime, CompiledPolicy)] in
            var swaps: [(SandboxRuntime, CompiledPolicy)] = []
            for (sandbox, outcome) in outcomes {
                switch outcome {
                case .unchanged:
                    report.unchanged.append(sandbox)
                case .keep:
                    break
                case .replace(let file, let digest, let policy, let contentChanged):
                    if var entry = s.entries[sandbox] {
                        entry.file = file
                        entry.digest = digest
                        entry.policy = policy
                        entry.auditSink.isEnabled = policy.audit.enabled
                        entry.limiter.update(limiterSettings(policy))
                        if let runtime = entry.runtime { swaps.append((runtime, policy)) }
                        s.entries[sandbox] = entry
                        if contentChanged { report.changed.append(sandbox) } else { report.unchanged.append(sandbox) }
                    } else {
                        s.entries[sandbox] = Entry(
                            file: file, digest: digest, policy: policy, runtime: nil,
                            auditSink: SandboxAuditSink(base: sink, metrics: metrics, enabled: policy.audit.enabled),
                            limiter: SandboxLimiter(settings: limiterSettings(policy)))
                        report.added.append(sandbox)
                    }
                }
            }
            for sandbox in s.entries.keys where outcomes[sandbox] == nil {
                s.entries.removeValue(forKey: sandbox)
                report.removed.append(sandbox)
            }
            s.fingerprint = fingerprint
            return swaps
        }
        for (runtime, policy) in swaps {
            do {
                try runtime.swapPolicy(policy)
            } catch {
                // Validated by the same compile above, so not expected; the old policy stays.
                logger.error("sandbox \(runtime.sandbox): \(error.description); the old policy stays")
            }
        }

        reloadSourceMap(&report)
        report.added.sort()
        report.changed.sort()
        report.removed.sort()
        report.unchanged.sort()
        finish(&report)
        return report
    }

    private func limiterSettings(_ policy: CompiledPolicy) -> SandboxLimiter.Settings {
        SandboxLimiter.Settings(maxConnections: policy.limits.maxConnections,
                                requestsPerSecond: policy.limits.requestsPerSecond)
    }

    private func reloadSourceMap(_ report: inout ReloadReport) {
        guard let path = configuration.sourceMapFile else { return }
        do {
            let map = try SourceAddressMap.load(path: path)
            let changed = state.withLockedValue { s -> Bool in
                guard s.sourceMap != map else { return false }
                s.sourceMap = map
                return true
            }
            report.sourceMapChanged = changed
        } catch {
            report.failures.append(ReloadFailure(file: path, sandbox: nil, diagnostics: error.diagnostics, keptPrevious: true))
        }
    }

    /// Logs the outcome (every refused file as `FILE:LINE:COLUMN: message` lines) and counts it.
    private func finish(_ report: inout ReloadReport) {
        for failure in report.failures {
            for diagnostic in failure.diagnostics {
                logger.error("\(diagnostic.description)")
            }
            logger.error("policy reload: refused \(failure.file)\(failure.keptPrevious ? "; the previous version stays in force" : "")")
        }
        if !report.added.isEmpty || !report.changed.isEmpty || !report.removed.isEmpty || report.sourceMapChanged {
            logger.info("policy reload: \(report.description)")
        }
        let (entries, map) = state.withLockedValue { ($0.entries, $0.sourceMap) }
        for sandbox in report.added + report.changed {
            guard let policy = entries[sandbox]?.policy else { continue }
            if policy.gatewayTokenSHA256 == nil, !map.sandboxes.values.contains(sandbox) {
                logger.warning("sandbox \(sandbox) has no gateway.token_sha256 and no source-map entry: no request can reach it")
            }
        }
        metrics?.policyReloaded(success: report.succeeded)
        metrics?.setSandboxCount(entries.count)
    }

    // MARK: Validation

    /// Validates a policy text the way a reload would read it from `file` for `sandbox`: the
    /// file name gives the sandbox id, and a `sandbox:` key in the text must name the same one.
    public func validate(text: String, file: String, sandbox: String) throws(PolicyLoadError) -> CompiledPolicy {
        try compile(bytes: Array(text.utf8), file: file, sandbox: sandbox)
    }

    private func compile(bytes: [UInt8], file: String, sandbox: String) throws(PolicyLoadError) -> CompiledPolicy {
        let start = SourcePosition(file: file, line: 1, column: 1)
        guard SandboxID.isValid(sandbox) else {
            throw PolicyLoadError(diagnostics: [PolicyDiagnostic(
                at: start, path: "",
                "'\(sandbox)' is not a valid sandbox id (the file name names the sandbox): 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-'")])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw PolicyLoadError(diagnostics: [PolicyDiagnostic(at: start, path: "", "policy file is not UTF-8 text")])
        }
        let document = try PolicyLoader.parse(text: text, file: file, sandboxOverride: sandbox)
        // The override wins silently in the parser; here a different `sandbox:` is a mistake
        // (a file copied without editing): refuse it rather than guess which id was meant.
        if let own = try? PolicyLoader.parse(text: text, file: file, sandboxOverride: nil), own.sandbox != sandbox {
            throw PolicyLoadError(diagnostics: [PolicyDiagnostic(
                at: TopLevelKey.position(of: "sandbox", in: text, file: file), path: "sandbox",
                "'\(own.sandbox)' does not match the file name: this file is the policy of sandbox '\(sandbox)' (remove the key or make it match)")])
        }
        let refused = document.enabledInspectionFeatures.filter { configuration.refusedFeatures.contains($0) }
        if !refused.isEmpty {
            throw PolicyLoadError(diagnostics: refused.map { feature in
                let key = String(feature.split(separator: ".").first ?? Substring(feature))
                return PolicyDiagnostic(
                    at: TopLevelKey.position(of: key, in: text, file: file), path: feature,
                    "enabled but not implemented in this build; the policy is refused (fail closed)")
            })
        }
        let compiled = try CompiledPolicy.compile(document, environment: configuration.environment, readFile: PolicyLoader.readSecretFile)
        // Transformations that could backtrack badly, bad patterns: refused here, with
        // their positions, before the policy can be swapped in.
        if !compiled.enabledInspectionFeatures.isEmpty {
            _ = try InspectionPlan.compile(compiled)
        }
        return compiled
    }

    // MARK: Writing (admin API)

    /// What `putPolicy` did.
    public struct PolicyUpdate: Sendable {
        /// Whether the sandbox was new.
        public var created: Bool
        /// The file written.
        public var file: String
        /// The reload that followed.
        public var report: ReloadReport
    }

    /// Validates `text` as `sandbox`'s policy; when valid, writes it to `DIR/<sandbox>.yaml`
    /// atomically (mode 0600), removes the sandbox's `.yml`/`.json` file if it had one, and
    /// reloads. When invalid, nothing is written and the diagnostics name `DIR/<sandbox>.yaml`.
    public func putPolicy(sandbox: String, text: String) throws(PolicyLoadError) -> PolicyUpdate {
        let target = PolicyDirectory.join(configuration.policiesDirectory, sandbox + ".yaml")
        let outcome = mutation.withLock { () -> Result<PolicyUpdate, PolicyLoadError> in
            do throws(PolicyLoadError) {
                _ = try compile(bytes: Array(text.utf8), file: target, sandbox: sandbox)
            } catch {
                return .failure(error)
            }
            let existing = (try? PolicyDirectory.list(configuration.policiesDirectory))?.filter { $0.sandbox == sandbox } ?? []
            do throws(PolicyDirectory.WriteFailure) {
                try PolicyDirectory.writeAtomically(Array(text.utf8), to: target)
            } catch {
                return .failure(PolicyLoadError(diagnostics: [
                    PolicyDiagnostic(file: target, line: 1, column: 1, path: "", message: error.description)
                ]))
            }
            // One file per sandbox: a `.json` or `.yml` left beside the new `.yaml` would make
            // the next reload refuse both.
            for other in existing where other.path != target {
                _ = unlink(other.path)
            }
            let report = reloadLocked(force: false)
            return .success(PolicyUpdate(created: existing.isEmpty, file: target, report: report))
        }
        return try outcome.get()
    }

    /// Removes every policy file of `sandbox` and reloads; nil when it had none.
    public func deletePolicy(sandbox: String) -> ReloadReport? {
        guard SandboxID.isValid(sandbox) else { return nil }
        return mutation.withLock { () -> ReloadReport? in
            let files = (try? PolicyDirectory.list(configuration.policiesDirectory))?.filter { $0.sandbox == sandbox } ?? []
            guard !files.isEmpty else { return nil }
            for file in files { _ = unlink(file.path) }
            return reloadLocked(force: false)
        }
    }

    // MARK: Metrics

    /// Adds each runtime's new leaf-cache hits to the metrics (called before a scrape).
    private func publishCacheMetrics() {
        guard let metrics else { return }
        let deltas = state.withLockedValue { s -> [(String, Int)] in
            var out: [(String, Int)] = []
            for (sandbox, var entry) in s.entries {
                guard let runtime = entry.runtime else { continue }
                let hits = runtime.leafCache.statistics.hits
                if hits > entry.reportedLeafHits {
                    out.append((sandbox, hits - entry.reportedLeafHits))
                    entry.reportedLeafHits = hits
                    s.entries[sandbox] = entry
                }
            }
            return out
        }
        for (sandbox, count) in deltas { metrics.leafCacheHits(sandbox: sandbox, count: count) }
        metrics.setSandboxCount(state.withLockedValue { $0.entries.count })
    }
}
