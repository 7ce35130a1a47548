// MARK: - SSERehydrator

/// Token rehydration for `text/event-stream` bodies, where a model streaming its answer
/// writes a token in pieces across events:
///
///     data: {"choices":[{"delta":{"content":"Mail [EMAIL_AD"}}]}
///
///     data: {"choices":[{"delta":{"content":"DRESS_1a2b3c] now"}}]}
///
/// Tokens inside one event are restored directly. When a text field of an event (a JSON
/// string value, by its path, or a plain `data:` line) ends with the beginning of a token,
/// the event is held; the following events' field at the same path continue it. Once the
/// token is complete and known, the value replaces the first piece and the other pieces are
/// removed; if the text turns out not to be a token, the held events go on unchanged.
/// Events flow on as soon as they are complete otherwise. Bounded: at most
/// `maxHeldEvents` / `maxHeldBytes` held, an incomplete event is held up to `maxEventBytes`.
struct SSERehydrator {
    static let maxHeldEvents = 64
    static let maxHeldBytes = 64 * 1024
    static let maxEventBytes = 1024 * 1024

    private struct HeldEvent {
        var bytes: [UInt8]
        /// Replacements to apply when the event is emitted (ranges in `bytes`).
        var edits: [(range: Range<Int>, replacement: [UInt8])] = []
        var json: Bool
    }

    private struct PendingToken {
        var path: String
        var text: [UInt8]
        /// Where the pieces are: index into `held`, range in that event.
        var pieces: [(event: Int, range: Range<Int>)]
    }

    private var rehydrator: TokenRehydrator
    private var partial: [UInt8] = []
    /// How much of `partial` was searched for an event end already.
    private var scanned = 0
    private var held: [HeldEvent] = []
    private var pending: PendingToken?

    init(vault: TokenVault) {
        rehydrator = TokenRehydrator(vault: vault, json: false)
    }

    /// Tokens restored so far.
    var restored: Int { rehydrator.restored + crossEventRestored }
    private var crossEventRestored = 0

    var retainedByteCount: Int { partial.count + held.reduce(0) { $0 + $1.bytes.count } }

    // MARK: Streaming

    mutating func feed(_ bytes: [UInt8]) -> [UInt8] {
        partial.append(contentsOf: bytes)
        var out: [UInt8] = []
        var start = 0
        // Resume where the last search stopped (minus the two bytes a blank line may span).
        var i = max(0, scanned - 2)
        while i < partial.count {
            if partial[i] == 0x0A, let end = Self.blankLineEnd(partial, newlineAt: i) {
                process(Array(partial[start..<end]), into: &out)
                start = end
                i = end
            } else {
                i += 1
            }
        }
        partial.removeFirst(start)
        scanned = partial.count
        if partial.count > Self.maxEventBytes {
            // An event that never ends: let it through rather than hold without bound.
            flushHeld(into: &out)
            out.append(contentsOf: rehydrator.restoreAll(partial, json: false))
            partial = []
            scanned = 0
        }
        return out
    }

    mutating func finish() -> [UInt8] {
        var out: [UInt8] = []
        if !partial.isEmpty {
            process(partial, into: &out)
            partial = []
            scanned = 0
        }
        flushHeld(into: &out)
        return out
    }

    /// The end of the blank line whose first newline is at `i` ("\n\n" or "\n\r\n").
    private static func blankLineEnd(_ p: [UInt8], newlineAt i: Int) -> Int? {
        if i + 1 < p.count, p[i + 1] == 0x0A { return i + 2 }
        if i + 2 < p.count, p[i + 1] == 0x0D, p[i + 2] == 0x0A { return i + 3 }
        return nil
    }

    // MARK: Events

    /// One text field of an event.
    private struct Field {
        var path: String
        var range: Range<Int>
    }

    /// The text fields of an event: the string values of each JSON `data:` line, or the
    /// whole line when it is not JSON. Paths are prefixed with the data line's number.
    private static func fields(of event: [UInt8]) -> (fields: [Field], hasData: Bool, json: Bool) {
        var fields: [Field] = []
        var hasData = false
        var json = false
        var lineStart = 0
        var dataLine = 0
        while lineStart < event.count {
            var lineEnd = lineStart
            while lineEnd < event.count, event[lineEnd] != 0x0A { lineEnd += 1 }
            var contentEnd = lineEnd
            if contentEnd > lineStart, event[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            let prefix = Array("data:".utf8)
            if contentEnd - lineStart >= prefix.count, Array(event[lineStart..<(lineStart + prefix.count)]) == prefix {
                hasData = true
                var payload = lineStart + prefix.count
                if payload < contentEnd, event[payload] == 0x20 { payload += 1 }
                let first = event[payload..<contentEnd].first { $0 != 0x20 && $0 != 0x09 }
                if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
                    json = true
                    for value in JSONStringValues.scan(event[payload..<contentEnd]) {
                        fields.append(Field(path: "\(dataLine):\(value.path)", range: value.content))
                    }
                } else {
                    fields.append(Field(path: "\(dataLine):", range: payload..<contentEnd))
                }
                dataLine += 1
            }
            lineStart = lineEnd + 1
        }
        return (fields, hasData, json)
    }

    private mutating func process(_ raw: [UInt8], into out: inout [UInt8]) {
        let event = rehydrator.restoreAll(raw, json: Self.fields(of: raw).json)
        let info = Self.fields(of: event)
        guard let token = pending else {
            startOrEmit(HeldEvent(bytes: event, json: info.json), fields: info.fields, into: &out)
            return
        }
        guard let field = info.fields.first(where: { $0.path == token.path }) else {
            if !info.hasData {
                // A comment or keep-alive between pieces: keep it in order.
                held.append(HeldEvent(bytes: event, json: info.json))
                enforceBounds(into: &out)
            } else {
                flushHeld(into: &out)
                startOrEmit(HeldEvent(bytes: event, json: info.json), fields: info.fields, into: &out)
            }
            return
        }
        var combined = token.text
        combined.append(contentsOf: event[field.range])
        let verdict = combined.withUnsafeBufferPointer { RedactionToken.scan($0, at: 0) }
        if case .token(let length, let canonical, let percent) = verdict, length > token.text.count,
           let value = rehydrator.vault.value(forToken: canonical) {
            // Complete: the value goes where the token began, the other pieces go away.
            let first = token.pieces[0]
            let context: RedactionToken.Context = percent ? .percent : (held[first.event].json ? .json : .raw)
            held[first.event].edits.append((first.range, RedactionToken.render(value, for: context)))
            for piece in token.pieces.dropFirst() { held[piece.event].edits.append((piece.range, [])) }
            let used = length - token.text.count
            var current = HeldEvent(bytes: event, json: info.json)
            current.edits.append((field.range.lowerBound..<(field.range.lowerBound + used), []))
            crossEventRestored += 1
            flushHeld(into: &out)
            // What follows the token in this event may begin another one.
            let rest = Field(path: field.path, range: (field.range.lowerBound + used)..<field.range.upperBound)
            let later = info.fields.filter { $0.range.lowerBound >= field.range.upperBound }
            startOrEmit(current, fields: [rest] + later, into: &out)
        } else if verdict == .partial, combined.count <= RedactionToken.maxLength {
            pending?.text = combined
            pending?.pieces.append((held.count, field.range))
            held.append(HeldEvent(bytes: event, json: info.json))
            enforceBounds(into: &out)
        } else {
            // Not a token after all: the held events go on unchanged.
            flushHeld(into: &out)
            startOrEmit(HeldEvent(bytes: event, json: info.json), fields: info.fields, into: &out)
        }
    }

    /// Holds `event` if one of its fields (the last one that does) ends with the beginning of
    /// a token; emits it otherwise.
    private mutating func startOrEmit(_ event: HeldEvent, fields: [Field], into out: inout [UInt8]) {
        for field in fields.reversed() where !field.range.isEmpty {
            let content = event.bytes[field.range]
            let lower = max(field.range.lowerBound, field.range.upperBound - RedactionToken.maxLength)
            var k = field.range.upperBound - 1
            var start: Int?
            while k >= lower {
                let b = content[k]
                if b == UInt8(ascii: "[") || b == UInt8(ascii: "%") {
                    if RedactionToken.isPrefix(content[k...]) { start = k }
                    break
                }
                k -= 1
            }
            guard let start else { continue }
            pending = PendingToken(path: field.path, text: Array(content[start...]), pieces: [(held.count, start..<field.range.upperBound)])
            held.append(event)
            return
        }
        emit(event, into: &out)
    }

    private mutating func enforceBounds(into out: inout [UInt8]) {
        let bytes = held.reduce(0) { $0 + $1.bytes.count }
        if held.count > Self.maxHeldEvents || bytes > Self.maxHeldBytes { flushHeld(into: &out) }
    }

    /// Emits every held event with its edits; forgets a pending token.
    private mutating func flushHeld(into out: inout [UInt8]) {
        let events = held
        held = []
        pending = nil
        for event in events { emit(event, into: &out) }
    }

    private func emit(_ event: HeldEvent, into out: inout [UInt8]) {
        guard !event.edits.isEmpty else {
            out.append(contentsOf: event.bytes)
            return
        }
        var cursor = 0
        for edit in event.edits.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) where edit.range.lowerBound >= cursor {
            out.append(contentsOf: event.bytes[cursor..<edit.range.lowerBound])
            out.append(contentsOf: edit.replacement)
            cursor = edit.range.upperBound
        }
        out.append(contentsOf: event.bytes[cursor...])
    }
}
