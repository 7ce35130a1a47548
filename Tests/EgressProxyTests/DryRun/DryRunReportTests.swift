import Foundation
import Testing
@testable import EgressProxy

@Suite struct DryRunReportTests {
    private func parse(_ output: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8))
        return try #require(object as? [String: Any])
    }

    // MARK: --against

    /// The acceptance fixture: v2 drops files.pythonhosted.org from the allowlist and moves
    /// ANTHROPIC_API_KEY to another host. Exactly the entries to those hosts change.
    @Test func againstListsExactlyTheChangedEntries() throws {
        let (output, summary) = try HARFixtures.report(har: "llm-sdk-capture.har", policy: "policy-llm-v2.yaml", against: "policy-llm.yaml")
        let json = try parse(output)
        let entries = try #require(json["entries"] as? [[String: Any]])
        #expect(entries.compactMap { $0["index"] as? Int } == [1, 4, 8])

        let pip = entries[0]
        #expect(pip["url"] as? String == "https://files.pythonhosted.org:443/")
        #expect(pip["decision"] as? String == "deny")
        #expect(pip["reason"] as? String == "cidr_denied")
        #expect(pip["rule"] as? String == "network.allow_internet_access")
        let before = try #require(pip["before"] as? [String: Any])
        #expect(before["decision"] as? String == "allow")
        #expect(before["reason"] as? String == "allowed")
        #expect(before["rule"] as? String == "network.allow_out[3]")

        for anthropic in entries[1...] {
            #expect(anthropic["reason"] as? String == "secret_host_mismatch")
            #expect(anthropic["rule"] as? String == "secrets.entries.ANTHROPIC_API_KEY")
            #expect(anthropic["secrets"] as? [String] == ["ANTHROPIC_API_KEY"])
            let b = try #require(anthropic["before"] as? [String: Any])
            #expect(b["decision"] as? String == "allow")
            #expect(b["rule"] as? String == "rules[1]")
        }

        let s = try #require(json["summary"] as? [String: Any])
        #expect(s["total"] as? Int == 10)
        #expect(s["changed"] as? Int == 3)
        #expect(s["newly_denied_hosts"] as? [String] == ["api.anthropic.com", "files.pythonhosted.org"])
        #expect(summary.deny == 7)
        #expect(summary.allow == 3)
    }

    @Test func againstTheSamePolicyListsNothing() throws {
        let (output, summary) = try HARFixtures.report(har: "llm-sdk-capture.har", policy: "policy-llm.yaml", against: "policy-llm.yaml")
        let entries = try #require(try parse(output)["entries"] as? [[String: Any]])
        #expect(entries.isEmpty)
        #expect(summary.changed == 0)
        #expect(summary.newlyDeniedHosts.isEmpty)
    }

    @Test func againstTableShowsOnlyChangedRows() throws {
        let (output, _) = try HARFixtures.report(har: "llm-sdk-capture.har", policy: "policy-llm-v2.yaml", against: "policy-llm.yaml", format: .table)
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].hasPrefix("#"))
        #expect(lines[0].contains("BEFORE") && lines[0].contains("AFTER"))
        let rows = lines.dropFirst().prefix(while: { !$0.isEmpty })
        #expect(rows.map { String($0.prefix(while: { $0 != " " })) } == ["1", "4", "8"])
        #expect(rows.first?.contains("allow allowed") == true)
        #expect(output.contains("changed: 3 entries; newly denied hosts: api.anthropic.com, files.pythonhosted.org"))
        // Columns line up: every row has its URL where the header has URL.
        let urlColumn = try #require(lines[0].range(of: "URL")).lowerBound.utf16Offset(in: lines[0])
        for row in rows {
            #expect(row.dropFirst(urlColumn).hasPrefix("https://"), "\(row)")
        }
    }

    // MARK: JSON shape (SPEC 9)

    @Test func jsonShapeIsTheSpecs() throws {
        let (output, summary) = try HARFixtures.report(har: "chrome-session.har", policy: "policy-browser.yaml")
        let json = try parse(output)
        #expect(Set(json.keys) == ["entries", "summary"])
        let entries = try #require(json["entries"] as? [[String: Any]])
        #expect(entries.count == 10)
        for e in entries {
            #expect(Set(["index", "method", "url", "decision", "reason", "rule", "secrets", "pii"]).isSubset(of: e.keys))
            #expect(e["before"] == nil)
        }
        // Query values are removed from printed URLs.
        #expect(entries[2]["url"] as? String == "https://api.github.com/repos/octo-org/hello-world/pulls?state=&per_page=")
        #expect(entries[2]["secrets"] as? [String] == ["GITHUB_TOKEN"])
        #expect(entries[9]["unresolved"] as? Bool == true)
        let s = try #require(json["summary"] as? [String: Any])
        #expect(s["total"] as? Int == 10)
        #expect(s["allow"] as? Int == 6)
        #expect(s["deny"] as? Int == 3)
        #expect(s["skipped"] as? Int == 1)
        #expect(s["by_reason"] as? [String: Int] == ["allowed": 6, "rule_denied": 1, "host_denied": 1, "special_range": 1])
        #expect(s["changed"] == nil)
        #expect(summary.unresolved == 1)
    }

    @Test func tableForPeople() throws {
        let (output, _) = try HARFixtures.report(har: "mitmproxy-export.har", policy: "policy-agent.yaml", format: .table)
        #expect(output.hasPrefix("#  METHOD  URL"))
        #expect(!output.contains("\u{1B}["))  // no colour unless asked
        #expect(output.contains("9 entries: 6 allow, 3 deny"))
        #expect(output.contains("by reason: allowed 6, host_denied 1, rule_denied 1, special_range 1"))
        #expect(output.contains("1 unresolved"))
        // Query values never printed (the chat completion's api-version value).
        #expect(!output.contains("2024-02-01"))
    }

    @Test func colourOnlyWhenAsked() throws {
        let session = try DryRunSession(policy: try HARFixtures.policy("policy-agent.yaml"))
        let reader = try HARReader(path: HARFixtures.path("mitmproxy-export.har"))
        var output = ""
        _ = try DryRunReport.run(reader: reader, session: session, format: .table, color: true) { output += $0 }
        #expect(output.contains("\u{1B}[31mdeny"))
        #expect(output.contains("\u{1B}[32mallow"))
    }

    // MARK: --fail-on-deny

    @Test(arguments: [
        ("chrome-session.har", "policy-browser.yaml", false, Int32(0)),
        ("chrome-session.har", "policy-browser.yaml", true, Int32(3)),
    ])
    func failOnDeny(har: String, policy: String, failOnDeny: Bool, status: Int32) throws {
        let (_, summary) = try HARFixtures.report(har: har, policy: policy)
        #expect(summary.exitStatus(failOnDeny: failOnDeny) == status)
    }

    @Test func failOnDenyPassesWhenNothingIsDenied() throws {
        // A one-entry capture of an allowed request.
        let path = HARFixtures.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"log":{"version":"1.2","entries":[{"request":{"method":"GET","url":"https://pypi.org/simple/"},"serverIPAddress":"151.101.0.223"}]}}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        let (_, summary) = try HARFixtures.report(har: path, policy: "policy-agent.yaml")
        #expect(summary.deny == 0)
        #expect(summary.exitStatus(failOnDeny: true) == 0)
    }

    @Test func truncatedCaptureIsReportedInTheSummary() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: HARFixtures.path("llm-sdk-capture.har")))
        let path = HARFixtures.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: path))
        let (output, summary) = try HARFixtures.report(har: path, policy: "policy-llm.yaml")
        let s = try #require(try parse(output)["summary"] as? [String: Any])
        #expect((s["truncated"] as? String)?.contains("cut short") == true)
        #expect(summary.total > 0 && summary.total < 10)
    }

    @Test(arguments: [
        ("https://h.test/a?token=abc&x=1#frag", "https://h.test/a?token=&x="),
        ("https://h.test/a", "https://h.test/a"),
        ("http://h.test/?q", "http://h.test/?q="),
    ])
    func displayURLDropsQueryValues(url: String, shown: String) {
        #expect(DryRunRow.displayURL(url) == shown)
    }
}

@Suite struct DryRunReportErrorTests {
    /// A broken entry stops the run, but the JSON printed so far is still one valid object
    /// that names the entry.
    @Test func brokenHARStillGivesValidJSON() throws {
        let session = try DryRunSession(policy: try HARFixtures.policy("policy-agent.yaml"))
        let reader = try HARReader(path: HARFixtures.path("broken-entry.har"))
        var output = ""
        let error = #expect(throws: HARError.self) {
            _ = try DryRunReport.run(reader: reader, session: session, format: .json) { output += $0 }
        }
        #expect(error?.entryIndex == 2)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        #expect((json["entries"] as? [Any])?.count == 2)
        let summary = try #require(json["summary"] as? [String: Any])
        #expect((summary["error"] as? String)?.hasPrefix("entries[2]: invalid JSON") == true)
    }
}
