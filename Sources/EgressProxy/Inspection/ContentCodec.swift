import NIOCore

#if canImport(CompressNIO)
import CompressNIO
#endif

// MARK: - ContentCodec

/// `Content-Encoding: gzip | deflate` bodies, decoded for scanning and encoded again, as
/// streams in pieces of at most `pieceSize` bytes (zlib through `adam-fowler/compress-nio`).
/// Without that package every compressed body is uninspectable.
public enum ContentCodec {
    /// Whether gzip and deflate bodies can be decoded in this build.
    public static var isAvailable: Bool {
        #if canImport(CompressNIO)
        return true
        #else
        return false
        #endif
    }

    /// Decoded (and encoded) bytes come out in pieces of at most this size.
    static let pieceSize = 64 * 1024

    /// A body that inflates more than this many times its compressed size (beyond
    /// `expansionAllowance`) is refused: scanning it would take unbounded time for a few
    /// bytes sent (a decompression bomb).
    static let maxExpansion = 200
    static let expansionAllowance = 16 * 1024 * 1024

    /// The zlib container of a stream.
    enum Format: Sendable, Equatable {
        case gzip
        /// RFC 1950 (what HTTP `deflate` means).
        case zlib
        /// Bare RFC 1951 (what some servers send as `deflate` anyway).
        case rawDeflate
    }

    /// Why a body could not be decoded; value-free.
    struct Failure: Error, Sendable, Equatable {
        var detail: String
    }

    /// Compresses a whole body (tests and small bodies).
    public static func encode(_ bytes: [UInt8], gzip: Bool) -> [UInt8]? {
        var encoder = BodyEncoder(format: gzip ? .gzip : .zlib)
        guard var out = try? encoder.feed(bytes), let tail = try? encoder.finish() else { return nil }
        out += tail
        return out
    }

    /// Decompresses a whole body (tests and small bodies).
    public static func decode(_ bytes: [UInt8], gzip: Bool) -> [UInt8]? {
        var decoder = BodyDecoder(gzip: gzip)
        var out: [UInt8] = []
        do {
            try decoder.feed(bytes) { piece, _ in out += piece; return true }
            try decoder.finish()
        } catch {
            return nil
        }
        return out
    }
}

// MARK: - BodyDecoder

/// A streaming inflater. `deflate` bodies are sniffed: a zlib header means RFC 1950,
/// anything else bare deflate.
struct BodyDecoder {
    private let gzip: Bool
    private(set) var format: ContentCodec.Format?
    private var sniffed: [UInt8] = []
    #if canImport(CompressNIO)
    private var inflater: ZlibDecompressor?
    #endif
    /// The stream reached its end marker.
    private var ended = false
    /// Compressed bytes given, decoded bytes produced (for the expansion bound).
    private var encodedCount = 0
    private var decodedCount = 0

    init(gzip: Bool) {
        self.gzip = gzip
    }

    var retainedByteCount: Int { sniffed.count }

    /// Decodes `chunk`, handing the output to `sink` in pieces (with the container found);
    /// `sink` returns false to stop.
    mutating func feed(_ chunk: [UInt8], _ sink: ([UInt8], ContentCodec.Format) -> Bool) throws(ContentCodec.Failure) {
        #if canImport(CompressNIO)
        encodedCount += chunk.count
        var bytes = chunk
        if inflater == nil {
            sniffed.append(contentsOf: chunk)
            if !gzip, sniffed.count < 2 { return }
            let detected: ContentCodec.Format
            if gzip {
                detected = .gzip
            } else {
                let cmf = UInt16(sniffed[0]), flg = UInt16(sniffed[1])
                detected = (cmf & 0x0F == 8 && (cmf << 8 | flg) % 31 == 0) ? .zlib : .rawDeflate
            }
            do {
                inflater = try ZlibDecompressor(algorithm: Self.algorithm(detected))
            } catch {
                throw ContentCodec.Failure(detail: "zlib: cannot start the decoder")
            }
            format = detected
            bytes = sniffed
            sniffed = []
        }
        try inflate(bytes, sink)
        #else
        throw ContentCodec.Failure(detail: "compressed bodies are not supported in this build")
        #endif
    }

    /// Decodes `chunk` and runs each decoded piece (at most 64 KiB, so a small chunk that
    /// inflates hugely never sits in memory whole) through `stage`, returning what the stage
    /// produced. The stage's error stops decoding and is rethrown; a decoding error becomes
    /// `decodeFailure(detail)`.
    mutating func feedEach<E: Error>(
        _ chunk: [UInt8], decodeFailure: (String) -> E,
        _ stage: ([UInt8], ContentCodec.Format) throws(E) -> [UInt8]
    ) throws(E) -> [UInt8] {
        var out: [UInt8] = []
        var stop: E?
        do {
            try feed(chunk) { piece, format in
                do throws(E) {
                    out += try stage(piece, format)
                    return true
                } catch {
                    stop = error
                    return false
                }
            }
        } catch {
            throw decodeFailure(error.detail)
        }
        if let stop { throw stop }
        return out
    }

    /// Ends the stream: a body cut before its end marker is a failure.
    mutating func finish() throws(ContentCodec.Failure) {
        #if canImport(CompressNIO)
        if inflater == nil {
            // Fewer than two bytes in all.
            if sniffed.isEmpty { return }
            throw ContentCodec.Failure(detail: "truncated compressed body")
        }
        guard ended else { throw ContentCodec.Failure(detail: "truncated compressed body") }
        #else
        throw ContentCodec.Failure(detail: "compressed bodies are not supported in this build")
        #endif
    }

    #if canImport(CompressNIO)
    static func algorithm(_ format: ContentCodec.Format) -> ZlibAlgorithm {
        switch format {
        case .gzip: return .gzip
        case .zlib: return .zlib
        case .rawDeflate: return .deflate
        }
    }

    private mutating func inflate(_ bytes: [UInt8], _ sink: ([UInt8], ContentCodec.Format) -> Bool) throws(ContentCodec.Failure) {
        guard let inflater, let format else { return }
        var input = ByteBuffer(bytes: bytes)
        var outputPending = false
        while true {
            if ended {
                // Another gzip member may follow (concatenated members are one body); anything
                // else after the end marker is ignored, as gzip tools do.
                guard format == .gzip, input.readableBytes >= 2,
                      input.getInteger(at: input.readerIndex, as: UInt8.self) == 0x1F,
                      input.getInteger(at: input.readerIndex + 1, as: UInt8.self) == 0x8B else { return }
                do { try inflater.reset() } catch { throw ContentCodec.Failure(detail: "zlib: reset failed") }
                ended = false
            }
            if input.readableBytes == 0, !outputPending { return }
            var out = ByteBufferAllocator().buffer(capacity: ContentCodec.pieceSize)
            var needInput = false
            outputPending = false
            do {
                try inflater.inflate(from: &input, to: &out)
            } catch let error as CompressNIOError {
                switch error {
                case .bufferOverflow: outputPending = true       // the piece is full: more to come
                case .inputBufferOverflow: needInput = true      // everything given was used
                default: throw ContentCodec.Failure(detail: "corrupt compressed body")
                }
            } catch {
                throw ContentCodec.Failure(detail: "corrupt compressed body")
            }
            decodedCount += out.readableBytes
            if decodedCount > ContentCodec.expansionAllowance, decodedCount / max(1, encodedCount) > ContentCodec.maxExpansion {
                throw ContentCodec.Failure(detail: "compressed body expands more than \(ContentCodec.maxExpansion) times")
            }
            if out.readableBytes > 0, !sink(Array(out.readableBytesView), format) { return }
            if needInput { return }
            if !outputPending {
                // A normal return is Z_OK with all input used, or Z_STREAM_END: input left
                // over can only mean the end; otherwise ask.
                if input.readableBytes > 0 {
                    ended = true
                } else {
                    ended = isStreamEnd(inflater)
                    return
                }
            }
        }
    }

    /// Asks zlib whether the stream is at its end: an empty inflate call answers
    /// Z_STREAM_END (no error) at the end and Z_BUF_ERROR (input needed) before it.
    private func isStreamEnd(_ inflater: ZlibDecompressor) -> Bool {
        var empty = ByteBufferAllocator().buffer(capacity: 0)
        var out = ByteBufferAllocator().buffer(capacity: 16)
        do {
            try inflater.inflate(from: &empty, to: &out)
            return out.readableBytes == 0
        } catch {
            return false
        }
    }
    #endif
}

// MARK: - BodyEncoder

/// A streaming deflater producing the same container the body came in.
struct BodyEncoder {
    #if canImport(CompressNIO)
    private let deflater: ZlibCompressor?
    #endif

    init(format: ContentCodec.Format) {
        #if canImport(CompressNIO)
        deflater = try? ZlibCompressor(algorithm: BodyDecoder.algorithm(format))
        #endif
    }

    mutating func feed(_ bytes: [UInt8]) throws(ContentCodec.Failure) -> [UInt8] {
        #if canImport(CompressNIO)
        guard let deflater else { throw ContentCodec.Failure(detail: "zlib: cannot start the encoder") }
        var input = ByteBuffer(bytes: bytes)
        var result: [UInt8] = []
        while input.readableBytes > 0 {
            var out = ByteBufferAllocator().buffer(capacity: ContentCodec.pieceSize)
            do {
                try deflater.deflate(from: &input, to: &out, flush: .no)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // The output piece is full; go on with a new one.
            } catch {
                throw ContentCodec.Failure(detail: "zlib: encoding failed")
            }
            result.append(contentsOf: out.readableBytesView)
        }
        return result
        #else
        throw ContentCodec.Failure(detail: "compressed bodies are not supported in this build")
        #endif
    }

    mutating func finish() throws(ContentCodec.Failure) -> [UInt8] {
        #if canImport(CompressNIO)
        guard let deflater else { throw ContentCodec.Failure(detail: "zlib: cannot start the encoder") }
        var result: [UInt8] = []
        for _ in 0..<1024 {
            var empty = ByteBufferAllocator().buffer(capacity: 0)
            var out = ByteBufferAllocator().buffer(capacity: ContentCodec.pieceSize)
            do {
                try deflater.deflate(from: &empty, to: &out, flush: .finish)
                result.append(contentsOf: out.readableBytesView)
                return result
            } catch let error as CompressNIOError where error == .bufferOverflow {
                result.append(contentsOf: out.readableBytesView)
            } catch {
                throw ContentCodec.Failure(detail: "zlib: encoding failed")
            }
        }
        throw ContentCodec.Failure(detail: "zlib: encoding did not finish")
        #else
        throw ContentCodec.Failure(detail: "compressed bodies are not supported in this build")
        #endif
    }
}
