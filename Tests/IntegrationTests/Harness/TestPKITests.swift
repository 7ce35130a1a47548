import Foundation
import Testing

/// The upstream PKI is what every TLS test stands on: check it with openssl itself.
@Suite("Harness: test PKI")
struct TestPKITests {
    private func verify(_ arguments: [String]) async throws -> ProcessOutput {
        try await Subprocess.run(TestEnvironment.openssl, ["verify"] + arguments, timeout: .seconds(20))
    }

    @Test("the leaf chains to the trusted CA and names every test host")
    func leafVerifies() async throws {
        let pki = try await TestPKI.shared()
        for host in TestPKI.leafNames {
            let output = try await verify(
                ["-CAfile", pki.caCertificatePath, "-verify_hostname", host, pki.leaf.certificatePath])
            #expect(output.exitCode == 0, "\(host): \(output.combinedText)")
        }
        let byIP = try await verify([
            "-CAfile", pki.caCertificatePath, "-verify_ip", "127.0.0.1", pki.leaf.certificatePath,
        ])
        #expect(byIP.exitCode == 0, "\(byIP.combinedText)")
        let wrongName = try await verify(
            ["-CAfile", pki.caCertificatePath, "-verify_hostname", "evil.test", pki.leaf.certificatePath])
        #expect(wrongName.exitCode != 0)
    }

    @Test("the untrusted leaf does not chain to the trusted CA, only to its own")
    func untrustedLeaf() async throws {
        let pki = try await TestPKI.shared()
        let againstTrusted = try await verify(["-CAfile", pki.caCertificatePath, pki.untrustedLeaf.certificatePath])
        #expect(againstTrusted.exitCode != 0)
        let againstOwn = try await verify(
            ["-CAfile", pki.untrustedCACertificatePath, pki.untrustedLeaf.certificatePath])
        #expect(againstOwn.exitCode == 0, "\(againstOwn.combinedText)")
    }

    @Test("the CN-only leaf chains to the trusted CA, has CN=api.test and no subjectAltName")
    func commonNameOnlyLeaf() async throws {
        let pki = try await TestPKI.shared()
        let chain = try await verify(["-CAfile", pki.caCertificatePath, pki.commonNameOnlyLeaf.certificatePath])
        #expect(chain.exitCode == 0, "\(chain.combinedText)")
        let text = try await Subprocess.run(
            TestEnvironment.openssl, ["x509", "-noout", "-text", "-in", pki.commonNameOnlyLeaf.certificatePath])
        #expect(text.stdoutText.contains("CN = api.test"))
        #expect(!text.stdoutText.contains("Subject Alternative Name"))
        let normal = try await Subprocess.run(
            TestEnvironment.openssl, ["x509", "-noout", "-text", "-in", pki.leaf.certificatePath])
        #expect(normal.stdoutText.contains("Subject Alternative Name"))
    }

    @Test("all keys are ECDSA P-256")
    func keysAreP256() async throws {
        let pki = try await TestPKI.shared()
        for path in [
            pki.caCertificatePath, pki.leaf.certificatePath, pki.untrustedLeaf.certificatePath,
            pki.commonNameOnlyLeaf.certificatePath,
        ] {
            let text = try await Subprocess.run(TestEnvironment.openssl, ["x509", "-noout", "-text", "-in", path])
            #expect(text.stdoutText.contains("prime256v1"), "\(path)")
        }
    }
}
