import Foundation
import NIOCore
import Testing

@testable import EgressProxy

@Suite("PlaceholderSubstituter")
struct PlaceholderSubstituterTests {
    typealias S = SecretsTestSupport
    typealias Secret = (
        name: String, placeholder: [UInt8], value: [UInt8], allowed: Bool,
        injectIn: Set<PlaceholderSubstituter.Location>, headerNames: Set<String>?
    )

    static let openAI: Secret = (
        name: "OPENAI_API_KEY", placeholder: S.bytes("PH_OPENAI_API_KEY"), value: S.bytes("sk-proj-REAL123"),
        allowed: true, injectIn: [.headers], headerNames: ["Authorization"]
    )
    static let github: Secret = (
        name: "GITHUB_TOKEN", placeholder: S.bytes("PH_GITHUB_TOKEN"), value: S.bytes("ghp_REAL/+ &=x"),
        allowed: true, injectIn: [.headers, .query, .body], headerNames: nil
    )
    static let stripe: Secret = (
        name: "STRIPE_KEY", placeholder: S.bytes("PH_STRIPE_KEY"), value: S.bytes("sk_live_REAL"),
        allowed: false, injectIn: [.headers, .query, .body], headerNames: nil
    )
    static let bodyOnly: Secret = (
        name: "BODY_ONLY", placeholder: S.bytes("PH_BODY_ONLY"), value: S.bytes("body-REAL-value"),
        allowed: true, injectIn: [.body], headerNames: nil
    )

    static func substituter() -> PlaceholderSubstituter {
        PlaceholderSubstituter([openAI, github, stripe, bodyOnly])
    }

    // MARK: Headers

    @Test func allowedPlaceholderInAllowedHeaderIsReplaced() {
        let (value, substituted, refused) = Self.substituter()
            .substituteHeader(name: "authorization", value: "Bearer PH_OPENAI_API_KEY")
        #expect(value == "Bearer sk-proj-REAL123")
        #expect(substituted == ["OPENAI_API_KEY"])
        #expect(refused.isEmpty)
    }

    struct HeaderRow: Sendable, CustomTestStringConvertible {
        let name: String
        let replaced: Bool
        var testDescription: String { "\(name): \(replaced)" }
    }

    @Test("header_names are compared case-insensitively and filter", arguments: [
        HeaderRow(name: "Authorization", replaced: true),
        HeaderRow(name: "AUTHORIZATION", replaced: true),
        HeaderRow(name: "authorization", replaced: true),
        HeaderRow(name: "X-Api-Key", replaced: false),
        HeaderRow(name: "Proxy-Authorization", replaced: false),
    ])
    func headerNamesFilter(_ row: HeaderRow) {
        let (value, substituted, refused) = Self.substituter().substituteHeader(name: row.name, value: "PH_OPENAI_API_KEY")
        #expect(value == (row.replaced ? "sk-proj-REAL123" : "PH_OPENAI_API_KEY"))
        #expect(substituted == (row.replaced ? ["OPENAI_API_KEY"] : []))
        #expect(refused.isEmpty)
    }

    @Test func withoutHeaderNamesEveryHeaderIsSubstituted() {
        let (value, substituted, _) = Self.substituter().substituteHeader(name: "X-Token", value: "t=PH_GITHUB_TOKEN;PH_GITHUB_TOKEN")
        #expect(value == "t=ghp_REAL/+ &=x;ghp_REAL/+ &=x")
        #expect(substituted == ["GITHUB_TOKEN"])
    }

    @Test func allowedButNotInjectedInHeadersStaysAndIsNotRefused() {
        let (value, substituted, refused) = Self.substituter().substituteHeader(name: "X-Body", value: "PH_BODY_ONLY")
        #expect(value == "PH_BODY_ONLY")
        #expect(substituted.isEmpty)
        #expect(refused.isEmpty)
    }

    @Test func notAllowedPlaceholderIsRefusedAndLeftAsIs() {
        let (value, substituted, refused) = Self.substituter()
            .substituteHeader(name: "Authorization", value: "Bearer PH_STRIPE_KEY PH_OPENAI_API_KEY")
        #expect(value == "Bearer PH_STRIPE_KEY sk-proj-REAL123")
        #expect(substituted == ["OPENAI_API_KEY"])
        #expect(refused == ["STRIPE_KEY"])
    }

    @Test func valueWithLineBreakIsNeverPutInAHeader() {
        let substituter = PlaceholderSubstituter([(
            name: "MULTILINE", placeholder: S.bytes("PH_MULTILINE"), value: S.bytes("abc\r\nX-Evil: 1"),
            allowed: true, injectIn: [.headers], headerNames: nil
        )])
        let (value, substituted, refused) = substituter.substituteHeader(name: "X-Key", value: "PH_MULTILINE")
        #expect(value == "PH_MULTILINE")
        #expect(substituted.isEmpty)
        #expect(refused == ["MULTILINE"])
    }

    @Test func longerPlaceholderWinsOverItsPrefix() {
        let substituter = PlaceholderSubstituter([
            (name: "A", placeholder: S.bytes("PH_KEY"), value: S.bytes("value-a"), allowed: true, injectIn: [.headers], headerNames: nil),
            (name: "AB", placeholder: S.bytes("PH_KEY_2"), value: S.bytes("value-ab"), allowed: true, injectIn: [.headers], headerNames: nil),
        ])
        let (value, substituted, _) = substituter.substituteHeader(name: "X", value: "PH_KEY_2,PH_KEY")
        #expect(value == "value-ab,value-a")
        #expect(substituted == ["A", "AB"])
    }

    // MARK: Query

    /// The decoded value of `name` in `query`, as a server would read it (`&`-separated pairs,
    /// percent-decoded).
    static func decodedQueryValue(_ query: String, _ name: String) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.first.map(String.init) == name else { continue }
            return parts.count > 1 ? String(parts[1]).removingPercentEncoding : ""
        }
        return nil
    }

    @Test func rawPlaceholderInQueryIsReplacedPercentEncoded() {
        let (query, substituted, refused) = Self.substituter().substituteQuery("a=1&token=PH_GITHUB_TOKEN&b=2")
        #expect(query == "a=1&token=ghp_REAL%2F%2B%20%26%3Dx&b=2")
        #expect(substituted == ["GITHUB_TOKEN"])
        #expect(refused.isEmpty)
        // Round trip: the server decodes exactly the real value, and the other parameters survive.
        #expect(Self.decodedQueryValue(query, "token") == "ghp_REAL/+ &=x")
        #expect(Self.decodedQueryValue(query, "a") == "1")
        #expect(Self.decodedQueryValue(query, "b") == "2")
    }

    @Test func percentEncodedPlaceholderIsFound() {
        let substituter = PlaceholderSubstituter([(
            name: "SPACED", placeholder: S.bytes("PH SPACED/1"), value: S.bytes("v@l ue"),
            allowed: true, injectIn: [.query], headerNames: nil
        )])
        for query in ["k=PH%20SPACED%2F1", "k=PH%20SPACED%2f1", "k=PH SPACED/1"] {
            let (out, substituted, _) = substituter.substituteQuery(query)
            #expect(out == "k=v%40l%20ue", "\(query)")
            #expect(substituted == ["SPACED"])
            #expect(Self.decodedQueryValue(out, "k") == "v@l ue")
        }
    }

    @Test func queryOnlyForSecretsWithQueryInInjectIn() {
        let (query, substituted, refused) = Self.substituter().substituteQuery("k=PH_OPENAI_API_KEY&s=PH_STRIPE_KEY")
        #expect(query == "k=PH_OPENAI_API_KEY&s=PH_STRIPE_KEY")
        #expect(substituted.isEmpty)
        #expect(refused == ["STRIPE_KEY"])
    }

    // MARK: Body

    @Test func bodyStreamReplacesAllowedBodySecretsAtEverySplit() {
        let body = S.bytes("{\"a\":\"PH_BODY_ONLY\",\"b\":\"PH_GITHUB_TOKEN\",\"c\":\"PH_OPENAI_API_KEY\",\"d\":\"PH_STRIPE_KEY\"}")
        let expected = S.bytes("{\"a\":\"body-REAL-value\",\"b\":\"ghp_REAL/+ &=x\",\"c\":\"PH_OPENAI_API_KEY\",\"d\":\"PH_STRIPE_KEY\"}")
        let substituter = Self.substituter()
        #expect(substituter.substitutesInBody)
        for cut in 0...body.count {
            var stream = substituter.makeBodyStream()
            #expect(S.run(&stream, body, cuts: [cut]) == expected, "cut at \(cut)")
            #expect(stream.matchedLabels == ["GITHUB_TOKEN", "BODY_ONLY"])
        }
    }

    @Test func refusedPlaceholderIsDetectedWhereverTheBodyIsSplit() {
        let body = S.bytes("prefix PH_STRIPE_KEY suffix")
        let substituter = Self.substituter()
        #expect(substituter.detectsRefused)
        for first in 0...body.count {
            for second in first...body.count {
                var detector = substituter.makeRefusalDetector()
                detector.feed(S.buffer(Array(body[..<first])))
                detector.feed(S.buffer(Array(body[first..<second])))
                detector.feed(S.buffer(Array(body[second...])))
                detector.finish()
                #expect(detector.found == ["STRIPE_KEY"], "cuts at \(first), \(second)")
            }
        }
    }

    @Test func refusedPlaceholderCutByTheEndIsNotReported() {
        var detector = Self.substituter().makeRefusalDetector()
        detector.feed(S.buffer("PH_STRIPE_KE"))
        detector.finish()
        #expect(detector.found.isEmpty)
    }

    @Test func findPlaceholdersReportsOnlyRefusedSecrets() {
        let substituter = Self.substituter()
        #expect(substituter.findPlaceholders(in: S.buffer("PH_GITHUB_TOKEN PH_STRIPE_KEY")) == ["STRIPE_KEY"])
        #expect(substituter.findPlaceholders(in: S.buffer("nothing here")).isEmpty)
    }

    @Test func everythingAllowedNeedsNoRefusalScan() {
        let substituter = PlaceholderSubstituter([Self.openAI])
        #expect(substituter.detectsRefused == false)
        #expect(substituter.substitutesInBody == false)
        var stream = substituter.makeBodyStream()
        #expect(S.run(&stream, S.bytes("PH_OPENAI_API_KEY"), cuts: [3]) == S.bytes("PH_OPENAI_API_KEY"))
    }

    // MARK: Redaction

    @Test func descriptionsNeverShowValues() {
        let substituter = Self.substituter()
        #expect(S.reflectedByteHolders(substituter) == 0)
        var dumped = ""
        dump(substituter, to: &dumped)
        for text in [String(describing: substituter), String(reflecting: substituter), dumped] {
            for value in ["sk-proj-REAL123", "ghp_REAL", "sk_live_REAL", "body-REAL-value", "REAL"] {
                #expect(!text.contains(value), "\(text)")
            }
            #expect(text.contains("redacted") || text.contains("OPENAI_API_KEY"))
        }
    }
}
