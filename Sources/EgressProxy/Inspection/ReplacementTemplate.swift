// MARK: - Replacement template

/// A transformation's `replace` text: literal bytes and group references (`$1`, `${12}`, `$0`
/// for the whole match, `$$` for a dollar sign; a `$` followed by anything else is literal),
/// the same syntax as `Regex2.Template`, expanded here per match so the windowed stages can
/// place each replacement themselves.
struct ReplacementTemplate: Sendable, Equatable {
    enum Piece: Sendable, Equatable {
        case literal([UInt8])
        case group(Int)
    }

    let pieces: [Piece]

    init(_ text: String) {
        var pieces: [Piece] = []
        var literal: [UInt8] = []
        let b = Array(text.utf8)
        var i = 0
        func flush() {
            if !literal.isEmpty { pieces.append(.literal(literal)); literal = [] }
        }
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "$"), i + 1 < b.count {
                let n = b[i + 1]
                if n == UInt8(ascii: "$") {
                    literal.append(c)
                    i += 2
                    continue
                }
                if Self.isDigit(n) {
                    var j = i + 1, v = 0
                    while j < b.count, Self.isDigit(b[j]), v < 1000 { v = v * 10 + Int(b[j] - 0x30); j += 1 }
                    flush()
                    pieces.append(.group(v))
                    i = j
                    continue
                }
                if n == UInt8(ascii: "{") {
                    var j = i + 2, v = 0, digits = 0
                    while j < b.count, Self.isDigit(b[j]), v < 1000 { v = v * 10 + Int(b[j] - 0x30); j += 1; digits += 1 }
                    if digits > 0, j < b.count, b[j] == UInt8(ascii: "}") {
                        flush()
                        pieces.append(.group(v))
                        i = j + 1
                        continue
                    }
                }
            }
            literal.append(c)
            i += 1
        }
        flush()
        self.pieces = pieces
    }

    /// The highest group number referred to (0 when none).
    var highestGroup: Int {
        pieces.reduce(0) { if case .group(let g) = $1 { return max($0, g) } else { return $0 } }
    }

    /// The replacement for one match: `whole` is the match, `groups[k-1]` group k (nil: unset,
    /// expands to nothing).
    func expand(in subject: [UInt8], whole: Range<Int>, groups: [Range<Int>?]) -> [UInt8] {
        var out: [UInt8] = []
        for piece in pieces {
            switch piece {
            case .literal(let bytes):
                out.append(contentsOf: bytes)
            case .group(0):
                out.append(contentsOf: subject[whole])
            case .group(let g):
                if g - 1 < groups.count, let range = groups[g - 1] { out.append(contentsOf: subject[range]) }
            }
        }
        return out
    }

    @inline(__always) private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
}
