// MARK: - TokenRehydrator

/// Turns redaction tokens in a response back into the values they stand for
/// (`rehydrate_response`), in their raw (`[TYPE_xxxxxx]`) and percent-encoded
/// (`%5BTYPE_xxxxxx%5D`) forms. A token cut by a chunk boundary is held back until it is
/// complete (at most ``RedactionToken/maxLength`` bytes); unknown tokens stay as they are.
struct TokenRehydrator {
    let vault: TokenVault
    /// JSON bodies get the value JSON-escaped; percent-encoded tokens get it percent-encoded.
    let json: Bool
    /// Tokens restored so far.
    private(set) var restored = 0
    private var carry: [UInt8] = []

    init(vault: TokenVault, json: Bool) {
        self.vault = vault
        self.json = json
    }

    var retainedByteCount: Int { carry.count }

    mutating func feed(_ bytes: [UInt8]) -> [UInt8] {
        if carry.isEmpty, !bytes.contains(where: { $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "%") }) {
            return bytes
        }
        var data = carry
        data.append(contentsOf: bytes)
        carry = []
        return process(data, final: false)
    }

    mutating func finish() -> [UInt8] {
        let data = carry
        carry = []
        return process(data, final: true)
    }

    /// Restores every complete token in one whole piece of text (an SSE event).
    mutating func restoreAll(_ bytes: [UInt8], json: Bool) -> [UInt8] {
        var copy = TokenRehydrator(vault: vault, json: json)
        let out = copy.process(bytes, final: true)
        restored += copy.restored
        return out
    }

    private mutating func process(_ p: [UInt8], final: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(p.count)
        var literalStart = 0
        var i = 0
        let n = p.count
        p.withUnsafeBufferPointer { buf in
            while i < n {
                let b = buf[i]
                guard b == UInt8(ascii: "[") || b == UInt8(ascii: "%") else { i += 1; continue }
                switch RedactionToken.scan(buf, at: i) {
                case .token(let length, let canonical, let percent):
                    if let value = vault.value(forToken: canonical) {
                        out.append(contentsOf: buf[literalStart..<i])
                        out.append(contentsOf: RedactionToken.render(value, for: percent ? .percent : (json ? .json : .raw)))
                        restored += 1
                        i += length
                        literalStart = i
                    } else {
                        i += 1
                    }
                case .partial:
                    if final || n - i > RedactionToken.maxLength {
                        i += 1
                    } else {
                        carry = Array(buf[i..<n])
                        out.append(contentsOf: buf[literalStart..<i])
                        literalStart = n
                        i = n
                    }
                case .none:
                    i += 1
                }
            }
        }
        if literalStart < n { out.append(contentsOf: p[literalStart..<n]) }
        return out
    }
}
