import Foundation
import PolicyEngine

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - PolicyFile

/// One policy file of the gateway's `--policies DIR`: `<sandbox>.yaml`, `.yml` or `.json`.
struct PolicyFile: Sendable, Equatable {
    /// The full path.
    var path: String
    /// The file name, e.g. `sb-1.yaml`.
    var name: String
    /// The file name without its extension: the sandbox id.
    var sandbox: String
}

// MARK: - FileStamp

/// What `stat` says about a file, enough to notice a change without reading it: an atomic
/// rename changes the inode, an in-place edit the size or modification time.
struct FileStamp: Sendable, Equatable {
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    /// nil when the file does not exist or cannot be stat'ed (symbolic links are followed, so
    /// a Kubernetes ConfigMap's `..data` swap shows up as a new inode).
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        #if canImport(Darwin)
        modifiedSeconds = Int(info.st_mtimespec.tv_sec)
        modifiedNanoseconds = Int(info.st_mtimespec.tv_nsec)
        #else
        modifiedSeconds = Int(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
        #endif
    }
}

// MARK: - FolderFingerprint

/// The stamps of every policy file (and the source map): equal fingerprints mean nothing a
/// reload would read has changed.
struct FolderFingerprint: Sendable, Equatable {
    var files: [String: FileStamp]
    var readable: Bool
}

// MARK: - PolicyDirectory

/// Lists the policy files of a folder.
enum PolicyDirectory {
    /// Extensions read as policies; everything else (editor backups, `.tmp` files of an atomic
    /// write, READMEs) is ignored.
    static let extensions: Set<String> = ["yaml", "yml", "json"]

    struct Unreadable: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var description: String { "cannot read policies folder \(path): \(reason)" }
    }

    /// The policy files, sorted by name. Hidden files are skipped.
    static func list(_ directory: String) throws(Unreadable) -> [PolicyFile] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw Unreadable(path: directory, reason: (error as NSError).localizedDescription)
        }
        var files: [PolicyFile] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            guard let dot = name.lastIndex(of: ".") else { continue }
            let ext = String(name[name.index(after: dot)...]).lowercased()
            guard extensions.contains(ext) else { continue }
            let stem = String(name[..<dot])
            let path = join(directory, name)
            // Sub-folders named like policies are not policies.
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            files.append(PolicyFile(path: path, name: name, sandbox: stem))
        }
        return files
    }

    /// The fingerprint of the folder's policy files plus `extraFiles` (the source map).
    static func fingerprint(_ directory: String, extraFiles: [String]) -> FolderFingerprint {
        var stamps: [String: FileStamp] = [:]
        var readable = true
        do {
            for file in try list(directory) {
                if let stamp = FileStamp(path: file.path) { stamps[file.path] = stamp }
            }
        } catch {
            readable = false
        }
        for path in extraFiles {
            if let stamp = FileStamp(path: path) { stamps[path] = stamp }
        }
        return FolderFingerprint(files: stamps, readable: readable)
    }

    /// `directory/name` without a doubled slash.
    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    // MARK: Reading

    /// The file's bytes, refused above `PolicyLoader.maximumFileSize`.
    static func read(_ path: String) throws(PolicyLoadError) -> [UInt8] {
        let start = SourcePosition(file: path, line: 1, column: 1)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw PolicyLoadError(diagnostics: [PolicyDiagnostic(at: start, path: "", "cannot read policy file")])
        }
        defer { try? handle.close() }
        let limit = PolicyLoader.maximumFileSize
        let data: Data
        do {
            data = try handle.read(upToCount: limit + 1) ?? Data()
        } catch {
            throw PolicyLoadError(diagnostics: [PolicyDiagnostic(at: start, path: "", "cannot read policy file: \((error as NSError).localizedDescription)")])
        }
        guard data.count <= limit else {
            throw PolicyLoadError(diagnostics: [PolicyDiagnostic(at: start, path: "", "policy file is larger than \(limit) bytes")])
        }
        return [UInt8](data)
    }

    // MARK: Writing

    struct WriteFailure: Error, CustomStringConvertible {
        var path: String
        var errno: Int32
        var description: String { "cannot write \(path): \(String(cString: strerror(errno)))" }
    }

    /// Writes `bytes` to `path` atomically: a 0600 temporary file in the same folder, fsync'ed,
    /// then renamed over the target, so the watcher never reads half a policy.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(WriteFailure) {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        // Hidden and ending in `.tmp`: `list` ignores it even if a crash leaves it behind.
        let temporary = join(directory.isEmpty ? "." : directory, ".\(name).\(UUID().uuidString).tmp")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WriteFailure(path: temporary, errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd)
                throw WriteFailure(path: temporary, errno: e)
            }
            offset += n
        }
        // The umask cannot widen 0600, but an existing ACL default could: set it explicitly.
        _ = fchmod(fd, 0o600)
        guard fsync(fd) == 0 else {
            let e = errno
            close(fd)
            throw WriteFailure(path: temporary, errno: e)
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw WriteFailure(path: path, errno: errno) }
        ok = true
        // Make the rename itself durable.
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}

// MARK: - TopLevelKey

/// Where a top-level key is written in a policy text, for diagnostics the parser cannot give
/// (a file-name/`sandbox:` mismatch, a refused feature). A plain line scan: YAML keys at
/// column 1, or the first `"key":` of a JSON document; the start of the file otherwise.
enum TopLevelKey {
    static func position(of key: String, in text: String, file: String) -> SourcePosition {
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            for prefix in [key, "\"\(key)\"", "'\(key)'"] where line.hasPrefix(prefix) {
                let rest = line.dropFirst(prefix.count).drop(while: { $0 == " " || $0 == "\t" })
                if rest.hasPrefix(":") { return SourcePosition(file: file, line: lineNumber, column: 1) }
            }
            if let range = line.range(of: "\"\(key)\"") {
                let rest = line[range.upperBound...].drop(while: { $0 == " " || $0 == "\t" })
                if rest.hasPrefix(":") {
                    let column = line.distance(from: line.startIndex, to: range.lowerBound) + 1
                    return SourcePosition(file: file, line: lineNumber, column: column)
                }
            }
        }
        return SourcePosition(file: file, line: 1, column: 1)
    }
}
