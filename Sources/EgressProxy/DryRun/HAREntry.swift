import Foundation
import PIIDetect

// MARK: - HAREntry

/// The parts of one HAR 1.2 entry that dry-run and the capture round trip use.
///
/// Decoding is tolerant of the exporters' differences: Chrome and Firefox devtools (HTTP/2
/// pseudo-headers, `serverIPAddress` in brackets, `postData.params` without `text`),
/// mitmproxy (`content.encoding: base64`, no `serverIPAddress`), curl exporters, and this
/// proxy's `--capture` files (`postData.encoding: base64`, `_egress`). Only `request.method`
/// and `request.url` are required.
public struct HAREntry: Sendable {
    /// The position in `log.entries` (0-based).
    public var index: Int
    public var startedDateTime: String?
    public var method: String
    public var url: String
    public var httpVersion: String?
    public var requestHeaders: [(name: String, value: String)]
    /// `postData` decoded (base64 or text); nil without `postData`.
    public var requestBody: [UInt8]?
    /// `postData._truncated` of a capture: the body was cut at the capture's size bound.
    public var requestBodyTruncated: Bool
    public var responseStatus: Int?
    public var responseHeaders: [(name: String, value: String)]
    /// `response.content` decoded; nil unless the reader keeps response bodies.
    public var responseBody: [UInt8]?
    /// Without brackets; nil when absent or empty.
    public var serverIPAddress: String?
    public var timings: HARTimings?
    /// The live decision of a `--capture` file.
    public var egress: HAREgress?

    public init(index: Int, method: String, url: String) {
        self.index = index
        self.method = method
        self.url = url
        self.requestHeaders = []
        self.requestBodyTruncated = false
        self.responseHeaders = []
    }

    /// The first request header named `name` (ASCII case-insensitive).
    public func requestHeader(_ name: String) -> String? {
        requestHeaders.first(where: { Self.sameName($0.name, name) })?.value
    }

    /// Header names are ASCII: compare bytes, not Foundation's locale-aware strings.
    static func sameName(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        for (x, y) in zip(a.utf8, b.utf8) where x != y {
            let lx = x >= 0x41 && x <= 0x5A ? x | 0x20 : x
            let ly = y >= 0x41 && y <= 0x5A ? y | 0x20 : y
            if lx != ly { return false }
        }
        return true
    }
}

/// `timings` in milliseconds (-1 when the exporter had none).
public struct HARTimings: Sendable, Equatable {
    public var send: Double
    public var wait: Double
    public var receive: Double

    public init(send: Double, wait: Double, receive: Double) {
        self.send = send
        self.wait = wait
        self.receive = receive
    }
}

/// `_egress`: the decision the live proxy made, as a `--capture` file records it.
public struct HAREgress: Sendable, Equatable {
    public var decision: String
    public var reason: String
    public var rule: String?
    public var secrets: [String]
    public var mode: String?

    public init(decision: String, reason: String, rule: String?, secrets: [String], mode: String? = nil) {
        self.decision = decision
        self.reason = reason
        self.rule = rule
        self.secrets = secrets
        self.mode = mode
    }
}

// MARK: - Decoding

extension HAREntry {
    /// Picks the entry's fields out of its parsed JSON; `index` names it in errors.
    static func decode(_ json: JSONValue, index: Int, keepResponseBody: Bool) throws(HARError) -> HAREntry {
        guard json.isObject else { throw HARError.entry(index: index, "is not an object") }
        guard let request = json["request"], request.isObject else {
            throw HARError.entry(index: index, "request is missing or not an object")
        }
        guard let method = request["method"]?.stringValue, !method.isEmpty else {
            throw HARError.entry(index: index, "request.method is missing or not a string")
        }
        guard let url = request["url"]?.stringValue, !url.isEmpty else {
            throw HARError.entry(index: index, "request.url is missing or not a string")
        }
        var entry = HAREntry(index: index, method: method.uppercased(), url: url)
        entry.startedDateTime = json["startedDateTime"]?.stringValue
        entry.httpVersion = request["httpVersion"]?.stringValue
        entry.requestHeaders = headers(request["headers"])

        if let postData = request["postData"], postData.isObject {
            entry.requestBody = try body(text: postData["text"], encoding: postData["encoding"]?.stringValue,
                                         index: index, field: "request.postData.text")
            if entry.requestBody == nil, let params = postData["params"]?.arrayValue {
                // Firefox and mitmproxy may give form fields only: rebuild the urlencoded body.
                let pairs = params.compactMap { p -> String? in
                    guard let name = p["name"]?.stringValue else { return nil }
                    return name + "=" + (p["value"]?.stringValue ?? "")
                }
                entry.requestBody = Array(pairs.joined(separator: "&").utf8)
            }
            entry.requestBodyTruncated = postData["_truncated"]?.boolValue ?? false
        }

        if let response = json["response"], response.isObject {
            // Browsers write status 0 for requests that got no response.
            if let status = response["status"]?.intValue, status > 0 { entry.responseStatus = status }
            entry.responseHeaders = headers(response["headers"])
            if keepResponseBody, let content = response["content"], content.isObject {
                entry.responseBody = try body(text: content["text"], encoding: content["encoding"]?.stringValue,
                                              index: index, field: "response.content.text")
            }
        }

        if var ip = json["serverIPAddress"]?.stringValue?.trimmingCharacters(in: .whitespaces), !ip.isEmpty {
            if ip.hasPrefix("["), let close = ip.firstIndex(of: "]") {
                ip = String(ip[ip.index(after: ip.startIndex)..<close])
            }
            entry.serverIPAddress = ip
        }

        if let t = json["timings"], t.isObject {
            entry.timings = HARTimings(send: t["send"]?.doubleValue ?? -1, wait: t["wait"]?.doubleValue ?? -1,
                                       receive: t["receive"]?.doubleValue ?? -1)
        }

        if let e = json["_egress"], e.isObject, let decision = e["decision"]?.stringValue {
            entry.egress = HAREgress(
                decision: decision, reason: e["reason"]?.stringValue ?? "", rule: e["rule"]?.stringValue,
                secrets: e["secrets"]?.arrayValue?.compactMap(\.stringValue) ?? [], mode: e["mode"]?.stringValue)
        }
        return entry
    }

    /// `[{name, value}]`; entries without a string name are skipped, a missing value is "".
    private static func headers(_ value: JSONValue?) -> [(name: String, value: String)] {
        guard let list = value?.arrayValue else { return [] }
        var out: [(name: String, value: String)] = []
        out.reserveCapacity(list.count)
        for h in list {
            guard let name = h["name"]?.stringValue else { continue }
            let v: String
            switch h["value"] {
            case .string(let s)?: v = s
            case .number(let d)?: v = d == d.rounded() && d.magnitude < 1e15 ? String(Int64(d)) : String(d)
            default: v = ""
            }
            out.append((name: name, value: v))
        }
        return out
    }

    /// A body as `text` plus optional `encoding: base64`.
    private static func body(text: JSONValue?, encoding: String?, index: Int, field: String) throws(HARError) -> [UInt8]? {
        guard let text = text?.stringValue else { return nil }
        if encoding?.lowercased() == "base64" {
            guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
                throw HARError.entry(index: index, "\(field) is not valid base64")
            }
            return [UInt8](data)
        }
        return Array(text.utf8)
    }
}

// MARK: - Errors

/// Why a HAR file can't be read. Every message names the file and, inside `log.entries`,
/// the entry (`entries[3]`, 0-based).
public enum HARError: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotRead(path: String, reason: String)
    case notHAR(String)
    case syntax(offset: Int, String)
    case entry(index: Int, String)

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason): return "cannot read \(path): \(reason)"
        case .notHAR(let message): return "not a HAR 1.2 file: \(message)"
        case .syntax(let offset, let message): return "invalid JSON at byte \(offset): \(message)"
        case .entry(let index, let message): return "entries[\(index)]: \(message)"
        }
    }

    /// The entry the error is about, if any.
    public var entryIndex: Int? {
        if case .entry(let index, _) = self { return index }
        return nil
    }
}
