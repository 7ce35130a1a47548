// MARK: - Folding for phrase matching

/// Maps Unicode scalars to the text the phrase automaton reads: lower case, no
/// diacritics, confusables (Cyrillic/Greek look-alikes, fullwidth, mathematical letters)
/// as their Latin letters, invisible characters removed. Keywords go through the same
/// fold, so a Russian keyword folded to mixed script still matches Russian text.
enum InjectionFold {
    /// Base letter of U+00C0...U+024F (`_`: none), generated from Unicode NFD.
    static let latinExtended: [UInt8] = Array(
        "aaaaaaaceeeeiiiidnooooo_ouuuuytsaaaaaaaceeeeiiiidnooooo_ouuuuytyaaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii__jjkkkllllll__llnnnnnn_nnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs__________________f_____________oo_____________uu____________________________aaiioouuuuuuuuuu_aaaa____ggkkoooo__j___gg__nnaa____aaaaeeeeiiiioooorrrruuuusstt__hh______aaeeooooooooyy____________________________".utf8)
    /// Base letter of U+1E00...U+1EFF (Vietnamese and other Latin Extended Additional).
    static let latinAdditional: [UInt8] = Array(
        "aabbbbbbccddddddddddeeeeeeeeeeffgghhhhhhhhhhiiiikkkkkkllllllllmmmmmmnnnnnnnnoooooooopppprrrrrrrrssssssssssttttttttuuuuuuuuuuvvvvwwwwwwwwwwxxxxyyzzzzzzhtwy______aaaaaaaaaaaaaaaaaaaaaaaaeeeeeeeeeeeeeeeeiiiioooooooooooooooooooooooouuuuuuuuuuuuuuyyyyyyyy______".utf8)

    /// Cyrillic and Greek letters that look like Latin ones (after lower-casing).
    static func confusable(_ cp: UInt32) -> UInt8? {
        switch cp {
        case 0x430: return UInt8(ascii: "a")   // а
        case 0x435, 0x450, 0x451: return UInt8(ascii: "e")   // е ѐ ё
        case 0x43E: return UInt8(ascii: "o")   // о
        case 0x440: return UInt8(ascii: "p")   // р
        case 0x441: return UInt8(ascii: "c")   // с
        case 0x443: return UInt8(ascii: "y")   // у
        case 0x445: return UInt8(ascii: "x")   // х
        case 0x456, 0x457: return UInt8(ascii: "i")   // і ї
        case 0x458: return UInt8(ascii: "j")   // ј
        case 0x455: return UInt8(ascii: "s")   // ѕ
        case 0x501: return UInt8(ascii: "d")   // ԁ
        case 0x4CF: return UInt8(ascii: "l")   // ӏ
        case 0x4BB: return UInt8(ascii: "h")   // һ
        case 0x432: return UInt8(ascii: "b")   // в (from В)
        case 0x43D: return UInt8(ascii: "h")   // н (from Н)
        case 0x442: return UInt8(ascii: "t")   // т (from Т)
        case 0x43C: return UInt8(ascii: "m")   // м (from М)
        case 0x43A: return UInt8(ascii: "k")   // к (from К)
        case 0x3B1: return UInt8(ascii: "a")   // α
        case 0x3BF, 0x3CC: return UInt8(ascii: "o")   // ο ό
        case 0x3C1: return UInt8(ascii: "p")   // ρ
        case 0x3B9, 0x3AF: return UInt8(ascii: "i")   // ι ί
        case 0x3BA: return UInt8(ascii: "k")   // κ
        case 0x3BD: return UInt8(ascii: "v")   // ν
        case 0x3C4: return UInt8(ascii: "t")   // τ
        case 0x3C5: return UInt8(ascii: "u")   // υ
        case 0x3C7: return UInt8(ascii: "x")   // χ
        case 0x3B5: return UInt8(ascii: "e")   // ε
        case 0x3B2: return UInt8(ascii: "b")   // β
        case 0x3B7: return UInt8(ascii: "n")   // η
        case 0x3B6: return UInt8(ascii: "z")   // ζ
        case 0x261: return UInt8(ascii: "g")   // ɡ
        case 0x269: return UInt8(ascii: "i")   // ɩ
        default: return nil
        }
    }

    /// Lower-cases Latin-1, Latin Extended, Greek and Cyrillic capitals.
    @inline(__always)
    static func lowercase(_ cp: UInt32) -> UInt32 {
        switch cp {
        case 0x41...0x5A: return cp + 0x20
        case 0x391...0x3A9: return cp + 0x20
        case 0x410...0x42F: return cp + 0x20
        case 0x400...0x40F: return cp + 0x50
        case 0xFF21...0xFF3A: return cp + 0x20
        default: return cp
        }
    }

    /// The fold of one scalar: `nil` drops it, otherwise a scalar to emit (ASCII for
    /// everything with a Latin reading).
    @inline(__always)
    static func fold(_ raw: UInt32) -> UInt32? {
        if raw < 0x80 { return lowercase(raw) }
        if UnicodeFolding.isInvisible(raw) { return nil }
        // Unicode tag characters carry hidden ASCII: read it.
        let cp = lowercase(raw)
        switch cp {
        case 0xA0, 0x1680, 0x2000...0x200A, 0x202F, 0x205F, 0x3000: return 0x20
        case 0x2010...0x2015, 0x2212: return 0x2D
        case 0x2018, 0x2019, 0x201B, 0x2032: return 0x27
        case 0x201C, 0x201D, 0x201E: return 0x22
        case 0xFF01...0xFF5E: return cp - 0xFEE0
        case 0xC0...0x24F:
            let b = latinExtended[Int(cp - 0xC0)]
            return b == UInt8(ascii: "_") ? cp : UInt32(b)
        case 0x1E00...0x1EFF:
            let b = latinAdditional[Int(cp - 0x1E00)]
            return b == UInt8(ascii: "_") ? cp : UInt32(b)
        case 0x300...0x36F: return nil   // combining marks (decomposed accents)
        case 0x1D400...0x1D6A3:           // mathematical alphanumerics A-Z a-z in 13 styles
            let k = (cp - 0x1D400) % 52
            return k < 26 ? 0x61 + k : 0x61 + (k - 26)
        case 0x1D7CE...0x1D7FF: return 0x30 + (cp - 0x1D7CE) % 10
        case 0x24B6...0x24CF: return 0x61 + (cp - 0x24B6)   // circled capitals
        case 0x24D0...0x24E9: return 0x61 + (cp - 0x24D0)   // circled small letters
        default:
            if let a = confusable(cp) { return UInt32(a) }
            if let d = UnicodeFolding.digitValue(cp) { return 0x30 + UInt32(d) }
            return cp
        }
    }

    /// Folds a keyword written in any script into the automaton's byte form.
    static func foldKeyword(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var lastSpace = true
        for u in s.unicodeScalars {
            guard let f = fold(u.value) else { continue }
            if f == 0x20 { if !lastSpace { out.append(0x20) }; lastSpace = true; continue }
            lastSpace = false
            _ = UTF8Scalar.encode(f, into: &out)
        }
        while out.last == 0x20 { out.removeLast() }
        return out
    }
}
