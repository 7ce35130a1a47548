// MARK: - Header lists

/// Case-insensitive helpers over the `[(name, value)]` header lists the inspection stages
/// take, so they need no NIOHTTP1 type and keep the order and spelling the peer sent.
enum HeaderList {
    /// The first value of `name`.
    static func first(_ headers: [(String, String)], _ name: String) -> String? {
        headers.first { equalNames($0.0, name) }?.1
    }

    /// Every value of `name`, in order.
    static func all(_ headers: [(String, String)], _ name: String) -> [String] {
        headers.filter { equalNames($0.0, name) }.map(\.1)
    }

    /// Removes every field called `name`; returns how many were removed.
    @discardableResult
    static func remove(_ headers: inout [(String, String)], _ name: String) -> Int {
        let before = headers.count
        headers.removeAll { equalNames($0.0, name) }
        return before - headers.count
    }

    /// Replaces every field called `name` by one field `name: value` (at the first one's place,
    /// or at the end).
    static func set(_ headers: inout [(String, String)], _ name: String, _ value: String) {
        if let index = headers.firstIndex(where: { equalNames($0.0, name) }) {
            headers[index] = (name, value)
            var i = headers.count - 1
            while i > index {
                if equalNames(headers[i].0, name) { headers.remove(at: i) }
                i -= 1
            }
        } else {
            headers.append((name, value))
        }
    }

    /// ASCII case-insensitive comparison (header names are ASCII tokens).
    static func equalNames(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        for (p, q) in zip(x, y) where p != q {
            if lower(p) != lower(q) { return false }
        }
        return true
    }

    /// The comma-separated tokens of a list-valued field (lower-cased, trimmed, parameters dropped).
    static func tokens(_ value: String) -> [String] {
        value.split(separator: ",").compactMap { item in
            let token = item.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            let trimmed = token.trimmingASCIISpaces().lowercasedASCII()
            return trimmed.isEmpty ? nil : trimmed
        }
    }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 {
        b >= 0x41 && b <= 0x5A ? b | 0x20 : b
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    func trimmingASCIISpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }

    /// ASCII letters lower-cased, everything else kept.
    func lowercasedASCII() -> String {
        String(decoding: utf8.map(HeaderList.lower), as: UTF8.self)
    }
}
