import Yams

// MARK: - network:

extension PolicyParser {
    static let networkKeys = ["allow_internet_access", "allow_out", "deny_out"]

    mutating func parseNetwork(_ node: Node) -> NetworkSettings {
        var settings = NetworkSettings()
        guard let fields = reader.mapping(node, "network", allowed: Self.networkKeys) else { return settings }
        if let value = fields["allow_internet_access"], let flag = reader.bool(value, "network.allow_internet_access") {
            settings.allowInternetAccess = flag
        }
        if let value = fields["allow_out"] { settings.allowOut = networkEntries(value, "network.allow_out") }
        if let value = fields["deny_out"] { settings.denyOut = networkEntries(value, "network.deny_out") }
        return settings
    }

    /// Host patterns and CIDRs; each item keeps its own path for decisions and diagnostics.
    private mutating func networkEntries(_ node: Node, _ path: String) -> [NetworkEntry] {
        guard let items = reader.stringList(node, path) else { return [] }
        var entries: [NetworkEntry] = []
        for item in items {
            let position = reader.position(item.node)
            if Self.looksLikeAddress(item.value) {
                switch CIDR.parse(item.value) {
                case .success(let block):
                    entries.append(NetworkEntry(target: .cidr(block), text: item.value, path: item.path, position: position))
                case .failure(let error):
                    reader.error(item.node, item.path, error.message)
                }
            } else {
                switch HostPatternSet.validate(item.value) {
                case .success(let pattern):
                    entries.append(NetworkEntry(target: .host(pattern), text: item.value, path: item.path, position: position))
                case .failure(let error):
                    reader.error(item.node, item.path, error.message)
                }
            }
        }
        return entries
    }

    /// Whether an entry is meant as an address or block rather than a host name: it has a
    /// prefix length, parses as an address, or is made of digits and dots (a broken IPv4) or of
    /// hex digits and colons (a broken IPv6).
    static func looksLikeAddress(_ text: String) -> Bool {
        if text.contains("://") { return false }
        if text.contains("/") || IPAddress(text) != nil { return true }
        let bytes = text.utf8
        if bytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") }) { return true }
        return text.contains(":") && bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66)
                || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".")
        }
    }
}
