import Yams

// MARK: - pii:, injection_defense:, transformations:, invisible_text:, env:

extension PolicyParser {
    static let piiKeys = ["enabled", "types", "action", "rehydrate_response", "hosts"]
    static let injectionKeys = ["enabled", "action", "sensitivity", "threshold", "hosts"]
    static let transformationKeys = ["direction", "match", "replace", "hosts", "set_headers", "remove_headers"]
    static let invisibleTextKeys = ["enabled", "action"]
    static let envKeys = ["mask_patterns"]

    /// A present section is enabled unless it says `enabled: false`.
    mutating func parsePII(_ node: Node) -> PIISettings? {
        guard let fields = reader.mapping(node, "pii", allowed: Self.piiKeys) else { return nil }
        var settings = PIISettings(position: fields.position)
        if let value = fields["enabled"], let flag = reader.bool(value, "pii.enabled") { settings.enabled = flag }
        if let value = fields["types"], let items = reader.list(value, "pii.types") {
            var types: [PIIType] = []
            for item in items {
                if let type = reader.enumeration(item.node, item.path, PIIType.self), !types.contains(type) {
                    types.append(type)
                }
            }
            settings.types = types
        }
        if let value = fields["action"], let action = reader.enumeration(value, "pii.action", PIIAction.self) {
            settings.action = action
        }
        if let value = fields["rehydrate_response"], let flag = reader.bool(value, "pii.rehydrate_response") {
            settings.rehydrateResponse = flag
        }
        if let value = fields["hosts"], let hosts = hostPatterns(value, "pii.hosts") { settings.hosts = hosts }
        return settings
    }

    mutating func parseInjectionDefense(_ node: Node) -> InjectionDefenseSettings? {
        guard let fields = reader.mapping(node, "injection_defense", allowed: Self.injectionKeys) else { return nil }
        var settings = InjectionDefenseSettings(position: fields.position)
        if let value = fields["enabled"], let flag = reader.bool(value, "injection_defense.enabled") { settings.enabled = flag }
        if let value = fields["action"], let action = reader.enumeration(value, "injection_defense.action", InjectionAction.self) {
            settings.action = action
        }
        if let value = fields["sensitivity"],
           let sensitivity = reader.enumeration(value, "injection_defense.sensitivity", InjectionSensitivity.self) {
            settings.sensitivity = sensitivity
        }
        if let value = fields["threshold"] {
            settings.threshold = reader.number(value, "injection_defense.threshold", in: 0...1)
        }
        if let value = fields["hosts"], let hosts = hostPatterns(value, "injection_defense.hosts") { settings.hosts = hosts }
        return settings
    }

    mutating func parseTransformations(_ node: Node) -> [TransformationSpec] {
        guard let items = reader.list(node, "transformations") else { return [] }
        var result: [TransformationSpec] = []
        for item in items {
            guard let fields = reader.mapping(item.node, item.path, allowed: Self.transformationKeys) else { continue }
            let before = reader.diagnostics.count
            var spec = TransformationSpec(path: item.path, position: fields.position)
            if let value = fields["direction"] {
                if let direction = reader.enumeration(value, item.path + ".direction", TransformationDirection.self) {
                    spec.direction = direction
                }
            } else {
                reader.error(at: fields.position, item.path, "missing key 'direction' (outbound | inbound | both)")
            }
            // The regex is PCRE2 and is compiled by the inspection layer; here it must be a
            // non-empty string.
            if let value = fields["match"] { spec.match = reader.nonEmptyString(value, item.path + ".match") }
            if let value = fields["replace"] { spec.replace = reader.string(value, item.path + ".replace") }
            if let value = fields["hosts"], let hosts = hostPatterns(value, item.path + ".hosts") { spec.hosts = hosts }
            if let value = fields["set_headers"], let headers = reader.mapping(value, item.path + ".set_headers", keepNulls: true) {
                for entry in headers.entries {
                    let path = item.path + ".set_headers." + entry.key
                    guard let name = Self.headerName(entry.key) else {
                        reader.error(entry.keyNode, path, "bad header name '\(entry.key)'")
                        continue
                    }
                    if let headerValue = reader.string(entry.value, path) {
                        if headerValue.utf8.contains(where: { $0 == 0x0d || $0 == 0x0a || $0 == 0 }) {
                            reader.error(entry.value, path, "header value must not contain CR, LF or NUL")
                        } else {
                            spec.setHeaders.append(HeaderField(name: name, value: headerValue))
                        }
                    }
                }
            }
            if let value = fields["remove_headers"], let names = reader.stringList(value, item.path + ".remove_headers") {
                for name in names {
                    if let header = Self.headerName(name.value) {
                        spec.removeHeaders.append(header)
                    } else {
                        reader.error(name.node, name.path, "bad header name '\(name.value)'")
                    }
                }
            }
            let hasMatch = fields["match"] != nil
            let hasReplace = fields["replace"] != nil
            if hasMatch != hasReplace {
                reader.error(at: fields.position, item.path, hasMatch ? "'match' needs 'replace'" : "'replace' needs 'match'")
            } else if !hasMatch, fields["set_headers"] == nil, fields["remove_headers"] == nil {
                reader.error(at: fields.position, item.path, "does nothing: give match/replace, set_headers or remove_headers")
            }
            if reader.diagnostics.count == before { result.append(spec) }
        }
        return result
    }

    mutating func parseInvisibleText(_ node: Node) -> InvisibleTextSettings? {
        guard let fields = reader.mapping(node, "invisible_text", allowed: Self.invisibleTextKeys) else { return nil }
        var settings = InvisibleTextSettings(position: fields.position)
        if let value = fields["enabled"], let flag = reader.bool(value, "invisible_text.enabled") { settings.enabled = flag }
        if let value = fields["action"], let action = reader.enumeration(value, "invisible_text.action", InvisibleTextAction.self) {
            settings.action = action
        }
        return settings
    }

    mutating func parseEnv(_ node: Node) -> EnvSettings {
        var settings = EnvSettings()
        guard let fields = reader.mapping(node, "env", allowed: Self.envKeys) else { return settings }
        if let value = fields["mask_patterns"], let items = reader.stringList(value, "env.mask_patterns") {
            for item in items {
                let valid = item.value.utf8.allSatisfy { byte in
                    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                        || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "*") || byte == UInt8(ascii: "?")
                }
                if valid {
                    settings.maskPatterns.append(item.value)
                } else {
                    reader.error(item.node, item.path, "bad mask pattern '\(item.value)': letters, digits, '_', '*' and '?' only")
                }
            }
        }
        return settings
    }
}
