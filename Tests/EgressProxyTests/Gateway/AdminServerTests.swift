@testable import EgressProxy
import Foundation
import Logging
import NIOCore
import PolicyEngine
import Testing

/// An admin server on 127.0.0.1 (a free port) over a fixture's registry.
final class AdminHarness: Sendable {
    static let token = "admin-token-for-tests"
    let fx: GatewayFixture
    let server: AdminServer
    let port: Int

    init(_ fx: GatewayFixture) async throws {
        self.fx = fx
        var logger = Logger(label: "admin-test")
        logger.logLevel = .critical
        let token = try #require(AdminToken(Self.token))
        server = AdminServer(
            configuration: .init(host: "127.0.0.1", port: 0), token: token, registry: fx.registry,
            metrics: fx.metrics, group: fx.group, threadPool: fx.threadPool, logger: logger)
        let address = try await server.start()
        port = try #require(address.port)
    }

    /// A request with the admin token.
    func call(_ method: String, _ path: String, body: String? = nil, token: String? = AdminHarness.token) throws -> RawHTTPResponse {
        var headers: [String: String] = [:]
        if let token { headers["Authorization"] = "Bearer " + token }
        return try rawHTTP(port: port, method: method, path: path, headers: headers, body: body)
    }

    func stop() async {
        await server.shutdown()
    }

    /// Runs `body` against a started server and stops the server afterwards, also on failure.
    static func with(_ fx: GatewayFixture, _ body: (AdminHarness) async throws -> Void) async throws {
        let admin = try await AdminHarness(fx)
        do {
            try await body(admin)
        } catch {
            await admin.stop()
            throw error
        }
        await admin.stop()
    }
}

@Suite("AdminServer over HTTP")
struct AdminServerTests {
    @Test("healthz needs no token; everything else answers 401 with WWW-Authenticate: Bearer")
    func authentication() async throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try await AdminHarness.with(fx) { admin in

            let health = try admin.call("GET", "/healthz", token: nil)
            #expect(health.status == 200)
            #expect(health.body == "ok\n")

            for path in ["/metrics", "/v1/sandboxes", "/v1/sandboxes/sb-x/allowed-hosts", "/nope"] {
                for token: String? in [nil, "wrong", AdminHarness.token + "x", ""] {
                    let response = try admin.call("GET", path, token: token)
                    #expect(response.status == 401, "\(path) with \(token ?? "no token")")
                    #expect(response.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
                }
            }
            let put = try admin.call("PUT", "/v1/sandboxes/sb-x/policy", body: gatewayPolicy(), token: "wrong")
            #expect(put.status == 401)
            #expect(!fx.folder.exists("policies/sb-x.yaml"))
            // Basic credentials carrying the token are not a bearer token.
            let basic = try rawHTTP(port: admin.port, method: "GET", path: "/metrics",
                                    headers: ["Authorization": "Basic " + Data(AdminHarness.token.utf8).base64EncodedString()])
            #expect(basic.status == 401)
        }
    }

    @Test("/metrics is Prometheus text and a counter moves after a request is recorded")
    func metrics() async throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-m.yaml", gatewayPolicy(token: "t"))
        fx.registry.reload()
        try await AdminHarness.with(fx) { admin in

            let first = try admin.call("GET", "/metrics")
            #expect(first.status == 200)
            #expect(first.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(prometheusFormatProblems(first.body) == [])
            #expect(first.body.contains("# TYPE egress_requests_total counter") || !first.body.contains("egress_requests_total{"))
            #expect(first.body.contains("# TYPE egress_policy_reloads_total counter"))

            let runtime = try #require(fx.registry.runtime(for: "sb-m"))
            var record = AuditRecord(sandbox: "sb-m", event: .request, decision: .deny(.rule_denied, rule: "rules[0]"),
                                     host: "api.example.com", port: 443, mode: .mitm)
            record.bytesUp = 42
            runtime.audit.write(record)

            let second = try admin.call("GET", "/metrics")
            #expect(prometheusFormatProblems(second.body) == [])
            #expect(second.body.contains("# TYPE egress_requests_total counter"))
            #expect(sampleValue(second.body, #"egress_requests_total{sandbox="sb-m",event="request",decision="deny",reason="rule_denied"}"#) == 1)
            #expect(sampleValue(second.body, #"egress_bytes_total{sandbox="sb-m",direction="up"}"#) == 42)
        }
    }

    @Test("GET /v1/sandboxes lists ids; allowed-hosts has the SDK shape; unknown sandbox 404")
    func sandboxesAndAllowedHosts() async throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-plain.yaml", gatewayPolicy(allow: ["pypi.org", "\"*.github.com\"", "10.0.5.0/24"]))
        try fx.folder.writePolicy("sb-secret.yaml", gatewayPolicy(allow: ["api.openai.com"], extra: """
            secrets:
              store: team-store
              entries:
                OPENAI_API_KEY:
                  value: env:GATEWAY_TEST_SECRET
                  placeholder: PH_OPENAI_API_KEY
                  allowed_hosts: [api.openai.com, "*.openai.azure.com"]

            """))
        #expect(fx.registry.reload().succeeded)
        try await AdminHarness.with(fx) { admin in

            let list = try admin.call("GET", "/v1/sandboxes")
            #expect(list.status == 200)
            #expect(try jsonObject(list.body)["sandboxes"] as? [String] == ["sb-plain", "sb-secret"])

            let plain = try admin.call("GET", "/v1/sandboxes/sb-plain/allowed-hosts")
            #expect(plain.status == 200)
            #expect(plain.headers["content-type"] == "application/json")
            let plainObject = try jsonObject(plain.body)
            #expect(plainObject["sandboxID"] as? String == "sb-plain")
            #expect(plainObject["secretStore"] == nil, "omitted when secrets.store is unset")
            #expect(plainObject["egressAllowlist"] as? [String] == ["pypi.org", "*.github.com"])
            #expect((plainObject["perSecretAllowedHosts"] as? [String: [String]])?.isEmpty == true)

            let secret = try admin.call("GET", "/v1/sandboxes/sb-secret/allowed-hosts")
            #expect(secret.body.hasPrefix(#"{"sandboxID":"sb-secret","secretStore":"team-store","egressAllowlist":["api.openai.com"],"perSecretAllowedHosts":{"OPENAI_API_KEY":["api.openai.com","*.openai.azure.com"]}}"#))
            #expect(!secret.body.contains("real-secret-value"))

            let unknown = try admin.call("GET", "/v1/sandboxes/sb-nope/allowed-hosts")
            #expect(unknown.status == 404)
            #expect(try admin.call("GET", "/v1/nothing").status == 404)
            let wrongMethod = try admin.call("POST", "/v1/sandboxes")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.headers["allow"] == "GET")
        }
    }

    @Test("PUT an invalid policy: 400 with FILE:LINE:COLUMN diagnostics, nothing written")
    func putInvalid() async throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try await AdminHarness.with(fx) { admin in

            let response = try admin.call("PUT", "/v1/sandboxes/sb-new/policy", body: "version: 1\nnetwork:\n  allow_out: [10.0.0.0/33]\n")
            #expect(response.status == 400)
            let object = try jsonObject(response.body)
            #expect(object["error"] as? String == "invalid_policy")
            let diagnostics = try #require(object["diagnostics"] as? [String])
            let expectedPrefix = fx.folder.policies + "/sb-new.yaml:3:"
            #expect(diagnostics.first?.hasPrefix(expectedPrefix) == true, "got \(diagnostics)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: fx.folder.policies).isEmpty)
            #expect(fx.registry.sandboxIDs.isEmpty)

            let mismatch = try admin.call("PUT", "/v1/sandboxes/sb-new/policy", body: "version: 1\nsandbox: sb-else\n")
            #expect(mismatch.status == 400)
            #expect(mismatch.body.contains("sb-new.yaml:2:1: sandbox:"))

            let badID = try admin.call("PUT", "/v1/sandboxes/..%2Fescape/policy", body: gatewayPolicy())
            #expect(badID.status == 400)
            #expect(try FileManager.default.contentsOfDirectory(atPath: fx.folder.policies).isEmpty)
        }
    }

    @Test("PUT a valid policy writes DIR/<id>.yaml (0600) and reloads; DELETE removes it")
    func putAndDelete() async throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try fx.folder.writePolicy("sb-old.json", #"{"version": 1, "network": {"allow_out": ["old.example.com"]}}"#)
        fx.registry.reload()
        try await AdminHarness.with(fx) { admin in

            let text = gatewayPolicy(token: "new-token", allow: ["new.example.com"])
            let created = try admin.call("PUT", "/v1/sandboxes/sb-new/policy", body: text)
            #expect(created.status == 201)
            #expect(try jsonObject(created.body)["result"] as? String == "created")
            let path = fx.folder.policies + "/sb-new.yaml"
            #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)
            #expect(mode.intValue & 0o777 == 0o600)
            #expect(fx.registry.sandboxIDs == ["sb-new", "sb-old"])
            #expect(fx.registry.authenticate(proxyAuthorization: ProxyCredentials.headerValue(sandbox: "sb-new", token: "new-token"))?.sandbox == "sb-new")

            // Replacing a sandbox given as .json leaves one .yaml file behind.
            let updated = try admin.call("PUT", "/v1/sandboxes/sb-old/policy", body: gatewayPolicy(allow: ["newer.example.com"]))
            #expect(updated.status == 200)
            #expect(try jsonObject(updated.body)["result"] as? String == "updated")
            #expect(!fx.folder.exists("policies/sb-old.json"))
            #expect(fx.registry.policy(for: "sb-old")?.egressAllowlist == ["newer.example.com"])
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: fx.folder.policies).sorted()
            #expect(leftovers == ["sb-new.yaml", "sb-old.yaml"], "no temporary files left")

            let deleted = try admin.call("DELETE", "/v1/sandboxes/sb-new/policy")
            #expect(deleted.status == 200)
            #expect(!fx.folder.exists("policies/sb-new.yaml"))
            #expect(fx.registry.sandboxIDs == ["sb-old"])
            #expect(try admin.call("DELETE", "/v1/sandboxes/sb-new/policy").status == 404)
            #expect(try admin.call("DELETE", "/v1/sandboxes/sb-old").status == 200)
            #expect(fx.registry.sandboxIDs.isEmpty)
        }
    }

    @Test("Expect: 100-continue gets 100 Continue before the body is sent (curl sends it for PUT bodies)")
    func expectContinue() async throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try await AdminHarness.with(fx) { admin in
            let body = Array(gatewayPolicy(allow: ["json.example.com"]).utf8)
            let connection = try RawConnection(port: admin.port)
            try connection.send(Array((
                "PUT /v1/sandboxes/sb-e/policy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    + "Authorization: Bearer \(AdminHarness.token)\r\nExpect: 100-continue\r\n"
                    + "Content-Length: \(body.count)\r\n\r\n").utf8))
            let interim = try connection.receive { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") }
            #expect(String(decoding: interim, as: UTF8.self).hasPrefix("HTTP/1.1 100 Continue\r\n"))
            try connection.send(body)
            let final = try parseRawResponse(try connection.receive())
            #expect(final.status == 201)
            #expect(fx.registry.policy(for: "sb-e")?.egressAllowlist == ["json.example.com"])
        }
    }

    @Test("a JSON policy body is accepted and written as DIR/<id>.yaml")
    func putJSON() async throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try await AdminHarness.with(fx) { admin in
            let json = #"{"version": 1, "network": {"allow_out": ["j.example.com"]}}"#
            let response = try admin.call("PUT", "/v1/sandboxes/sb-j/policy", body: json)
            #expect(response.status == 201)
            #expect(fx.folder.exists("policies/sb-j.yaml"))
            #expect(fx.registry.policy(for: "sb-j")?.egressAllowlist == ["j.example.com"])
        }
    }

    @Test("a body larger than the policy bound is refused with 413")
    func tooLarge() async throws {
        let fx = try GatewayFixture()
        defer { fx.close() }
        try await AdminHarness.with(fx) { admin in
            let big = String(repeating: "#", count: PolicyLoader.maximumFileSize + 1)
            let response = try admin.call("PUT", "/v1/sandboxes/sb-big/policy", body: big)
            #expect(response.status == 413)
            #expect(!fx.folder.exists("policies/sb-big.yaml"))
        }
    }
}

@Suite("AdminToken")
struct AdminTokenTests {
    @Test("from a file (whitespace trimmed), else from EGRESS_PROXY_ADMIN_TOKEN")
    func load() throws {
        let folder = try GatewayFolder()
        defer { folder.remove() }
        let file = folder.root + "/token"
        try Data("  file-token \n".utf8).write(to: URL(fileURLWithPath: file))
        let fromFile = try AdminToken.load(file: file, environment: [AdminToken.environmentVariable: "env-token"])
        #expect(fromFile.accepts(authorization: "Bearer file-token"))
        #expect(!fromFile.accepts(authorization: "Bearer env-token"))

        let fromEnvironment = try AdminToken.load(file: nil, environment: [AdminToken.environmentVariable: "env-token\n"])
        #expect(fromEnvironment.accepts(authorization: "bearer env-token"))
        #expect(!fromEnvironment.accepts(authorization: "Bearer env-toke"))
        #expect(!fromEnvironment.accepts(authorization: nil))
        #expect(!"\(fromEnvironment)".contains("env-token"))

        #expect(throws: AdminToken.LoadError.self) { try AdminToken.load(file: nil, environment: [:]) }
        #expect(throws: AdminToken.LoadError.self) { try AdminToken.load(file: folder.root + "/missing", environment: [:]) }
        try Data(" \n".utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: AdminToken.LoadError.self) { try AdminToken.load(file: file, environment: [:]) }
    }
}
