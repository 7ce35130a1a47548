/// A bounded dictionary that evicts the least recently used entry, all operations O(1).
///
/// The recency list is doubly linked through array slots (indices instead of references), so
/// the cache allocates no node objects and a lookup under a lock stays short: a hit on the
/// event loop only relinks two slots. Not thread-safe by itself; the owner holds it in a lock.
struct LRUCache<Key: Hashable, Value> {
    // MARK: Storage

    fileprivate struct Node {
        var key: Key
        var value: Value
        /// The slot of the next more recently used entry, or -1.
        var newer: Int
        /// The slot of the next less recently used entry, or -1.
        var older: Int
    }

    /// Slots; `nil` ones are listed in `freeSlots` for reuse.
    private var slots: [Node?] = []
    private var freeSlots: [Int] = []
    private var slotForKey: [Key: Int] = [:]
    /// The most recently used slot, or -1 when empty.
    private var newest = -1
    /// The least recently used slot, or -1 when empty.
    private var oldest = -1

    /// The most entries the cache holds; inserting beyond it evicts the least recently used.
    let capacity: Int

    /// - Parameter capacity: at least 1.
    init(capacity: Int) {
        precondition(capacity >= 1, "LRUCache capacity must be at least 1")
        self.capacity = capacity
    }

    /// The number of entries.
    var count: Int { self.slotForKey.count }

    // MARK: Operations

    /// The value for `key`, marking the entry most recently used.
    mutating func value(forKey key: Key) -> Value? {
        guard let slot = self.slotForKey[key], let node = self.slots[slot] else {
            return nil
        }
        self.unlink(slot)
        self.linkAsNewest(slot)
        return node.value
    }

    /// Inserts or replaces the value for `key` as the most recently used entry.
    ///
    /// - Returns: the entry evicted to stay within `capacity`, if any.
    @discardableResult
    mutating func setValue(_ value: Value, forKey key: Key) -> (key: Key, value: Value)? {
        if let slot = self.slotForKey[key] {
            self.slots[slot]?.value = value
            self.unlink(slot)
            self.linkAsNewest(slot)
            return nil
        }
        var evicted: (key: Key, value: Value)?
        if self.count >= self.capacity, self.oldest >= 0, let victim = self.slots[self.oldest] {
            evicted = (victim.key, victim.value)
            self.removeValue(forKey: victim.key)
        }
        let node = Node(key: key, value: value, newer: -1, older: -1)
        let slot: Int
        if let free = self.freeSlots.popLast() {
            slot = free
            self.slots[slot] = node
        } else {
            slot = self.slots.count
            self.slots.append(node)
        }
        self.slotForKey[key] = slot
        self.linkAsNewest(slot)
        return evicted
    }

    /// Removes the entry for `key`.
    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        guard let slot = self.slotForKey.removeValue(forKey: key), let node = self.slots[slot] else {
            return nil
        }
        self.unlink(slot)
        // Drop the value now so an evicted context's memory is released at once.
        self.slots[slot] = nil
        self.freeSlots.append(slot)
        return node.value
    }

    // MARK: Linking

    private mutating func unlink(_ slot: Int) {
        guard let node = self.slots[slot] else { return }
        if node.newer >= 0 { self.slots[node.newer]?.older = node.older } else { self.newest = node.older }
        if node.older >= 0 { self.slots[node.older]?.newer = node.newer } else { self.oldest = node.newer }
        self.slots[slot]?.newer = -1
        self.slots[slot]?.older = -1
    }

    private mutating func linkAsNewest(_ slot: Int) {
        self.slots[slot]?.older = self.newest
        self.slots[slot]?.newer = -1
        if self.newest >= 0 { self.slots[self.newest]?.newer = slot }
        self.newest = slot
        if self.oldest < 0 { self.oldest = slot }
    }
}

extension LRUCache: Sendable where Key: Sendable, Value: Sendable {}
extension LRUCache.Node: Sendable where Key: Sendable, Value: Sendable {}
