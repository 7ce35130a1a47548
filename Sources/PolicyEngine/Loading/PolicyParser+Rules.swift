import Yams

// MARK: - rules:

extension PolicyParser {
    static let ruleKeys = ["name", "match", "action"]
    static let matchKeys = ["host", "method", "path"]

    mutating func parseRules(_ node: Node) -> [RuleSpec] {
        guard let items = reader.list(node, "rules") else { return [] }
        var rules: [RuleSpec] = []
        var names: [String: String] = [:]
        for item in items {
            guard let fields = reader.mapping(item.node, item.path, allowed: Self.ruleKeys) else { continue }
            var ok = true

            var name: String?
            if let nameNode = fields["name"] {
                if let value = reader.nonEmptyString(nameNode, item.path + ".name") {
                    if let first = names[value] {
                        reader.error(nameNode, item.path + ".name", "duplicate rule name '\(value)' (first used by \(first))")
                        ok = false
                    } else {
                        names[value] = item.path
                    }
                    name = value
                } else {
                    ok = false
                }
            }

            var hosts: [String]?
            var methods: [String]?
            var paths: [PathGlob]?
            if let matchNode = fields["match"] {
                let matchPath = item.path + ".match"
                if let match = reader.mapping(matchNode, matchPath, allowed: Self.matchKeys) {
                    if let hostNode = match["host"] {
                        hosts = hostPatterns(hostNode, matchPath + ".host", allowSingle: true)
                        if hosts == nil { ok = false }
                    }
                    if let methodNode = match["method"] {
                        methods = parseMethods(methodNode, matchPath + ".method")
                        if methods == nil { ok = false }
                    }
                    if let pathNode = match["path"] {
                        paths = parsePathGlobs(pathNode, matchPath + ".path")
                        if paths == nil { ok = false }
                    }
                } else {
                    ok = false
                }
            } else {
                reader.error(at: fields.position, item.path, "missing key 'match' (use 'match: {}' to match every request)")
                ok = false
            }

            var action: RuleAction?
            if let actionNode = fields["action"] {
                action = reader.enumeration(actionNode, item.path + ".action", RuleAction.self)
            } else {
                reader.error(at: fields.position, item.path, "missing key 'action' (allow | deny)")
            }

            if ok, let action {
                rules.append(RuleSpec(name: name, hosts: hosts, methods: methods, paths: paths, action: action,
                                      path: item.path, position: fields.position))
            }
        }
        return rules
    }

    private mutating func parseMethods(_ node: Node, _ path: String) -> [String]? {
        guard let items = reader.stringOrList(node, path) else { return nil }
        var methods: [String] = []
        var ok = true
        for item in items {
            if Self.isToken(item.value) {
                methods.append(item.value.uppercased())
            } else {
                reader.error(item.node, item.path, "bad HTTP method '\(item.value)'")
                ok = false
            }
        }
        return ok ? methods : nil
    }

    private mutating func parsePathGlobs(_ node: Node, _ path: String) -> [PathGlob]? {
        guard let items = reader.stringOrList(node, path) else { return nil }
        var globs: [PathGlob] = []
        var ok = true
        for item in items {
            do {
                globs.append(try PathGlob(item.value))
            } catch {
                reader.error(item.node, item.path, error.message)
                ok = false
            }
        }
        return ok ? globs : nil
    }
}
