// MARK: - The `scan` record format

/// The `egress-proxy scan` line format (SPEC section 2): reads `{"id", "text"}` records and
/// writes `{"id", "entities": [{"type", "start", "end"}], "label", "score"}` with offsets
/// in Unicode code points (end exclusive), the format `corpus/score.py` reads.
public enum ScanFormat {
    /// One output line (without newline) for one input line, or `nil` for a blank line or
    /// a line that is not a JSON object with a string `text`.
    public static func scanLine(_ jsonLine: String, detector: Detector, injection: InjectionScorer) -> String? {
        guard let record = try? JSONParser.parse(Array(jsonLine.utf8)), case .object = record,
              case .string(let text)? = record["text"] else { return nil }
        let id = record["id"] ?? .null
        return scanText(id: id.jsonText, text: text, detector: detector, injection: injection)
    }

    /// The output line for `text` with an already serialised `id` JSON value.
    public static func scanText(id idJSON: String, text: String, detector: Detector, injection: InjectionScorer) -> String {
        let bytes = Array(text.utf8)
        let findings = detector.scan(bytes)
        let result = injection.score(bytes)
        let offsets = CodePointOffsets(bytes)
        var entities: [String] = []
        entities.reserveCapacity(findings.count)
        for f in findings {
            let s = offsets.codePoint(atByte: f.range.lowerBound), e = offsets.codePoint(atByte: f.range.upperBound)
            entities.append("{\"type\":\"\(f.type.rawValue)\",\"start\":\(s),\"end\":\(e)}")
        }
        let label = result.score >= injection.threshold ? "injection" : "benign"
        let score = (result.score * 10000).rounded() / 10000
        return "{\"id\":\(idJSON),\"entities\":[\(entities.joined(separator: ","))],\"label\":\"\(label)\",\"score\":\(score)}"
    }
}

/// Byte offset → Unicode code point offset for one UTF-8 text.
struct CodePointOffsets {
    private var prefix: [Int32]

    init(_ bytes: [UInt8]) {
        prefix = [Int32](repeating: 0, count: bytes.count + 1)
        var cp: Int32 = 0
        for (i, b) in bytes.enumerated() {
            prefix[i] = cp
            if b & 0xC0 != 0x80 { cp += 1 }
        }
        prefix[bytes.count] = cp
    }

    /// The number of code points that start before byte `i` (a byte inside a character
    /// counts as that character's start).
    func codePoint(atByte i: Int) -> Int { Int(prefix[max(0, min(i, prefix.count - 1))]) }
}
