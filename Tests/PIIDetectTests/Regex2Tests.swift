import Testing
@testable import PIIDetect

// MARK: - PCRE2 wrapper

@Suite struct Regex2Tests {
    @Test func compileErrorCarriesMessageAndOffset() {
        #expect(throws: Regex2CompileError.self) { try Regex2("ab(c") }
        do {
            _ = try Regex2("ab(c")
        } catch let error as Regex2CompileError {
            #expect(error.message.contains("parenthesis"))
            #expect(error.offset == 4)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func matchesReturnGroupsAsByteRanges() throws {
        let r = try Regex2("(\\w+)@(\\w+)\\.com")
        let m = try r.matches(in: Array("mail bob@example.com and amy@test.com".utf8))
        #expect(m.count == 2)
        #expect(m[0].range == 5..<20)
        #expect(m[0].groups == [5..<8, 9..<16])
        #expect(m[1].groups[0] == 25..<28)
    }

    @Test func utf8SubjectsAndInvalidBytesAreTolerated() throws {
        let r = try Regex2("é+")
        #expect(try r.matches(in: Array("caféé!".utf8)).map(\.range) == [3..<7])
        // An invalid UTF-8 byte in the subject is skipped, not an error.
        var bytes = Array("x é y".utf8)
        bytes.insert(0xFF, at: 1)
        #expect(try r.matches(in: bytes).count == 1)
    }

    @Test(arguments: [
        ("internal\\.corp\\.example\\.com", "api.example.com", "GET internal.corp.example.com/x", "GET api.example.com/x"),
        ("Bearer (sk-[A-Za-z0-9]+)", "Bearer [MASKED]", "Authorization: Bearer sk-abc123", "Authorization: Bearer [MASKED]"),
        ("(\\d+)-(\\d+)", "$2-$1", "10-20 and 3-4", "20-10 and 4-3"),
        ("(a)|(b)", "[${2}]", "ab", "[][b]"),
        ("x", "$$", "axb", "a$b"),
    ])
    func replaceExpandsGroupReferences(pattern: String, template: String, input: String, expected: String) throws {
        let r = try Regex2(pattern)
        let (out, _) = try r.replace(in: Array(input.utf8), with: template)
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test func emptyMatchesDoNotLoop() throws {
        let r = try Regex2("x*")
        let (out, count) = try r.replace(in: Array("abc".utf8), with: "-")
        #expect(String(decoding: out, as: UTF8.self) == "-a-b-c-")
        #expect(count == 4)
    }

    /// `(a+)+$` on "aaaa…b" backtracks exponentially: the match limit must stop it with a
    /// defined error instead of hanging.
    @Test func catastrophicBacktrackingHitsTheMatchLimit() throws {
        let r = try Regex2("(a+)+$", matchLimit: 100_000)
        let subject = Array(String(repeating: "a", count: 40).utf8) + [UInt8(ascii: "b")]
        #expect(throws: Regex2MatchError.matchLimit) { try r.matches(in: subject) }
    }

    @Test func anchoredPatternsOnlyMatchAtTheOffset() throws {
        let r = try Regex2("\\d+", options: .anchored)
        #expect(try r.firstMatch(in: Array("ab12".utf8), from: 0) == nil)
        #expect(try r.firstMatch(in: Array("ab12".utf8), from: 2)?.range == 2..<4)
    }

    @Test func templateParsing() {
        #expect(Regex2.Template("a$1b${12}c$").highestGroup == 12)
        #expect(Regex2.Template("no groups").highestGroup == 0)
    }
}
