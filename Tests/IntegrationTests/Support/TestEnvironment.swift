import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Errors

/// A failure of the harness itself (a tool missing, a process that did not start), reported
/// with enough context to see what happened without re-running.
struct HarnessError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

// MARK: - Paths and tools

/// Where the binaries and tools the integration tests drive live.
enum TestEnvironment {
    /// The repository root, found from this file's real location (the test folder may be
    /// reached through a symlink from a scratch package, so symlinks are resolved first).
    static let repositoryRoot: URL = {
        URL(fileURLWithPath: #filePath)
            .resolvingSymlinksInPath()
            .deletingLastPathComponent()  // Support
            .deletingLastPathComponent()  // IntegrationTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()
    }()

    /// The `egress-proxy` binary under test: `EGRESS_PROXY_BIN`, else `<repo>/.build/debug/egress-proxy`.
    static var proxyBinary: String {
        if let override = ProcessInfo.processInfo.environment["EGRESS_PROXY_BIN"], !override.isEmpty {
            return override
        }
        return repositoryRoot.appendingPathComponent(".build/debug/egress-proxy").path
    }

    /// The proxy binary path, or a failure that says how to provide it. A missing binary fails
    /// the test instead of skipping it: a skipped suite would let CI pass with no coverage.
    static func requireProxyBinary() throws -> String {
        let path = proxyBinary
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError(
                "egress-proxy binary not found at \(path): run `swift build` first or set EGRESS_PROXY_BIN")
        }
        return path
    }

    static let curl = "/usr/bin/curl"
    static let openssl = "/usr/bin/openssl"

    /// Debian's python3 when present (no pyenv shim start-up cost), else the first on PATH.
    static let python3: String = {
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") {
            return "/usr/bin/python3"
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        return "python3"
    }()

    /// The test process's environment without proxy settings, so that curl and the proxy see
    /// only what a test gives them explicitly.
    static func cleanEnvironment(adding extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.lowercased().hasSuffix("_proxy")
        }
        for (key, value) in extra {
            environment[key] = value
        }
        return environment
    }
}

// MARK: - Test run

/// State of the whole test process: one temporary root for everything the tests write, and
/// the proxies still running. Both are cleaned up at exit, so a failed or interrupted test
/// leaves neither files (unless `EGRESS_ITEST_KEEP` is set) nor orphaned proxies behind.
enum TestRun {
    static let keepFiles = ProcessInfo.processInfo.environment["EGRESS_ITEST_KEEP"] != nil

    /// `<tmp>/egress-itest-<pid>`, removed at exit.
    static let root: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("egress-itest-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit {
            TestRun.cleanUpAtExit()
        }
        return url
    }()

    /// PIDs of proxies started and not yet seen to exit.
    static let runningProxies = LockedBox<Set<Int32>>([])

    private static func cleanUpAtExit() {
        for pid in runningProxies.current {
            kill(pid, SIGKILL)
        }
        if !keepFiles {
            try? FileManager.default.removeItem(at: root)
        }
    }
}

// MARK: - Temporary directories

/// A fresh directory under the test run's root, removed by `remove()` (or at exit).
struct TemporaryDirectory: Sendable {
    let url: URL

    init(prefix: String) throws {
        url = TestRun.root.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    var path: String { url.path }

    /// The path of `name` inside this directory.
    func file(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    /// Writes `contents` to `name` and returns its path.
    @discardableResult
    func write(_ name: String, _ contents: String) throws -> String {
        let path = file(name)
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// A temporary directory removed when the last reference goes away: curl bodies (up to 50 MB)
/// live exactly as long as the results that point at them.
final class OwnedDirectory: Sendable {
    let directory: TemporaryDirectory

    init(_ directory: TemporaryDirectory) {
        self.directory = directory
    }

    deinit {
        directory.remove()
    }
}
