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
        while i < n {
            let b = p[i]
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

    static func startsWith(_ p: UnsafeBufferPointer<UInt8>, at i: Int, _ word: String) -> Bool {
        let w = Array(word.utf8)
        guard i + w.count <= p.count else { return false }
        for k in 0..<w.count where lower(p[i + k]) != w[k] { return false }
        return true
    }

    /// Handles one `<…`; returns where scanning continues.
    static func tag(_ p: UnsafeBufferPointer<UInt8>, at s: Int, into places: inout [Place]) -> Int {
        let n = p.count
        let limit = min(n, s + 200_000)
        if startsWith(p, at: s, "<!--") {
            let end = find(Array("-->".utf8), in: p, from: s + 4, to: limit).map { $0 + 3 } ?? min(n, s + 4096)
            places.append(Place(range: s..<end, kind: .comment))
            return end
        }
        // `<details>` is one click away from visible: not a hiding place.
        for block in ["noscript", "template"] where startsWith(p, at: s + 1, block) {
            let close = Array("</\(block)".utf8)
            if let e = find(close, in: p, from: s + 1, to: limit) {
                let end = min(n, (find([UInt8(ascii: ">")], in: p, from: e, to: min(n, e + 32)) ?? e) + 1)
                places.append(Place(range: s..<end, kind: .collapsed))
            }
            return s + 1
        }
        // An element: name, then attributes up to `>`.
        var j = s + 1
        let nameStart = j
        while j < n, isAlnum(p[j]) { j += 1 }
        guard j > nameStart else { return s + 1 }
        let name = Array(UnsafeBufferPointer(rebasing: p[nameStart..<j])).map(lower)
        guard let tagEnd = find([UInt8(ascii: ">")], in: p, from: j, to: min(n, j + 8192)) else { return s + 1 }
        var hiddenElement = false
        var k = j
        while k < tagEnd {
            // Attribute name.
            while k < tagEnd, !isAlpha(p[k]) { k += 1 }
            let an = k
            while k < tagEnd, isAlnum(p[k]) || p[k] == UInt8(ascii: "-") || p[k] == UInt8(ascii: "_") { k += 1 }
            guard k > an else { break }
            let attr = Array(UnsafeBufferPointer(rebasing: p[an..<k])).map(lower)
            if attr == Array("hidden".utf8), k >= tagEnd || p[k] != UInt8(ascii: "=") { hiddenElement = true; continue }
            guard k < tagEnd, p[k] == UInt8(ascii: "=") else { continue }
            k += 1
            guard k < tagEnd else { break }
            let quote = p[k]
            var vs = k, ve = k
            if quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") {
                vs = k + 1
                // The value may contain `>`: look for the closing quote, not the tag end.
                ve = find([quote], in: p, from: vs, to: min(n, vs + 65_536)) ?? tagEnd
                k = ve + 1
            } else {
                while ve < tagEnd, p[ve] != 0x20 { ve += 1 }
                k = ve
            }
            if attr == Array("style".utf8) {
                let compact = UnsafeBufferPointer(rebasing: p[vs..<ve]).filter { $0 != 0x20 }.map(lower)
                if compact.withUnsafeBufferPointer({ c in hiddenStyles.contains { find($0, in: c, from: 0, to: c.count) != nil } }) {
                    hiddenElement = true
                }
            } else if attr == Array("class".utf8) {
                if hiddenClasses.contains(where: { find($0, in: p, from: vs, to: ve) != nil }) { hiddenElement = true }
            } else if hiddenAttributes.contains(attr) || (attr.count > 5 && attr.starts(with: Array("data-".utf8))) {
                if ve > vs { places.append(Place(range: vs..<ve, kind: .attribute)) }
            }
        }
        let afterTag = max(tagEnd, k) + 1
        if hiddenElement {
            var close = Array("</".utf8)
            close.append(contentsOf: name)
            let end: Int
            if let e = find(close, in: p, from: afterTag, to: limit) {
                end = min(n, (find([UInt8(ascii: ">")], in: p, from: e, to: min(n, e + 64)) ?? e) + 1)
            } else {
                end = afterTag
            }
            places.append(Place(range: s..<end, kind: .invisibleElement))
        }
        return min(n, afterTag)
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
