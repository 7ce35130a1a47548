import Foundation
import Testing
@testable import PIIDetect

// MARK: - The scorer's byte passes against plain byte-by-byte loops

/// The passes over a body that skip 16 (then 8) bytes at a time must find what a loop over
/// every byte finds, wherever the bytes they look for fall in a vector: random texts rich in
/// those bytes at every length up to a few vectors and every alignment, and the DEV texts.
@Suite struct InjectionPassTests {
    /// Texts to run the passes over: pseudo-random (reproducible) over an alphabet of the
    /// bytes the passes look for, letters, and UTF-8 (valid and broken), and the DEV
    /// injection texts when present.
    static let texts: [[UInt8]] = {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return Int(x % 1_000_003) }
        let pieces: [[UInt8]] = Array("<>]()=\"'\\&\n\t\r\u{7F} ab;".utf8).map { [$0] }
            + [[0x00], [0x08], [0x0E], [0x1F], [0x80], [0xC3, 0xA9], [0xE2, 0x80, 0x8B], [0xF0, 0x9F, 0x98, 0x80], [0xFF], [0xC3]]
            + ["letters", "=>", "<!--", "-->", "<b>", "](x \"t\")"].map { Array($0.utf8) }
        var texts: [[UInt8]] = []
        for length in Array(0...80) + [127, 128, 129, 255, 256, 257, 1_000, 5_000] {
            for density in [1, 4, 20] {
                var t: [UInt8] = []
                while t.count < length {
                    t += next() % density == 0 ? pieces[next() % pieces.count] : [UInt8(0x61 + next() % 26)]
                }
                texts.append(Array(t.prefix(length)))
            }
        }
        if let dir = corpusDirectory, let data = FileManager.default.contents(atPath: dir + "/injection.jsonl") {
            for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                if let record = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                   let text = record["text"] as? String {
                    texts.append(Array(text.utf8))
                }
            }
        }
        return texts
    }()

    /// Calls `body` with `text` at every alignment 0 ..< 16 (the bytes copied after a pad).
    func aligned(_ text: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        for pad in 0..<16 {
            let padded = [UInt8](repeating: 0x61, count: pad) + text
            padded.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[pad...])) }
        }
    }

    @Test func badBytesCountLikeOneByOne() {
        func reference(_ p: UnsafeBufferPointer<UInt8>) -> Int {
            let n = min(p.count, 65_536)
            var bad = 0, i = 0
            while i < n {
                let b = p[i]
                if b < 0x80 {
                    if b < 0x09 || (b > 0x0D && b < 0x20) || b == 0x7F { bad += 1 }
                    i += 1
                } else if let (_, len) = UTF8Scalar.decode(p, at: i) {
                    i += len
                } else {
                    bad += 1
                    i += 1
                }
            }
            return bad
        }
        var checked = 0
        for text in InjectionPassTests.texts {
            aligned(text) { p in
                let (got, expected) = (InjectionScorer.badBytes(p), reference(p))
                #expect(got == expected, "\(p.count) bytes")
                checked += expected
            }
        }
        #expect(checked > 1_000)
    }

    @Test func firstToDecodeFindsLikeOneByOne() {
        for text in InjectionPassTests.texts where text.count <= 1_000 {
            aligned(text) { p in
                for from in 0...p.count {
                    var expected = from
                    while expected < p.count, !InjectionView.needsDecoding[Int(p[expected])] { expected += 1 }
                    let got = InjectionView.firstToDecode(p, from: from)
                    #expect(got == expected, "\(p.count) bytes from \(from)")
                    if got != expected { return }
                }
            }
        }
    }

    @Test func byteVectorFirstFindsLikeOneByOne() {
        for text in InjectionPassTests.texts where text.count <= 300 {
            aligned(text) { p in
                guard let base = p.baseAddress else { return }
                for c in [UInt8(ascii: ">"), UInt8(ascii: "\""), 0xC3] {
                    for from in 0...p.count {
                        for to in [from, min(p.count, from + 1), min(p.count, from + 17), p.count] {
                            var expected = from
                            while expected < to, p[expected] != c { expected += 1 }
                            let got = ByteVector.first(c, in: base, from: from, to: to)
                            #expect(got == expected, "\(p.count) bytes, \(from) ..< \(to)")
                            if got != expected { return }
                        }
                    }
                }
            }
        }
    }

    @Test func hidingPlacesFoundLikeOneByOne() {
        func reference(_ p: UnsafeBufferPointer<UInt8>) -> [HidingPlaces.Place] {
            var places: [HidingPlaces.Place] = []
            var i = 0
            while i < p.count {
                if p[i] == UInt8(ascii: "<") {
                    i = HidingPlaces.tag(p, at: i, into: &places)
                } else if p[i] == UInt8(ascii: "]"), i + 1 < p.count, p[i + 1] == UInt8(ascii: "(") {
                    HidingPlaces.linkTitle(p, at: i + 2, into: &places)
                    i += 2
                } else {
                    i += 1
                }
            }
            return places
        }
        var found = 0
        for text in InjectionPassTests.texts {
            aligned(text) { p in
                let got = HidingPlaces.find(p).map { "\($0.range) \($0.kind)" }
                let expected = reference(p).map { "\($0.range) \($0.kind)" }
                #expect(got == expected, "\(p.count) bytes")
                found += expected.count
            }
        }
        #expect(found > 100)
    }

    @Test func lineEndsAndCodeBytesLikeOneByOne() {
        for text in InjectionPassTests.texts where text.count <= 1_000 {
            aligned(text) { p in
                var starts = [0]
                for (i, b) in p.enumerated() where b == 0x0A { starts.append(i + 1) }
                let lines = CodeMap(p).lines
                #expect(lines.map(\.start) == starts, "\(p.count) bytes")
                #expect(lines.map(\.end) == starts.dropFirst().map { $0 - 1 } + [p.count])
                for from in stride(from: 0, through: p.count, by: 3) {
                    for to in [from, min(p.count, from + 9), min(p.count, from + 20), p.count] {
                        var quote = false, code = false, arrow = false
                        for k in from..<to {
                            if p[k] == 0x22 || p[k] == 0x27 { quote = true }
                            if p[k] == UInt8(ascii: "=") || p[k] == UInt8(ascii: "(") { code = true }
                            if p[k] == UInt8(ascii: "="), k + 1 < p.count, p[k + 1] == UInt8(ascii: ">") { arrow = true }
                        }
                        let got = CodeMap.codeBytes(p, from, to)
                        let same = [got.quote, got.codeByte, got.arrow] == [quote, code, arrow]
                        #expect(same, "\(p.count) bytes, \(from) ..< \(to)")
                        if !same { return }
                    }
                }
            }
        }
    }
}
