import PIIDetect

// MARK: - RegexSafety

/// Refuses, at policy load, transformation patterns that could backtrack catastrophically.
///
/// Two checks, because neither alone is enough:
/// 1. Structure: a group repeated without bound (`*`, `+`, `{n,}`, or `{n,m}` with a large m)
///    that itself contains an unbounded repetition, neither possessive nor atomic:
///    `(a+)+`, `(\w+\s?)*`, `(.*,){20}`. Star height above one is where exponential
///    backtracking lives; `(?>...)` and possessive quantifiers (`++`, `*+`) are accepted.
/// 2. Behaviour: the compiled pattern runs against short adversarial subjects (runs of the
///    characters the pattern mentions, ended by a character that makes the match fail) under
///    a small match limit; hitting the limit means the pattern explodes on ordinary input
///    (`(a|a)*b`, `(a|ab)*c`).
/// At run time every match still runs under PCRE2's match and depth limits.
enum RegexSafety {
    /// Why a pattern was refused: the message for the policy diagnostic.
    struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Repetitions with an upper bound at least this large count as unbounded.
    static let largeRepeat = 16
    /// Match-limit budget of one probe.
    static let probeMatchLimit: UInt32 = 100_000

    /// Refuses `pattern` if either check fails.
    static func check(_ pattern: String) -> Refusal? {
        if let refusal = structuralCheck(pattern) { return refusal }
        return probeCheck(pattern)
    }

    // MARK: Structure

    private struct Frame {
        /// An unbounded, backtracking repetition occurs inside.
        var hasUnbounded = false
        /// Atomic group or lookaround: no backtracking into it from outside.
        var isAtomic = false
        /// Where the group opened (for the message).
        var start = 0
    }

    /// The star-height check over PCRE2 syntax (escapes, classes, `\Q…\E`, comments and
    /// group kinds are understood well enough to find quantifiers and groups).
    static func structuralCheck(_ pattern: String) -> Refusal? {
        let p = Array(pattern.utf8)
        var stack = [Frame()]
        var i = 0
        // What the quantifier at `i` (if any) applies to: nil for nothing quantifiable.
        var lastAtomGroup: Frame? = nil
        var lastAtomExists = false

        func readQuantifier(at start: Int) -> (length: Int, unbounded: Bool, possessive: Bool)? {
            guard start < p.count else { return nil }
            var j = start
            var unbounded = false
            switch p[j] {
            case UInt8(ascii: "*"), UInt8(ascii: "+"):
                unbounded = true
                j += 1
            case UInt8(ascii: "?"):
                j += 1
            case UInt8(ascii: "{"):
                // {n}, {n,}, {n,m}, {,m}; anything else is a literal brace.
                var k = j + 1
                var low = "", high = "", comma = false
                while k < p.count, p[k] != UInt8(ascii: "}") {
                    let c = p[k]
                    if c == UInt8(ascii: ",") {
                        if comma { return nil }
                        comma = true
                    } else if c >= 0x30 && c <= 0x39 {
                        if comma { high.append(Character(Unicode.Scalar(c))) } else { low.append(Character(Unicode.Scalar(c))) }
                    } else if c != 0x20 {
                        return nil
                    }
                    k += 1
                }
                guard k < p.count, !(low.isEmpty && high.isEmpty) else { return nil }
                if comma {
                    unbounded = high.isEmpty || (Int(high) ?? Int.max) >= largeRepeat
                } else {
                    unbounded = (Int(low) ?? Int.max) >= largeRepeat
                }
                j = k + 1
            default:
                return nil
            }
            var possessive = false
            if j < p.count, p[j] == UInt8(ascii: "+") { possessive = true; j += 1 } else if j < p.count, p[j] == UInt8(ascii: "?") { j += 1 }
            return (j - start, unbounded, possessive)
        }

        while i < p.count {
            let c = p[i]
            var atomEnd = i + 1
            var atomGroup: Frame? = nil
            var isAtom = true
            switch c {
            case UInt8(ascii: "\\"):
                guard i + 1 < p.count else { atomEnd = p.count; break }
                let e = p[i + 1]
                if e == UInt8(ascii: "Q") {
                    // Literal text up to \E.
                    var k = i + 2
                    while k + 1 < p.count, !(p[k] == UInt8(ascii: "\\") && p[k + 1] == UInt8(ascii: "E")) { k += 1 }
                    atomEnd = min(p.count, k + 2)
                } else if [UInt8(ascii: "p"), UInt8(ascii: "P"), UInt8(ascii: "x"), UInt8(ascii: "N"), UInt8(ascii: "g"),
                           UInt8(ascii: "k"), UInt8(ascii: "o"), UInt8(ascii: "u")].contains(e),
                          i + 2 < p.count, p[i + 2] == UInt8(ascii: "{") || p[i + 2] == UInt8(ascii: "<") || p[i + 2] == UInt8(ascii: "'") {
                    let close: UInt8 = p[i + 2] == UInt8(ascii: "{") ? UInt8(ascii: "}") : (p[i + 2] == UInt8(ascii: "<") ? UInt8(ascii: ">") : UInt8(ascii: "'"))
                    var k = i + 3
                    while k < p.count, p[k] != close { k += 1 }
                    atomEnd = min(p.count, k + 1)
                } else {
                    atomEnd = i + 2
                }
            case UInt8(ascii: "["):
                var k = i + 1
                if k < p.count, p[k] == UInt8(ascii: "^") { k += 1 }
                if k < p.count, p[k] == UInt8(ascii: "]") { k += 1 }
                while k < p.count, p[k] != UInt8(ascii: "]") {
                    if p[k] == UInt8(ascii: "\\") { k += 2; continue }
                    if p[k] == UInt8(ascii: "["), k + 1 < p.count, p[k + 1] == UInt8(ascii: ":") {
                        var m = k + 2
                        while m + 1 < p.count, !(p[m] == UInt8(ascii: ":") && p[m + 1] == UInt8(ascii: "]")) { m += 1 }
                        k = m + 2
                        continue
                    }
                    k += 1
                }
                atomEnd = min(p.count, k + 1)
            case UInt8(ascii: "("):
                // Comments and verbs are not groups.
                if i + 2 < p.count, p[i + 1] == UInt8(ascii: "?"), p[i + 2] == UInt8(ascii: "#") {
                    var k = i + 3
                    while k < p.count, p[k] != UInt8(ascii: ")") { k += 1 }
                    i = k + 1
                    continue
                }
                var frame = Frame(start: i)
                var k = i + 1
                if k < p.count, p[k] == UInt8(ascii: "?") {
                    let kind = k + 1 < p.count ? p[k + 1] : 0
                    if kind == UInt8(ascii: ">") || kind == UInt8(ascii: "=") || kind == UInt8(ascii: "!") {
                        frame.isAtomic = true
                        k += 2
                    } else if kind == UInt8(ascii: "<"), k + 2 < p.count, p[k + 2] == UInt8(ascii: "=") || p[k + 2] == UInt8(ascii: "!") {
                        frame.isAtomic = true
                        k += 3
                    } else {
                        k += 1
                    }
                } else if k < p.count, p[k] == UInt8(ascii: "*") {
                    // (*VERB) or (*atomic: / (*positive_lookahead: ...
                    let rest = String(decoding: p[k..<min(p.count, k + 24)], as: UTF8.self)
                    if rest.hasPrefix("*atomic:") || rest.hasPrefix("*pla:") || rest.hasPrefix("*nla:")
                        || rest.hasPrefix("*positive_look") || rest.hasPrefix("*negative_look") {
                        frame.isAtomic = true
                    }
                }
                stack.append(frame)
                i = k
                lastAtomExists = false
                lastAtomGroup = nil
                continue
            case UInt8(ascii: ")"):
                guard stack.count > 1, let closed = stack.popLast() else { isAtom = false; break }
                atomGroup = closed
                if closed.hasUnbounded, !closed.isAtomic { stack[stack.count - 1].hasUnbounded = true }
            case UInt8(ascii: "|"), UInt8(ascii: "^"), UInt8(ascii: "$"):
                isAtom = false
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"):
                isAtom = false
            default:
                // One UTF-8 character.
                var k = i + 1
                while k < p.count, p[k] & 0xC0 == 0x80 { k += 1 }
                atomEnd = k
            }
            if !isAtom {
                i = atomEnd
                lastAtomExists = false
                lastAtomGroup = nil
                continue
            }
            lastAtomExists = true
            lastAtomGroup = atomGroup
            i = atomEnd
            if let q = readQuantifier(at: i), lastAtomExists {
                if q.unbounded, !q.possessive {
                    if let group = lastAtomGroup, group.hasUnbounded, !group.isAtomic {
                        return Refusal(message: "pattern may backtrack catastrophically: the group at offset \(group.start) repeats another unbounded repetition; make the inner one possessive (e.g. `a++`) or the group atomic (`(?>...)`)")
                    }
                    stack[stack.count - 1].hasUnbounded = true
                }
                i += q.length
                lastAtomExists = false
                lastAtomGroup = nil
            }
        }
        return nil
    }

    // MARK: Behaviour

    /// Runs the pattern against runs of the characters it mentions under a small match limit.
    static func probeCheck(_ pattern: String) -> Refusal? {
        guard let regex = try? Regex2(pattern, matchLimit: probeMatchLimit, depthLimit: 2_000) else { return nil }
        var seeds: [UInt8] = []
        for b in pattern.utf8 where b >= 0x20 && b < 0x7F && !seeds.contains(b) {
            if "\\()[]{}|*+?^$".utf8.contains(b) { continue }
            seeds.append(b)
            if seeds.count >= 24 { break }
        }
        for b in "a0 _-.\t".utf8 where !seeds.contains(b) { seeds.append(b) }
        // Every literal of the pattern after the run, so PCRE2's "required character"
        // shortcut cannot reject the subject before the backtracking starts.
        let literals = seeds
        let scratch = Regex2.Scratch(captureCount: regex.captureCount)
        for seed in seeds {
            for terminator in [UInt8(ascii: "!"), UInt8(0x01), UInt8(ascii: "a")] where terminator != seed {
                var subject = [UInt8](repeating: seed, count: 40)
                subject.append(terminator)
                subject.append(contentsOf: literals)
                do {
                    _ = try regex.firstMatch(in: subject, scratch: scratch)
                } catch {
                    let shown = seed == 0x09 ? "\\t" : String(Character(Unicode.Scalar(seed)))
                    return Refusal(message: "pattern backtracks catastrophically (PCRE2 \(error == .matchLimit ? "match" : "depth") limit hit on 40 × '\(shown)'); rewrite it with possessive quantifiers or atomic groups")
                }
            }
        }
        return nil
    }
}
