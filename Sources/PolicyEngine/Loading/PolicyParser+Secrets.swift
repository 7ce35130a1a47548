import Yams

// MARK: - secrets:

extension PolicyParser {
    static let secretsKeys = ["store", "entries"]
    static let secretEntryKeys = ["name", "value", "placeholder", "allowed_hosts", "inject_in", "header_names"]
    /// Placeholders shorter than this would be substituted inside unrelated text.
    static let minimumPlaceholderLength = 8

    mutating func parseSecrets(_ node: Node) -> SecretsSettings {
        var settings = SecretsSettings()
        guard let fields = reader.mapping(node, "secrets", allowed: Self.secretsKeys) else { return settings }
        if let storeNode = fields["store"] {
            settings.store = reader.nonEmptyString(storeNode, "secrets.store")
        }
        guard let entriesNode = fields["entries"] else { return settings }

        // `entries` is a mapping NAME -> entry (the SPEC form), or a list of entries with a
        // `name` key (the form some SDK serialisations use).
        var named: [(name: String, nameNode: Node, node: Node, path: String)] = []
        switch entriesNode {
        case .mapping:
            guard let entries = reader.mapping(entriesNode, "secrets.entries", keepNulls: true) else { return settings }
            for entry in entries.entries {
                named.append((entry.key, entry.keyNode, entry.value, "secrets.entries.\(entry.key)"))
            }
        case .sequence:
            guard let items = reader.list(entriesNode, "secrets.entries") else { return settings }
            for item in items {
                guard case .mapping(let mapping) = item.node else {
                    reader.error(item.node, item.path, "expected a mapping, got \(NodeReader.describe(item.node))")
                    continue
                }
                guard let nameNode = mapping["name"] else {
                    reader.error(item.node, item.path, "missing key 'name'")
                    continue
                }
                guard let name = reader.nonEmptyString(nameNode, item.path + ".name") else { continue }
                named.append((name, nameNode, item.node, item.path))
            }
        default:
            reader.error(entriesNode, "secrets.entries", "expected a mapping of secret names, got \(NodeReader.describe(entriesNode))")
            return settings
        }

        var seenNames: [String: String] = [:]
        var seenPlaceholders: [(placeholder: String, path: String)] = []
        for item in named {
            if let first = seenNames[item.name] {
                reader.error(item.nameNode, item.path, "duplicate secret name '\(item.name)' (first used by \(first))")
                continue
            }
            seenNames[item.name] = item.path
            guard let spec = parseSecretEntry(item.name, item.nameNode, item.node, item.path) else { continue }
            if let clash = seenPlaceholders.first(where: { $0.placeholder == spec.placeholder }) {
                reader.error(at: spec.position, spec.path + ".placeholder", "duplicate placeholder (also used by \(clash.path))")
                continue
            }
            if let clash = seenPlaceholders.first(where: { $0.placeholder.contains(spec.placeholder) || spec.placeholder.contains($0.placeholder) }) {
                reader.error(at: spec.position, spec.path + ".placeholder",
                             "placeholder overlaps the placeholder of \(clash.path) (one contains the other); substitution would be ambiguous")
                continue
            }
            seenPlaceholders.append((spec.placeholder, spec.path))
            settings.entries.append(spec)
        }
        return settings
    }

    private mutating func parseSecretEntry(_ name: String, _ nameNode: Node, _ node: Node, _ path: String) -> SecretSpec? {
        guard let fields = reader.mapping(node, path, allowed: Self.secretEntryKeys) else { return nil }
        var ok = true
        if !Self.isEnvironmentName(name) {
            reader.error(nameNode, path, "secret name '\(name)' must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
            ok = false
        }

        // value: env:NAME or file:PATH. The text is never echoed: it might be the secret itself.
        var source: SecretSource?
        var valuePosition = fields.position
        if let entry = fields.entry("value") {
            valuePosition = reader.position(entry.keyNode)
            source = parseSecretSource(entry.value, path + ".value")
            if source == nil { ok = false }
        } else {
            reader.error(at: fields.position, path, "missing key 'value' (env:NAME or file:PATH)")
            ok = false
        }

        var placeholder = "PH_" + name
        let placeholderPosition = fields.entry("placeholder").map { reader.position($0.value) } ?? fields.position
        if let placeholderNode = fields["placeholder"] {
            if let value = reader.string(placeholderNode, path + ".placeholder") {
                placeholder = value
            } else {
                ok = false
            }
        }
        if let problem = Self.placeholderProblem(placeholder) {
            reader.error(at: placeholderPosition, path + ".placeholder", problem)
            ok = false
        }

        var allowedHosts: [String] = []
        if let hostsNode = fields["allowed_hosts"] {
            if let hosts = hostPatterns(hostsNode, path + ".allowed_hosts") {
                if hosts.isEmpty {
                    reader.error(hostsNode, path + ".allowed_hosts", "must name at least one host")
                    ok = false
                }
                allowedHosts = hosts
            } else {
                ok = false
            }
        } else {
            reader.error(at: fields.position, path, "missing key 'allowed_hosts' (the hosts this secret may be sent to)")
            ok = false
        }

        var injectIn: Set<InjectLocation> = [.headers]
        if let injectNode = fields["inject_in"], let items = reader.list(injectNode, path + ".inject_in") {
            var locations: Set<InjectLocation> = []
            for item in items {
                if let location = reader.enumeration(item.node, item.path, InjectLocation.self) {
                    locations.insert(location)
                } else {
                    ok = false
                }
            }
            if items.isEmpty {
                reader.error(injectNode, path + ".inject_in", "must name at least one of headers | query | body")
                ok = false
            }
            injectIn = locations
        } else if fields["inject_in"] != nil {
            ok = false
        }

        var headerNames: Set<String>?
        if let headersNode = fields["header_names"] {
            if let items = reader.stringList(headersNode, path + ".header_names") {
                var names: Set<String> = []
                for item in items {
                    if let header = Self.headerName(item.value) {
                        names.insert(header)
                    } else {
                        reader.error(item.node, item.path, "bad header name '\(item.value)'")
                        ok = false
                    }
                }
                headerNames = names
            } else {
                ok = false
            }
        }

        guard ok, let source else { return nil }
        return SecretSpec(name: name, source: source, placeholder: placeholder, allowedHosts: allowedHosts,
                          injectIn: injectIn, headerNames: headerNames, path: path,
                          position: placeholderPosition, valuePosition: valuePosition)
    }

    private mutating func parseSecretSource(_ node: Node, _ path: String) -> SecretSource? {
        guard case .scalar(let scalar) = node, node.tagName == .str else {
            // Do not describe the scalar: it could be a literal secret.
            reader.error(node, path, "must be env:NAME or file:PATH")
            return nil
        }
        let text = scalar.string
        if text.hasPrefix("env:") {
            let name = String(text.dropFirst(4))
            guard Self.isEnvironmentName(name) else {
                reader.error(node, path, "env: must be followed by an environment variable name")
                return nil
            }
            return .environment(name)
        }
        if text.hasPrefix("file:") {
            let filePath = String(text.dropFirst(5))
            guard !filePath.isEmpty, !filePath.contains("\0") else {
                reader.error(node, path, "file: must be followed by a path")
                return nil
            }
            return .file(filePath)
        }
        reader.error(node, path, "must be env:NAME or file:PATH; a literal secret value is not allowed in a policy")
        return nil
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(first >= 0x30 && first <= 0x39) else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte == UInt8(ascii: "_")
        }
    }

    /// A placeholder travels in headers, queries and bodies: visible ASCII, no spaces, long
    /// enough not to occur by chance.
    static func placeholderProblem(_ placeholder: String) -> String? {
        let bytes = placeholder.utf8
        guard bytes.count >= minimumPlaceholderLength, bytes.count <= 256 else {
            return "placeholder must be \(minimumPlaceholderLength)-256 characters long"
        }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            return "placeholder must be visible ASCII without spaces"
        }
        return nil
    }
}
