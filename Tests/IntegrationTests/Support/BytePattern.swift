import Crypto
import Foundation

// MARK: - BytePattern

/// The deterministic byte stream `/bytes?n=N` serves and the upload tests send.
///
/// Pseudo-random bytes with a prime period (65521), so 64 KiB chunks that were dropped,
/// repeated or reordered change the SHA-256. Any slice of up to 64 KiB is one contiguous
/// range of `table`, so producing a chunk is a single copy.
enum BytePattern {
    static let period = 65_521
    static let maxSlice = 65_536

    /// `period + maxSlice` bytes: the period, followed by its own start again.
    static let table: [UInt8] = {
        var state: UInt32 = 0x9E37_79B9
        var period = [UInt8]()
        period.reserveCapacity(BytePattern.period)
        for _ in 0..<BytePattern.period {
            // xorshift32: cheap and fixed, so the upstream and the tests agree without sharing state.
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            period.append(UInt8(truncatingIfNeeded: state >> 24))
        }
        return (0..<(BytePattern.period + maxSlice)).map { period[$0 % BytePattern.period] }
    }()

    /// The bytes at `offset..<offset+length` of the stream; `length` at most `maxSlice`.
    static func slice(offset: Int, length: Int) -> ArraySlice<UInt8> {
        precondition(length <= maxSlice)
        let start = offset % period
        return table[start..<(start + length)]
    }

    /// The SHA-256 (lowercase hex) of the first `count` bytes of the stream.
    static func sha256Hex(count: Int) -> String {
        var hasher = SHA256()
        var offset = 0
        while offset < count {
            let length = min(maxSlice, count - offset)
            slice(offset: offset, length: length).withUnsafeBytes { hasher.update(bufferPointer: $0) }
            offset += length
        }
        return hasher.finalize().hexString
    }

    /// Writes the first `count` bytes of the stream to `path`.
    static func writeFile(_ path: String, count: Int) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw HarnessError("cannot write \(path)")
        }
        defer { try? handle.close() }
        var offset = 0
        while offset < count {
            let length = min(maxSlice, count - offset)
            try handle.write(contentsOf: Data(slice(offset: offset, length: length)))
            offset += length
        }
    }
}

// MARK: - Hashing helpers

extension Digest {
    /// Lowercase hex, the form `sha256sum` and the upstream's JSON use.
    var hexString: String {
        self.map { String(format: "%02x", $0) }.joined()
    }
}

/// SHA-256 (hex) of a whole file, read in 1 MiB pieces so a 50 MB download is never held at once.
func sha256HexOfFile(_ path: String) throws -> (count: Int, sha256: String) {
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw HarnessError("cannot read \(path)")
    }
    defer { try? handle.close() }
    var hasher = SHA256()
    var count = 0
    while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
        hasher.update(data: chunk)
        count += chunk.count
    }
    return (count, hasher.finalize().hexString)
}

/// SHA-256 (hex) of bytes in memory.
func sha256Hex<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
    SHA256.hash(data: bytes).hexString
}
