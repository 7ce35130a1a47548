import Foundation
import Testing
@testable import PIIDetect

// MARK: - DEV corpus targets

/// `../shared/corpus/dev` next to the repository (from this file: ../../../shared/corpus/dev),
/// or `PIIDETECT_CORPUS_DIR`.
let corpusDirectory: String? = {
    if let env = ProcessInfo.processInfo.environment["PIIDETECT_CORPUS_DIR"] { return env }
    let file = URL(fileURLWithPath: #filePath)
    let dir = file.deletingLastPathComponent().appendingPathComponent("../../../shared/corpus/dev").standardized.path
    return FileManager.default.fileExists(atPath: dir + "/pii.jsonl") ? dir : nil
}()

/// The scorer of `corpus/score.py` (IoU ≥ 0.5, same type, one-to-one greedy), in Swift.
struct CorpusScore {
    var tp: [String: Int] = [:], fp: [String: Int] = [:], fn: [String: Int] = [:]
    var tagGold: [String: Int] = [:], tagFound: [String: Int] = [:]
    var injTP = 0, injFP = 0, injFN = 0, injTN = 0

    static let pii: Set<String> = ["CREDIT_CARD", "US_SSN", "EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "IP_ADDRESS"]

    func f1(_ types: Set<String>) -> Double {
        let t = types.reduce(0) { $0 + (tp[$1] ?? 0) }
        let p = types.reduce(0) { $0 + (fp[$1] ?? 0) }, n = types.reduce(0) { $0 + (fn[$1] ?? 0) }
        guard t > 0 else { return 0 }
        let precision = Double(t) / Double(t + p), recall = Double(t) / Double(t + n)
        return 2 * precision * recall / (precision + recall)
    }

    var injectionF1: Double {
        guard injTP > 0 else { return 0 }
        let p = Double(injTP) / Double(injTP + injFP), r = Double(injTP) / Double(injTP + injFN)
        return 2 * p * r / (p + r)
    }

    var falsePositiveRate: Double { Double(injFP) / Double(max(1, injFP + injTN)) }
}

@Suite(.enabled(if: corpusDirectory != nil, "corpus/dev not found next to the repository"))
struct CorpusTests {
    @Test func devCorpusMeetsTheTargets() throws {
        let dir = try #require(corpusDirectory)
        let detector = try Detector()
        let scorer = InjectionScorer()
        var score = CorpusScore()
        for file in ["pii.jsonl", "secret.jsonl", "injection.jsonl"] {
            let data = try #require(FileManager.default.contents(atPath: dir + "/" + file))
            for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                let record = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
                let text = try #require(record["text"] as? String)
                let out = try #require(ScanFormat.scanLine(String(decoding: line, as: UTF8.self), detector: detector, injection: scorer))
                let predicted = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
                if record["kind"] as? String == "injection" {
                    let gold = record["label"] as? String == "injection"
                    let said = predicted["label"] as? String == "injection"
                    switch (gold, said) {
                    case (true, true): score.injTP += 1
                    case (false, true): score.injFP += 1
                    case (true, false): score.injFN += 1
                    case (false, false): score.injTN += 1
                    }
                    continue
                }
                _ = text
                let gold = (record["entities"] as? [[String: Any]] ?? []).map {
                    ($0["type"] as? String ?? "", $0["start"] as? Int ?? 0, $0["end"] as? Int ?? 0)
                }
                let pred = (predicted["entities"] as? [[String: Any]] ?? []).map {
                    ($0["type"] as? String ?? "", $0["start"] as? Int ?? 0, $0["end"] as? Int ?? 0)
                }
                var pairs: [(Double, Int, Int)] = []
                for (i, g) in gold.enumerated() {
                    for (j, p) in pred.enumerated() where g.0 == p.0 {
                        let inter = min(g.2, p.2) - max(g.1, p.1)
                        let union = max(g.2, p.2) - min(g.1, p.1)
                        guard inter > 0, union > 0 else { continue }
                        let iou = Double(inter) / Double(union)
                        if iou >= 0.5 { pairs.append((iou, i, j)) }
                    }
                }
                pairs.sort { $0.0 > $1.0 }
                var mg = Set<Int>(), mp = Set<Int>()
                for (_, i, j) in pairs where !mg.contains(i) && !mp.contains(j) { mg.insert(i); mp.insert(j) }
                for (i, g) in gold.enumerated() {
                    if mg.contains(i) { score.tp[g.0, default: 0] += 1 } else { score.fn[g.0, default: 0] += 1 }
                }
                for (j, p) in pred.enumerated() where !mp.contains(j) { score.fp[p.0, default: 0] += 1 }
                for tag in record["tags"] as? [String] ?? [] where tag.hasPrefix("evasion:") {
                    score.tagGold[tag, default: 0] += gold.count
                    score.tagFound[tag, default: 0] += mg.count
                }
            }
        }
        let secretTypes = Set(EntityType.secrets.map(\.rawValue))
        #expect(score.f1(CorpusScore.pii) >= 0.97, "pii F1 \(score.f1(CorpusScore.pii))")
        #expect(score.f1(secretTypes) >= 0.99, "secret F1 \(score.f1(secretTypes))")
        #expect(score.injectionF1 >= 0.80, "injection F1 \(score.injectionF1)")
        #expect(score.falsePositiveRate <= 0.03, "injection FPR \(score.falsePositiveRate)")
        for type in CorpusScore.pii {
            #expect(score.f1([type]) >= 0.95, "\(type) F1 \(score.f1([type]))")
        }
        for (tag, gold) in score.tagGold where gold > 0 {
            let recall = Double(score.tagFound[tag] ?? 0) / Double(gold)
            #expect(recall >= 0.85, "\(tag) recall \(recall)")
        }
    }
}
