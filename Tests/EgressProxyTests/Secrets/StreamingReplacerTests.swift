import NIOCore
import Testing

@testable import EgressProxy

@Suite("StreamingReplacer")
struct StreamingReplacerTests {
    typealias S = SecretsTestSupport

    // MARK: Every split point

    /// A row: patterns, an input, and the output a single pass over the whole input gives.
    struct Row: CustomTestStringConvertible, Sendable {
        let label: String
        let patterns: [(pattern: [UInt8], replacement: [UInt8])]
        let input: [UInt8]
        let expected: [UInt8]

        init(_ label: String, _ patterns: [(String, String)], _ input: String, _ expected: String) {
            self.label = label
            self.patterns = patterns.map { (pattern: Array($0.0.utf8), replacement: Array($0.1.utf8)) }
            self.input = Array(input.utf8)
            self.expected = Array(expected.utf8)
        }

        var testDescription: String { label }
    }

    static let rows: [Row] = [
        Row("one pattern in the middle", [("SECRET-VALUE", "PH")], "abc SECRET-VALUE xyz", "abc PH xyz"),
        Row("at the very start", [("SECRET-VALUE", "PH")], "SECRET-VALUE tail", "PH tail"),
        Row("at the very end", [("SECRET-VALUE", "PH")], "head SECRET-VALUE", "head PH"),
        Row("the whole input", [("SECRET-VALUE", "PH")], "SECRET-VALUE", "PH"),
        Row("adjacent repeats", [("SECRET", "<s>")], "SECRETSECRETSECRET", "<s><s><s>"),
        Row("longest wins at the same start", [("abcdef", "6"), ("abc", "3")], "xabcdefx abcx", "x6x 3x"),
        Row("leftmost wins over longer later", [("bcdefgh", "L"), ("abc", "S")], "abcdefgh", "Sdefgh"),
        Row("overlap: first one consumes", [("abcd", "1"), ("cdef", "2")], "abcdef", "1ef"),
        Row("self-overlap is non-overlapping", [("aaa", "X")], "aaaaaaa", "XXa"),
        Row("partial prefix then real match", [("abcabd", "M")], "abcabcabd", "abcM"),
        Row("longer pattern cut by the end", [("abcdefgh", "L"), ("abc", "S")], "zzabcdefg", "zzSdefg"),
        Row("shorter inside a failed longer", [("abcdefgh", "L"), ("cde", "S")], "abcdexx", "abSxx"),
        Row("replacement longer", [("key12345", "PLACEHOLDER_LONGER")], "k=key12345;", "k=PLACEHOLDER_LONGER;"),
        Row("replacement empty", [("key12345", "")], "<key12345>", "<>"),
        Row("one-byte pattern", [("x", "yy"), ("xyz", "Z")], "axbxyzx", "ayybZyy"),
        Row("many patterns sharing prefixes",
            [("token-aaaa", "A"), ("token-aabb", "B"), ("token-a", "C"), ("oken-aaaa", "D")],
            "token-aaaa token-aabb token-ab oken-aaaa token-", "A B Cb D token-"),
        Row("no match", [("SECRET-VALUE", "PH")], "SECRET-VALU SECRET_VALUE", "SECRET-VALU SECRET_VALUE"),
        Row("identical patterns: the first wins", [("duplicate", "1"), ("duplicate", "2")], "a duplicate", "a 1"),
        Row("binary bytes", [("\u{0}\u{1}\u{2}\u{FF}", "!")], "\u{0}\u{0}\u{1}\u{2}\u{FF}\u{1}", "\u{0}!\u{1}"),
    ]

    @Test("the reference agrees with every row", arguments: rows)
    func referenceAgrees(_ row: Row) {
        #expect(S.reference(row.input, row.patterns).output == row.expected)
    }

    @Test("a pattern split at any one point is still replaced", arguments: rows)
    func everySplitPoint(_ row: Row) {
        for cut in 0...row.input.count {
            var replacer = StreamingReplacer(patterns: row.patterns)
            var bounded = true
            let out = S.run(&replacer, row.input, cuts: [cut], carryWithinBound: &bounded)
            #expect(out == row.expected, "cut at \(cut)")
            #expect(bounded, "carry bound, cut at \(cut)")
        }
    }

    @Test("any two split points, empty chunks included", arguments: rows)
    func everyPairOfSplitPoints(_ row: Row) {
        for first in 0...row.input.count {
            for second in first...row.input.count {
                var replacer = StreamingReplacer(patterns: row.patterns)
                let out = S.run(&replacer, row.input, cuts: [first, second])
                #expect(out == row.expected, "cuts at \(first), \(second)")
            }
        }
    }

    @Test("one-byte chunks", arguments: rows)
    func oneByteChunks(_ row: Row) {
        var replacer = StreamingReplacer(patterns: row.patterns)
        var bounded = true
        let out = S.run(&replacer, row.input, cuts: Array(0...row.input.count), carryWithinBound: &bounded)
        #expect(out == row.expected)
        #expect(bounded)
    }

    @Test("empty chunks between every byte change nothing", arguments: rows)
    func emptyChunks(_ row: Row) {
        var replacer = StreamingReplacer(patterns: row.patterns)
        let cuts = (0...row.input.count).flatMap { [$0, $0, $0] }
        #expect(S.run(&replacer, row.input, cuts: cuts) == row.expected)
    }

    // MARK: Counting

    @Test func countsMatchesPerPatternIndex() {
        let patterns: [(pattern: [UInt8], replacement: [UInt8])] = [
            (S.bytes("alpha-secret"), S.bytes("A")),
            (S.bytes("beta-secret"), S.bytes("B")),
            (S.bytes("unused-secret"), S.bytes("U")),
        ]
        var replacer = StreamingReplacer(patterns: patterns, labels: ["ALPHA", "BETA", "UNUSED"])
        let input = S.bytes("beta-secret alpha-secret beta-secret")
        let out = S.run(&replacer, input, cuts: [3, 14, 20])
        #expect(out == S.bytes("B A B"))
        #expect(replacer.matchCounts == [1, 2, 0])
        #expect(replacer.totalMatches == 3)
        #expect(replacer.matchedLabels == ["ALPHA", "BETA"])
    }

    @Test func noPatternsPassesBytesThrough() {
        var replacer = StreamingReplacer(patterns: [])
        let out = S.run(&replacer, S.bytes("anything at all"), cuts: [4])
        #expect(out == S.bytes("anything at all"))
        #expect(replacer.maximumCarry == 0)
    }

    @Test func emptyPatternNeverMatches() {
        var replacer = StreamingReplacer(patterns: [([], S.bytes("X")), (S.bytes("abc"), S.bytes("Y"))])
        #expect(S.run(&replacer, S.bytes("zabcz"), cuts: [2]) == S.bytes("zYz"))
        #expect(replacer.matchCounts == [0, 1])
    }

    @Test func carryIsHeldUntilDecided() {
        var replacer = StreamingReplacer(patterns: [(S.bytes("SECRET-VALUE"), S.bytes("PH"))])
        // "SECRET-" may begin the pattern: it is not emitted yet.
        let first = replacer.feed(S.buffer("data SECRET-"))
        #expect(Array(first.readableBytesView) == S.bytes("data "))
        #expect(replacer.carriedByteCount == 7)
        let second = replacer.feed(S.buffer("VALUE!"))
        #expect(Array(second.readableBytesView) == S.bytes("PH!"))
        #expect(replacer.carriedByteCount == 0)
        // A cut-off prefix at the end of the stream is emitted unchanged by finish().
        _ = replacer.feed(S.buffer("SECRET-VAL"))
        #expect(Array(replacer.finish().readableBytesView) == S.bytes("SECRET-VAL"))
    }

    @Test func carryNeverExceedsLongestPatternMinusOne() {
        let pattern = S.bytes("0123456789abcdef")
        var replacer = StreamingReplacer(patterns: [(pattern, S.bytes("X"))])
        #expect(replacer.maximumCarry == 15)
        _ = replacer.feed(S.buffer("zz0123456789abcde"))
        #expect(replacer.carriedByteCount == 15)
    }

    @Test func readerIndexOfTheChunkIsRespected() {
        var replacer = StreamingReplacer(patterns: [(S.bytes("SECRET-VALUE"), S.bytes("PH"))])
        var chunk = S.buffer("skipped:SECRET-VALUE;")
        chunk.moveReaderIndex(forwardBy: 8)
        let out = replacer.feed(chunk)
        #expect(String(buffer: out) == "PH;")
    }

    // MARK: Differential

    /// Random patterns over a small alphabet (so matches, overlaps and shared prefixes are
    /// frequent), random inputs and random chunking, compared with the reference.
    @Test("random inputs and chunkings agree with the reference", arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomisedAgainstReference(seed: UInt64) {
        var random = SecretsSeededGenerator(seed: seed)
        let alphabet = S.bytes("abc")
        for _ in 0..<200 {
            let patternCount = Int.random(in: 1...6, using: &random)
            var patterns: [(pattern: [UInt8], replacement: [UInt8])] = []
            for index in 0..<patternCount {
                let length = Int.random(in: (seed % 2 == 0 ? 1 : 2)...7, using: &random)
                let pattern = (0..<length).map { _ in alphabet.randomElement(using: &random) ?? 0 }
                let replacement = Array(repeating: UInt8(ascii: "0") + UInt8(index), count: Int.random(in: 0...3, using: &random))
                patterns.append((pattern, replacement))
            }
            let input = (0..<Int.random(in: 0...60, using: &random)).map { _ in alphabet.randomElement(using: &random) ?? 0 }
            var cuts: [Int] = []
            for _ in 0..<Int.random(in: 0...8, using: &random) { cuts.append(Int.random(in: 0...input.count, using: &random)) }
            cuts.sort()
            let expected = S.reference(input, patterns)
            var replacer = StreamingReplacer(patterns: patterns)
            var bounded = true
            let out = S.run(&replacer, input, cuts: cuts, carryWithinBound: &bounded)
            let agrees = out == expected.output
            #expect(agrees, "input \(input), cuts \(cuts)")
            #expect(replacer.matchCounts == expected.counts)
            #expect(bounded)
        }
    }

    /// Long patterns (the fast path skips several bytes a step) in long random text.
    @Test func longPatternsInLongTextAgreeWithReference() {
        var random = SecretsSeededGenerator(seed: 42)
        let alphabet = S.bytes("abcdefgh")
        let patterns: [(pattern: [UInt8], replacement: [UInt8])] = (0..<30).map { index in
            let length = Int.random(in: 8...24, using: &random)
            return ((0..<length).map { _ in alphabet.randomElement(using: &random) ?? 0 }, S.bytes("<\(index)>"))
        }
        var input: [UInt8] = []
        while input.count < 20_000 {
            if Int.random(in: 0..<10, using: &random) == 0, let pick = patterns.randomElement(using: &random) {
                input += pick.pattern
            } else {
                input.append(alphabet.randomElement(using: &random) ?? 0)
            }
        }
        let expected = S.reference(input, patterns)
        #expect(expected.counts.reduce(0, +) > 100)
        for chunkSize in [1, 7, 100, 4096, 20_000] {
            var replacer = StreamingReplacer(patterns: patterns)
            let out = S.run(&replacer, input, cuts: Array(stride(from: chunkSize, to: input.count, by: chunkSize)))
            let agrees = out == expected.output
            #expect(agrees, "chunk size \(chunkSize)")
            #expect(replacer.matchCounts == expected.counts)
        }
    }
}
