// MARK: - Unicode folding for the detectors

/// What the detectors see in place of one Unicode scalar.
enum ScalarFold: Equatable {
    /// Invisible: zero-width, bidi controls, soft hyphen, variation selectors, tags.
    case drop
    /// An ASCII stand-in: a decimal digit of any script, a fullwidth form, a space or dash
    /// variant, a look-alike `@` or `.`.
    case ascii(UInt8)
    /// Kept as it is (its UTF-8 bytes are copied).
    case keep
}

enum UnicodeFolding {
    /// The zero of every Unicode `Nd` (decimal digit) block; each block holds 0...9 in order.
    /// Generated from the Unicode Character Database (category Nd, digit value 0).
    static let decimalZeros: [UInt32] = [
        0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6,
        0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50,
        0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
        0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
        0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
        0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
    ]

    /// The ASCII digit value of `cp` if it is a decimal digit of any script.
    @inline(__always)
    static func digitValue(_ cp: UInt32) -> UInt8? {
        if cp < 0x660 { return nil }
        // Binary search for the last zero <= cp.
        var lo = 0, hi = decimalZeros.count - 1
        if cp < decimalZeros[0] { return nil }
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if decimalZeros[mid] <= cp { lo = mid } else { hi = mid - 1 }
        }
        let d = cp - decimalZeros[lo]
        return d < 10 ? UInt8(d) : nil
    }

    /// Format characters and other invisibles that carry no text: dropped before matching
    /// so `4\u{200B}111…` is still a card number.
    @inline(__always)
    static func isInvisible(_ cp: UInt32) -> Bool {
        switch cp {
        case 0xAD, 0x34F, 0x61C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B...0x180F,
             0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x206F,
             0x3164, 0xFE00...0xFE0F, 0xFEFF, 0xFFA0, 0xE0000...0xE007F, 0xE0100...0xE01EF:
            return true
        default:
            return false
        }
    }

    /// The fold used by the PII and secret detectors.
    @inline(__always)
    static func foldForDetection(_ cp: UInt32) -> ScalarFold {
        if isInvisible(cp) { return .drop }
        switch cp {
        case 0xA0, 0x1680, 0x2000...0x200A, 0x202F, 0x205F, 0x3000:
            return .ascii(0x20)
        case 0x2010...0x2015, 0x2212, 0xFE58, 0xFE63:
            return .ascii(UInt8(ascii: "-"))
        case 0xFF01...0xFF5E:
            return .ascii(UInt8(cp - 0xFEE0))
        case 0xFE6B:
            return .ascii(UInt8(ascii: "@"))
        case 0x2024, 0x3002, 0xFE52, 0xFF61:
            return .ascii(UInt8(ascii: "."))
        default:
            if let d = digitValue(cp) { return .ascii(0x30 + d) }
            return .keep
        }
    }
}

// MARK: - UTF-8 helpers

enum UTF8Scalar {
    /// Decodes one scalar at `i`; returns the scalar and its byte length, or `nil` for an
    /// invalid or truncated sequence.
    @inline(__always)
    static func decode(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int)? {
        let n = p.count
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xC2 { return nil }
        if b0 < 0xE0 {
            guard i + 1 < n else { return nil }
            let b1 = UInt32(p[i + 1])
            guard b1 & 0xC0 == 0x80 else { return nil }
            return (((b0 & 0x1F) << 6) | (b1 & 0x3F), 2)
        }
        if b0 < 0xF0 {
            guard i + 2 < n else { return nil }
            let b1 = UInt32(p[i + 1]), b2 = UInt32(p[i + 2])
            guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80 else { return nil }
            let cp = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
            guard cp >= 0x800, !(0xD800...0xDFFF).contains(cp) else { return nil }
            return (cp, 3)
        }
        if b0 < 0xF5 {
            guard i + 3 < n else { return nil }
            let b1 = UInt32(p[i + 1]), b2 = UInt32(p[i + 2]), b3 = UInt32(p[i + 3])
            guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80, b3 & 0xC0 == 0x80 else { return nil }
            let cp = ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
            guard cp >= 0x10000, cp <= 0x10FFFF else { return nil }
            return (cp, 4)
        }
        return nil
    }

    /// Appends the UTF-8 encoding of `cp` (U+FFFD for surrogates and out-of-range values).
    @inline(__always)
    static func encode<Sink: ByteSink & ~Copyable>(_ cp: UInt32, into out: inout Sink) -> Int {
        var c = cp
        if (0xD800...0xDFFF).contains(c) || c > 0x10FFFF { c = 0xFFFD }
        if c < 0x80 { out.append(UInt8(c)); return 1 }
        if c < 0x800 {
            out.append(UInt8(0xC0 | (c >> 6))); out.append(UInt8(0x80 | (c & 0x3F))); return 2
        }
        if c < 0x10000 {
            out.append(UInt8(0xE0 | (c >> 12))); out.append(UInt8(0x80 | ((c >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (c & 0x3F))); return 3
        }
        out.append(UInt8(0xF0 | (c >> 18))); out.append(UInt8(0x80 | ((c >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((c >> 6) & 0x3F))); out.append(UInt8(0x80 | (c & 0x3F)))
        return 4
    }
}

/// Where encoded bytes go: an array, or a decoding pass's ``ByteOutput``.
protocol ByteSink: ~Copyable {
    mutating func append(_ byte: UInt8)
}

extension Array: ByteSink where Element == UInt8 {}
extension GrowingBuffer: ByteSink where Element == UInt8 {}
