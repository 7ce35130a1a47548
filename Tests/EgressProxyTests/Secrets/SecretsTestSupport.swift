import NIOCore

@testable import EgressProxy

/// Helpers shared by the secret engine tests (namespaced: other test folders share the module).
enum SecretsTestSupport {
    static func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    static func buffer(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }

    /// Feeds `input` cut at `cuts` (offsets, ascending, may repeat: empty chunks) and returns
    /// everything emitted, checking the carry bound after every chunk.
    static func run(
        _ replacer: inout StreamingReplacer,
        _ input: [UInt8],
        cuts: [Int],
        carryWithinBound: inout Bool
    ) -> [UInt8] {
        var output: [UInt8] = []
        var previous = 0
        for cut in cuts + [input.count] {
            let out = replacer.feed(buffer(Array(input[previous..<cut])))
            output += out.readableBytesView
            if replacer.carriedByteCount > replacer.maximumCarry { carryWithinBound = false }
            previous = cut
        }
        output += replacer.finish().readableBytesView
        return output
    }

    /// Feeds `input` cut at `cuts` and returns what was emitted.
    static func run(_ replacer: inout StreamingReplacer, _ input: [UInt8], cuts: [Int]) -> [UInt8] {
        var ignored = true
        return run(&replacer, input, cuts: cuts, carryWithinBound: &ignored)
    }

    /// The obvious quadratic leftmost-longest, non-overlapping replacement over a whole input:
    /// the reference the streaming replacer must agree with.
    static func reference(
        _ input: [UInt8],
        _ patterns: [(pattern: [UInt8], replacement: [UInt8])]
    ) -> (output: [UInt8], counts: [Int]) {
        var output: [UInt8] = []
        var counts = [Int](repeating: 0, count: patterns.count)
        var i = 0
        while i < input.count {
            var best: Int? = nil
            for (index, entry) in patterns.enumerated() where !entry.pattern.isEmpty {
                let end = i + entry.pattern.count
                guard end <= input.count, Array(input[i..<end]) == entry.pattern else { continue }
                if let current = best, patterns[current].pattern.count >= entry.pattern.count { continue }
                best = index
            }
            if let best {
                output += patterns[best].replacement
                counts[best] += 1
                i += patterns[best].pattern.count
            } else {
                output.append(input[i])
                i += 1
            }
        }
        return (output, counts)
    }

    /// How many values reachable through `subject`'s mirror (as `dump` walks it) hold raw bytes:
    /// byte arrays, byte buffers, or the compiled pattern set. A redacted type shows none.
    static func reflectedByteHolders(_ subject: Any, depth: Int = 0) -> Int {
        guard depth < 8 else { return 0 }
        var found = 0
        for child in Mirror(reflecting: subject).children {
            // An empty array of anything casts to [UInt8]: only non-empty ones count.
            let holdsBytes = ((child.value as? [UInt8])?.isEmpty == false)
                || ((child.value as? ArraySlice<UInt8>)?.isEmpty == false)
                || ((child.value as? [[UInt8]])?.isEmpty == false)
                || child.value is ByteBuffer || child.value is SecretPatternSet
            if holdsBytes {
                found += 1
            } else {
                found += reflectedByteHolders(child.value, depth: depth + 1)
            }
        }
        return found
    }

    /// Whether `needle` occurs in `haystack`.
    static func contains(_ haystack: String, _ needle: String) -> Bool {
        !needle.isEmpty && haystack.contains(needle)
    }
}

/// A small deterministic generator (SplitMix64), so randomised tests replay exactly.
struct SecretsSeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
