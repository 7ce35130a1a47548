// MARK: - Payment cards

/// Luhn checksum and issuer prefixes for payment card numbers.
public enum CardValidator {
    /// Card networks whose prefixes are recognised.
    public enum Brand: String, Sendable, CaseIterable {
        case visa, mastercard, amex, discover, jcb, diners, unionPay
    }

    /// Whether the ASCII digit string passes the Luhn (mod 10) check.
    public static func luhn<D: RandomAccessCollection<UInt8>>(_ digits: D) -> Bool where D.Index == Int {
        guard !digits.isEmpty else { return false }
        var sum = 0
        var double = false
        for d in digits.reversed() {
            guard d >= 0x30, d <= 0x39 else { return false }
            var v = Int(d - 0x30)
            if double { v *= 2; if v > 9 { v -= 9 } }
            sum += v
            double.toggle()
        }
        return sum % 10 == 0
    }

    /// The issuing network for a number of this length and prefix, if it is an issued range.
    public static func brand<D: RandomAccessCollection<UInt8>>(_ digits: D) -> Brand? where D.Index == Int {
        let n = digits.count
        guard n >= 13, n <= 19 else { return nil }
        func prefix(_ k: Int) -> Int {
            var v = 0
            for i in 0..<k { v = v * 10 + Int(digits[digits.startIndex + i] - 0x30) }
            return v
        }
        let p1 = prefix(1), p2 = prefix(2), p3 = prefix(3), p4 = prefix(4), p6 = prefix(6)
        if p1 == 4 { return [13, 16, 19].contains(n) ? .visa : nil }
        if (51...55).contains(p2) || (2221...2720).contains(p4) { return n == 16 ? .mastercard : nil }
        if p2 == 34 || p2 == 37 { return n == 15 ? .amex : nil }
        if p4 == 6011 || (644...649).contains(p3) || p2 == 65 || (622126...622925).contains(p6) {
            return n >= 16 ? .discover : nil
        }
        if (3528...3589).contains(p4) { return n >= 16 ? .jcb : nil }
        if (300...305).contains(p3) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39 { return n >= 14 ? .diners : nil }
        if p2 == 62 || p2 == 81 { return n >= 16 ? .unionPay : nil }
        return nil
    }

    /// A card number: 13-19 digits, Luhn-valid, in an issued brand range.
    public static func isValid<D: RandomAccessCollection<UInt8>>(_ digits: D) -> Bool where D.Index == Int {
        brand(digits) != nil && luhn(digits)
    }
}
