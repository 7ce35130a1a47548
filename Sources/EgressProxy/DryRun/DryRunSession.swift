import PolicyEngine

// MARK: - DryRunRow

/// One entry's result: the decision under `--policy` and, with `--against`, under the old
/// policy.
public struct DryRunRow: Sendable {
    public var index: Int
    public var method: String
    /// The entry's URL with query values removed (`?key=&other=`), as audit records show paths.
    public var url: String
    /// The normalised target host ("" when the URL has none).
    public var host: String
    public var outcome: DryRunOutcome
    /// The decision under the `--against` policy.
    public var before: DryRunOutcome?

    /// Whether the two policies decide differently: verdict, reason, rule, or the secrets
    /// that would be substituted (or refused).
    public var changed: Bool {
        guard let before else { return false }
        return before.verdict != outcome.verdict || before.reason != outcome.reason
            || before.rule != outcome.rule || before.secrets != outcome.secrets
    }

    /// `https://host/path?key=&other=`: keys kept, values (tokens, PII) removed; no fragment.
    public static func displayURL(_ url: String) -> String {
        if url.lowercased().hasPrefix("data:") {
            // The payload is data, not an address: show the media type only.
            return String(url.prefix(while: { $0 != "," })) + ",…"
        }
        var text = Substring(url)
        if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
        guard let q = text.firstIndex(of: "?") else { return String(text) }
        let keys = text[text.index(after: q)...].split(separator: "&").map { pair in
            String(pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") + "="
        }
        return String(text[..<q]) + "?" + keys.joined(separator: "&")
    }
}

// MARK: - DryRunSession

/// Decides entries under a policy and, optionally, an old one to compare with.
public struct DryRunSession: Sendable {
    public let runner: DryRunner
    public let baseline: DryRunner?

    public init(policy: CompiledPolicy, against: CompiledPolicy? = nil, resolve: [String: [IPAddress]] = [:]) throws(PolicyLoadError) {
        runner = try DryRunner(policy: policy, resolve: resolve)
        if let against {
            baseline = try DryRunner(policy: against, resolve: resolve)
        } else {
            baseline = nil
        }
    }

    public func evaluate(_ entry: HAREntry) -> DryRunRow {
        DryRunRow(
            index: entry.index, method: entry.method, url: DryRunRow.displayURL(entry.url),
            host: Self.host(of: entry), outcome: runner.decide(entry), before: baseline?.decide(entry))
    }

    /// The host an entry is for (CONNECT authority or URL host), normalised.
    static func host(of entry: HAREntry) -> String {
        var url = entry.url
        let lower = url.lowercased()
        if lower.hasPrefix("wss://") { url = "https://" + url.dropFirst(6) } else if lower.hasPrefix("ws://") { url = "http://" + url.dropFirst(5) }
        if let target = RequestTarget.parseAbsolute(url) { return target.host }
        if entry.method == "CONNECT", let (host, _) = RequestTarget.parseAuthority(url, defaultPort: 443) { return host }
        return ""
    }
}

// MARK: - DryRunSummary

/// Counts over every entry (also with `--against`, where only changed entries are listed).
public struct DryRunSummary: Sendable, Equatable {
    public var total = 0
    public var allow = 0
    public var deny = 0
    /// Entries the proxy would never see (`data:`, `blob:`, ...).
    public var skipped = 0
    /// Entries decided without an address (host rules alone).
    public var unresolved = 0
    /// Reason code → entries (`allowed` included).
    public var byReason: [String: Int] = [:]
    /// With `--against`: entries whose decision changes.
    public var changed = 0
    /// With `--against`: hosts with an entry allowed before and denied now.
    public var newlyDeniedHosts: Set<String> = []
    /// Set when the HAR file ended early.
    public var truncation: HARReader.Truncation?

    public init() {}

    /// The process exit status (SPEC 9): 3 when `failOnDeny` and an entry would be denied.
    public func exitStatus(failOnDeny: Bool) -> Int32 {
        failOnDeny && deny > 0 ? 3 : 0
    }

    public mutating func add(_ row: DryRunRow) {
        total += 1
        switch row.outcome.verdict {
        case "allow": allow += 1
        case "deny": deny += 1
        default: skipped += 1
        }
        if row.outcome.decision != nil { byReason[row.outcome.reason, default: 0] += 1 }
        if row.outcome.unresolved { unresolved += 1 }
        if row.changed {
            changed += 1
            if row.outcome.isDenied, let before = row.before, before.decision?.isAllowed == true, !row.host.isEmpty {
                newlyDeniedHosts.insert(row.host)
            }
        }
    }
}
