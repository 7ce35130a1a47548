// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "egress-proxy",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "egress-proxy", targets: ["EgressProxyCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // PCRE2 (system library, `libpcre2-dev`), used by PIIDetect with JIT.
        .systemLibrary(
            name: "CPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]
        ),
        // One byte-vector operation Swift cannot express (a 16-byte lane mask as an
        // integer: SSE2's `pmovmskb`, a loop elsewhere), for PIIDetect's scan passes.
        .target(name: "CByteVector"),
        // Pure policy model, validation and decisions. No NIO, no sockets.
        .target(
            name: "PolicyEngine",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Bounded, deterministic scanners over bytes. No HTTP.
        .target(
            name: "PIIDetect",
            dependencies: ["CPCRE2", "CByteVector"],
            // Optimised in debug builds too: its passes read 16 bytes at a time with SIMD
            // types, which unoptimised code runs lane by lane through generic calls (the
            // debug proxy the integration tests drive would scan a 200 MB body for minutes).
            swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        // The only target with sockets: listeners, CONNECT, TLS, upstream, audit.
        .target(
            name: "EgressProxy",
            dependencies: [
                "PolicyEngine",
                "PIIDetect",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        .executableTarget(
            name: "EgressProxyCLI",
            dependencies: [
                "EgressProxy",
                "PolicyEngine",
                "PIIDetect",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Throughput benchmark of the detectors over a corpus (issue: scan >= 100 MB/s).
        .executableTarget(
            name: "scan-bench",
            dependencies: ["PIIDetect"],
            path: "bench/scan-bench"
        ),
        .testTarget(name: "PolicyEngineTests", dependencies: ["PolicyEngine"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PIIDetectTests", dependencies: ["PIIDetect"]),
        .testTarget(
            name: "EgressProxyTests",
            dependencies: [
                "EgressProxy", "PolicyEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Fixtures"]
        ),
        // Starts the real `egress-proxy` binary and real TLS upstreams on 127.0.0.1,
        // drives them with curl / openssl.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
