// MARK: - Telephone numbers

/// Numbering-plan rules for NANP numbers and for the international and national formats of
/// the countries the detector knows (UK, DE, FR, IN, AU, BR, JP, ES, IT, NL, MX and others
/// with a `+` country code).
public enum PhoneValidator {
    /// Allowed national significant number lengths per country calling code.
    static let nationalLengths: [String: ClosedRange<Int>] = [
        "1": 10...10, "44": 9...10, "49": 6...12, "33": 9...9, "91": 10...10, "61": 9...9,
        "55": 10...11, "81": 9...10, "34": 9...9, "39": 6...11, "31": 9...9, "52": 10...10,
        "7": 10...10, "86": 10...11, "82": 8...10, "41": 9...9, "43": 7...13, "32": 8...9,
        "45": 8...8, "46": 7...10, "47": 8...8, "48": 9...9, "351": 9...9, "353": 7...9,
        "358": 6...11, "30": 10...10, "36": 8...9, "40": 9...9, "420": 9...9, "27": 9...9,
        "20": 9...10, "90": 10...10, "971": 8...9, "966": 9...9, "972": 8...9, "65": 8...8,
        "852": 8...8, "64": 8...10, "62": 9...12, "63": 10...10, "66": 8...9, "84": 9...10,
        "60": 9...10, "54": 10...10, "56": 9...9, "57": 10...10, "51": 9...9, "234": 8...10,
        "254": 9...9, "92": 10...10, "880": 10...10, "380": 9...9,
    ]

    /// Whether ten ASCII digits are a valid NANP number: area and exchange codes start
    /// with 2-9 and are not N11 service codes; area codes N9X and 37X/96X are unassigned.
    public static func isNANP<D: RandomAccessCollection<UInt8>>(_ d: D) -> Bool where D.Index == Int {
        guard d.count == 10 else { return false }
        let base = d.startIndex
        func v(_ i: Int) -> Int { Int(d[base + i]) - 0x30 }
        guard v(0) >= 2, v(3) >= 2 else { return false }
        if v(1) == 1 && v(2) == 1 { return false }          // N11 area
        if v(4) == 1 && v(5) == 1 { return false }          // N11 exchange
        if v(1) == 9 { return false }                        // N9X reserved
        let area = v(0) * 100 + v(1) * 10 + v(2)
        if (370...379).contains(area) || (960...969).contains(area) || area == 555 { return false }
        let line = v(6) * 1000 + v(7) * 100 + v(8) * 10 + v(9)
        let exchange = v(3) * 100 + v(4) * 10 + v(5)
        if exchange == 555 && (100...199).contains(line) { return false } // fictional 555-01XX
        return distinctDigits(d) > 2
    }

    /// How many different digits occur (a bit per digit, no allocation).
    @inline(__always) static func distinctDigits<D: Collection<UInt8>>(_ d: D) -> Int {
        var mask: UInt16 = 0
        for b in d where b >= 0x30 && b <= 0x39 { mask |= 1 << UInt16(b - 0x30) }
        return mask.nonzeroBitCount
    }

    /// Splits an international number (digits after `+`) into country code and national
    /// number, when the code is known and the national length fits.
    public static func isInternational<D: RandomAccessCollection<UInt8>>(_ d: D) -> Bool where D.Index == Int {
        guard d.count >= 8, d.count <= 15 else { return false }
        var cc = 0
        for ccLen in 1...3 {
            cc = cc * 10 + Int(d[d.startIndex + ccLen - 1]) - 0x30
            guard let range = nationalLengthsByCode[cc] else { continue }
            let national = d[(d.startIndex + ccLen)...]
            guard range.contains(national.count), national.first != 0x30 else { continue }
            if cc == 1 { return isNANP(national) }
            return distinctDigits(national) > 2
        }
        return false
    }

    /// ``nationalLengths`` keyed by the numeric code (`"1"` and `"001"` differ as text
    /// but the loop above only ever builds codes without leading zeros).
    static let nationalLengthsByCode: [Int: ClosedRange<Int>] = {
        var out: [Int: ClosedRange<Int>] = [:]
        for (k, v) in nationalLengths { if let n = Int(k) { out[n] = v } }
        return out
    }()

    /// A national number written with its trunk prefix `0` (UK 0xx…, DE 030…, FR 01…,
    /// AU 04…, NL 06…, IN 0xx…, JP 03-/090-, IT 0x…).
    public static func isTrunkNational<D: RandomAccessCollection<UInt8>>(_ d: D) -> Bool where D.Index == Int {
        guard d.count >= 10, d.count <= 12, d.first == 0x30, d[d.startIndex + 1] != 0x30 else { return false }
        return distinctDigits(d) > 3
    }

    /// A digit string with no formatting: NANP (optionally with a leading 1), international
    /// (country code first, the `+` lost) or national with a trunk `0`.
    public static func isPlausibleDigits<D: RandomAccessCollection<UInt8>>(_ d: D) -> Bool where D.Index == Int {
        if d.count == 10 && isNANP(d) { return true }
        if d.count == 11 && d.first == 0x31 && isNANP(d.dropFirst()) { return true }
        if d.first == 0x30 { return isTrunkNational(d) }
        if d.count >= 11 && d.first != 0x31 { return isInternational(d) }
        return false
    }
}
