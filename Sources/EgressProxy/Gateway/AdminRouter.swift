import Foundation
import Logging
import NIOHTTP1
import PIIDetect
import PolicyEngine

// MARK: - AdminRequest / AdminResponse

/// One admin API request, fully read.
struct AdminRequest: Sendable {
    var method: HTTPMethod
    /// The path without the query.
    var path: String
    var authorization: String?
    var body: [UInt8]
}

/// One admin API response.
struct AdminResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: [(String, String)]
    var body: [UInt8]

    static func json(_ status: HTTPResponseStatus, _ text: String, headers: [(String, String)] = []) -> AdminResponse {
        AdminResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array((text + "\n").utf8))
    }

    static func error(_ status: HTTPResponseStatus, _ code: String, _ message: String, headers: [(String, String)] = []) -> AdminResponse {
        json(status, "{\"error\":\(JSONText.quote(code)),\"message\":\(JSONText.quote(message))}", headers: headers)
    }
}

// MARK: - AdminRouter

/// The admin API as a function from request to response (no sockets): authentication, routes,
/// JSON. Runs off the event loop (a PUT writes a file and reloads).
///
/// | route | |
/// |---|---|
/// | `GET /healthz` | `ok` (no token needed) |
/// | `GET /metrics` | Prometheus text |
/// | `GET /v1/sandboxes` | `{"sandboxes": [ID...]}` |
/// | `GET /v1/sandboxes/{id}/allowed-hosts` | `{"sandboxID", "secretStore", "egressAllowlist", "perSecretAllowedHosts"}` |
/// | `PUT /v1/sandboxes/{id}/policy` | validate, write `DIR/{id}.yaml`, reload; 400 with `FILE:LINE:COLUMN` diagnostics |
/// | `DELETE /v1/sandboxes/{id}/policy` (or `/v1/sandboxes/{id}`) | remove the file, reload |
struct AdminRouter: Sendable {
    let registry: SandboxRegistry
    let metrics: ProxyMetrics
    let token: AdminToken
    let logger: Logger

    /// The largest request body (a policy) accepted.
    static let maximumBodySize = PolicyLoader.maximumFileSize

    func respond(to request: AdminRequest) -> AdminResponse {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if segments == ["healthz"] {
            guard request.method == .GET else { return methodNotAllowed("GET") }
            return AdminResponse(status: .ok, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array("ok\n".utf8))
        }
        // Everything else needs the token, checked before routing so that an unauthenticated
        // client learns nothing about which paths or sandboxes exist.
        guard token.accepts(authorization: request.authorization) else {
            return .error(.unauthorized, "unauthorized", "send Authorization: Bearer TOKEN (the admin token)",
                          headers: [("WWW-Authenticate", "Bearer realm=\"egress-proxy-admin\"")])
        }
        switch segments.count {
        case 1 where segments[0] == "metrics":
            guard request.method == .GET else { return methodNotAllowed("GET") }
            return AdminResponse(status: .ok, headers: [("Content-Type", ProxyMetrics.contentType)],
                                 body: Array(metrics.prometheusText().utf8))
        case 2 where segments == ["v1", "sandboxes"]:
            guard request.method == .GET else { return methodNotAllowed("GET") }
            let ids = registry.sandboxIDs.map(JSONText.quote).joined(separator: ",")
            return .json(.ok, "{\"sandboxes\":[\(ids)]}")
        case 3 where segments[0] == "v1" && segments[1] == "sandboxes":
            guard request.method == .DELETE else { return methodNotAllowed("DELETE") }
            return deletePolicy(segments[2])
        case 4 where segments[0] == "v1" && segments[1] == "sandboxes" && segments[3] == "allowed-hosts":
            guard request.method == .GET else { return methodNotAllowed("GET") }
            return allowedHosts(segments[2])
        case 4 where segments[0] == "v1" && segments[1] == "sandboxes" && segments[3] == "policy":
            switch request.method {
            case .PUT: return putPolicy(segments[2], body: request.body)
            case .DELETE: return deletePolicy(segments[2])
            default: return methodNotAllowed("PUT, DELETE")
            }
        default:
            return .error(.notFound, "not_found", "no such endpoint: \(request.path)")
        }
    }

    // MARK: Routes

    private func allowedHosts(_ sandbox: String) -> AdminResponse {
        guard let policy = registry.policy(for: sandbox) else { return unknownSandbox(sandbox) }
        return .json(.ok, Self.allowedHostsJSON(sandbox: sandbox, policy: policy))
    }

    /// The platform SDKs' `get_allowed_hosts()` shape, keys in SPEC order, `secretStore`
    /// omitted when the policy has no `secrets.store`.
    static func allowedHostsJSON(sandbox: String, policy: CompiledPolicy) -> String {
        var out = "{\"sandboxID\":\(JSONText.quote(sandbox))"
        if let store = policy.secretStore { out += ",\"secretStore\":\(JSONText.quote(store))" }
        out += ",\"egressAllowlist\":[" + policy.egressAllowlist.map(JSONText.quote).joined(separator: ",") + "]"
        let perSecret = policy.perSecretAllowedHosts.sorted { $0.key < $1.key }.map { name, hosts in
            JSONText.quote(name) + ":[" + hosts.map(JSONText.quote).joined(separator: ",") + "]"
        }
        out += ",\"perSecretAllowedHosts\":{" + perSecret.joined(separator: ",") + "}}"
        return out
    }

    private func putPolicy(_ sandbox: String, body: [UInt8]) -> AdminResponse {
        guard SandboxID.isValid(sandbox) else {
            return .error(.badRequest, "invalid_sandbox_id",
                          "'\(sandbox)' is not a valid sandbox id: 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-'")
        }
        guard let text = String(validating: body, as: UTF8.self) else {
            return .error(.badRequest, "invalid_policy", "the policy is not UTF-8 text")
        }
        let update: SandboxRegistry.PolicyUpdate
        do {
            update = try registry.putPolicy(sandbox: sandbox, text: text)
        } catch {
            let lines = error.diagnostics.map { JSONText.quote($0.description) }.joined(separator: ",")
            logger.info("admin: PUT policy of \(sandbox) refused (\(error.diagnostics.count) error(s))")
            return .json(.badRequest, "{\"error\":\"invalid_policy\",\"diagnostics\":[\(lines)]}")
        }
        let report = update.report
        let inForce = report.added.contains(sandbox) || report.changed.contains(sandbox) || report.unchanged.contains(sandbox)
        guard inForce else {
            // Validated a moment ago with the same checks: only a concurrent edit of the file
            // by someone else gets here.
            let lines = report.failures.filter { $0.sandbox == sandbox }.flatMap(\.diagnostics).map { JSONText.quote($0.description) }
            return .json(.internalServerError,
                         "{\"error\":\"reload_failed\",\"file\":\(JSONText.quote(update.file)),\"diagnostics\":[\(lines.joined(separator: ","))]}")
        }
        logger.info("admin: PUT policy of \(sandbox): \(update.created ? "created" : "updated") \(update.file)")
        let result = update.created ? "created" : "updated"
        return .json(update.created ? .created : .ok,
                     "{\"sandboxID\":\(JSONText.quote(sandbox)),\"result\":\"\(result)\",\"file\":\(JSONText.quote(update.file)),\"reload\":\(Self.reportJSON(report))}")
    }

    private func deletePolicy(_ sandbox: String) -> AdminResponse {
        guard let report = registry.deletePolicy(sandbox: sandbox) else { return unknownSandbox(sandbox) }
        logger.info("admin: DELETE policy of \(sandbox)")
        return .json(.ok, "{\"sandboxID\":\(JSONText.quote(sandbox)),\"result\":\"deleted\",\"reload\":\(Self.reportJSON(report))}")
    }

    // MARK: Helpers

    static func reportJSON(_ report: ReloadReport) -> String {
        func list(_ ids: [String]) -> String { "[" + ids.map(JSONText.quote).joined(separator: ",") + "]" }
        let failures = report.failures.map { failure in
            "{\"file\":\(JSONText.quote(failure.file)),\"diagnostics\":"
                + list(failure.diagnostics.map(\.description)) + "}"
        }
        return "{\"added\":\(list(report.added)),\"changed\":\(list(report.changed)),\"removed\":\(list(report.removed)),"
            + "\"failures\":[\(failures.joined(separator: ","))]}"
    }

    private func unknownSandbox(_ sandbox: String) -> AdminResponse {
        .error(.notFound, "unknown_sandbox", "no sandbox '\(sandbox)' is registered")
    }

    private func methodNotAllowed(_ allowed: String) -> AdminResponse {
        .error(.methodNotAllowed, "method_not_allowed", "allowed: \(allowed)", headers: [("Allow", allowed)])
    }
}
