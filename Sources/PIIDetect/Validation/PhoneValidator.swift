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
    public static func isNANP(_ d: ArraySlice<UInt8>) -> Bool {
        guard d.count == 10 else { return false }
        let a = Array(d)
        func v(_ i: Int) -> Int { Int(a[i]) - 0x30 }
        guard v(0) >= 2, v(3) >= 2 else { return false }
        if v(1) == 1 && v(2) == 1 { return false }          // N11 area
        if v(4) == 1 && v(5) == 1 { return false }          // N11 exchange
        if v(1) == 9 { return false }                        // N9X reserved
        let area = v(0) * 100 + v(1) * 10 + v(2)
        if (370...379).contains(area) || (960...969).contains(area) || area == 555 { return false }
        let line = v(6) * 1000 + v(7) * 100 + v(8) * 10 + v(9)
        let exchange = v(3) * 100 + v(4) * 10 + v(5)
        if exchange == 555 && (100...199).contains(line) { return false } // fictional 555-01XX
        return Set(a).count > 2
    }

    /// Splits an international number (digits after `+`) into country code and national
    /// number, when the code is known and the national length fits.
    public static func isInternational(_ d: ArraySlice<UInt8>) -> Bool {
        let a = Array(d)
        guard a.count >= 8, a.count <= 15 else { return false }
        for ccLen in 1...3 {
            let cc = String(decoding: a[0..<ccLen], as: UTF8.self)
            guard let range = nationalLengths[cc] else { continue }
            let national = a[ccLen...]
            guard range.contains(national.count), national.first != 0x30 else { continue }
            if cc == "1" { return isNANP(national) }
            return Set(national).count > 2
        }
        return false
    }

    /// A national number written with its trunk prefix `0` (UK 0xx…, DE 030…, FR 01…,
    /// AU 04…, NL 06…, IN 0xx…, JP 03-/090-, IT 0x…).
    public static func isTrunkNational(_ d: ArraySlice<UInt8>) -> Bool {
        let a = Array(d)
        guard a.count >= 10, a.count <= 12, a[0] == 0x30, a[1] != 0x30 else { return false }
        return Set(a).count > 3
    }

    /// A digit string with no formatting: NANP (optionally with a leading 1), international
    /// (country code first, the `+` lost) or national with a trunk `0`.
    public static func isPlausibleDigits(_ d: ArraySlice<UInt8>) -> Bool {
        if d.count == 10 && isNANP(d) { return true }
        if d.count == 11 && d.first == 0x31 && isNANP(d.dropFirst()) { return true }
        if d.first == 0x30 { return isTrunkNational(d) }
        if d.count >= 11 && d.first != 0x31 { return isInternational(d) }
        return false
    }
}
