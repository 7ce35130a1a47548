import NIOCore
import PolicyEngine
import Testing

@testable import EgressProxy

// MARK: - Transformations and their compile-time checks

@Suite struct TransformationTests {
    typealias S = InspectionTestSupport

    static let policy = #"""
        transformations:
          - {direction: both, match: "user-(\\d+)", replace: "acct-$1"}
          - {direction: outbound, hosts: ["*.example.com"], set_headers: {X-Sandbox: sb-test}, remove_headers: [X-Debug]}
          - {direction: inbound, match: "internal\\.corp\\.example", replace: "public.example"}
        """#

    @Test("a transformation applies both ways with $1")
    func bothWays() throws {
        let plan = try S.plan(Self.policy)
        var request = plan.request(host: "api.example.com", method: "POST", headers: [("Content-Type", "text/plain")])
        #expect(request.mayChangeLength)
        var headers = [("Content-Type", "text/plain"), ("X-Debug", "1"), ("x-debug", "2")]
        var query: String? = nil
        #expect(request.rewriteHead(&headers, query: &query) == .proceed)
        #expect(headers.contains { $0.0.lowercased() == "x-sandbox" && $0.1 == "sb-test" })
        #expect(!headers.contains { $0.0.lowercased() == "x-debug" })
        let out = S.run(&request, S.bytes("from user-42 to user-7; internal.corp.example"), cuts: [7, 9])
        #expect(S.text(out.output) == "from acct-42 to acct-7; internal.corp.example")
        #expect(request.transformationsApplied == 4)  // two header edits, two replacements

        var response = plan.response(host: "api.example.com", status: 200, headers: [("Content-Type", "application/json")], requestMethod: "POST")
        let back = S.run(&response, S.bytes(#"{"owner":"user-42","host":"internal.corp.example"}"#), cuts: [14])
        #expect(S.text(back.output) == #"{"owner":"acct-42","host":"public.example"}"#)
        #expect(response.transformationsApplied == 2)
    }

    @Test("host scopes limit header edits")
    func scoped() throws {
        let plan = try S.plan(Self.policy)
        var request = plan.request(host: "other.test", method: "GET", headers: [])
        var headers = [("X-Debug", "1")]
        var query: String? = nil
        #expect(request.rewriteHead(&headers, query: &query) == .proceed)
        #expect(headers.count == 1)
    }

    @Test("a match split at every chunk boundary is replaced")
    func splitMatch() throws {
        let plan = try S.plan(Self.policy)
        let body = S.bytes("a user-12345 b")
        for cut in 0...body.count {
            var request = plan.request(host: "x.test", method: "POST", headers: [("Content-Type", "text/plain")])
            #expect(S.text(S.run(&request, body, cuts: [cut]).output) == "a acct-12345 b", "cut at \(cut)")
        }
    }

    // MARK: Compile-time refusals

    struct Refused: CustomTestStringConvertible, Sendable {
        var pattern: String
        var replace = "x"
        var path = "transformations[0].match"
        var says: String
        var testDescription: String { pattern }
    }

    static let refused: [Refused] = [
        Refused(pattern: "(a+)+$", says: "backtrack"),
        Refused(pattern: #"^(\\w+\\s?)*$"#, says: "backtrack"),
        Refused(pattern: "(.*,){20}x", says: "backtrack"),
        Refused(pattern: "(a|a)*b", says: "backtrack"),
        Refused(pattern: "(x+x+)+y", says: "backtrack"),
        Refused(pattern: "(abc", says: "bad pattern"),
        Refused(pattern: "(a)b", replace: "$2", path: "transformations[0].replace", says: "group $2"),
    ]

    @Test("patterns PCRE2 refuses or that backtrack badly are refused at load", arguments: refused)
    func refusedPatterns(_ c: Refused) throws {
        let yaml = "transformations:\n  - {direction: both, match: \"\(c.pattern)\", replace: \"\(c.replace)\"}"
        let error = try #require(S.compileError(yaml))
        let diagnostic = try #require(error.diagnostics.first)
        #expect(diagnostic.path == c.path)
        #expect(diagnostic.message.contains(c.says))
        #expect(diagnostic.file == "test.yaml")
        #expect(diagnostic.line == 3)
    }

    @Test("every refused transformation is reported at once")
    func allReported() throws {
        let yaml = """
            transformations:
              - {direction: both, match: "(a+)+", replace: x}
              - {direction: both, match: "ok", replace: y}
              - {direction: both, match: "([", replace: z}
            """
        let error = try #require(S.compileError(yaml))
        #expect(error.diagnostics.map(\.path) == ["transformations[0].match", "transformations[2].match"])
    }

    @Test("safe patterns are accepted", arguments: [
        #"(\\d{1,3}\\.){3}\\d{1,3}"#, "(?>a+)+b", "(?:a++)+b", "Bearer sk-[A-Za-z0-9]+", "[a-z]+@[a-z]+\\\\.com",
        "(foo|bar)+", "^\\\\s*$",
    ])
    func safePatterns(_ pattern: String) throws {
        #expect(S.compileError("transformations:\n  - {direction: both, match: \"\(pattern)\", replace: x}") == nil)
    }
}
