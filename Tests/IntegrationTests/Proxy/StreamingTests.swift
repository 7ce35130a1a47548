import Foundation
import Testing

/// 50 MB each way through the intercepting proxy: every byte arrives (length and SHA-256), and
/// the proxy's peak memory shows it streamed instead of holding the body.
///
/// Serialized: two 50 MB transfers at once on 2 cores would only measure contention.
@Suite("Proxy: 50 MB streaming", .serialized)
struct StreamingTests {
    static let size = 50 * 1024 * 1024
    /// Absolute bound on the proxy's peak RSS.
    static let peakBound = 200 * 1024 * 1024
    /// Bound on the peak's growth over the warmed-up RSS: below the body size, so a proxy that
    /// holds a whole body at once fails.
    static let growthBound = 40 * 1024 * 1024

    /// Starts a proxy, warms it up with one small request (TLS contexts, minted leaf), records
    /// its RSS, runs `transfer`, then checks the peak.
    private func measured(_ body: (ProxyProcess, Upstream) async throws -> Void) async throws {
        let pki = try await TestPKI.shared()
        try await withUpstream(.tls(pki.leaf)) { upstream in
            try await withProxy(ProxyConfiguration(policy: PolicyYAML.make(mitm: "true"))) { proxy in
                let (warmUp, _) = try await Curl.fetch(
                    proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/hello"))
                #expect(warmUp.exitCode == 0, "\(warmUp.stderr)")
                let baseline = try #require(proxy.currentRSSBytes())
                try await body(proxy, upstream)
                let peak = try #require(proxy.peakRSSBytes())
                // Printed for calibrating the bounds on new machines.
                print("egress-proxy RSS: \(baseline / 1_048_576) MiB before, peak \(peak / 1_048_576) MiB")
                #expect(peak < Self.peakBound, "peak RSS \(peak / 1_048_576) MiB")
                #expect(
                    peak - baseline < Self.growthBound,
                    "peak RSS \(peak / 1_048_576) MiB vs \(baseline / 1_048_576) MiB before the transfer")
            }
        }
    }

    @Test("50 MB upload streams to the upstream intact")
    func upload() async throws {
        let scratch = try TemporaryDirectory(prefix: "upload50")
        defer { scratch.remove() }
        let file = scratch.file("upload.bin")
        try BytePattern.writeFile(file, count: Self.size)
        let expected = BytePattern.sha256Hex(count: Self.size)
        try await measured { proxy, upstream in
            // -T streams the file (--data-binary would load it into curl's memory first).
            let (result, transfer) = try await Curl.fetch(
                proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/upload"), ["-T", file, "-X", "POST"],
                maxTime: 90)
            #expect(result.exitCode == 0, "\(result.stderr)")
            #expect(transfer.status == 200)
            let answer = try? JSONValue.parse(transfer.body)
            #expect(answer?["bytes"]?.intValue == Self.size)
            #expect(answer?["sha256"]?.stringValue == expected)
            let record = try await expectAudit(proxy, "POST /upload") { $0.path == "/upload" }
            if let bytesUp = record?.int("bytes_up") {
                #expect(bytesUp >= Self.size)
            }
        }
    }

    @Test("50 MB download streams to the client intact")
    func download() async throws {
        let expected = BytePattern.sha256Hex(count: Self.size)
        try await measured { proxy, upstream in
            let (result, transfer) = try await Curl.fetch(
                proxy: proxy, caFile: proxy.caCertificatePath, upstream.url("/bytes?n=\(Self.size)"), maxTime: 90)
            #expect(result.exitCode == 0, "\(result.stderr)")
            #expect(transfer.status == 200)
            let file = try sha256HexOfFile(transfer.bodyPath)
            #expect(file.count == Self.size)
            #expect(file.sha256 == expected)
            let record = try await expectAudit(proxy, "GET /bytes") { $0.path?.hasPrefix("/bytes") == true }
            if let bytesDown = record?.int("bytes_down") {
                #expect(bytesDown >= Self.size)
            }
        }
    }
}
