import Testing
@testable import PIIDetect

// MARK: - Validators

@Suite struct ValidatorTests {
    static func digits(_ s: String) -> [UInt8] { Array(s.utf8).filter { $0 >= 0x30 && $0 <= 0x39 } }

    @Test(arguments: [
        ("4111111111111111", true), ("4111111111111112", false), ("5555555555554444", true),
        ("2223003122003222", true), ("378282246310005", true), ("6011111111111117", true),
        ("3530111333300000", true), ("30569309025904", true), ("6200000000000005", true),
        // Luhn-valid but no issued brand (order numbers, timestamps).
        ("1234567812345670", false), ("9400050640358060", false),
    ])
    func cards(_ number: String, _ valid: Bool) {
        #expect(CardValidator.isValid(Self.digits(number)) == valid)
    }

    @Test func cardBrands() {
        #expect(CardValidator.brand(Self.digits("2720990000000007")) == .mastercard)
        #expect(CardValidator.brand(Self.digits("5105105105105100")) == .mastercard)
        #expect(CardValidator.brand(Self.digits("371449635398431")) == .amex)
        #expect(CardValidator.brand(Self.digits("3566002020360505")) == .jcb)
        #expect(CardValidator.brand(Self.digits("36227206271667")) == .diners)
        #expect(CardValidator.brand(Self.digits("6282000000000000")) == .unionPay)
        #expect(CardValidator.brand(Self.digits("2721000000000000")) == nil)
    }

    @Test(arguments: [
        ("123-45-6788", true), ("001-01-0001", true), ("899-99-9999", true),
        ("000-12-3456", false), ("666-12-3456", false), ("900-12-3456", false), ("123-00-4567", false),
        ("123-45-0000", false), ("078-05-1120", false), ("219-09-9999", false), ("123-45-6789", false),
    ])
    func ssns(_ number: String, _ valid: Bool) {
        #expect(SSNValidator.isValid(Self.digits(number)) == valid)
    }

    @Test(arguments: [
        ("GB82WEST12345698765432", true), ("DE89370400440532013000", true), ("de89370400440532013000", true),
        ("FR1420041010050500013M02606", true), ("NO9386011117947", true),
        ("GB82WEST12345698765433", false), ("DE8937040044053201300", false), ("XX89370400440532013000", false),
    ])
    func ibans(_ iban: String, _ valid: Bool) {
        #expect(IBANValidator.isValid(Array(iban.utf8)) == valid)
    }

    @Test(arguments: [
        ("2127361234", true), ("4155551234", true), ("2125550123", false), // 555-01XX is fictional
        ("1127361234", false), ("2117361234", false), ("2121361234", false), ("2129361234", true),
        ("9127361234", true), ("3727361234", false),
    ])
    func nanp(_ number: String, _ valid: Bool) {
        #expect(PhoneValidator.isNANP(Self.digits(number)[...]) == valid)
    }

    @Test(arguments: [
        ("442079460000", true), ("4915112345678", true), ("33612345678", true), ("919876543210", true),
        ("61412345678", true), ("12127361234", true), ("999123456789", false), ("4412", false),
    ])
    func internationalNumbers(_ number: String, _ valid: Bool) {
        #expect(PhoneValidator.isInternational(Self.digits(number)[...]) == valid)
    }

    @Test(arguments: [
        ("10.1.2.3", true), ("192.168.0.10", true), ("172.16.5.4", true), ("8.8.8.8", true),
        ("127.0.0.1", false), ("0.0.0.0", false), ("192.0.2.5", false), ("198.51.100.7", false),
        ("203.0.113.9", false), ("255.255.255.255", false), ("120.0.0.0", false), ("224.0.0.1", false),
    ])
    func ipv4Hosts(_ text: String, _ host: Bool) {
        guard let octets = IPValidator.parseIPv4(Array(text.utf8)[...]) else { Issue.record("parse \(text)"); return }
        #expect(IPValidator.isHostIPv4(octets) == host)
    }

    @Test(arguments: ["256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "a.b.c.d"])
    func ipv4Invalid(_ text: String) {
        #expect(IPValidator.parseIPv4(Array(text.utf8)[...]) == nil)
    }

    @Test(arguments: [
        ("2001:4860:4860::8888", true), ("fe80::1ff:fe23:4567:890a", true), ("2a02:1234:abcd::5", true),
        ("::1", false), ("::", false), ("2001:db8::1", false), ("::ffff:127.0.0.1", false), ("::ffff:10.0.0.1", true),
    ])
    func ipv6Hosts(_ text: String, _ host: Bool) {
        guard let bytes = IPValidator.parseIPv6(Array(text.utf8)[...]) else { Issue.record("parse \(text)"); return }
        #expect(IPValidator.isHostIPv6(bytes) == host)
    }

    @Test(arguments: ["1:2:3:4:5:6", "a::b::c", "12345::1", "64:0F:F0:ED:60:D9", "1:2:3:4:5:6:7:8:9"])
    func ipv6Invalid(_ text: String) {
        #expect(IPValidator.parseIPv6(Array(text.utf8)[...]) == nil)
    }

    @Test(arguments: [
        ("gmail.com", true), ("mail.example-corp.de", true), ("example.com", false), ("mail.example.org", false),
        ("example.net", false), ("shop.test", false), ("corp.example", false), ("x.invalid", false),
        ("localhost", false), ("2x.png", false), ("3x.webp", false), ("1.2", false),
    ])
    func emailDomains(_ domain: String, _ personal: Bool) {
        #expect(EmailValidator.isPersonalDomain(domain) == personal)
    }

    @Test(arguments: [
        ("XXXXXXXXXXXXXXXXXXXX", true), ("your-api-key-here", true), ("****************abcd", true),
        ("abc...", true), ("<token>", true), ("${GITHUB_TOKEN}", true), ("aaaaaaaaaaaaaaaaaaaaaaaa", true),
        ("Rpj41OnTjfH5wiE9nFfDSGhIIIDVtHPYYVDI", false), ("8mKq2Lz9PvW4nR7tXc1B", false),
    ])
    func placeholders(_ body: String, _ placeholder: Bool) {
        #expect(SecretHeuristics.isPlaceholder(Array(body.utf8)[...]) == placeholder)
    }
}
