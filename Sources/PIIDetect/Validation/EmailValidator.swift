// MARK: - E-mail domains

/// Which e-mail domains count as personal data.
public enum EmailValidator {
    /// Second-level names reserved for documentation (RFC 2606): `example.com` etc.
    static let reservedSecondLevel: [[UInt8]] = ["example.com", "example.org", "example.net"].map { Array($0.utf8) }
    /// Top-level names reserved for tests and documentation (RFC 2606, RFC 6761).
    static let reservedTLDs: [[UInt8]] = ["test", "example", "invalid", "localhost", "local"].map { Array($0.utf8) }
    /// File extensions that follow `@2x` in asset names (`icon@2x.png`).
    static let assetExtensions: [[UInt8]] = [
        "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "avif", "heic",
        "js", "mjs", "cjs", "ts", "css", "map", "json", "html", "pdf", "mp4", "webm", "woff", "woff2",
    ].map { Array($0.utf8) }

    /// Whether `domain` is a real-looking mail domain: not reserved, not an asset name, with
    /// an alphabetic top-level label.
    public static func isPersonalDomain(_ domain: String) -> Bool {
        isPersonalDomain(Array(domain.utf8).map(lower)[...])
    }

    /// Byte form of ``isPersonalDomain(_:)-swift.type.method``; `domain` is lower-case.
    static func isPersonalDomain<D: RandomAccessCollection<UInt8>>(_ d: D) -> Bool where D.Index == Int {
        guard let lastDot = d.lastIndex(of: 0x2E), let firstDot = d.firstIndex(of: 0x2E) else { return false }
        let tld = d[(lastDot + 1)...]
        guard tld.count >= 2, tld.allSatisfy(isAlpha) else { return false }
        if reservedTLDs.contains(where: { $0.elementsEqual(tld) }) { return false }
        if assetExtensions.contains(where: { $0.elementsEqual(tld) }) { return false }
        // example.com and its subdomains.
        for r in reservedSecondLevel where d.count >= r.count && d.suffix(r.count).elementsEqual(r) {
            if d.count == r.count || d[d.endIndex - r.count - 1] == 0x2E { return false }
        }
        // `icon@2x.png`-style density suffixes.
        let first = d[d.startIndex..<firstDot]
        if first.count >= 2, first.last == UInt8(ascii: "x"), first.dropLast().allSatisfy(isDigit) { return false }
        // Labels: non-empty, at most 63 bytes, no leading or trailing hyphen.
        var labelStart = d.startIndex
        for i in d.startIndex...d.endIndex where i == d.endIndex || d[i] == 0x2E {
            let len = i - labelStart
            guard len > 0, len <= 63, d[labelStart] != 0x2D, d[i - 1] != 0x2D else { return false }
            labelStart = i + 1
        }
        return true
    }
}
