// MARK: - JSON string values

/// Lists the string values of a JSON text with their paths (`choices.0.delta.content`) and
/// the byte ranges of their contents (between the quotes, still escaped), without building
/// the document. Used to follow one text field across the events of a stream. Lenient and
/// bounded: stops at the first thing it does not understand and returns what it found.
enum JSONStringValues {
    struct Value: Equatable {
        var path: String
        /// The content between the quotes, as written (escapes not undone).
        var content: Range<Int>
    }

    private enum Container {
        case object(key: String?, expectingKey: Bool)
        case array(index: Int)
    }

    static let maxDepth = 32

    static func scan(_ p: ArraySlice<UInt8>) -> [Value] {
        var values: [Value] = []
        var stack: [Container] = []
        var i = p.startIndex
        let end = p.endIndex

        func path() -> String {
            stack.compactMap { c -> String? in
                switch c {
                case .object(let key, _): return key
                case .array(let index): return String(index)
                }
            }.joined(separator: ".")
        }

        while i < end {
            let c = p[i]
            switch c {
            case 0x20, 0x09, 0x0A, 0x0D:
                i += 1
            case UInt8(ascii: "{"):
                guard stack.count < maxDepth else { return values }
                stack.append(.object(key: nil, expectingKey: true))
                i += 1
            case UInt8(ascii: "["):
                guard stack.count < maxDepth else { return values }
                stack.append(.array(index: 0))
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard !stack.isEmpty else { return values }
                stack.removeLast()
                i += 1
            case UInt8(ascii: ":"):
                guard case .object(let key, _) = stack.last else { return values }
                stack[stack.count - 1] = .object(key: key, expectingKey: false)
                i += 1
            case UInt8(ascii: ","):
                switch stack.last {
                case .object(let key, _)?: stack[stack.count - 1] = .object(key: key, expectingKey: true)
                case .array(let index)?: stack[stack.count - 1] = .array(index: index + 1)
                case nil: return values
                }
                i += 1
            case UInt8(ascii: "\""):
                let start = i + 1
                var k = start
                while k < end, p[k] != UInt8(ascii: "\"") {
                    k += p[k] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard k < end else { return values }
                if case .object(_, true)? = stack.last {
                    let key = String(decoding: p[start..<k], as: UTF8.self)
                    stack[stack.count - 1] = .object(key: key, expectingKey: false)
                } else {
                    values.append(Value(path: path(), content: start..<k))
                }
                i = k + 1
            default:
                // Numbers, true, false, null.
                var k = i
                while k < end, !", \t\r\n}]".utf8.contains(p[k]) { k += 1 }
                guard k > i else { return values }
                i = k
            }
        }
        return values
    }
}
