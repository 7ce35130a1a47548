// MARK: - CIDRTable

/// A set of CIDR blocks of one family as a binary prefix trie. Each block carries an entry id
/// (its position in the policy), so a lookup can name the policy entry that matched.
///
/// A lookup walks at most 32 or 128 nodes whatever the number of blocks; the trie is built once
/// at compile time and never changes (a `Sendable` value of plain arrays).
struct CIDRTable: Sendable {
    /// Child node indices (0 = none; node 0 is the root and never a child).
    private var zero: [Int32] = [0]
    private var one: [Int32] = [0]
    /// The smallest entry id of the blocks ending at this node, or -1.
    private var entry: [Int32] = [-1]
    let family: IPAddress.Family

    init(family: IPAddress.Family) {
        self.family = family
    }

    /// Whether the table holds no block.
    var isEmpty: Bool { entry.count == 1 && entry[0] < 0 }

    /// Adds `block` with `id`; when the same block is added twice the smaller id is kept.
    mutating func insert(_ block: CIDR, id: Int) {
        precondition(block.network.family == family, "CIDR family mismatch")
        var node = 0
        for depth in 0..<block.prefixLength {
            let bit = block.network.bit(depth)
            var child = Int(bit ? one[node] : zero[node])
            if child == 0 {
                child = entry.count
                zero.append(0)
                one.append(0)
                entry.append(-1)
                if bit { one[node] = Int32(child) } else { zero[node] = Int32(child) }
            }
            node = child
        }
        if entry[node] < 0 || Int(entry[node]) > id { entry[node] = Int32(id) }
    }

    /// The smallest entry id among the blocks that contain `address` and whose prefix length is
    /// at least `minimumPrefixLength` (used to ask for blocks lying inside a given range).
    func lookup(_ address: IPAddress, minimumPrefixLength: Int = 0) -> Int? {
        guard address.family == family else { return nil }
        var best: Int32 = -1
        var node = 0
        var depth = 0
        while true {
            if depth >= minimumPrefixLength, entry[node] >= 0, best < 0 || entry[node] < best {
                best = entry[node]
            }
            guard depth < address.bitWidth else { break }
            let child = address.bit(depth) ? one[node] : zero[node]
            if child == 0 { break }
            node = Int(child)
            depth += 1
        }
        return best < 0 ? nil : Int(best)
    }
}
