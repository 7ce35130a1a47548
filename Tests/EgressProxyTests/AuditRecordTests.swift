import Foundation
import PIIDetect
import PolicyEngine
import Testing
@testable import EgressProxy

@Suite struct AuditRecordTests {
    @Test func jsonLineHasTheSpecFields() throws {
        var r = AuditRecord(
            time: Date(timeIntervalSince1970: 1_700_000_000.5), sandbox: "sb", event: .request,
            decision: .deny(.rule_denied, rule: "rules[1]"), host: "api.test", port: 443, mode: .mitm)
        r.method = "GET"
        r.path = "/x?q="
        r.status = 403
        r.secrets = ["TOKEN"]
        r.bytesUp = 1
        r.bytesDown = 2
        r.durationMS = 1.23456
        let obj = try #require(JSONSerialization.jsonObject(with: Data(r.jsonLine().utf8)) as? [String: Any])
        #expect(obj["time"] as? String == "2023-11-14T22:13:20.500Z")
        #expect(obj["sandbox"] as? String == "sb")
        #expect(obj["event"] as? String == "request")
        #expect(obj["decision"] as? String == "deny")
        #expect(obj["reason"] as? String == "rule_denied")
        #expect(obj["rule"] as? String == "rules[1]")
        #expect(obj["host"] as? String == "api.test")
        #expect(obj["port"] as? Int == 443)
        #expect(obj["mode"] as? String == "mitm")
        #expect(obj["status"] as? Int == 403)
        #expect(obj["secrets"] as? [String] == ["TOKEN"])
        #expect(obj["duration_ms"] as? Double == 1.235)
    }

    @Test func quotingEscapesControlCharacters() throws {
        let s = JSONText.quote("a\"b\\c\n\u{1}\u{2028}")
        let back = try JSONSerialization.jsonObject(with: Data("[\(s)]".utf8)) as? [String]
        #expect(back == ["a\"b\\c\n\u{1}\u{2028}"])
    }

    @Test func fileWriterWritesOneLinePerRecordAndMode0600() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("a.jsonl").path
        let w = try AuditFileWriter(path: path)
        for i in 0..<100 {
            w.write(AuditRecord(sandbox: "sb", event: .connect, decision: .allow(), host: "h\(i)", port: 1, mode: .tunnel))
        }
        w.close()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 100)
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
    }
}
