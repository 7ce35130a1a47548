import Foundation
import Testing

/// Parsers the harness relies on, checked on fixed input.
@Suite("Harness: parsers")
struct HarnessUnitTests {
    @Test(
        "the proxy's listening line yields its port",
        arguments: [
            ("listening on 127.0.0.1:41234\n", 41234),
            ("info: starting\nlistening on 127.0.0.1:3128 (sandbox sb-1)\n", 3128),
            ("2026-01-01T00:00:00Z listening on [::1]:8080\n", 8080),
        ])
    func listeningLine(stderr: String, port: Int) {
        #expect(ProxyProcess.listeningPort(in: stderr) == port)
    }

    @Test("no listening line, no port")
    func noListeningLine() {
        #expect(ProxyProcess.listeningPort(in: "starting\nlistening on\n") == nil)
    }

    @Test("audit JSON Lines: fields are read, a half-written last line is left for later")
    func auditLines() throws {
        let scratch = try TemporaryDirectory(prefix: "audit")
        defer { scratch.remove() }
        let path = try scratch.write(
            "audit.jsonl",
            """
            {"event":"request","decision":"allow","reason":"allowed","host":"api.test","port":443,"secrets":["TOKEN"]}
            {"event":"connect","decision":"deny","reason":"host_deni
            """)
        let records = try AuditRecord.parseFile(path)
        #expect(records.count == 1)
        #expect(records.first?.reason == "allowed")
        #expect(records.first?.port == 443)
        #expect(records.first?.secrets == ["TOKEN"])
    }

    @Test("the byte pattern's hash matches the file written from it")
    func bytePattern() throws {
        let scratch = try TemporaryDirectory(prefix: "pattern")
        defer { scratch.remove() }
        let count = 200_000
        try BytePattern.writeFile(scratch.file("p.bin"), count: count)
        let file = try sha256HexOfFile(scratch.file("p.bin"))
        #expect(file.count == count)
        #expect(file.sha256 == BytePattern.sha256Hex(count: count))
        #expect(BytePattern.sha256Hex(count: count) != BytePattern.sha256Hex(count: count - 1))
    }
}
