// MARK: - Secret formats

/// The secret-format patterns and their checks. Each pattern is a separate PCRE2 program
/// starting with a literal prefix, so JIT's first-byte search skips most of the body.
enum SecretPatterns {
    struct Spec {
        var types: Set<EntityType>
        var pattern: String
        /// Literals of which at least one must occur for the pattern to be run.
        var needles: [StaticString]
        var options: Regex2.Options = []
    }

    static let specs: [Spec] = [
        Spec(types: [.AWS_ACCESS_KEY], pattern: #"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"#, needles: ["AKIA", "ASIA"]),
        // The secret access key only next to a label that names it.
        Spec(types: [.AWS_SECRET_KEY],
             pattern: #"(?i:secret)[A-Za-z0-9_.\-]{0,24}["']?\s{0,3}(?:[:=]|=>|,)\s{0,3}["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"#,
             needles: ["ecret", "ECRET"]),
        Spec(types: [.GITHUB_TOKEN], pattern: #"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{50,120})(?![A-Za-z0-9_])"#, needles: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]),
        Spec(types: [.OPENAI_API_KEY, .ANTHROPIC_API_KEY], pattern: #"(?<![A-Za-z0-9_\-])sk-[A-Za-z0-9_\-]{20,250}(?![A-Za-z0-9_\-])"#, needles: ["sk-"]),
        Spec(types: [.SLACK_TOKEN], pattern: #"(?<![A-Za-z0-9_\-])(?:xox(?:e\.xox)?[abposre]-[A-Za-z0-9\-]{10,250}|xapp-\d-[A-Za-z0-9\-]{20,250})(?![A-Za-z0-9_\-])"#, needles: ["xox", "xapp-"]),
        Spec(types: [.SLACK_TOKEN], pattern: #"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{20,200}"#, needles: ["hooks.slack.com"]),
        Spec(types: [.STRIPE_KEY], pattern: #"(?<![A-Za-z0-9_])(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,250}|whsec_[A-Za-z0-9+/=]{24,250})(?![A-Za-z0-9_])"#, needles: ["_live_", "_test_", "whsec_"]),
        Spec(types: [.PRIVATE_KEY], pattern: #"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----"#, needles: ["-----BEGIN "]),
        Spec(types: [.JWT], pattern: #"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,4000}\.eyJ[A-Za-z0-9_\-]{8,8000}\.[A-Za-z0-9_\-]{16,2000}(?![A-Za-z0-9_\-])"#, needles: ["eyJ"]),
    ]
}

enum SecretChecks {
    static func slice(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> ArraySlice<UInt8> {
        Array(UnsafeBufferPointer(rebasing: p[r]))[...]
    }

    static func startsWith(_ s: ArraySlice<UInt8>, _ prefix: StaticString) -> Bool {
        let n = prefix.utf8CodeUnitCount
        guard s.count >= n else { return false }
        let p = prefix.utf8Start
        var k = 0
        while k < n, s[s.startIndex + k] == p[k] { k += 1 }
        return k == n
    }

    static func contains(_ s: ArraySlice<UInt8>, _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard n > 0, s.count >= n else { return false }
        let first = needle.utf8Start[0]
        var i = s.startIndex
        while i + n <= s.endIndex {
            if s[i] == first, startsWith(s[i...], needle) { return true }
            i += 1
        }
        return false
    }

    static func awsAccessKey(_ s: ArraySlice<UInt8>) -> Bool {
        let body = s.dropFirst(4)
        if contains(s, "EXAMPLE") { return false }
        return !SecretHeuristics.isPlaceholder(body)
    }

    static let awsLabelWords = ContextLabel.WordList(["aws", "amazon", "s3_", "s3-", "secretaccesskey", "secret_access_key"])

    /// The label before `secret` must name AWS (`aws_secret_access_key`, `AWS_SECRET`,
    /// `S3_SECRET_KEY`, `SecretAccessKey`).
    static func awsSecretLabel(_ p: UnsafeBufferPointer<UInt8>, matchStart: Int) -> Bool {
        var i = matchStart
        while i > 0, matchStart - i < 24, isWordByte(p[i - 1]) || p[i - 1] == 0x2D || p[i - 1] == 0x2E {
            i -= 1
        }
        return ContextLabel.contains(p, in: i..<min(p.count, matchStart + 24), anyOf: awsLabelWords)
    }

    static func awsSecret(_ s: ArraySlice<UInt8>) -> Bool {
        if contains(s, "EXAMPLE") { return false }
        // Mixed character classes: base64 of random bytes, not hex digests or words.
        let hasUpper = s.contains { $0 >= 0x41 && $0 <= 0x5A }, hasLower = s.contains { $0 >= 0x61 && $0 <= 0x7A }
        let hasDigit = s.contains(where: isDigit)
        guard hasUpper, hasLower, hasDigit else { return false }
        return !SecretHeuristics.isPlaceholder(s)
    }

    static func github(_ s: ArraySlice<UInt8>) -> Bool {
        let body = startsWith(s, "github_pat_") ? s.dropFirst(11) : s.dropFirst(4)
        return !SecretHeuristics.isPlaceholder(body)
    }

    /// `sk-` keys: Anthropic (`sk-ant-api03-`, `sk-ant-admin01-`), OpenAI project, service
    /// account and admin keys, and legacy keys with the `T3BlbkFJ` marker.
    static func skKey(_ s: ArraySlice<UInt8>) -> EntityType? {
        if startsWith(s, "sk-ant-") {
            guard startsWith(s, "sk-ant-api") || startsWith(s, "sk-ant-admin") || startsWith(s, "sk-ant-sid") || startsWith(s, "sk-ant-oat") else { return nil }
            // Prefix up to the second dash after `sk-ant-`.
            guard let dash = s.dropFirst(7).firstIndex(of: 0x2D) else { return nil }
            let body = s[(dash + 1)...]
            guard body.count >= 80, !SecretHeuristics.isPlaceholder(body) else { return nil }
            return .ANTHROPIC_API_KEY
        }
        let marker = contains(s, "T3BlbkFJ")
        for prefix: StaticString in ["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"] where startsWith(s, prefix) {
            let body = s.dropFirst(prefix.utf8CodeUnitCount)
            guard marker || body.count >= 40, !SecretHeuristics.isPlaceholder(body) else { return nil }
            return .OPENAI_API_KEY
        }
        let body = s.dropFirst(3)
        if marker, !SecretHeuristics.isPlaceholder(body) { return .OPENAI_API_KEY }
        // Legacy 48-character keys without the marker.
        if body.count == 48, body.allSatisfy(isAlnum), !SecretHeuristics.isPlaceholder(body),
           body.contains(where: isDigit), body.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) {
            return .OPENAI_API_KEY
        }
        return nil
    }

    static func slack(_ s: ArraySlice<UInt8>) -> Bool {
        if startsWith(s, "https://") {
            // services/T…/B…/secret: workspace and channel ids are upper-case alphanumerics.
            let parts = s.split(separator: 0x2F).map(Array.init)
            guard parts.count >= 6 else { return false }
            let t = parts[parts.count - 3], b = parts[parts.count - 2], secret = parts[parts.count - 1]
            guard t.first == UInt8(ascii: "T") || t.first == UInt8(ascii: "E"), t.count >= 8,
                  b.first == UInt8(ascii: "B") || b.first == UInt8(ascii: "A"), b.count >= 8,
                  secret.count >= 16 else { return false }
            return !SecretHeuristics.isPlaceholder(secret[...]) && !SecretHeuristics.isPlaceholder(t.dropFirst())
        }
        // Real tokens carry numeric team/user ids after the prefix.
        guard let dash = s.firstIndex(of: 0x2D) else { return false }
        let body = s[(dash + 1)...]
        guard body.filter(isDigit).count >= 4 else { return false }
        return !SecretHeuristics.isPlaceholder(body)
    }

    static func stripe(_ s: ArraySlice<UInt8>) -> Bool {
        let body: ArraySlice<UInt8>
        if startsWith(s, "whsec_") { body = s.dropFirst(6) } else { body = s.dropFirst(8) }
        guard body.count >= 16 else { return false }
        return !SecretHeuristics.isPlaceholder(body)
    }

    static func jwt(_ s: ArraySlice<UInt8>) -> Bool {
        let parts = s.split(separator: 0x2E)
        guard parts.count == 3 else { return false }
        return !SecretHeuristics.isPlaceholder(parts[2])
    }
}
