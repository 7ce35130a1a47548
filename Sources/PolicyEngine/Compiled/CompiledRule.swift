// MARK: - CompiledRule

/// One L7 rule ready to match: host patterns compiled, methods upper-cased, globs compiled.
struct CompiledRule: Sendable {
    /// nil: any host.
    let hosts: HostPatternSet?
    /// nil: any method.
    let methods: Set<String>?
    /// nil: any path.
    let paths: [PathGlob]?
    let action: RuleAction
    /// `rules[N]`.
    let path: String

    init(_ spec: RuleSpec) {
        hosts = spec.hosts.map { HostPatternSet(validated: $0) }
        methods = spec.methods.map { Set($0.map { $0.uppercased() }) }
        paths = spec.paths
        action = spec.action
        path = spec.path
    }

    /// All given fields must match. `host` normalised, `method` upper-cased, `path` normalised.
    func matches(host: String, method: String, path requestPath: String) -> Bool {
        if let hosts, hosts.firstMatch(normalized: host) == nil { return false }
        if let methods, !methods.contains(method) { return false }
        if let paths, !paths.contains(where: { $0.matches(requestPath) }) { return false }
        return true
    }

    var decision: Decision {
        action == .allow ? .allow(rule: path) : .deny(.rule_denied, rule: path)
    }
}
