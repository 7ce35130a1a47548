#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The files of one sandbox CA directory, with the POSIX calls that keep the private key private.
///
/// Foundation's atomic writes create the file with the default mode and would need a `chmod`
/// afterwards, which leaves a window in which the key is readable; here every file is created
/// with its final mode by `open(O_CREAT | O_EXCL, mode)` and moved into place by `rename`.
struct CAFileStore {
    /// The directory, `<ca-dir>/<sandbox>`, without a trailing slash.
    let directory: String

    /// The certificate file name inside the directory.
    static let certificateFileName = "ca.pem"
    /// The private key file name inside the directory.
    static let keyFileName = "ca.key"
    /// Serialises creation between processes (a gateway and a `ca init` starting together).
    static let lockFileName = ".ca.lock"

    /// Mode of the sandbox directory: only the owner may list or enter it.
    static let directoryMode: mode_t = 0o700
    /// Mode of `ca.key`.
    static let keyFileMode: mode_t = 0o600
    /// Mode of `ca.pem`: the certificate is public.
    static let certificateFileMode: mode_t = 0o644

    init(directory: String) {
        var directory = directory
        while directory.count > 1, directory.hasSuffix("/") {
            directory.removeLast()
        }
        self.directory = directory
    }

    var certificatePath: String { self.directory + "/" + Self.certificateFileName }
    var keyPath: String { self.directory + "/" + Self.keyFileName }
    private var lockPath: String { self.directory + "/" + Self.lockFileName }

    // MARK: Queries

    /// Whether `path` exists (any file type).
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// The whole content of `path` as bytes.
    static func readFile(_ path: String) throws(SandboxCAError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .init(.unreadable, path: path, detail: Self.errnoDescription())
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        // A CA file is a few KiB; the cap keeps a wrong path (a device, a huge file) from
        // being read forever.
        let limit = 1 << 20
        while result.count <= limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .init(.unreadable, path: path, detail: Self.errnoDescription())
            }
            if n == 0 { return result }
            result.append(contentsOf: chunk[0..<n])
        }
        throw .init(.corrupt, path: path, detail: "file is larger than \(limit) bytes")
    }

    // MARK: Creation

    /// Creates the directory and its missing parents with mode 0700.
    ///
    /// An existing directory is used as it is: changing the mode of a directory the operator
    /// made is not ours to do.
    func createDirectory() throws(SandboxCAError) {
        var prefix = self.directory.hasPrefix("/") ? "/" : ""
        for component in self.directory.split(separator: "/") {
            prefix += component
            if mkdir(prefix, Self.directoryMode) != 0 && errno != EEXIST {
                throw .init(.unwritable, path: prefix, detail: Self.errnoDescription())
            }
            prefix += "/"
        }
        var info = stat()
        guard stat(self.directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw .init(.unwritable, path: self.directory, detail: "not a directory")
        }
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory, created with
    /// `mode` from the start, fsynced, then renamed over `path`, then the directory fsynced.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws(SandboxCAError) {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw .init(.unwritable, path: temporary, detail: Self.errnoDescription())
        }
        var written = 0
        var failure: SandboxCAError?
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress.map { $0 + written }, buffer.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                failure = .init(.unwritable, path: temporary, detail: Self.errnoDescription())
                break
            }
            written += n
        }
        if failure == nil, fsync(fd) != 0 {
            failure = .init(.unwritable, path: temporary, detail: Self.errnoDescription())
        }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 {
            failure = .init(.unwritable, path: path, detail: Self.errnoDescription())
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
        Self.syncDirectory(of: path)
    }

    /// Makes the rename durable. Best effort: some file systems refuse fsync on directories.
    private static func syncDirectory(of path: String) {
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/")
        let fd = open(parent.isEmpty ? "." : parent, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    // MARK: Locking

    /// Runs `body` holding an exclusive `flock` on the directory's lock file.
    ///
    /// Waits at most about 10 s: creation holds the lock for milliseconds, so a longer wait means
    /// a stuck process, which is reported instead of waited on forever.
    func withLock<T>(_ body: () throws(SandboxCAError) -> T) throws(SandboxCAError) -> T {
        let fd = open(self.lockPath, O_RDWR | O_CREAT | O_CLOEXEC, Self.keyFileMode)
        guard fd >= 0 else {
            throw .init(.unwritable, path: self.lockPath, detail: Self.errnoDescription())
        }
        defer { close(fd) }
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw .init(.unwritable, path: self.lockPath, detail: "could not lock: \(Self.errnoDescription())")
            }
            guard attempts < 1000 else {
                throw .init(.unwritable, path: self.lockPath, detail: "another process has held the lock for 10 s")
            }
            attempts += 1
            usleep(10_000)
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    // MARK: Helpers

    static func errnoDescription() -> String {
        String(cString: strerror(errno))
    }
}
