import Crypto
import NIOConcurrencyHelpers

// MARK: - TokenVault

/// The redaction tokens of one sandbox: value → `[TYPE_xxxxxx]` and back.
///
/// A token's six hex digits are the first three bytes of HMAC-SHA256 over the type and the
/// value under a key drawn at random for the sandbox, so the same value always gets the same
/// token within the sandbox, tokens of two sandboxes differ, and a token reveals nothing about
/// its value. Two values whose digits collide get the next free derivation (a counter is
/// added to the HMAC input), so a token never names two values.
///
/// Bounded: beyond `capacity` entries the oldest is forgotten (its token is no longer
/// restored in responses; the same value later gets the same token again). Thread-safe.
/// Its description shows counts only: the values are PII.
public final class TokenVault: Sendable {
    /// The default number of values remembered.
    public static let defaultCapacity = 65_536

    private struct Entry {
        var value: [UInt8]
        var type: String
    }

    private struct State {
        var tokenOf: [[UInt8]: String] = [:]
        var entryOf: [String: Entry] = [:]
        /// Tokens in insertion order from `head` (a ring that is compacted now and then).
        var order: [String] = []
        var head = 0
    }

    private let key: SymmetricKey
    private let capacity: Int
    private let state = NIOLockedValueBox(State())

    /// A vault with a fresh random key (one a sandbox, kept across policy reloads).
    public convenience init(capacity: Int = TokenVault.defaultCapacity) {
        self.init(key: SymmetricKey(size: .bits256), capacity: capacity)
    }

    /// A vault with a given key (tests; a deployment that wants tokens stable across restarts).
    public init(key: SymmetricKey, capacity: Int = TokenVault.defaultCapacity) {
        self.key = key
        self.capacity = max(1, capacity)
    }

    /// Values remembered now.
    public var count: Int { state.withLockedValue { $0.entryOf.count } }

    // MARK: Tokens

    /// The token for `value` of `type` (an upper-case type name such as `EMAIL_ADDRESS`).
    public func token(for value: [UInt8], type: String) -> String {
        var lookup = Array(type.utf8)
        lookup.append(0)
        lookup.append(contentsOf: value)
        return state.withLockedValue { state in
            if let known = state.tokenOf[lookup] { return known }
            var candidate = ""
            for attempt in 0..<16 {
                candidate = Self.derive(key: key, input: lookup, attempt: attempt, type: type)
                if state.entryOf[candidate] == nil { break }
                // Taken by another value: try the next derivation.
                if attempt == 15 { return candidate }  // practically unreachable; not stored
            }
            state.tokenOf[lookup] = candidate
            state.entryOf[candidate] = Entry(value: value, type: type)
            state.order.append(candidate)
            while state.entryOf.count > capacity, state.head < state.order.count {
                let old = state.order[state.head]
                state.head += 1
                if let entry = state.entryOf.removeValue(forKey: old) {
                    var oldKey = Array(entry.type.utf8)
                    oldKey.append(0)
                    oldKey.append(contentsOf: entry.value)
                    state.tokenOf.removeValue(forKey: oldKey)
                }
            }
            if state.head > capacity {
                state.order.removeFirst(state.head)
                state.head = 0
            }
            return candidate
        }
    }

    /// The value a token stands for, or nil when the token is unknown (or forgotten).
    public func value(forToken token: String) -> [UInt8]? {
        state.withLockedValue { $0.entryOf[token]?.value }
    }

    /// `[TYPE_xxxxxx]` from the HMAC of the lookup key (and the attempt number, after a collision).
    private static func derive(key: SymmetricKey, input: [UInt8], attempt: Int, type: String) -> String {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: input)
        if attempt > 0 { hmac.update(data: [0, UInt8(attempt)]) }
        let digest = Array(hmac.finalize())
        let hex = Array("0123456789abcdef".utf8)
        var digits: [UInt8] = []
        for byte in digest.prefix(3) {
            digits.append(hex[Int(byte >> 4)])
            digits.append(hex[Int(byte & 0x0F)])
        }
        return "[" + type + "_" + String(decoding: digits, as: UTF8.self) + "]"
    }
}

// MARK: - Redacted descriptions

extension TokenVault: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Counts only: the values are PII.
    public var description: String { "TokenVault(<redacted>, values: \(count))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}
