import Yams

// MARK: - PolicyParser

/// Turns a Yams node tree into a `PolicyDocument`, collecting every error on the way.
/// Sections live in `PolicyParser+*.swift`.
struct PolicyParser {
    var reader: NodeReader
    let sandboxOverride: String?

    static let topLevelKeys = [
        "version", "sandbox", "mitm", "network", "rules", "secrets", "pii", "injection_defense",
        "transformations", "invisible_text", "audit", "env", "limits", "gateway",
    ]

    init(file: String, sandboxOverride: String?) {
        self.reader = NodeReader(file: file)
        self.sandboxOverride = sandboxOverride
    }

    var file: String { reader.file }

    // MARK: Text to nodes

    /// Parses YAML or JSON text; Yams errors become diagnostics.
    mutating func compose(_ text: String) -> Node? {
        do {
            guard let root = try Yams.compose(yaml: text) else {
                reader.error(at: SourcePosition(file: file, line: 1, column: 1), "", "policy is empty")
                return nil
            }
            return root
        } catch let error as YamlError {
            let (position, message) = Self.describe(error, file: file)
            reader.error(at: position, "", message)
            return nil
        } catch {
            reader.error(at: SourcePosition(file: file, line: 1, column: 1), "", "cannot parse policy: \(error)")
            return nil
        }
    }

    private static func describe(_ error: YamlError, file: String) -> (SourcePosition, String) {
        func at(_ mark: Mark) -> SourcePosition {
            SourcePosition(file: file, line: max(mark.line, 1), column: max(mark.column, 1))
        }
        let start = SourcePosition(file: file, line: 1, column: 1)
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let prefix = context.map { "\($0.text) " } ?? ""
            return (at(mark), "invalid YAML: \(prefix)\(problem)")
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return (at(context.mark), "duplicate key \(keys) in this mapping")
        case let .reader(problem, _, _, _):
            return (start, "invalid text: \(problem)")
        default:
            return (start, "invalid YAML: \(error)")
        }
    }

    // MARK: Document

    /// The whole document; nil when any error was found.
    mutating func document(_ root: Node) -> PolicyDocument? {
        guard let fields = reader.mapping(root, "", allowed: Self.topLevelKeys) else { return nil }

        var version = 1
        if let node = fields["version"], let value = reader.int(node, "version") {
            if value == 1 {
                version = value
            } else {
                reader.error(node, "version", "unsupported version \(value); this proxy reads version 1")
            }
        }

        let sandbox = parseSandbox(fields)
        let mitm = fields["mitm"].flatMap { parseMITM($0) } ?? .auto
        let network = fields["network"].map { parseNetwork($0) } ?? NetworkSettings()
        let rules = fields["rules"].map { parseRules($0) } ?? []
        let secrets = fields["secrets"].map { parseSecrets($0) } ?? SecretsSettings()
        let pii = fields["pii"].flatMap { parsePII($0) }
        let injection = fields["injection_defense"].flatMap { parseInjectionDefense($0) }
        let transformations = fields["transformations"].map { parseTransformations($0) } ?? []
        let invisibleText = fields["invisible_text"].flatMap { parseInvisibleText($0) }
        let audit = fields["audit"].map { parseAudit($0) } ?? AuditSettings()
        let env = fields["env"].map { parseEnv($0) } ?? EnvSettings()
        let limits = fields["limits"].map { parseLimits($0) } ?? .defaults
        let gateway = fields["gateway"].map { parseGateway($0) }

        var document = PolicyDocument(
            file: file, version: version, sandbox: sandbox ?? "", mitm: mitm, network: network, rules: rules,
            secrets: secrets, pii: pii, injectionDefense: injection, transformations: transformations,
            invisibleText: invisibleText, audit: audit, env: env, limits: limits, gateway: gateway)
        if mitm == .never { checkTunnelOnly(document, fields) }
        guard sandbox != nil, reader.diagnostics.isEmpty else { return nil }
        document.sandbox = sandbox ?? ""
        return document
    }

    // MARK: sandbox

    private mutating func parseSandbox(_ fields: NodeReader.Fields) -> String? {
        var fromFile: String?
        if let node = fields["sandbox"], let value = reader.string(node, "sandbox") {
            if Self.isValidSandboxID(value) {
                fromFile = value
            } else {
                reader.error(node, "sandbox", Self.sandboxIDRule(value))
            }
        }
        if let sandboxOverride {
            guard Self.isValidSandboxID(sandboxOverride) else {
                reader.error(at: fields.position, "sandbox", "--sandbox " + Self.sandboxIDRule(sandboxOverride))
                return nil
            }
            return sandboxOverride
        }
        if fromFile == nil, fields["sandbox"] == nil {
            reader.error(at: fields.position, "sandbox", "missing: give 'sandbox: ID' in the policy or --sandbox ID")
        }
        return fromFile
    }

    /// A sandbox id names a folder (`<ca-dir>/<sandbox>/`): no separators, no dot-dot.
    static func isValidSandboxID(_ id: String) -> Bool {
        guard (1...64).contains(id.utf8.count), let first = id.utf8.first,
              first != UInt8(ascii: "."), first != UInt8(ascii: "-") else { return false }
        return id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }

    private static func sandboxIDRule(_ id: String) -> String {
        "'\(id)' is not a valid sandbox id: 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-' (it names the CA folder)"
    }

    // MARK: mitm

    private mutating func parseMITM(_ node: Node) -> MITMMode? {
        if case .scalar(let scalar) = node {
            switch (node.tagName, scalar.string) {
            case (.bool, _): return node.bool == true ? .always : .never
            case (.str, "auto"): return .auto
            case (.str, "true"), (.str, "always"): return .always
            case (.str, "false"), (.str, "never"): return .never
            default: break
            }
        }
        var got = NodeReader.describe(node)
        if case .scalar(let scalar) = node, node.tagName == .str { got = "'\(scalar.string)'" }
        reader.error(node, "mitm", "expected auto, true or false, got \(got)")
        return nil
    }

    /// `mitm: false` tunnels everything, so nothing in the policy that needs to see inside a
    /// request could be enforced: refuse the policy rather than ignore those parts.
    private mutating func checkTunnelOnly(_ document: PolicyDocument, _ fields: NodeReader.Fields) {
        func refuse(_ key: String, _ what: String) {
            let position = fields.entry(key).map { reader.position($0.keyNode) } ?? fields.position
            reader.error(at: position, key, "\(what) cannot be enforced with 'mitm: false' (tunnel only); remove it or use 'mitm: auto'")
        }
        if !document.rules.isEmpty { refuse("rules", "L7 rules") }
        if !document.secrets.entries.isEmpty { refuse("secrets", "secret substitution") }
        if document.pii?.enabled == true { refuse("pii", "PII inspection") }
        if document.injectionDefense?.enabled == true { refuse("injection_defense", "injection defense") }
        if !document.transformations.isEmpty { refuse("transformations", "transformations") }
        if document.invisibleText?.enabled == true { refuse("invisible_text", "invisible text handling") }
        if !document.env.maskPatterns.isEmpty { refuse("env", "env.mask_patterns") }
    }

    // MARK: Shared helpers

    /// A list of host patterns (normalised); invalid ones are reported.
    mutating func hostPatterns(_ node: Node, _ path: String, allowSingle: Bool = false) -> [String]? {
        let items = allowSingle ? reader.stringOrList(node, path) : reader.stringList(node, path)
        guard let items else { return nil }
        var result: [String] = []
        var ok = true
        for item in items {
            switch HostPatternSet.validate(item.value) {
            case .success(let pattern): result.append(pattern)
            case .failure(let error):
                reader.error(item.node, item.path, error.message)
                ok = false
            }
        }
        return ok ? result : nil
    }

    /// An HTTP header name (RFC 9110 token), lower-cased.
    static func headerName(_ text: String) -> String? {
        isToken(text) ? text.lowercased() : nil
    }

    /// RFC 9110 `token`.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
