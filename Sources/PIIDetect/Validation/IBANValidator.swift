// MARK: - IBAN

/// ISO 13616 IBANs: registered country lengths and the mod-97 check.
public enum IBANValidator {
    /// IBAN length per country (SWIFT IBAN registry).
    public static let lengths: [String: Int] = [
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
        "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
        "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
        "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
        "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
        "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
        "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
        "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
        "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
        "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
    ]

    /// The registered length for the (upper-cased) two-letter country code.
    public static func length(country a: UInt8, _ b: UInt8) -> Int? {
        let x = Int(a & 0xDF) - 0x41, y = Int(b & 0xDF) - 0x41
        guard x >= 0, x < 26, y >= 0, y < 26 else { return nil }
        let n = lengthTable[x * 26 + y]
        return n == 0 ? nil : Int(n)
    }

    /// ``lengths`` as a 26 × 26 table (0: not registered), so a lookup builds no string.
    static let lengthTable: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 26 * 26)
        for (code, n) in lengths {
            let u = Array(code.utf8)
            t[Int(u[0] - 0x41) * 26 + Int(u[1] - 0x41)] = UInt8(n)
        }
        return t
    }()

    /// Whether the compact IBAN (letters and digits only, any case) has the registered
    /// length for its country, numeric check digits and a mod-97 remainder of 1.
    public static func isValid<C: RandomAccessCollection<UInt8>>(_ compact: C) -> Bool where C.Index == Int {
        guard compact.count >= 15, compact.count <= 34,
              isAlpha(compact[compact.startIndex]), isAlpha(compact[compact.startIndex + 1]),
              isDigit(compact[compact.startIndex + 2]), isDigit(compact[compact.startIndex + 3]),
              length(country: compact[compact.startIndex], compact[compact.startIndex + 1]) == compact.count else { return false }
        var remainder = 0
        for k in 0..<compact.count {
            let c = compact[compact.startIndex + (k + 4) % compact.count]
            if isDigit(c) {
                remainder = (remainder * 10 + Int(c - 0x30)) % 97
            } else if isAlpha(c) {
                let v = Int((c & 0xDF) - 0x41) + 10
                remainder = (remainder * 100 + v) % 97
            } else {
                return false
            }
        }
        return remainder == 1
    }
}
