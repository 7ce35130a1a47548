@testable import EgressProxy
import Foundation
import NIOCore
import NIOHTTP1
import PolicyEngine
import Testing

@Suite("SandboxRegistry: loading and reloading the policies folder")
struct SandboxRegistryReloadTests {
    @Test("add, change, invalid change (old policy stays, FILE:LINE:COLUMN reported), remove")
    func lifecycle() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        let path = try fx.folder.writePolicy("sb-a.yaml", gatewayPolicy(token: "tok-a", allow: ["one.example.com"]))

        // Add.
        let first = fx.registry.reload()
        #expect(first.added == ["sb-a"])
        #expect(first.succeeded)
        #expect(fx.registry.sandboxIDs == ["sb-a"])
        let runtime = try #require(fx.registry.runtime(for: "sb-a"))
        let before = runtime.currentPolicy
        #expect(before.policy.egressAllowlist == ["one.example.com"])

        // Change: the runtime's slot is swapped; what a connection took before stays.
        try fx.folder.writePolicy("sb-a.yaml", gatewayPolicy(token: "tok-a", allow: ["two.example.com"]))
        let second = fx.registry.reload()
        #expect(second.changed == ["sb-a"])
        #expect(fx.registry.runtime(for: "sb-a") === runtime, "a change swaps the policy, not the runtime")
        #expect(runtime.currentPolicy.policy.egressAllowlist == ["two.example.com"])
        #expect(before.policy.egressAllowlist == ["one.example.com"])

        // Invalid: refused with FILE:LINE:COLUMN, the previous policy stays in force.
        try fx.folder.writePolicy("sb-a.yaml", "version: 1\nnetwork:\n  allow_out: [three.example.com]\n  alow_internet_access: true\n")
        let third = fx.registry.reload()
        #expect(!third.succeeded)
        let failure = try #require(third.failures.first)
        #expect(failure.file == path)
        #expect(failure.sandbox == "sb-a")
        #expect(failure.keptPrevious)
        let line = try #require(failure.diagnostics.first?.description)
        #expect(line.hasPrefix(path + ":4:3: "), "got \(line)")
        #expect(runtime.currentPolicy.policy.egressAllowlist == ["two.example.com"])
        #expect(fx.registry.authenticate(proxyAuthorization: ProxyCredentials.headerValue(sandbox: "sb-a", token: "tok-a")) === runtime)

        // Remove: unregistered; new requests find no sandbox.
        try fx.folder.removePolicy("sb-a.yaml")
        let fourth = fx.registry.reload()
        #expect(fourth.removed == ["sb-a"])
        #expect(fx.registry.sandboxIDs.isEmpty)
        #expect(fx.registry.authenticate(proxyAuthorization: ProxyCredentials.headerValue(sandbox: "sb-a", token: "tok-a")) == nil)
        #expect(fx.registry.runtime(for: "sb-a") == nil)
    }

    @Test("an unchanged file is not swapped; force (SIGHUP) re-compiles it")
    func unchangedAndForce() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-u.yaml", gatewayPolicy(token: "t"))
        fx.registry.reload()
        let runtime = try #require(fx.registry.runtime(for: "sb-u"))
        let active = runtime.currentPolicy

        let again = fx.registry.reload()
        #expect(again.unchanged == ["sb-u"])
        #expect(runtime.currentPolicy === active)

        let forced = fx.registry.reload(force: true)
        #expect(forced.unchanged == ["sb-u"])
        #expect(forced.changed.isEmpty)
        #expect(runtime.currentPolicy !== active, "force swaps in a freshly compiled policy")
    }

    @Test("a new invalid file registers nothing")
    func newInvalidFile() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        let path = try fx.folder.writePolicy("sb-bad.yaml", "version: 1\nnetwork:\n  allow_out: [10.0.0.0/33]\n")
        let report = fx.registry.reload()
        #expect(report.added.isEmpty)
        #expect(report.failures.count == 1)
        #expect(report.failures.first?.keptPrevious == false)
        #expect(report.diagnostics.first?.description.hasPrefix(path + ":3:") == true)
        #expect(fx.registry.sandboxIDs.isEmpty)
    }

    @Test("yaml, yml and json files are read; other files and hidden files are not")
    func extensions() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-1.yaml", gatewayPolicy())
        try fx.folder.writePolicy("sb-2.yml", gatewayPolicy())
        try fx.folder.writePolicy("sb-3.json", #"{"version": 1, "network": {"allow_out": ["x.example.com"]}}"#)
        try fx.folder.writePolicy("README.md", "not a policy")
        try fx.folder.writePolicy("sb-4.yaml.bak", "not: [a policy")
        try fx.folder.writePolicy(".sb-5.yaml", gatewayPolicy())
        let report = fx.registry.reload()
        #expect(report.succeeded)
        #expect(report.added == ["sb-1", "sb-2", "sb-3"])
        #expect(fx.registry.policy(for: "sb-3")?.egressAllowlist == ["x.example.com"])
    }

    @Test("a sandbox: key that differs from the file name is refused at its line")
    func sandboxMismatch() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-same.yaml", gatewayPolicy(sandbox: "sb-same"))
        let path = try fx.folder.writePolicy("sb-x.yaml", "version: 1\nsandbox: sb-other\n")
        let report = fx.registry.reload()
        #expect(report.added == ["sb-same"])
        let line = try #require(report.diagnostics.first?.description)
        #expect(line.hasPrefix(path + ":2:1: sandbox: 'sb-other' does not match the file name"), "got \(line)")
    }

    @Test("two files naming one sandbox are both refused; the sandbox keeps its policy")
    func duplicateStems() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-d.yaml", gatewayPolicy(allow: ["first.example.com"]))
        fx.registry.reload()
        try fx.folder.writePolicy("sb-d.json", #"{"version": 1}"#)
        let report = fx.registry.reload()
        #expect(report.failures.count == 2)
        #expect(report.failures.allSatisfy { $0.keptPrevious })
        #expect(fx.registry.policy(for: "sb-d")?.egressAllowlist == ["first.example.com"])
    }

    @Test("a file name that is not a sandbox id is refused")
    func invalidStem() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        let path = try fx.folder.writePolicy("-bad.yaml", gatewayPolicy())
        let report = fx.registry.reload()
        #expect(report.diagnostics.first?.description.hasPrefix(path + ":1:1: '-bad' is not a valid sandbox id") == true)
        #expect(fx.registry.sandboxIDs.isEmpty)
    }

    @Test("a refused feature (not implemented in this build) fails closed at its key")
    func refusedFeature() throws {
        let fx = try GatewayFixture(refusedFeatures: ["pii"])
        defer { fx.close() }
        let path = try fx.folder.writePolicy("sb-p.yaml", gatewayPolicy(extra: "pii:\n  enabled: true\n"))
        let report = fx.registry.reload()
        let line = try #require(report.diagnostics.first?.description)
        #expect(line.hasPrefix(path + ":4:1: pii: enabled but not implemented"), "got \(line)")
        #expect(fx.registry.sandboxIDs.isEmpty)
    }

    @Test("a secret whose env variable is missing is reported with its position")
    func missingSecret() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        let path = try fx.folder.writePolicy("sb-s.yaml", gatewayPolicy(extra: """
            secrets:
              entries:
                KEY:
                  value: env:NOT_SET_ANYWHERE
                  placeholder: PH_KEY_PLACEHOLDER
                  allowed_hosts: [api.example.com]

            """))
        let report = fx.registry.reload()
        #expect(report.diagnostics.first?.description.hasPrefix(path + ":") == true)
        #expect(report.diagnostics.first?.message.contains("NOT_SET_ANYWHERE") == true)
    }

    @Test("reloadIfChanged reloads only after a file changed")
    func reloadIfChanged() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-c.yaml", gatewayPolicy(allow: ["a.example.com"]))
        #expect(fx.registry.reloadIfChanged()?.added == ["sb-c"])
        #expect(fx.registry.reloadIfChanged() == nil)
        try fx.folder.writePolicy("sb-c.yaml", gatewayPolicy(allow: ["bb.example.com"]))
        #expect(fx.registry.reloadIfChanged()?.changed == ["sb-c"])
        try fx.folder.removePolicy("sb-c.yaml")
        #expect(fx.registry.reloadIfChanged()?.removed == ["sb-c"])
        #expect(fx.registry.reloadIfChanged() == nil)
    }

    @Test("reload counts successes and failures in the metrics")
    func reloadMetrics() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-m.yaml", gatewayPolicy())
        fx.registry.reload()
        try fx.folder.writePolicy("sb-n.yaml", "version: [")
        fx.registry.reload()
        let text = fx.metrics.prometheusText()
        #expect(text.contains(#"egress_policy_reloads_total{result="success"} 1"#))
        #expect(text.contains(#"egress_policy_reloads_total{result="failure"} 1"#))
        #expect(text.contains("egress_sandboxes 1"))
    }
}

@Suite("SandboxRegistry: per-sandbox runtimes")
struct SandboxRegistryRuntimeTests {
    @Test("each sandbox gets its own CA (in ca-dir/<id>, made on first use) and leaf cache")
    func isolation() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-1.yaml", gatewayPolicy(token: "one"))
        try fx.folder.writePolicy("sb-2.yaml", gatewayPolicy(token: "two"))
        fx.registry.reload()
        #expect(!fx.folder.exists("certs/sb-1"), "no CA before the first request")

        let one = try #require(fx.registry.runtime(for: "sb-1"))
        let two = try #require(fx.registry.runtime(for: "sb-2"))
        #expect(fx.folder.exists("certs/sb-1/ca.pem"))
        #expect(fx.folder.exists("certs/sb-2/ca.pem"))
        #expect(one.sandbox == "sb-1")
        #expect(two.sandbox == "sb-2")
        #expect(one.ca.certificate != two.ca.certificate)
        #expect(one.leafCache !== two.leafCache)
        #expect(one.audit as AnyObject !== two.audit as AnyObject)
        #expect(fx.registry.runtime(for: "sb-1") === one, "made once")
    }

    @Test("a removed and re-added sandbox keeps its CA on disk")
    func caSurvivesRemoval() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-r.yaml", gatewayPolicy())
        fx.registry.reload()
        let first = try #require(fx.registry.runtime(for: "sb-r"))
        try fx.folder.removePolicy("sb-r.yaml")
        fx.registry.reload()
        try fx.folder.writePolicy("sb-r.yaml", gatewayPolicy())
        fx.registry.reload()
        let second = try #require(fx.registry.runtime(for: "sb-r"))
        #expect(second !== first)
        #expect(second.ca.certificate == first.ca.certificate)
    }

    @Test("audit records carry their sandbox, are counted, and audit.enabled: false drops them")
    func auditPerSandbox() throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-on.yaml", gatewayPolicy())
        try fx.folder.writePolicy("sb-off.yaml", gatewayPolicy(extra: "audit:\n  enabled: false\n"))
        fx.registry.reload()
        let on = try #require(fx.registry.runtime(for: "sb-on"))
        let off = try #require(fx.registry.runtime(for: "sb-off"))
        on.audit.write(AuditRecord(sandbox: "sb-on", event: .request, decision: .allow(), host: "h", port: 80, mode: .http))
        off.audit.write(AuditRecord(sandbox: "sb-off", event: .request, decision: .deny(.host_denied), host: "h", port: 80, mode: .http))
        #expect(fx.audit.records.map(\.sandbox) == ["sb-on"])
        let text = fx.metrics.prometheusText()
        #expect(text.contains(#"sandbox="sb-off""#), "disabled audit is still counted")

        // Turning audit on by a reload takes effect for the same runtime.
        try fx.folder.writePolicy("sb-off.yaml", gatewayPolicy(extra: "audit:\n  enabled: true\n"))
        fx.registry.reload()
        off.audit.write(AuditRecord(sandbox: "sb-off", event: .request, decision: .allow(), host: "h", port: 80, mode: .http))
        #expect(fx.audit.records.map(\.sandbox) == ["sb-on", "sb-off"])
    }
}

@Suite("SandboxRegistry: authentication")
struct SandboxRegistryAuthenticationTests {
    static let fixturePolicies: [(String, String)] = [
        ("sb-a.yaml", gatewayPolicy(token: "token-a")),
        ("sb-b.yaml", gatewayPolicy(token: "token-b")),
        ("sb-none.yaml", gatewayPolicy()),
    ]

    struct Row: Sendable, CustomTestStringConvertible {
        var header: String?
        var expected: String?
        var testDescription: String { "\(header ?? "<none>") -> \(expected ?? "nil")" }
    }

    static let rows: [Row] = [
        Row(header: ProxyCredentials.headerValue(sandbox: "sb-a", token: "token-a"), expected: "sb-a"),
        Row(header: ProxyCredentials.headerValue(sandbox: "sb-b", token: "token-b"), expected: "sb-b"),
        Row(header: "basic " + Data("sb-a:token-a".utf8).base64EncodedString(), expected: "sb-a"),
        Row(header: "  Basic   " + Data("sb-a:token-a".utf8).base64EncodedString() + " ", expected: "sb-a"),
        // Wrong token, wrong id, another sandbox's token, a token for an id without one.
        Row(header: ProxyCredentials.headerValue(sandbox: "sb-a", token: "token-b"), expected: nil),
        Row(header: ProxyCredentials.headerValue(sandbox: "sb-a", token: "token-a "), expected: nil),
        Row(header: ProxyCredentials.headerValue(sandbox: "sb-c", token: "token-a"), expected: nil),
        Row(header: ProxyCredentials.headerValue(sandbox: "sb-none", token: "anything"), expected: nil),
        // Malformed.
        Row(header: nil, expected: nil),
        Row(header: "", expected: nil),
        Row(header: "Basic", expected: nil),
        Row(header: "Basic !!!notbase64", expected: nil),
        Row(header: "Bearer token-a", expected: nil),
        Row(header: "Basic " + Data("sb-a".utf8).base64EncodedString(), expected: nil),
        Row(header: "Basic " + Data("sb-a:".utf8).base64EncodedString(), expected: nil),
        Row(header: "Basic " + Data(":token-a".utf8).base64EncodedString(), expected: nil),
        Row(header: "Basic " + String(repeating: "A", count: 5000), expected: nil),
    ]

    @Test("Proxy-Authorization: Basic base64(id:token)", arguments: rows)
    func authenticate(row: Row) throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        for (name, text) in Self.fixturePolicies { try fx.folder.writePolicy(name, text) }
        fx.registry.reload()
        let runtime = fx.registry.authenticate(proxyAuthorization: row.header)
        #expect(runtime?.sandbox == row.expected)
    }

    @Test("the token is compared in constant time over fixed-size digests", arguments: [
        ([UInt8](), [UInt8](), true),
        ([1, 2, 3], [1, 2, 3], true),
        ([1, 2, 3], [1, 2, 4], false),
        ([9, 2, 3], [1, 2, 3], false),
        ([1, 2, 3], [1, 2], false),
        ([1, 2], [1, 2, 0], false),
        ([UInt8](repeating: 7, count: 32), [UInt8](repeating: 7, count: 32), true),
    ] as [([UInt8], [UInt8], Bool)])
    func constantTime(a: [UInt8], b: [UInt8], equal: Bool) {
        #expect(ConstantTime.equals(a, b) == equal)
        #expect(ConstantTime.equals(b, a) == equal)
    }

    @Test("credentials never print their token")
    func credentialsRedacted() throws {
        let credentials = try #require(ProxyCredentials(headerValue: ProxyCredentials.headerValue(sandbox: "sb-a", token: "s3cret-token")))
        #expect(credentials.sandbox == "sb-a")
        #expect(!"\(credentials)".contains("s3cret"))
        #expect(!String(reflecting: credentials).contains("s3cret"))
    }
}

@Suite("SandboxRegistry: tenancy for the proxy (TenantResolver)")
struct GatewayTenantResolverTests {
    static func head(_ authorization: [String]) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        for value in authorization { headers.add(name: "Proxy-Authorization", value: value) }
        return HTTPRequestHead(version: .http1_1, method: .CONNECT, uri: "api.example.com:443", headers: headers)
    }

    static func sandbox(_ resolution: TenantResolution) -> String? {
        if case .tenant(let runtime) = resolution { return runtime.sandbox }
        return nil
    }

    @Test("credentials, then the source map for requests without credentials")
    func resolution() throws {
        let fx = try GatewayFixture(sourceMap: "source-map")
        defer { fx.close() }
        try Data("# clients that cannot send credentials\n10.1.2.3 sb-mapped\n\n2001:db8::7  sb-mapped # v6\n".utf8)
            .write(to: URL(fileURLWithPath: fx.folder.root + "/source-map"))
        try fx.folder.writePolicy("sb-mapped.yaml", gatewayPolicy())
        try fx.folder.writePolicy("sb-a.yaml", gatewayPolicy(token: "token-a"))
        let report = fx.registry.reload()
        #expect(report.succeeded)
        #expect(report.sourceMapChanged)

        let mapped = try SocketAddress(ipAddress: "10.1.2.3", port: 5555)
        let mappedV6 = try SocketAddress(ipAddress: "::ffff:10.1.2.3", port: 5555)
        let mapped6 = try SocketAddress(ipAddress: "2001:db8::7", port: 5555)
        let stranger = try SocketAddress(ipAddress: "10.9.9.9", port: 5555)
        let good = ProxyCredentials.headerValue(sandbox: "sb-a", token: "token-a")
        let bad = ProxyCredentials.headerValue(sandbox: "sb-a", token: "wrong")

        #expect(Self.sandbox(fx.registry.resolve(head: Self.head([good]), remoteAddress: stranger)) == "sb-a")
        #expect(Self.sandbox(fx.registry.resolve(head: Self.head([good]), remoteAddress: mapped)) == "sb-a")
        #expect(Self.sandbox(fx.registry.resolve(head: Self.head([]), remoteAddress: mapped)) == "sb-mapped")
        #expect(Self.sandbox(fx.registry.resolve(head: Self.head([]), remoteAddress: mappedV6)) == "sb-mapped")
        #expect(Self.sandbox(fx.registry.resolve(head: Self.head([]), remoteAddress: mapped6)) == "sb-mapped")
        #expect(Self.sandbox(fx.registry.resolve(head: Self.head([]), remoteAddress: stranger)) == nil)
        #expect(Self.sandbox(fx.registry.resolve(head: Self.head([]), remoteAddress: nil)) == nil)
        // Wrong credentials are not rescued by a mapped address; two headers are ambiguous.
        #expect(Self.sandbox(fx.registry.resolve(head: Self.head([bad]), remoteAddress: mapped)) == nil)
        #expect(Self.sandbox(fx.registry.resolve(head: Self.head([good, good]), remoteAddress: stranger)) == nil)
    }

    @Test("an invalid source map is refused with FILE:LINE:COLUMN and the old map stays")
    func invalidSourceMap() throws {
        let fx = try GatewayFixture(sourceMap: "source-map")
        defer { fx.close() }
        let mapPath = fx.folder.root + "/source-map"
        try Data("10.1.2.3 sb-m\n".utf8).write(to: URL(fileURLWithPath: mapPath))
        try fx.folder.writePolicy("sb-m.yaml", gatewayPolicy())
        fx.registry.reload()
        try Data("10.1.2.3 sb-m\n  10.1.2.300 sb-m\n10.1.2.4\n10.1.2.3 sb-n\n".utf8).write(to: URL(fileURLWithPath: mapPath))
        let report = fx.registry.reload()
        let lines = report.diagnostics.map(\.description)
        #expect(lines.count == 3)
        #expect(lines.first?.hasPrefix(mapPath + ":2:3: '10.1.2.300' is not an IP address") == true)
        #expect(lines.dropFirst().first?.hasPrefix(mapPath + ":3:1: expected 'IP SANDBOX'") == true)
        #expect(lines.last?.hasPrefix(mapPath + ":4:1: 10.1.2.3 is already mapped on line 1") == true)
        #expect(fx.registry.sourceMap.sandbox(for: IPAddress("10.1.2.3")!) == "sb-m")
    }
}
