import EgressProxy
import Foundation
import Testing
import X509

@Suite("SandboxCA")
struct SandboxCATests {
    // MARK: Files and modes

    @Test("first start creates ca.key 0600, ca.pem and a 0700 directory; a second load reuses them")
    func createsThenReuses() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let directory = temporary.file("certs/sb-1")

        let first = try SandboxCA.loadOrCreate(directory: directory, sandbox: "sb-1")
        #expect(try fileMode(directory) == 0o700)
        #expect(try fileMode(directory + "/ca.key") == 0o600)
        #expect(try fileMode(directory + "/ca.pem") == 0o644)
        let keyBytes = try Data(contentsOf: URL(fileURLWithPath: directory + "/ca.key"))
        #expect(String(decoding: keyBytes, as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----"))

        let second = try SandboxCA.loadOrCreate(directory: directory, sandbox: "sb-1")
        #expect(second.certificate == first.certificate)
        #expect(second.certificatePEM == first.certificatePEM)
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/ca.key")) == keyBytes)
        #expect(try String(contentsOfFile: directory + "/ca.pem", encoding: .utf8) == first.certificatePEM)
    }

    @Test("a directory given with a trailing slash is the same CA")
    func trailingSlash() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let first = try SandboxCA.loadOrCreate(directory: temporary.file("sb") + "/", sandbox: "sb")
        let second = try SandboxCA.loadOrCreate(directory: temporary.file("sb"), sandbox: "sb")
        #expect(first.certificate == second.certificate)
    }

    // MARK: Broken pairs are errors, never regenerated

    @Test("a corrupt ca.key is an error naming the file, and nothing is rewritten")
    func corruptKey() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let directory = temporary.file("sb")
        let ca = try SandboxCA.loadOrCreate(directory: directory, sandbox: "sb")
        try Data("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n".utf8)
            .write(to: URL(fileURLWithPath: directory + "/ca.key"))

        let error = try #require(throws: SandboxCAError.self) {
            try SandboxCA.loadOrCreate(directory: directory, sandbox: "sb")
        }
        #expect(error.kind == .corrupt)
        #expect(error.path == directory + "/ca.key")
        #expect(error.description.contains(directory + "/ca.key"))
        #expect(try String(contentsOfFile: directory + "/ca.pem", encoding: .utf8) == ca.certificatePEM)
    }

    @Test("a corrupt ca.pem is an error naming the file")
    func corruptCertificate() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let directory = temporary.file("sb")
        _ = try SandboxCA.loadOrCreate(directory: directory, sandbox: "sb")
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: directory + "/ca.pem"))

        let error = try #require(throws: SandboxCAError.self) {
            try SandboxCA.loadOrCreate(directory: directory, sandbox: "sb")
        }
        #expect(error.kind == .corrupt)
        #expect(error.description.contains(directory + "/ca.pem"))
    }

    @Test("a key from another CA is a mismatch error")
    func mismatchedPair() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let a = temporary.file("a")
        let b = temporary.file("b")
        _ = try SandboxCA.loadOrCreate(directory: a, sandbox: "a")
        _ = try SandboxCA.loadOrCreate(directory: b, sandbox: "b")
        let otherKey = try Data(contentsOf: URL(fileURLWithPath: b + "/ca.key"))
        try otherKey.write(to: URL(fileURLWithPath: a + "/ca.key"))

        let error = try #require(throws: SandboxCAError.self) {
            try SandboxCA.loadOrCreate(directory: a, sandbox: "a")
        }
        #expect(error.kind == .mismatched)
        #expect(error.description.contains(a + "/ca.key"))
    }

    @Test("only one of the two files present is an incomplete CA, left as it is", arguments: ["ca.pem", "ca.key"])
    func incompletePair(removed: String) throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let directory = temporary.file("sb")
        _ = try SandboxCA.loadOrCreate(directory: directory, sandbox: "sb")
        try FileManager.default.removeItem(atPath: directory + "/" + removed)

        let error = try #require(throws: SandboxCAError.self) {
            try SandboxCA.loadOrCreate(directory: directory, sandbox: "sb")
        }
        #expect(error.kind == .incomplete)
        #expect(error.path == directory + "/" + removed)
        #expect(!FileManager.default.fileExists(atPath: directory + "/" + removed))
    }

    @Test("an empty sandbox identifier is refused")
    func emptySandbox() throws {
        let error = try #require(throws: SandboxCAError.self) { try SandboxCA.generate(sandbox: "") }
        #expect(error.kind == .invalidSandbox)
    }

    // MARK: Export

    @Test("export prints the PEM of the existing CA, and is a clear error when there is none")
    func export() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let directory = temporary.file("sb")

        let missing = try #require(throws: SandboxCAError.self) { try SandboxCA.export(directory: directory) }
        #expect(missing.kind == .notFound)
        #expect(missing.description.contains("ca init"))
        #expect(!FileManager.default.fileExists(atPath: directory), "export must not create anything")

        let ca = try SandboxCA.loadOrCreate(directory: directory, sandbox: "sb")
        #expect(try SandboxCA.export(directory: directory) == ca.certificatePEM)
        #expect(ca.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        #expect(ca.certificatePEM.hasSuffix("-----END CERTIFICATE-----\n"))
    }

    // MARK: Certificate contents, as openssl sees them

    @Test("the CA certificate is a self-signed P-256 CA with the required extensions")
    func certificateContents() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let directory = temporary.file("sb-7")
        let ca = try SandboxCA.loadOrCreate(directory: directory, sandbox: "sb-7")
        let pem = directory + "/ca.pem"

        let text = try openssl(["x509", "-in", pem, "-noout", "-text"])
        #expect(text.status == 0)
        #expect(text.output.contains("CN = egress-proxy CA sb-7"))
        #expect(text.output.contains("O = egress-proxy"))
        #expect(text.output.contains("ASN1 OID: prime256v1"))
        #expect(text.output.contains("ecdsa-with-SHA256"))
        #expect(text.output.contains("X509v3 Basic Constraints: critical"))
        #expect(text.output.contains("CA:TRUE, pathlen:0"))
        #expect(text.output.contains("X509v3 Key Usage: critical"))
        #expect(text.output.contains("Certificate Sign, CRL Sign"))
        #expect(text.output.contains("X509v3 Subject Key Identifier"))

        let verify = try openssl(["verify", "-CAfile", pem, pem])
        #expect(verify.status == 0, "\(verify.output)")

        let keyCheck = try openssl(["pkey", "-in", directory + "/ca.key", "-noout"])
        #expect(keyCheck.status == 0, "\(keyCheck.output)")

        let now = Date()
        #expect(ca.certificate.notValidBefore <= now - 3500)
        #expect(ca.certificate.notValidBefore >= now - 3700)
        let years = ca.certificate.notValidAfter.timeIntervalSince(now) / (365.25 * 86400)
        #expect(years > 9.99 && years < 10.01)
    }

    @Test("two generated CAs differ")
    func distinctCAs() throws {
        let a = try SandboxCA.generate(sandbox: "a")
        let b = try SandboxCA.generate(sandbox: "a")
        #expect(a.certificate.publicKey != b.certificate.publicKey)
        #expect(a.certificate.serialNumber != b.certificate.serialNumber)
    }
}
