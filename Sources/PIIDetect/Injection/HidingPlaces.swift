// MARK: - Where a page hides text from its human reader

/// Finds the parts of a body a person does not see but a model reading the source does:
/// HTML comments, elements styled invisible (`display:none`, white text, zero size),
/// screen-reader-only classes, `<noscript>`, `<details>`, `<template>`, attribute values
/// (`alt`, `aria-label`, `title`, `content`, `placeholder`, `data-*`) and Markdown link
/// titles. Ranges are in view coordinates.
enum HidingPlaces {
    enum Kind: Sendable { case comment, invisibleElement, attribute, linkTitle, collapsed }

    struct Place {
        var range: Range<Int>
        var kind: Kind
    }

    static let hiddenStyles: [[UInt8]] = [
        "display:none", "visibility:hidden", "font-size:0", "font-size:1px", "font-size:2px", "opacity:0",
        "color:#fff", "color:white", "color:#ffffff", "color:transparent", "left:-9999", "text-indent:-9999",
        "height:0", "width:0", "clip:rect(0",
    ].map { Array($0.utf8) }
    static let hiddenClasses: [[UInt8]] = ["sr-only", "visually-hidden", "screen-reader", "hidden", "d-none", "invisible"]
        .map { Array($0.utf8) }
    static let hiddenAttributes: [[UInt8]] = ["alt", "aria-label", "aria-description", "title", "content", "placeholder", "summary", "label"]
        .map { Array($0.utf8) }

    static func find(_ p: UnsafeBufferPointer<UInt8>) -> [Place] {
        var places: [Place] = []
        let n = p.count
        guard n > 0 else { return places }
        var i = 0
        let base = p.baseAddress!
        let angle = ByteVector.splat(UInt8(ascii: "<")), bracket = ByteVector.splat(UInt8(ascii: "]"))
        while i < n {
            // Most bytes are neither `<` nor `]`: skipped sixteen (near the end eight) at a time.
            if i &+ 16 <= n {
                let x = ByteVector.load(base, i)
                let bits = Lanes.bits(Lanes.eq(x, angle) | Lanes.eq(x, bracket))
                if bits == 0 { i &+= 16; continue }
                i &+= bits.trailingZeroBitCount
            } else if i + 8 <= n {
                let x = ByteWord.load(base + i)
                let f = ByteWord.equal(x, UInt8(ascii: "<")) | ByteWord.equal(x, UInt8(ascii: "]"))
                if f == 0 { i &+= 8; continue }
                i &+= ByteWord.first(f)
            }
            let b = base[i]
            if b != UInt8(ascii: "<") && b != UInt8(ascii: "]") { i &+= 1; continue }
            if b == UInt8(ascii: "<") {
                i = tag(p, at: i, into: &places)
            } else if b == UInt8(ascii: "]"), i + 1 < n, p[i + 1] == UInt8(ascii: "(") {
                linkTitle(p, at: i + 2, into: &places)
                i += 2
            } else {
                i += 1
            }
        }
        return places
    }

    /// Case-insensitive search for an ASCII lower-case `needle` in `p[from..<to]`.
    static func find(_ needle: [UInt8], in p: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        guard let first = needle.first, to - from >= needle.count else { return nil }
        var i = from
        let last = to - needle.count
        while i <= last {
            if lower(p[i]) == first {
                var k = 1
                while k < needle.count, lower(p[i + k]) == needle[k] { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    static func startsWith(_ p: UnsafeBufferPointer<UInt8>, at i: Int, _ w: [UInt8]) -> Bool {
        guard i + w.count <= p.count else { return false }
        for k in 0..<w.count where lower(p[i + k]) != w[k] { return false }
        return true
    }

    /// Whether `p[range]` equals the lower-case ASCII `w` ignoring case.
    @inline(__always)
    static func equals(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ w: [UInt8]) -> Bool {
        guard range.count == w.count else { return false }
        var k = 0
        for i in range { if lower(p[i]) != w[k] { return false }; k += 1 }
        return true
    }

    /// Bit `k` set: some hidden attribute name has `k` letters.
    static let hiddenAttributeLengths: UInt32 = hiddenAttributes.reduce(0) { $0 | 1 << UInt32($1.count) }
    static let commentOpen = Array("<!--".utf8)
    static let commentClose = Array("-->".utf8)
    static let collapsedBlocks: [([UInt8], [UInt8])] = ["noscript", "template"].map { (Array($0.utf8), Array("</\($0)".utf8)) }
    static let gt: [UInt8] = [UInt8(ascii: ">")]
    static let hiddenWord = Array("hidden".utf8)
    static let styleWord = Array("style".utf8)
    static let classWord = Array("class".utf8)
    static let dataPrefix = Array("data-".utf8)

    /// Handles one `<…`; returns where scanning continues.
    static func tag(_ p: UnsafeBufferPointer<UInt8>, at s: Int, into places: inout [Place]) -> Int {
        let n = p.count
        let limit = min(n, s + 200_000)
        // The byte after `<` rules out most of the checks below.
        let next = s + 1 < n ? lower(p[s + 1]) : 0
        if next == UInt8(ascii: "!"), startsWith(p, at: s, commentOpen) {
            let end = find(commentClose, in: p, from: s + 4, to: limit).map { $0 + 3 } ?? min(n, s + 4096)
            places.append(Place(range: s..<end, kind: .comment))
            return end
        }
        // `<details>` is one click away from visible: not a hiding place.
        if next == UInt8(ascii: "n") || next == UInt8(ascii: "t") {
            for (name, close) in collapsedBlocks where next == name[0] && startsWith(p, at: s + 1, name) {
                if let e = find(close, in: p, from: s + 1, to: limit) {
                    let end = min(n, (find(gt, in: p, from: e, to: min(n, e + 32)) ?? e) + 1)
                    places.append(Place(range: s..<end, kind: .collapsed))
                }
                return s + 1
            }
        }
        // An element: name, then attributes up to `>`.
        var j = s + 1
        let nameStart = j
        while j < n, isAlnum(p[j]) { j += 1 }
        guard j > nameStart else { return s + 1 }
        let nameRange = nameStart..<j
        // The first `>` within 8 KiB (or where the search stops).
        var tagEnd = ByteVector.first(UInt8(ascii: ">"), in: p.baseAddress!, from: j, to: min(n, j + 8192))
        guard tagEnd < n, p[tagEnd] == UInt8(ascii: ">") else { return s + 1 }
        var hiddenElement = false
        var k = j
        while k < tagEnd {
            // Attribute name.
            while k < tagEnd, !isAlpha(p[k]) { k += 1 }
            let an = k
            while k < tagEnd, isAlnum(p[k]) || p[k] == UInt8(ascii: "-") || p[k] == UInt8(ascii: "_") { k += 1 }
            guard k > an else { break }
            let attr = an..<k
            if equals(p, attr, hiddenWord), k >= tagEnd || p[k] != UInt8(ascii: "=") { hiddenElement = true; continue }
            guard k < tagEnd, p[k] == UInt8(ascii: "=") else { continue }
            k += 1
            guard k < tagEnd else { break }
            let quote = p[k]
            var vs = k, ve = k
            if quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") {
                vs = k + 1
                // The value may contain `>`: look for the closing quote, not the tag end.
                ve = vs < n ? ByteVector.first(quote, in: p.baseAddress!, from: vs, to: min(n, vs + 65_536)) : vs
                k = ve + 1
            } else {
                while ve < tagEnd, p[ve] != 0x20 { ve += 1 }
                k = ve
            }
            guard ve <= n else { break }
            if equals(p, attr, styleWord) {
                if hasHiddenStyle(p, vs..<ve) { hiddenElement = true }
            } else if equals(p, attr, classWord) {
                if hiddenClasses.contains(where: { find($0, in: p, from: vs, to: ve) != nil }) { hiddenElement = true }
            } else if (hiddenAttributeLengths >> UInt32(min(attr.count, 31))) & 1 != 0
                        && hiddenAttributes.contains(where: { equals(p, attr, $0) })
                        || (attr.count > 5 && startsWith(p, at: attr.lowerBound, dataPrefix)) {
                if ve > vs { places.append(Place(range: vs..<ve, kind: .attribute)) }
            }
        }
        if k > tagEnd {
            // A quoted value ran past the first `>`: the tag ends after it.
            tagEnd = k
            while tagEnd < n, p[tagEnd] != UInt8(ascii: ">") { tagEnd += 1 }
        }
        let afterTag = min(n, tagEnd + 1)
        if hiddenElement {
            var end = afterTag
            // The matching close tag: `</name`.
            var e = afterTag
            while e + nameRange.count + 2 <= limit {
                if p[e] == UInt8(ascii: "<"), p[e + 1] == UInt8(ascii: "/") {
                    var same = true
                    for (t, q) in nameRange.enumerated() where lower(p[e + 2 + t]) != lower(p[q]) { same = false; break }
                    if same {
                        end = min(n, (find(gt, in: p, from: e, to: min(n, e + 64)) ?? e) + 1)
                        break
                    }
                }
                e += 1
            }
            places.append(Place(range: s..<end, kind: .invisibleElement))
        }
        return afterTag
    }

    /// A style value that hides the element (spaces ignored, case-insensitive).
    static func hasHiddenStyle(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, min(r.count, 512))) { buf in
            var m = 0
            for i in r where p[i] != 0x20 && m < buf.count { buf[m] = lower(p[i]); m += 1 }
            let compact = UnsafeBufferPointer(rebasing: buf[0..<m])
            return hiddenStyles.contains { find($0, in: compact, from: 0, to: m) != nil }
        }
    }

    /// `](url "title")`: the title is shown only on hover.
    static func linkTitle(_ p: UnsafeBufferPointer<UInt8>, at s: Int, into places: inout [Place]) {
        let n = p.count
        var j = s
        while j < n, j - s < 2048, p[j] != 0x20, p[j] != UInt8(ascii: ")"), p[j] != 0x0A { j += 1 }
        guard j + 1 < n, p[j] == 0x20 else { return }
        var k = j
        while k < n, p[k] == 0x20 { k += 1 }
        guard k < n, p[k] == UInt8(ascii: "\"") || p[k] == UInt8(ascii: "'") else { return }
        let quote = p[k]
        guard let e = find([quote], in: p, from: k + 1, to: min(n, k + 65_536)) else { return }
        places.append(Place(range: (k + 1)..<e, kind: .linkTitle))
    }
}
