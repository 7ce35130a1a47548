import Foundation

// MARK: - Certificates

/// A certificate and its private key, both PEM files.
struct CertificatePair: Sendable {
    let certificatePath: String
    let keyPath: String
}

/// The upstream servers' PKI, made with the `openssl` command line (an implementation
/// independent of the proxy's own certificate code). All keys are ECDSA P-256.
///
/// - `caCertificatePath`: the upstream CA the proxy is told to trust (`--upstream-ca`).
/// - `leaf`: signed by that CA, SANs `api.test`, `other.test`, `ws.test`, `localhost`, `127.0.0.1`.
/// - `untrustedLeaf`: the same names, signed by a CA nobody trusts.
/// - `commonNameOnlyLeaf`: signed by the trusted CA, `CN=api.test` and no subjectAltName at all.
struct TestPKI: Sendable {
    static let leafNames = ["api.test", "other.test", "ws.test", "localhost"]

    let directory: String
    let caCertificatePath: String
    let leaf: CertificatePair
    let untrustedCACertificatePath: String
    let untrustedLeaf: CertificatePair
    let commonNameOnlyLeaf: CertificatePair

    /// One PKI for the whole test run: minting it costs a dozen `openssl` runs.
    static func shared() async throws -> TestPKI {
        try await cache.value()
    }

    private static let cache = PKICache()

    // MARK: Minting

    /// Mints a fresh PKI into a new temporary directory.
    static func make() async throws -> TestPKI {
        let directory = try TemporaryDirectory(prefix: "pki")
        let trusted = try await makeCA(in: directory, name: "trusted-ca", commonName: "Egress ITest Upstream CA")
        let untrusted = try await makeCA(in: directory, name: "untrusted-ca", commonName: "Egress ITest Untrusted CA")
        let sans = (leafNames.map { "DNS:\($0)" } + ["IP:127.0.0.1"]).joined(separator: ",")
        let leaf = try await makeLeaf(in: directory, name: "leaf", signer: trusted, subjectAltName: sans)
        let untrustedLeaf = try await makeLeaf(
            in: directory, name: "untrusted-leaf", signer: untrusted, subjectAltName: sans)
        let commonNameOnly = try await makeLeaf(
            in: directory, name: "cn-only-leaf", signer: trusted, subjectAltName: nil)
        return TestPKI(
            directory: directory.path,
            caCertificatePath: trusted.certificatePath,
            leaf: leaf,
            untrustedCACertificatePath: untrusted.certificatePath,
            untrustedLeaf: untrustedLeaf,
            commonNameOnlyLeaf: commonNameOnly
        )
    }

    private static func makeCA(in directory: TemporaryDirectory, name: String, commonName: String) async throws
        -> CertificatePair
    {
        // An explicit config keeps the result independent of the system's openssl.cnf defaults.
        let config = try directory.write(
            "\(name).cnf",
            """
            [req]
            distinguished_name = dn
            prompt = no
            [dn]
            CN = \(commonName)
            [v3_ca]
            basicConstraints = critical,CA:TRUE
            keyUsage = critical,keyCertSign,cRLSign
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid:always

            """)
        let pair = CertificatePair(
            certificatePath: directory.file("\(name).pem"), keyPath: directory.file("\(name).key"))
        try await openssl([
            "req", "-x509", "-config", config, "-extensions", "v3_ca",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", pair.keyPath, "-out", pair.certificatePath, "-days", "3", "-sha256",
        ])
        return pair
    }

    private static func makeLeaf(
        in directory: TemporaryDirectory, name: String, signer: CertificatePair, subjectAltName: String?
    ) async throws -> CertificatePair {
        let requestConfig = try directory.write(
            "\(name)-req.cnf",
            """
            [req]
            distinguished_name = dn
            prompt = no
            [dn]
            CN = api.test

            """)
        let extensions = try directory.write(
            "\(name)-ext.cnf",
            """
            [v3_leaf]
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature
            extendedKeyUsage = serverAuth
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid
            \(subjectAltName.map { "subjectAltName = \($0)" } ?? "")

            """)
        let pair = CertificatePair(
            certificatePath: directory.file("\(name).pem"), keyPath: directory.file("\(name).key"))
        let request = directory.file("\(name).csr")
        try await openssl([
            "req", "-new", "-config", requestConfig,
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", pair.keyPath, "-out", request,
        ])
        try await openssl([
            "x509", "-req", "-in", request, "-CA", signer.certificatePath, "-CAkey", signer.keyPath,
            "-set_serial", "0x\(String(UInt64.random(in: 1...UInt64.max), radix: 16))",
            "-days", "3", "-sha256", "-extfile", extensions, "-extensions", "v3_leaf",
            "-out", pair.certificatePath,
        ])
        return pair
    }

    @discardableResult
    private static func openssl(_ arguments: [String]) async throws -> ProcessOutput {
        let output = try await Subprocess.run(TestEnvironment.openssl, arguments, timeout: .seconds(30))
        guard output.exitCode == 0 else {
            throw HarnessError("openssl \(arguments.joined(separator: " ")) failed: \(output.combinedText)")
        }
        return output
    }
}

// MARK: - Cache

/// Mints the shared PKI once, even when many tests ask for it at the same time.
private actor PKICache {
    private var task: Task<TestPKI, Error>?

    func value() async throws -> TestPKI {
        if let task {
            return try await task.value
        }
        let task = Task { try await TestPKI.make() }
        self.task = task
        return try await task.value
    }
}
