import CPCRE2

// MARK: - Errors

/// A pattern that PCRE2 refused to compile: the library's own message and the byte offset
/// in the pattern where it stopped, so a policy error can point at the spot.
public struct Regex2CompileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// PCRE2's error code (positive for compile errors).
    public var code: Int32
    /// PCRE2's message, e.g. "missing closing parenthesis".
    public var message: String
    /// Byte offset into the pattern.
    public var offset: Int

    public var description: String { "\(message) at offset \(offset)" }
}

/// Why a match attempt stopped without an answer. Matching never hangs: every attempt is
/// bounded by the match limit (and by the depth limit when PCRE2 runs without JIT).
public enum Regex2MatchError: Error, Sendable, Equatable {
    /// The match limit was reached (catastrophic backtracking).
    case matchLimit
    /// The depth (backtracking memory) limit or the JIT stack was exhausted.
    case depthLimit
    /// Any other negative PCRE2 return code.
    case other(Int32)

    init(code: Int32) {
        switch code {
        case PCRE2_ERROR_MATCHLIMIT: self = .matchLimit
        case PCRE2_ERROR_DEPTHLIMIT, PCRE2_ERROR_JIT_STACKLIMIT, PCRE2_ERROR_HEAPLIMIT: self = .depthLimit
        default: self = .other(code)
        }
    }
}

// MARK: - Regex2

/// A compiled PCRE2 pattern (UTF mode, invalid UTF-8 tolerated, JIT-compiled when the
/// platform supports it), shared read-only between threads.
///
/// Compiled code and the match context are immutable after `init`, which is what PCRE2
/// requires for concurrent use; per-match state lives in a ``Regex2/Scratch`` that each
/// caller (thread) owns.
public final class Regex2: @unchecked Sendable {
    /// Compile options beyond the defaults (`UTF | MATCH_INVALID_UTF`).
    public struct Options: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let caseless = Options(rawValue: PCRE2_CASELESS)
        public static let dotAll = Options(rawValue: PCRE2_DOTALL)
        public static let multiline = Options(rawValue: PCRE2_MULTILINE)
        /// Matches only at the start offset. Set at compile time: the JIT ignores
        /// `PCRE2_ANCHORED` passed to a match call.
        public static let anchored = Options(rawValue: PCRE2_ANCHORED)
    }

    /// Default bound on backtracking steps per match attempt.
    public static let defaultMatchLimit: UInt32 = 2_000_000
    /// Default bound on backtracking depth (interpreter only; JIT uses its stack bound).
    public static let defaultDepthLimit: UInt32 = 10_000

    /// The pattern text as given.
    public let pattern: String
    /// Number of capturing groups.
    public let captureCount: Int
    /// Whether the JIT compiled this pattern (otherwise the interpreter runs it).
    public let isJIT: Bool

    private let code: OpaquePointer
    private let matchContext: OpaquePointer

    /// Compiles `pattern`; throws ``Regex2CompileError`` with PCRE2's message and offset.
    public init(
        _ pattern: String,
        options: Options = [],
        matchLimit: UInt32 = Regex2.defaultMatchLimit,
        depthLimit: UInt32 = Regex2.defaultDepthLimit
    ) throws {
        self.pattern = pattern
        var errorCode: Int32 = 0
        var errorOffset: Int = 0
        let flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | options.rawValue
        let utf8 = Array(pattern.utf8)
        let compiled = utf8.withUnsafeBufferPointer { buf in
            pcre2_compile_8(buf.baseAddress, buf.count, flags, &errorCode, &errorOffset, nil)
        }
        guard let compiled else {
            throw Regex2CompileError(code: errorCode, message: Regex2.message(for: errorCode), offset: errorOffset)
        }
        guard let context = pcre2_match_context_create_8(nil) else {
            pcre2_code_free_8(compiled)
            throw Regex2CompileError(code: 0, message: "out of memory", offset: 0)
        }
        pcre2_set_match_limit_8(context, matchLimit)
        pcre2_set_depth_limit_8(context, depthLimit)
        code = compiled
        matchContext = context
        isJIT = pcre2_jit_compile_8(compiled, PCRE2_JIT_COMPLETE) == 0
        var count: UInt32 = 0
        pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_CAPTURECOUNT), &count)
        captureCount = Int(count)
    }

    deinit {
        pcre2_match_context_free_8(matchContext)
        pcre2_code_free_8(code)
    }

    static func message(for code: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pcre2_get_error_message_8(code, &buffer, buffer.count)
        guard n > 0 else { return "PCRE2 error \(code)" }
        return String(decoding: buffer[0..<Int(n)], as: UTF8.self)
    }

    // MARK: Scratch

    /// Per-thread match state (PCRE2 match data). Not `Sendable`: one owner at a time.
    public final class Scratch {
        let matchData: OpaquePointer
        let pairs: Int

        /// Scratch able to hold `captureCount` groups (use the largest among the
        /// patterns it will serve).
        public init(captureCount: Int = 16) {
            pairs = max(captureCount, 0) + 1
            guard let data = pcre2_match_data_create_8(UInt32(pairs), nil) else {
                fatalError("PCRE2 could not allocate match data (out of memory)")
            }
            matchData = data
        }

        deinit { pcre2_match_data_free_8(matchData) }
    }

    // MARK: Matching

    /// One match: the overall range and the range of every group (`nil` when unset),
    /// byte offsets into the subject.
    public struct Match: Sendable, Equatable {
        public var range: Range<Int>
        public var groups: [Range<Int>?]
    }

    /// Runs one match attempt starting at `offset`. Returns `nil` on no match.
    @inline(__always)
    func rawMatch(
        _ subject: UnsafeRawBufferPointer, from offset: Int, options: UInt32 = 0, scratch: Scratch
    ) throws(Regex2MatchError) -> UnsafeMutablePointer<Int>? {
        guard offset <= subject.count else { return nil }
        let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? Regex2.emptySubject
        let rc: Int32
        if isJIT {
            rc = pcre2_jit_match_8(code, base, subject.count, offset, options, scratch.matchData, matchContext)
        } else {
            rc = pcre2_match_8(code, base, subject.count, offset, options, scratch.matchData, matchContext)
        }
        if rc == PCRE2_ERROR_NOMATCH { return nil }
        if rc < 0 { throw Regex2MatchError(code: rc) }
        return pcre2_get_ovector_pointer_8(scratch.matchData)
    }

    nonisolated(unsafe) private static let emptySubject: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    /// Calls `body` with the overall range and the ovector of every non-overlapping match,
    /// left to right, until `body` returns false. Stops with an error at the first
    /// limit hit.
    @inline(__always)
    func forEachMatch(
        in subject: UnsafeRawBufferPointer, from start: Int = 0, scratch: Scratch,
        _ body: (Range<Int>, UnsafeMutablePointer<Int>) -> Bool
    ) throws(Regex2MatchError) {
        var offset = start
        var afterEmpty = false
        while offset <= subject.count {
            // After an empty match, look for a non-empty match at the same spot (as Perl
            // does) or any match further on. (The JIT ignores PCRE2_ANCHORED at match
            // time, so the interpreter's anchored retry is not used.)
            let options: UInt32 = afterEmpty ? PCRE2_NOTEMPTY_ATSTART : 0
            guard let ov = try rawMatch(subject, from: offset, options: options, scratch: scratch) else { return }
            let s = ov[0], e = ov[1]
            if !body(s..<e, ov) { return }
            offset = e
            afterEmpty = e == s
        }
    }

    static func nextCharacter(_ subject: UnsafeRawBufferPointer, after i: Int) -> Int {
        var j = i + 1
        while j < subject.count, subject[j] & 0xC0 == 0x80 { j += 1 }
        return j
    }

    /// All matches in `subject` with their groups.
    public func matches(in subject: [UInt8], scratch: Scratch? = nil) throws(Regex2MatchError) -> [Match] {
        let scratch = scratch ?? Scratch(captureCount: captureCount)
        let groupCount = captureCount
        var out: [Match] = []
        let result: Result<Void, Regex2MatchError> = subject.withUnsafeBytes { raw in
            Result { () throws(Regex2MatchError) in try forEachMatch(in: raw, scratch: scratch) { range, ov in
                var groups: [Range<Int>?] = []
                groups.reserveCapacity(groupCount)
                if groupCount > 0 {
                    for g in 1...groupCount {
                        let s = ov[2 * g], e = ov[2 * g + 1]
                        groups.append(s == Int.max || s < 0 || e < s ? nil : s..<e)
                    }
                }
                out.append(Match(range: range, groups: groups))
                return true
            } }
        }
        try result.get()
        return out
    }

    /// The first match at or after `offset`, or `nil`.
    public func firstMatch(in subject: [UInt8], from offset: Int = 0, scratch: Scratch? = nil) throws(Regex2MatchError) -> Match? {
        let scratch = scratch ?? Scratch(captureCount: captureCount)
        let groupCount = captureCount
        let result: Result<Match?, Regex2MatchError> = subject.withUnsafeBytes { raw in
          Result { () throws(Regex2MatchError) -> Match? in
            guard let ov = try rawMatch(raw, from: offset, scratch: scratch) else { return nil }
            var groups: [Range<Int>?] = []
            if groupCount > 0 {
                for g in 1...groupCount {
                    let s = ov[2 * g], e = ov[2 * g + 1]
                    groups.append(s == Int.max || s < 0 || e < s ? nil : s..<e)
                }
            }
            return Match(range: ov[0]..<ov[1], groups: groups)
          }
        }
        return try result.get()
    }

    /// Whether the pattern matches anywhere in `subject`.
    public func isMatch(_ subject: [UInt8], scratch: Scratch? = nil) throws(Regex2MatchError) -> Bool {
        try firstMatch(in: subject, scratch: scratch) != nil
    }

    // MARK: Replacement

    /// A parsed replacement template: literal bytes and group references (`$1`, `${12}`,
    /// `$0` for the whole match, `$$` for a dollar sign).
    public struct Template: Sendable, Equatable {
        enum Piece: Sendable, Equatable { case literal([UInt8]), group(Int) }
        let pieces: [Piece]

        /// Parses `text`; a `$` not followed by a digit, `{digits}` or `$` stays literal.
        public init(_ text: String) {
            var pieces: [Piece] = []
            var literal: [UInt8] = []
            let b = Array(text.utf8)
            var i = 0
            func flush() { if !literal.isEmpty { pieces.append(.literal(literal)); literal = [] } }
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "$"), i + 1 < b.count {
                    let n = b[i + 1]
                    if n == UInt8(ascii: "$") { literal.append(c); i += 2; continue }
                    if n >= 0x30 && n <= 0x39 {
                        var j = i + 1, v = 0
                        while j < b.count, b[j] >= 0x30, b[j] <= 0x39, v < 1000 { v = v * 10 + Int(b[j] - 0x30); j += 1 }
                        flush(); pieces.append(.group(v)); i = j; continue
                    }
                    if n == UInt8(ascii: "{") {
                        var j = i + 2, v = 0, digits = 0
                        while j < b.count, b[j] >= 0x30, b[j] <= 0x39, v < 1000 { v = v * 10 + Int(b[j] - 0x30); j += 1; digits += 1 }
                        if digits > 0, j < b.count, b[j] == UInt8(ascii: "}") {
                            flush(); pieces.append(.group(v)); i = j + 1; continue
                        }
                    }
                }
                literal.append(c)
                i += 1
            }
            flush()
            self.pieces = pieces
        }

        /// The highest group number the template refers to.
        public var highestGroup: Int {
            pieces.reduce(0) { if case .group(let g) = $1 { return max($0, g) } else { return $0 } }
        }
    }

    /// Replaces every match in `subject` with `template` (`$1` etc. expand to the group's
    /// text; unset groups expand to nothing). Returns the new bytes and the number of
    /// replacements.
    public func replace(in subject: [UInt8], with template: Template, scratch: Scratch? = nil) throws(Regex2MatchError) -> (bytes: [UInt8], count: Int) {
        let scratch = scratch ?? Scratch(captureCount: captureCount)
        var out: [UInt8] = []
        out.reserveCapacity(subject.count)
        var last = 0
        var count = 0
        let groupCount = captureCount
        let result: Result<Void, Regex2MatchError> = subject.withUnsafeBytes { raw in
          Result { () throws(Regex2MatchError) in
            try forEachMatch(in: raw, scratch: scratch) { range, ov in
                out.append(contentsOf: raw[last..<range.lowerBound])
                for piece in template.pieces {
                    switch piece {
                    case .literal(let l): out.append(contentsOf: l)
                    case .group(let g):
                        guard g <= groupCount else { continue }
                        let s = ov[2 * g], e = ov[2 * g + 1]
                        if s != Int.max, s >= 0, e >= s { out.append(contentsOf: raw[s..<e]) }
                    }
                }
                last = range.upperBound
                count += 1
                return true
            }
          }
        }
        try result.get()
        out.append(contentsOf: subject[last...])
        return (out, count)
    }

    /// Convenience: replaces with a template string.
    public func replace(in subject: [UInt8], with template: String) throws(Regex2MatchError) -> (bytes: [UInt8], count: Int) {
        try replace(in: subject, with: Template(template))
    }
}
