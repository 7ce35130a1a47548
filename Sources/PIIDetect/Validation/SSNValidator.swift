// MARK: - US Social Security numbers

/// Structural rules for US SSNs (SSA: area 001-899 except 666, group 01-99, serial
/// 0001-9999) plus numbers that are publicly known to be invalid or advertising examples.
public enum SSNValidator {
    /// Numbers printed in ads, docs and tests (Woolworth's wallet card, LifeLock, etc.).
    static let knownInvalid: Set<Int> = [
        078051120, 219099999, 123456789, 457555462, 111111111, 222222222,
        333333333, 444444444, 555555555, 777777777, 888888888, 987654320,
        987654321, 987654322, 987654323, 987654324, 987654325, 987654326,
        987654327, 987654328, 987654329,
    ]

    /// Whether the nine ASCII digits form a possible SSN.
    public static func isValid<D: RandomAccessCollection<UInt8>>(_ digits: D) -> Bool where D.Index == Int {
        guard digits.count == 9, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
        func value(_ r: Range<Int>) -> Int { r.reduce(0) { $0 * 10 + Int(digits[digits.startIndex + $1] - 0x30) } }
        let area = value(0..<3), group = value(3..<5), serial = value(5..<9)
        guard area != 0, area != 666, area < 900, group != 0, serial != 0 else { return false }
        return !knownInvalid.contains(value(0..<9))
    }
}
