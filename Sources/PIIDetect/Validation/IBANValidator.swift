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
        lengths[String(decoding: [a & 0xDF, b & 0xDF], as: UTF8.self)]
    }

    /// Whether the compact IBAN (letters and digits only, any case) has the registered
    /// length for its country, numeric check digits and a mod-97 remainder of 1.
    public static func isValid(_ compact: [UInt8]) -> Bool {
        guard compact.count >= 15, compact.count <= 34,
              isAlpha(compact[0]), isAlpha(compact[1]), isDigit(compact[2]), isDigit(compact[3]),
              length(country: compact[0], compact[1]) == compact.count else { return false }
        var remainder = 0
        for k in 0..<compact.count {
            let c = compact[(k + 4) % compact.count]
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
