import Foundation
import NIOHTTP1
import PolicyEngine

/// Where a request goes, parsed from its request line and `Host` header.
struct RequestTarget: Equatable {
    var scheme: String       // "http" or "https"
    var host: String         // normalised
    var port: Int
    /// Origin-form path and query for the upstream request line ("/" when empty).
    var pathAndQuery: String

    var path: Substring {
        pathAndQuery.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "/"
    }
    var query: Substring? {
        let parts = pathAndQuery.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count == 2 ? parts[1] : nil
    }

    /// `http://host[:port]/path?q` (absolute form).
    static func parseAbsolute(_ uri: String) -> RequestTarget? {
        let lower = uri.lowercased()
        let scheme: String
        if lower.hasPrefix("http://") { scheme = "http" } else if lower.hasPrefix("https://") { scheme = "https" } else { return nil }
        let rest = uri.dropFirst(scheme.count + 3)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let (host, port) = parseAuthority(String(authority), defaultPort: scheme == "https" ? 443 : 80) else { return nil }
        var pq = String(rest[authorityEnd...])
        if let hash = pq.firstIndex(of: "#") { pq = String(pq[..<hash]) }
        if pq.isEmpty { pq = "/" } else if pq.hasPrefix("?") { pq = "/" + pq }
        return RequestTarget(scheme: scheme, host: host, port: port, pathAndQuery: pq)
    }

    /// `host[:port]`, `[v6]:port`; rejects userinfo and empty hosts.
    static func parseAuthority(_ authority: String, defaultPort: Int) -> (String, Int)? {
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var hostPart = Substring(authority)
        var port = defaultPort
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { return nil }
            let after = hostPart[hostPart.index(after: close)...]
            let inner = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            } else if !after.isEmpty {
                return nil
            }
            hostPart = inner
        } else if let colon = hostPart.lastIndex(of: ":") {
            // A bare IPv6 literal without brackets has several colons: not an authority.
            if hostPart.filter({ $0 == ":" }).count > 1 { return nil }
            guard let p = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
            hostPart = hostPart[..<colon]
        }
        let host = HostName.normalize(String(hostPart))
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == ":" || $0 == "_") }) else {
            return nil
        }
        return (host, port)
    }

    /// The path for audit records: query values removed, keys kept (`/s?q=&page=`).
    static func auditPath(_ pathAndQuery: String) -> String {
        let parts = pathAndQuery.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return String(parts.first ?? "/") }
        let keys = parts[1].split(separator: "&").map { pair -> String in
            let key = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return String(key) + "="
        }
        return String(parts[0]) + "?" + keys.joined(separator: "&")
    }
}

/// Header rewriting between the client and upstream (RFC 9110 section 7.6.1 hop-by-hop fields).
enum HopByHop {
    static let always: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate",
        "te", "trailer", "upgrade",
    ]

    /// Removes hop-by-hop headers (and those named in `Connection`), keeping the upgrade pair
    /// when `keepUpgrade` (WebSocket).
    static func strip(_ headers: inout HTTPHeaders, keepUpgrade: Bool) {
        var named = Set<String>()
        for value in headers[canonicalForm: "connection"] {
            named.insert(value.lowercased().trimmingCharacters(in: .whitespaces))
        }
        let upgradeValue = headers["upgrade"]
        var toRemove = always.union(named)
        toRemove.remove("transfer-encoding")
        for name in toRemove { headers.remove(name: name) }
        if keepUpgrade, !upgradeValue.isEmpty {
            for v in upgradeValue { headers.add(name: "Upgrade", value: v) }
            headers.add(name: "Connection", value: "Upgrade")
        }
    }
}
