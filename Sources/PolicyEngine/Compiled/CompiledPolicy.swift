import Foundation

// MARK: - CompiledPolicy

/// A policy compiled once into lookup structures and shared immutably. Every question is a
/// pure function of the policy and the arguments, returns a value, and never throws.
public final class CompiledPolicy: Sendable {
    public let sandbox: String
    public let mitm: MITMMode
    public let limits: Limits
    public let audit: AuditSettings
    public let secrets: [SecretBinding]
    /// `secrets.store`.
    public let secretStore: String?
    /// The document, for the features the inspection layer compiles itself (pii,
    /// injection_defense, transformations, invisible_text, env).
    public let document: PolicyDocument
    /// `gateway.token_sha256`.
    public let gatewayTokenSHA256: [UInt8]?

    // MARK: Network tables

    /// allow_out: host patterns, their allow_out indices, CIDR tables; ids are allow_out indices.
    private let allowHosts: HostPatternSet
    private let allowHostEntry: [Int]
    private let allowV4: CIDRTable
    private let allowV6: CIDRTable
    private let allowPaths: [String]
    /// deny_out: the same; CIDR ids index `denyPaths` (deny_out paths, then the synthetic
    /// `network.allow_internet_access`).
    private let denyHosts: HostPatternSet
    private let denyHostEntry: [Int]
    private let denyV4: CIDRTable
    private let denyV6: CIDRTable
    private let denyPaths: [String]

    // MARK: L7 and interception

    private let rules: [CompiledRule]
    /// mitm auto: hosts some feature needs to see inside.
    private let interceptHosts: HostPatternSet
    private let interceptEverything: Bool

    // MARK: Compile

    /// Resolves `env:`/`file:` secret values through the closures; errors carry the position of
    /// the `value` key. Relative `file:` paths are relative to the policy file's folder.
    public static func compile(_ doc: PolicyDocument, environment: [String: String],
                               readFile: (String) throws -> [UInt8]) throws(PolicyLoadError) -> CompiledPolicy {
        var diagnostics: [PolicyDiagnostic] = []
        var bindings: [SecretBinding] = []
        for spec in doc.secrets.entries {
            let valuePath = spec.path + ".value"
            var bytes: [UInt8]
            switch spec.source {
            case .environment(let name):
                guard let value = environment[name] else {
                    diagnostics.append(PolicyDiagnostic(at: spec.valuePosition, path: valuePath, "environment variable \(name) is not set"))
                    continue
                }
                bytes = Array(value.utf8)
            case .file(let path):
                let resolved = resolve(path, relativeTo: doc.file)
                do {
                    bytes = try readFile(resolved)
                } catch {
                    diagnostics.append(PolicyDiagnostic(at: spec.valuePosition, path: valuePath, "cannot read secret file \(resolved)"))
                    continue
                }
                // Files written by editors and `echo` end with a newline that is not part of the secret.
                while let last = bytes.last, last == 0x0a || last == 0x0d { bytes.removeLast() }
            }
            guard !bytes.isEmpty else {
                diagnostics.append(PolicyDiagnostic(at: spec.valuePosition, path: valuePath, "\(spec.source) is empty"))
                continue
            }
            bindings.append(SecretBinding(name: spec.name, placeholder: spec.placeholder, value: SecretValue(bytes),
                                          allowedHosts: HostPatternSet(validated: spec.allowedHosts),
                                          injectIn: spec.injectIn, headerNames: spec.headerNames, path: spec.path))
        }
        guard diagnostics.isEmpty else { throw PolicyLoadError(diagnostics: PolicyLoader.sorted(diagnostics)) }
        return CompiledPolicy(document: doc, secrets: bindings)
    }

    private static func resolve(_ path: String, relativeTo policyFile: String) -> String {
        guard !path.hasPrefix("/"), policyFile.contains("/") else { return path }
        return URL(fileURLWithPath: policyFile).deletingLastPathComponent().appendingPathComponent(path).path
    }

    private init(document doc: PolicyDocument, secrets: [SecretBinding]) {
        self.sandbox = doc.sandbox
        self.mitm = doc.mitm
        self.limits = doc.limits
        self.audit = doc.audit
        self.secrets = secrets
        self.secretStore = doc.secrets.store
        self.document = doc
        self.gatewayTokenSHA256 = doc.gateway?.tokenSHA256

        // allow_out
        var allowPatterns: [String] = []
        var allowHostEntry: [Int] = []
        var allowV4 = CIDRTable(family: .v4)
        var allowV6 = CIDRTable(family: .v6)
        for (index, entry) in doc.network.allowOut.enumerated() {
            switch entry.target {
            case .host(let pattern):
                allowPatterns.append(pattern)
                allowHostEntry.append(index)
            case .cidr(let block):
                if block.network.family == .v4 { allowV4.insert(block, id: index) } else { allowV6.insert(block, id: index) }
            }
        }
        self.allowHosts = HostPatternSet(validated: allowPatterns)
        self.allowHostEntry = allowHostEntry
        self.allowV4 = allowV4
        self.allowV6 = allowV6
        self.allowPaths = doc.network.allowOut.map(\.path)

        // deny_out, then allow_internet_access: false as one more (synthetic) entry.
        var denyPatterns: [String] = []
        var denyHostEntry: [Int] = []
        var denyV4 = CIDRTable(family: .v4)
        var denyV6 = CIDRTable(family: .v6)
        var denyPaths = doc.network.denyOut.map(\.path)
        let everyV4 = CIDR(IPAddress(v4Value: 0), prefixLength: 0)
        let everyV6 = CIDR(IPAddress(v6High: 0, low: 0), prefixLength: 0)
        for (index, entry) in doc.network.denyOut.enumerated() {
            switch entry.target {
            case .host(let pattern):
                denyPatterns.append(pattern)
                denyHostEntry.append(index)
            case .cidr(let block):
                if block.network.family == .v4 {
                    denyV4.insert(block, id: index)
                    // SPEC 4 step 5: ALL_TRAFFIC means IPv6 too.
                    if block == everyV4 { denyV6.insert(everyV6, id: index) }
                } else {
                    denyV6.insert(block, id: index)
                }
            }
        }
        if !doc.network.allowInternetAccess {
            let id = denyPaths.count
            denyPaths.append("network.allow_internet_access")
            denyV4.insert(everyV4, id: id)
            denyV6.insert(everyV6, id: id)
        }
        self.denyHosts = HostPatternSet(validated: denyPatterns)
        self.denyHostEntry = denyHostEntry
        self.denyV4 = denyV4
        self.denyV6 = denyV6
        self.denyPaths = denyPaths

        // Rules and the hosts mitm auto intercepts.
        self.rules = doc.rules.map(CompiledRule.init)
        var scopes: [String] = []
        var everything = false
        for secret in doc.secrets.entries { scopes += secret.allowedHosts }
        for rule in doc.rules {
            if let hosts = rule.hosts { scopes += hosts } else { everything = true }
        }
        if let pii = doc.pii, pii.enabled { scopes += pii.hosts }
        if let injection = doc.injectionDefense, injection.enabled { scopes += injection.hosts }
        for transformation in doc.transformations { scopes += transformation.hosts }
        // Invisible text and env masking have no host scope: they apply to every response.
        if doc.invisibleText?.enabled == true || !doc.env.maskPatterns.isEmpty { everything = true }
        self.interceptHosts = HostPatternSet(validated: scopes)
        self.interceptEverything = everything || scopes.contains("*")
    }

    // MARK: Network decision (SPEC 4)

    /// SPEC 4 step 1 only: a matching `deny_out` host pattern denies (`host_denied`), unless an
    /// `allow_out` host pattern also matches (allow_out beats deny_out).
    public func hostDecision(host: String) -> Decision? {
        let name = HostName.normalize(host)
        guard let index = denyHosts.firstMatch(normalized: name) else { return nil }
        if allowHosts.firstMatch(normalized: name) != nil { return nil }
        return .deny(.host_denied, rule: denyPaths[denyHostEntry[index]])
    }

    /// SPEC 4 steps 3-5 for one address of `host` (special ranges first).
    public func addressDecision(host: String, address: IPAddress) -> Decision {
        if let special = SpecialRange.classify(address) {
            // Only an allow_out CIDR lying inside the special range unlocks it.
            var unlock: Int?
            switch special.form {
            case .native:
                unlock = table(allowV4, allowV6, address.family).lookup(address, minimumPrefixLength: special.block.prefixLength)
            case .ipv4Mapped, .ipv4Compatible, .nat64:
                if let embedded = special.embeddedV4 {
                    unlock = allowV4.lookup(embedded, minimumPrefixLength: special.block.prefixLength)
                }
                if let depth = special.v6PrefixLengthInOriginal {
                    unlock = Self.minimum(unlock, allowV6.lookup(address, minimumPrefixLength: depth))
                }
            }
            if let unlock { return .allow(rule: allowPaths[unlock]) }
            return .deny(.special_range)
        }
        let name = HostName.normalize(host)
        let byHost = allowHosts.firstMatch(normalized: name).map { allowHostEntry[$0] }
        if let allowed = Self.minimum(cidrLookup(allowV4, allowV6, address), byHost) {
            return .allow(rule: allowPaths[allowed])
        }
        if let denied = cidrLookup(denyV4, denyV6, address) {
            return .deny(.cidr_denied, rule: denyPaths[denied])
        }
        return .allow()
    }

    /// Steps 1-6 over every resolved address. Deny: the first reason met; no address at all
    /// is a `dns_failure`.
    public func connectDecision(host: String, addresses: [IPAddress]) -> ConnectDecision {
        if let denied = hostDecision(host: host) {
            return ConnectDecision(decision: denied, allowedAddresses: [])
        }
        var firstAllow: Decision?
        var firstDeny: Decision?
        var allowed: [IPAddress] = []
        for address in addresses {
            let decision = addressDecision(host: host, address: address)
            if decision.isAllowed {
                allowed.append(address)
                if firstAllow == nil { firstAllow = decision }
            } else if firstDeny == nil {
                firstDeny = decision
            }
        }
        if let firstAllow { return ConnectDecision(decision: firstAllow, allowedAddresses: allowed) }
        return ConnectDecision(decision: firstDeny ?? .deny(.dns_failure), allowedAddresses: [])
    }

    /// The smallest entry id of a block containing `address`, looking at the IPv4 address an
    /// IPv6 address embeds too (mapped, compatible, NAT64), since both reach the same host.
    private func cidrLookup(_ v4: CIDRTable, _ v6: CIDRTable, _ address: IPAddress) -> Int? {
        switch address.family {
        case .v4:
            return v4.lookup(address)
        case .v6:
            var best = v6.lookup(address)
            for (embedded, _, _) in SpecialRange.embeddings(of: address) {
                best = Self.minimum(best, v4.lookup(embedded))
            }
            return best
        }
    }

    private func table(_ v4: CIDRTable, _ v6: CIDRTable, _ family: IPAddress.Family) -> CIDRTable {
        family == .v4 ? v4 : v6
    }

    private static func minimum(_ a: Int?, _ b: Int?) -> Int? {
        switch (a, b) {
        case let (a?, b?): return min(a, b)
        case let (a?, nil): return a
        case let (nil, b?): return b
        case (nil, nil): return nil
        }
    }

    // MARK: Interception, rules, secrets

    /// mitm auto: true when a secret's allowed_hosts, a rule's host, or an enabled pii
    /// (pii.hosts) / injection / transformation scope names the host; always: true; never: false.
    public func shouldIntercept(host: String) -> Bool {
        switch mitm {
        case .always: return true
        case .never: return false
        case .auto: return interceptEverything || interceptHosts.matches(host)
        }
    }

    /// L7 rules (SPEC 3): first match wins; no match = allow with rule nil. The path is
    /// normalised (query removed, dot segments resolved) before matching.
    public func ruleDecision(host: String, method: String, path: String) -> Decision {
        let name = HostName.normalize(host)
        let verb = method.uppercased()
        let requestPath = RequestPath.normalize(path)
        for rule in rules where rule.matches(host: name, method: verb, path: requestPath) {
            return rule.decision
        }
        return .allow()
    }

    /// Secrets whose allowed_hosts match host.
    public func secretsAllowed(forHost host: String) -> [SecretBinding] {
        let name = HostName.normalize(host)
        return secrets.filter { $0.allowedHosts.firstMatch(normalized: name) != nil }
    }

    // MARK: Views for the admin API and the CLI

    /// The host patterns of allow_out (`egressAllowlist` of the admin API).
    public var egressAllowlist: [String] { allowHosts.patterns }

    /// Secret name -> its allowed host patterns.
    public var perSecretAllowedHosts: [String: [String]] {
        Dictionary(secrets.map { ($0.name, $0.allowedHosts.patterns) }, uniquingKeysWith: { first, _ in first })
    }

    /// Names of inspection features the document enables (e.g. ["pii", "injection_defense",
    /// "transformations", "invisible_text", "env.mask_patterns"]).
    public var enabledInspectionFeatures: [String] { document.enabledInspectionFeatures }
}
