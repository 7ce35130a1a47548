import Testing
@testable import PIIDetect

// MARK: - Detector: what a user sees

/// One detector for all tests (compiling the patterns once).
let sharedDetector: Detector = {
    do { return try Detector() } catch { fatalError("patterns must compile: \(error)") }
}()

/// The findings in `text` as (type, exact raw text).
func found(_ text: String, _ detector: Detector = sharedDetector) -> [(EntityType, String)] {
    let bytes = Array(text.utf8)
    return detector.scan(bytes).map { f in (f.type, String(decoding: bytes[f.range], as: UTF8.self)) }
}

func types(_ text: String) -> [EntityType] { found(text).map(\.0) }

@Suite struct DetectorTests {
    // MARK: Positives: the exact span, with its own separators and encodings.

    @Test(arguments: [
        // Cards: plain, spaced, dashed, JSON number, Amex grouping, digit-by-digit, form.
        ("Card 4111 1111 1111 1111 on file", EntityType.CREDIT_CARD, "4111 1111 1111 1111"),
        ("{\"card\": 5555555555554444}", .CREDIT_CARD, "5555555555554444"),
        ("amex 3782-822463-10005 ok", .CREDIT_CARD, "3782-822463-10005"),
        ("cc=4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 end", .CREDIT_CARD, "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"),
        ("card=4111+1111+1111+1111&x=1", .CREDIT_CARD, "4111+1111+1111+1111"),
        // SSNs: dashed, spaced, bare with a label.
        ("SSN: 219-09-9998.", .US_SSN, "219-09-9998"),
        ("ssn 536 22 1234", .US_SSN, "536 22 1234"),
        ("{\"social_security_number\":\"536221234\"}", .US_SSN, "536221234"),
        // E-mail: plain, plus-addressing, percent and entity encoded, obfuscated.
        ("write to jane.doe+news@gmail.com today", .EMAIL_ADDRESS, "jane.doe+news@gmail.com"),
        ("email=jane.doe%40gmail.com&x=1", .EMAIL_ADDRESS, "jane.doe%40gmail.com"),
        ("mail: jane&#64;proton&#46;me", .EMAIL_ADDRESS, "jane&#64;proton&#46;me"),
        ("reach jane [at] proton [dot] me", .EMAIL_ADDRESS, "jane [at] proton [dot] me"),
        ("contact jane AT proton DOT me", .EMAIL_ADDRESS, "jane AT proton DOT me"),
        // Phones: NANP formats, international, national trunk formats.
        ("call (212) 736-1234 now", .PHONE_NUMBER, "(212) 736-1234"),
        ("tel +1-212-736-1234", .PHONE_NUMBER, "+1-212-736-1234"),
        ("ring +44 20 7946 0958", .PHONE_NUMBER, "+44 20 7946 0958"),
        ("Telefon: 030 14069601", .PHONE_NUMBER, "030 14069601"),
        ("+49 (0)30 60398887", .PHONE_NUMBER, "+49 (0)30 60398887"),
        ("phone: 2127361234", .PHONE_NUMBER, "2127361234"),
        // IBANs: compact, grouped, lower case.
        ("IBAN DE89370400440532013000.", .IBAN_CODE, "DE89370400440532013000"),
        ("pay to GB82 WEST 1234 5698 7654 32 today", .IBAN_CODE, "GB82 WEST 1234 5698 7654 32"),
        ("iban gb82west12345698765432", .IBAN_CODE, "gb82west12345698765432"),
        // IPs: private v4, v6 compressed, defanged.
        ("from 10.23.81.38.", .IP_ADDRESS, "10.23.81.38"),
        ("peer 2a02:1234:abcd::5 closed", .IP_ADDRESS, "2a02:1234:abcd::5"),
        ("ioc 104[.]17[.]174[.]188", .IP_ADDRESS, "104[.]17[.]174[.]188"),
    ])
    func piiPositives(text: String, type: EntityType, span: String) {
        let f = found(text)
        #expect(f.contains { $0.0 == type && $0.1 == span }, "\(f)")
    }

    @Test(arguments: [
        ("AWS_ACCESS_KEY_ID=AKIAQ5ZK3XQJLMN7RT2W", EntityType.AWS_ACCESS_KEY, "AKIAQ5ZK3XQJLMN7RT2W"),
        ("aws_secret_access_key = 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", .AWS_SECRET_KEY, "kTkgBXkfvaBG8D55iQiRROR0QPQ8PI4kSBj3UEDO"),
        ("GITHUB_TOKEN=ghp_Rpj41OnTjfH5wiE9nFfDSGhIIIDVtHPYYVDI", .GITHUB_TOKEN, "ghp_Rpj41OnTjfH5wiE9nFfDSGhIIIDVtHPYYVDI"),
        ("git clone https://x-access-token:ghs_CfGFNcSH2NI0ThrLHHNBYrL47eoinfVvQ9pV@github.com/o/r.git",
         .GITHUB_TOKEN, "ghs_CfGFNcSH2NI0ThrLHHNBYrL47eoinfVvQ9pV"),
        ("OPENAI_API_KEY=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", .OPENAI_API_KEY,
         "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"),
        ("key sk-ant-api03-ZfCBcycxJStqZPTJ-R6YOwEma7ePz-6FcteDYMVdm_3BbDEnwqXguwQJ_JA4XHhMyjkjQuXTbPD1kKeDJ_p95bBLhvmpeAA",
         .ANTHROPIC_API_KEY, "sk-ant-api03-ZfCBcycxJStqZPTJ-R6YOwEma7ePz-6FcteDYMVdm_3BbDEnwqXguwQJ_JA4XHhMyjkjQuXTbPD1kKeDJ_p95bBLhvmpeAA"),
        ("SLACK_BOT_TOKEN=xoxb-9236041937960-0936193307720-7UIJ6HxQa9J4bSJUpIbBzAyT", .SLACK_TOKEN,
         "xoxb-9236041937960-0936193307720-7UIJ6HxQa9J4bSJUpIbBzAyT"),
        ("hook: https://hooks.slack.com/services/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", .SLACK_TOKEN,
         "https://hooks.slack.com/services/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"),
        ("STRIPE=sk_live_tNVCp08hzQfnxsxUyoKIDbsF", .STRIPE_KEY, "sk_live_tNVCp08hzQfnxsxUyoKIDbsF"),
        ("whsec_HekZKaAFaOvoYmlsFhJAUJg8lAzDzUOp", .STRIPE_KEY, "whsec_HekZKaAFaOvoYmlsFhJAUJg8lAzDzUOp"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
         .JWT, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ])
    func secretPositives(text: String, type: EntityType, span: String) {
        let f = found(text)
        #expect(f.contains { $0.0 == type && $0.1 == span }, "\(f)")
    }

    static let pemBody = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dV"

    @Test(arguments: ["raw", "json", "yaml"])
    func privateKeyBlocksAsTheyAppear(form: String) {
        let block = "-----BEGIN PRIVATE KEY-----\n\(Self.pemBody)\n-----END PRIVATE KEY-----"
        let text: String
        let span: String
        switch form {
        case "json":
            span = block.replacingNewlines(with: "\\n")
            text = "{\"key\": \"\(span)\"}"
        case "yaml":
            span = block.replacingNewlines(with: "\n    ")
            text = "secret:\n  key: |\n    \(span)\n"
        default:
            span = block
            text = "key:\n\(block)\ntrailer"
        }
        let f = found(text)
        #expect(f.contains { $0.0 == .PRIVATE_KEY && $0.1 == span }, "\(f)")
    }

    // MARK: Hard negatives

    @Test(arguments: [
        "order 4111111111111112 shipped",                    // Luhn fails
        "ts_us 1727529826416899 and ns 1727529826416899857",  // timestamps
        "SSN 078-05-1120 (the Woolworth example) or 123-45-6789",
        "ABA routing 121000358, ZIP 94105-1234",
        "REF 123 456 789",
        "write to test@example.com, a@b.example, ops@svc.test, x@y.invalid, me@localhost",
        "remote git@github.com:org/repo.git, icon@2x.png, lodash@4.17.21, @babel/core, @handle",
        "loopback 127.0.0.1 ::1, unspecified 0.0.0.0, docs 192.0.2.1 198.51.100.2 203.0.113.3 2001:db8::1",
        "Chrome/120.0.0.0 Safari/537.36 build 10.0.19045.3693",
        "oid 1.3.6.1.4.1.2021 mac 64:0F:F0:ED:60:D9 fp 43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8",
        "std::vector a::b::c at 12:34:56",
        "unix 1530876783 id 0818845453 isbn 978-3-16-148410-0 price $1,234.56 at 40.7128, -74.0060",
        "IBAN GB82WEST12345698765433 has a bad check digit",
        "AKIAIOSFODNN7EXAMPLE and wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY are AWS doc examples",
        "AKIAXXXXXXXXXXXXXXXX AKIA************ too short AKIA1234",
        "token ${{ secrets.GITHUB_TOKEN }} $GH_TOKEN ghp_abc",
        "OPENAI_API_KEY=sk-your-api-key-here or sk-... or sk-proj-****abcd, risk-free",
        "sk-ant-api03-abc...",
        "SLACK=xoxb-your-bot-token https://hooks.slack.com/services/XXX/YYY/ZZZ",
        "publishable pk_live_51H8xYzAbCdEfGhIjKlMnOp and sk_live_...",
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBg\n-----END PUBLIC KEY----- ssh-rsa AAAAB3NzaC1yc2E user@host",
        "jwt eyJhbGciOiJIUzI1NiJ9.... truncated",
        "sha 89144154a1e8cd9b9dac13b018850c33c8aa32ea uuid 8e624bec-fe2a-4ee6-9f65-b39cc6566833 sri sha512-abc [REDACTED]",
    ])
    func hardNegativesAreNotFound(text: String) {
        #expect(found(text).isEmpty, "\(found(text))")
    }

    // MARK: Evasions (decoding layer)

    @Test(arguments: [
        ("{\"m\":\"call +\\u200d1\\u200d (212) 736\\u200d-1234\"}", EntityType.PHONE_NUMBER),
        ("SSN ２１９-０９-９９９８", .US_SSN),
        ("card ४१११ ११११ ११११ ११११", .CREDIT_CARD),
        ("{\"ip\":\"\\u0031\\u0030\\u002e\\u0032\\u002e\\u0033\\u002e\\u0034\"}", .IP_ADDRESS),
        ("email: ja\u{200B}ne@pro\u{200B}ton.me", .EMAIL_ADDRESS),
        ("addr 2001[:]4860[:][:]8888", .IP_ADDRESS),
        ("mail=jane%26%2364%3Bproton.me&x=1", .EMAIL_ADDRESS),
    ])
    func evasionsAreDecoded(text: String, type: EntityType) {
        #expect(types(text).contains(type), "\(found(text))")
    }

    // MARK: Type selection and overlaps

    @Test func onlyRequestedTypesAreReported() throws {
        let emailOnly = try Detector(types: [.EMAIL_ADDRESS])
        let f = found("jane@gmail.com 4111 1111 1111 1111 ghp_Rpj41OnTjfH5wiE9nFfDSGhIIIDVtHPYYVDI", emailOnly)
        #expect(f.map(\.0) == [.EMAIL_ADDRESS])
    }

    @Test func anthropicKeysAreNotTypedAsOpenAI() {
        let f = types("sk-ant-admin01-artSsrtqwwvalZGxCfvUZXGSBWGzZL0NYhuuOw9z0QvQ9ehB8ouI9y0BTvY4bxsEKsledePQc3yEdz1FsgFJum4fqX_cjAA")
        #expect(f == [.ANTHROPIC_API_KEY])
    }

    @Test func findingsAreSortedAndDisjoint() {
        let f = sharedDetector.scan(Array("a 4111 1111 1111 1111 b jane@gmail.com c 10.1.2.3".utf8))
        #expect(f.count == 3)
        for (a, b) in zip(f, f.dropFirst()) { #expect(a.range.upperBound <= b.range.lowerBound) }
    }

    @Test func policyNamesMapToTypes() {
        #expect(EntityType.types(forPolicyName: "ssn") == [.US_SSN])
        #expect(EntityType.types(forPolicyName: "iban") == [.IBAN_CODE])
        #expect(EntityType.types(forPolicyName: "api_key") == EntityType.secrets)
        #expect(EntityType.types(forPolicyName: "person_name") == nil)
        #expect(EntityType.secrets.count == 9)
        #expect(EntityType.pii.count == 6)
    }

    @Test func emptyAndBinaryInputs() {
        #expect(sharedDetector.scan([UInt8]()).isEmpty)
        let binary = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        _ = sharedDetector.scan(binary)   // must return, any result
    }

    /// Overlapping candidates: the kept set is what keeping them one by one in rank order
    /// keeps (higher-priority type, then longer, then earlier), over random candidate sets
    /// with empty ranges and ranges across 64-byte word edges.
    @Test func overlapResolutionKeepsWhatTheOneByOneGreedyKeeps() {
        let types: [EntityType] = [.EMAIL_ADDRESS, .PHONE_NUMBER, .CREDIT_CARD, .AWS_ACCESS_KEY, .IP_ADDRESS, .JWT]
        var state: UInt64 = 0x1234_5678_9ABC_DEF1
        func next(_ bound: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(bound))
        }
        for round in 0..<400 {
            var candidates: [Candidate] = []
            for _ in 0..<(2 + next(40)) {
                let start = next(300), length = next(round % 4 == 0 ? 140 : 30)
                candidates.append(Candidate(type: types[next(types.count)], range: start..<(start + length)))
            }
            let ranked = candidates.sorted {
                if $0.type.priority != $1.type.priority { return $0.type.priority > $1.type.priority }
                if $0.range.count != $1.range.count { return $0.range.count > $1.range.count }
                return $0.range.lowerBound < $1.range.lowerBound
            }
            var expected: [Candidate] = []
            for c in ranked where !expected.contains(where: { $0.range.overlaps(c.range) }) { expected.append(c) }
            expected.sort { $0.range.lowerBound < $1.range.lowerBound }
            let kept = sharedDetector.resolve(candidates)
            #expect(kept.map(\.range) == expected.map(\.range) && kept.map(\.type) == expected.map(\.type),
                    "round \(round): \(candidates.map { "\($0.type) \($0.range)" })")
        }
    }

    /// The CSV header lookup with its per-body memory (line cursor, lines read, last
    /// header) answers what reading the lines again for every value answers, for values
    /// asked in body order (as the detector asks) and in any order.
    @Test func csvHeaderLookupMatchesReadingTheLinesAgain() {
        /// The lookup as it was written before the memory: straight from the bytes.
        func reference(_ p: UnsafeBufferPointer<UInt8>, _ pos: Int) -> Range<Int>? {
            var lineStart = pos
            while lineStart > 0, pos - lineStart < 4096, p[lineStart - 1] != 0x0A { lineStart -= 1 }
            guard lineStart > 0, p[lineStart - 1] == 0x0A else { return nil }
            var column = 0, quoted = false
            for k in lineStart..<pos {
                if p[k] == 0x22 { quoted.toggle() } else if p[k] == 0x2C, !quoted { column += 1 }
            }
            guard !quoted else { return nil }
            var lineEnd = lineStart - 1, lines = 0
            while lineEnd > 0, lines < 64 {
                var s = lineEnd
                while s > 0, lineEnd - s < 4096, p[s - 1] != 0x0A { s -= 1 }
                let fields = UnsafeBufferPointer(rebasing: p[s..<lineEnd]).split(separator: 0x2C, omittingEmptySubsequences: false)
                let isHeader = fields.count >= 2 && fields.allSatisfy { f in
                    guard let first = f.first, isAlpha(first) || first == 0x5F else { return false }
                    return f.allSatisfy { isWordByte($0) || $0 == 0x20 || $0 == 0x2D }
                }
                if isHeader {
                    guard column < fields.count else { return nil }
                    return (s + fields[column].startIndex)..<(s + fields[column].endIndex)
                }
                if s == 0 { break }
                lineEnd = s - 1
                lines += 1
            }
            return nil
        }
        let pieces = ["name", "phone", "a_b", "x-y", ",", ",", "\n", "\n", "\"", "1", "42", " ", "_", "", "long line ".padding(toLength: 300, withPad: "q", startingAt: 0)]
        var state: UInt64 = 0xDEAD_BEEF_1234_5678
        func next(_ bound: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(bound))
        }
        let memo = ContextLabel.LineMemo()
        // Lines around the 4 KiB a value may be into its line.
        for long in [4097, 4200] {
            let text = "id,phone\n" + String(repeating: "x", count: long) + ",1,2\n" + String(repeating: "y", count: long) + "\nz,\"q\",7"
            Array(text.utf8).withUnsafeBufferPointer { p in
                memo.reset()
                for pos in 0..<p.count {
                    #expect(ContextLabel.csvHeader(p, pos, memo) == reference(p, pos), "\(long) at \(pos)")
                }
            }
        }
        for round in 0..<60 {
            var text = ""
            while text.utf8.count < 40 + round * 40 { text += pieces[next(pieces.count)] }
            let body = Array(text.utf8)
            body.withUnsafeBufferPointer { p in
                memo.reset()
                for pos in 0..<p.count {
                    #expect(ContextLabel.csvHeader(p, pos, memo) == reference(p, pos), "round \(round) at \(pos)")
                }
                memo.reset()
                for _ in 0..<200 {
                    let pos = next(p.count)
                    #expect(ContextLabel.csvHeader(p, pos, memo) == reference(p, pos), "round \(round) at \(pos), any order")
                }
            }
        }
    }
}

extension String {
    func replacingNewlines(with s: String) -> String {
        split(separator: "\n", omittingEmptySubsequences: false).joined(separator: s)
    }
}
