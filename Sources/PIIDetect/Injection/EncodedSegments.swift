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

    static func find(_ p: UnsafeBufferPointer<UInt8>) -> [Segment] {
        var out: [Segment] = []
        let n = p.count
        var budget = decodeBudget
        let value = base64Value
        var i = 0
        while i < n {
            guard value[Int(p[i])] >= 0 else { i += 1; continue }
            var j = i
            var upper = false, lowerCase = false, digit = false, nonHex = false
            while j < n {
                let c = p[j]
                guard value[Int(c)] >= 0 else { break }
                if c >= 0x41 && c <= 0x5A { upper = true; if c > 0x46 { nonHex = true } }
                else if c >= 0x61 && c <= 0x7A { lowerCase = true; if c > 0x66 { nonHex = true } }
                else if c >= 0x30 && c <= 0x39 { digit = true }
                else { nonHex = true }
                j += 1
            }
            var end = j
            while end < n, p[end] == UInt8(ascii: "="), end - j < 2 { end += 1 }
            let length = j - i
            if length >= minimumLength, budget > 0 {
                let run = UnsafeBufferPointer(rebasing: p[i..<j])
                var decoded: [UInt8]? = nil
                if !nonHex, digit, length % 2 == 0 {
                    decoded = hex(run)
                } else if upper, lowerCase {
                    decoded = base64(run)
                }
                if let d = decoded, isText(d) {
                    out.append(Segment(range: i..<end, text: d))
                    budget -= d.count
                }
            }
            i = max(end, i + 1)
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
