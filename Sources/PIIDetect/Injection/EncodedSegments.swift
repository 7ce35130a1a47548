// MARK: - Base64 and hex segments

/// Finds base64 and hex runs long enough to carry a sentence and decodes those that turn
/// out to be text, so the scorer can read what they say. Images in data URIs and binary
/// blobs decode to non-text and are left alone.
enum EncodedSegments {
    struct Segment {
        var range: Range<Int>      // view coordinates
        var text: [UInt8]
    }

    /// Minimum run length (base64 of about 18 bytes of text).
    static let minimumLength = 24
    /// At most this many bytes are decoded per body (a bound on the extra work).
    static let decodeBudget = 1 << 20

    nonisolated(unsafe) static let base64Value: UnsafePointer<Int8> = {
        let t = UnsafeMutablePointer<Int8>.allocate(capacity: 256)
        t.initialize(repeating: -1, count: 256)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = Int8(i) }
        t[Int(UInt8(ascii: "-"))] = 62   // base64url
        t[Int(UInt8(ascii: "_"))] = 63
        return UnsafePointer(t)
    }()

    /// Decodes the candidate runs (base64-alphabet runs of at least ``minimumLength``
    /// bytes, found by the scorer's main pass) that turn out to be text.
    static func decode(_ p: UnsafeBufferPointer<UInt8>, runs tokens: [Range<Int>]) -> [Segment] {
        var out: [Segment] = []
        var budget = decodeBudget
        // Tokens may hold other punctuation: split them into base64-alphabet runs.
        var runs: [Range<Int>] = []
        let value = base64Value
        for t in tokens {
            var k = t.lowerBound
            while k < t.upperBound {
                while k < t.upperBound, value[Int(p[k])] < 0 { k += 1 }
                let s = k
                while k < t.upperBound, value[Int(p[k])] >= 0 { k += 1 }
                if k - s >= minimumLength { runs.append(s..<k) }
            }
        }
        for r in runs where budget > 0 {
            var upper = false, lowerCase = false, digit = false, nonHex = false
            for k in r {
                let c = p[k]
                if c >= 0x41 && c <= 0x5A { upper = true; if c > 0x46 { nonHex = true } }
                else if c >= 0x61 && c <= 0x7A { lowerCase = true; if c > 0x66 { nonHex = true } }
                else if c >= 0x30 && c <= 0x39 { digit = true }
                else { nonHex = true }
            }
            let run = UnsafeBufferPointer(rebasing: p[r])
            var decoded: [UInt8]? = nil
            if !nonHex, digit, r.count % 2 == 0 {
                decoded = hex(run)
            } else if upper, lowerCase {
                decoded = base64(run)
            }
            guard let d = decoded, isText(d) else { continue }
            var end = r.upperBound
            while end < p.count, p[end] == UInt8(ascii: "="), end - r.upperBound < 2 { end += 1 }
            out.append(Segment(range: r.lowerBound..<end, text: d))
            budget -= d.count
        }
        return out
    }

    static func hex(_ s: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(s.count / 2)
        var k = 0
        while k + 1 < s.count {
            out.append(UInt8(hexValue(s[k]) << 4 | hexValue(s[k + 1])))
            k += 2
        }
        return out
    }

    static func base64(_ s: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(s.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        let value = base64Value
        for c in s {
            let v = value[Int(c)]
            guard v >= 0 else { break }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return out
    }

    /// Mostly printable UTF-8 with some spaces: a sentence, not a binary blob.
    static func isText(_ d: [UInt8]) -> Bool {
        guard d.count >= 12 else { return false }
        var printable = 0, spaces = 0
        for b in d {
            if b == 0x20 { spaces += 1; printable += 1 }
            else if (b >= 0x21 && b < 0x7F) || b == 0x0A || b == 0x09 || b >= 0x80 { printable += 1 }
        }
        return printable * 100 >= d.count * 95 && spaces * 25 >= d.count
    }
}
