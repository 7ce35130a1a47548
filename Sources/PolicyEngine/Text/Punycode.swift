// MARK: - Punycode (RFC 3492)

/// Bootstring encoding of Unicode labels into the ASCII `xn--` form that DNS and TLS use, so a
/// policy written with `bücher.example` and a client asking for `xn--bcher-kva.example` meet.
public enum Punycode {
    private static let base = 36
    private static let tMin = 1
    private static let tMax = 26
    private static let skew = 38
    private static let damp = 700
    private static let initialBias = 72
    private static let initialN = 128
    /// The ACE prefix of an encoded label (RFC 3490).
    public static let acePrefix = "xn--"

    /// Encodes one label's code points (RFC 3492 section 6.3). Nil on overflow.
    public static func encode(_ label: String) -> String? {
        let input = label.unicodeScalars.map { Int($0.value) }
        var output: [UInt8] = input.filter { $0 < 0x80 }.map { UInt8($0) }
        let basicCount = output.count
        var handled = basicCount
        if basicCount > 0 { output.append(UInt8(ascii: "-")) }

        var n = initialN
        var delta = 0
        var bias = initialBias
        while handled < input.count {
            guard let next = input.filter({ $0 >= n }).min() else { return nil }
            let (product, overflow1) = (next - n).multipliedReportingOverflow(by: handled + 1)
            let (sum, overflow2) = delta.addingReportingOverflow(product)
            guard !overflow1, !overflow2 else { return nil }
            delta = sum
            n = next
            for scalar in input {
                if scalar < n {
                    delta += 1
                    if delta == Int.max { return nil }
                }
                if scalar == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = threshold(k, bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, handled + 1, handled == basicCount)
                    delta = 0
                    handled += 1
                }
            }
            delta += 1
            n += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes an encoded label (without the `xn--` prefix). Nil when it is not valid Punycode.
    public static func decode(_ encoded: String) -> String? {
        let input = Array(encoded.utf8)
        guard input.allSatisfy({ $0 < 0x80 }) else { return nil }
        var output: [Int] = []
        var position = 0
        if let lastDash = input.lastIndex(of: UInt8(ascii: "-")) {
            output = input[..<lastDash].map { Int($0) }
            position = lastDash + 1
        }
        var n = initialN
        var i = 0
        var bias = initialBias
        while position < input.count {
            let oldI = i
            var w = 1
            var k = base
            while true {
                guard position < input.count, let value = digitValue(input[position]) else { return nil }
                position += 1
                let (step, o1) = value.multipliedReportingOverflow(by: w)
                let (sum, o2) = i.addingReportingOverflow(step)
                guard !o1, !o2 else { return nil }
                i = sum
                let t = threshold(k, bias)
                if value < t { break }
                let (nextW, o3) = w.multipliedReportingOverflow(by: base - t)
                guard !o3 else { return nil }
                w = nextW
                k += base
            }
            bias = adapt(i - oldI, output.count + 1, oldI == 0)
            let (sum, o4) = n.addingReportingOverflow(i / (output.count + 1))
            guard !o4 else { return nil }
            n = sum
            i %= output.count + 1
            guard n <= 0x10FFFF, Unicode.Scalar(UInt32(n)) != nil else { return nil }
            output.insert(n, at: i)
            i += 1
        }
        var result = String.UnicodeScalarView()
        for value in output {
            guard let scalar = Unicode.Scalar(UInt32(value)) else { return nil }
            result.append(scalar)
        }
        return String(result)
    }

    private static func threshold(_ k: Int, _ bias: Int) -> Int {
        if k <= bias { return tMin }
        if k >= bias + tMax { return tMax }
        return k - bias
    }

    private static func adapt(_ delta: Int, _ numPoints: Int, _ firstTime: Bool) -> Int {
        var delta = firstTime ? delta / damp : delta / 2
        delta += delta / numPoints
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + ((base - tMin + 1) * delta) / (delta + skew)
    }

    private static func digit(_ value: Int) -> UInt8 {
        value < 26 ? UInt8(value + 0x61) : UInt8(value - 26 + 0x30)
    }

    private static func digitValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x61...0x7a: return Int(byte - 0x61)
        case 0x41...0x5a: return Int(byte - 0x41)
        case 0x30...0x39: return Int(byte - 0x30) + 26
        default: return nil
        }
    }
}
