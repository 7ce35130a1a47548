import Foundation
import PIIDetect
import Testing

/// The `scan` line format (SPEC section 2) as `corpus/score.py` reads it.
@Suite struct ScanFormatTests {
    private func scan(_ text: String) throws -> [String: Any] {
        let detector = try Detector()
        let line = try #require(
            ScanFormat.scanLine(
                "{\"id\":\"r1\",\"text\":\(String(data: try JSONSerialization.data(withJSONObject: [text]), encoding: .utf8)!.dropFirst().dropLast())}",
                detector: detector, injection: InjectionScorer(sensitivity: .medium)))
        return try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func reportsTypedEntitiesWithCodePointOffsets() throws {
        // "é" is one code point but two UTF-8 bytes: offsets must count code points.
        let text = "é card 4532 0151 1283 0366 mail jane.doe@acme-corp.io"
        let obj = try scan(text)
        #expect(obj["id"] as? String == "r1")
        let entities = try #require(obj["entities"] as? [[String: Any]])
        let card = entities.first { $0["type"] as? String == "CREDIT_CARD" }
        #expect(card?["start"] as? Int == 7)
        #expect(card?["end"] as? Int == 26)
        #expect(entities.contains { $0["type"] as? String == "EMAIL_ADDRESS" })
        #expect(obj["label"] as? String == "benign")
    }

    @Test func luhnFailuresAndReservedDomainsAreNotPII() throws {
        let obj = try scan("order 4111 1111 1111 1112 from noreply@example.com")
        let entities = try #require(obj["entities"] as? [[String: Any]])
        #expect(entities.isEmpty, "\(entities)")
    }

    @Test func blankAndNonObjectLinesAreSkipped() throws {
        let detector = try Detector()
        let scorer = InjectionScorer(sensitivity: .medium)
        #expect(ScanFormat.scanLine("", detector: detector, injection: scorer) == nil)
        #expect(ScanFormat.scanLine("[1,2]", detector: detector, injection: scorer) == nil)
    }
}
