import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Result

/// What a finished child process left behind.
struct ProcessOutput: Sendable {
    let exitCode: Int32
    let stdout: Data
    let stderr: Data
    /// True when the harness killed the process at its deadline.
    let timedOut: Bool

    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    /// stdout followed by stderr, for messages a tool may print to either.
    var combinedText: String { stdoutText + stderrText }
}

// MARK: - Runner

/// Runs a child process with a deadline, without blocking a Swift concurrency thread.
///
/// Output goes to files, not pipes: a pipe's write end can leak into another child started
/// at the same moment by a parallel test (the proxy lives for seconds), and the reader would
/// then wait for an end of file that never comes. Files have no such failure mode.
enum Subprocess {
    /// Runs `executable` and returns its exit code and output; kills it (SIGKILL, by PID) when
    /// `timeout` passes.
    static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        stdinPath: String = "/dev/null",
        timeout: Duration = .seconds(60)
    ) async throws -> ProcessOutput {
        let scratch = try TemporaryDirectory(prefix: "proc")
        defer { scratch.remove() }
        let stdoutPath = scratch.file("stdout")
        let stderrPath = scratch.file("stderr")
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment ?? TestEnvironment.cleanEnvironment()
        guard let stdin = FileHandle(forReadingAtPath: stdinPath),
            let stdout = FileHandle(forWritingAtPath: stdoutPath),
            let stderr = FileHandle(forWritingAtPath: stderrPath)
        else {
            throw HarnessError("cannot open stdio files for \(executable)")
        }
        defer {
            try? stdin.close()
            try? stdout.close()
            try? stderr.close()
        }
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr

        let exited = LockedBox(false)
        let killedAtDeadline = LockedBox(false)
        let exitCode: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in
                exited.withLock { $0 = true }
                continuation.resume(returning: finished.terminationStatus)
            }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: HarnessError("cannot start \(executable): \(error)"))
                return
            }
            let pid = process.processIdentifier
            Task.detached {
                try? await Task.sleep(for: timeout)
                // Checked under the lock so a PID is never signalled after it was reaped.
                exited.withLock { hasExited in
                    if !hasExited {
                        killedAtDeadline.withLock { $0 = true }
                        kill(pid, SIGKILL)
                    }
                }
            }
        }
        return ProcessOutput(
            exitCode: exitCode,
            stdout: (try? Data(contentsOf: URL(fileURLWithPath: stdoutPath))) ?? Data(),
            stderr: (try? Data(contentsOf: URL(fileURLWithPath: stderrPath))) ?? Data(),
            timedOut: killedAtDeadline.current
        )
    }
}
