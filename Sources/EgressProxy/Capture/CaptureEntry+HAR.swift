import Foundation
import NIOHTTP1
import PIIDetect

// MARK: - HAR serialisation

extension CaptureEntry {
    /// The entry as one HAR 1.2 `entries` element (compact JSON, fixed key order).
    ///
    /// Bodies longer than `maxBodyBytes` are cut (`_truncated: true`, `bodySize` keeps the
    /// full size); a body that isn't UTF-8 text is written base64 (`encoding: "base64"`, also
    /// on `postData`, which HAR 1.2 lacks but every reader here accepts).
    func harJSON(maxBodyBytes: Int) -> [UInt8] {
        var w = JSONBytes()
        w.reserve(1024 + min(maxBodyBytes, (requestBody?.count ?? 0)) + min(maxBodyBytes, (responseBody?.count ?? 0)))
        let sendMS = max(0, timings.send), waitMS = max(0, timings.wait), receiveMS = max(0, timings.receive)
        w.open("{")
        w.key("startedDateTime"); w.string(RFC3339.format(startedDateTime))
        w.key("time"); w.number(sendMS + waitMS + receiveMS)

        // request
        w.key("request"); w.open("{")
        w.key("method"); w.string(method)
        w.key("url"); w.string(url)
        w.key("httpVersion"); w.string(httpVersion)
        w.key("cookies"); w.raw("[]")
        let reqHeaders = requestHeaders.map { h -> (name: String, value: String) in
            h.name.lowercased() == "proxy-authorization" ? (name: h.name, value: "[REDACTED]") : h
        }
        w.key("headers"); w.headers(reqHeaders)
        w.key("queryString"); w.open("[")
        for (name, value) in Self.queryPairs(url) {
            w.open("{"); w.key("name"); w.string(name); w.key("value"); w.string(value); w.close("}")
        }
        w.close("]")
        if let body = requestBody {
            let mime = requestHeaders.first(where: { $0.name.lowercased() == "content-type" })?.value ?? ""
            w.key("postData"); w.open("{")
            w.key("mimeType"); w.string(mime)
            w.body(body, limit: maxBodyBytes, fullSize: requestBodySize)
            w.close("}")
        }
        w.key("headersSize"); w.raw("-1")
        w.key("bodySize"); w.int(requestBodySize ?? requestBody?.count ?? 0)
        w.close("}")

        // response
        w.key("response"); w.open("{")
        w.key("status"); w.int(responseStatus ?? 0)
        w.key("statusText"); w.string(responseStatus.map { HTTPResponseStatus(statusCode: $0).reasonPhrase } ?? "")
        w.key("httpVersion"); w.string(responseStatus == nil ? "" : httpVersion)
        w.key("cookies"); w.raw("[]")
        w.key("headers"); w.headers(responseHeaders)
        w.key("content"); w.open("{")
        let responseSize = responseBodySize ?? responseBody?.count ?? 0
        w.key("size"); w.int(responseSize)
        w.key("mimeType"); w.string(responseHeaders.first(where: { $0.name.lowercased() == "content-type" })?.value ?? "")
        if let body = responseBody {
            w.body(body, limit: maxBodyBytes, fullSize: responseBodySize)
        }
        w.close("}")
        w.key("redirectURL"); w.string(responseHeaders.first(where: { $0.name.lowercased() == "location" })?.value ?? "")
        w.key("headersSize"); w.raw("-1")
        w.key("bodySize"); w.int(responseStatus == nil ? -1 : responseSize)
        w.close("}")

        w.key("cache"); w.raw("{}")
        w.key("timings"); w.open("{")
        w.key("blocked"); w.raw("-1")
        w.key("dns"); w.raw("-1")
        w.key("connect"); w.raw("-1")
        w.key("ssl"); w.raw("-1")
        w.key("send"); w.number(sendMS)
        w.key("wait"); w.number(waitMS)
        w.key("receive"); w.number(receiveMS)
        w.close("}")
        if let ip = serverIPAddress {
            w.key("serverIPAddress"); w.string(ip)
        }
        w.key("_egress"); w.open("{")
        w.key("decision"); w.string(egress.decision.verdict.rawValue)
        w.key("reason"); w.string(egress.decision.reason.rawValue)
        w.key("rule")
        if let rule = egress.decision.rule { w.string(rule) } else { w.raw("null") }
        w.key("secrets"); w.open("[")
        for s in egress.secrets { w.string(s) }
        w.close("]")
        if let mode = egress.mode {
            w.key("mode"); w.string(mode.rawValue)
        }
        w.close("}")
        w.close("}")
        return w.bytes
    }

    /// `a=1&b` → [("a","1"), ("b","")], raw (not percent-decoded), as HAR exporters write it.
    static func queryPairs(_ url: String) -> [(String, String)] {
        guard let q = url.firstIndex(of: "?") else { return [] }
        var query = url[url.index(after: q)...]
        if let hash = query.firstIndex(of: "#") { query = query[..<hash] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
    }
}

// MARK: - JSONBytes

/// Appends compact JSON to a byte array. Commas are placed automatically: `open`, `key` and
/// values after the first in a container get one.
struct JSONBytes {
    private(set) var bytes: [UInt8] = []
    /// Whether the current container already has a member (so the next needs a comma).
    private var hasMember: [Bool] = []
    /// Set by `key`: the value that follows takes no comma.
    private var afterKey = false

    mutating func reserve(_ n: Int) { bytes.reserveCapacity(n) }

    /// A comma if the container has a member already (for array elements written with `raw`).
    mutating func comma() {
        if afterKey { afterKey = false; return }
        if let last = hasMember.last {
            if last { bytes.append(0x2c) }
            hasMember[hasMember.count - 1] = true
        }
    }

    mutating func open(_ bracket: StaticString) {
        comma()
        bytes.append(bracket.utf8Start.pointee)
        hasMember.append(false)
    }

    mutating func close(_ bracket: StaticString) {
        bytes.append(bracket.utf8Start.pointee)
        hasMember.removeLast()
    }

    mutating func key(_ k: String) {
        comma()
        appendQuoted(k.utf8)
        bytes.append(0x3a)
        afterKey = true
    }

    mutating func raw(_ s: StaticString) {
        comma()
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func string(_ s: String) {
        comma()
        appendQuoted(s.utf8)
    }

    mutating func int(_ v: Int) {
        comma()
        bytes.append(contentsOf: String(v).utf8)
    }

    mutating func number(_ d: Double) {
        comma()
        bytes.append(contentsOf: JSONText.number(d).utf8)
    }

    mutating func headers(_ list: [(name: String, value: String)]) {
        open("[")
        for h in list {
            open("{"); key("name"); string(h.name); key("value"); string(h.value); close("}")
        }
        close("]")
    }

    /// `"text": ...` (and `"encoding": "base64"`, `"_truncated": true` when they apply) for a
    /// body cut to `limit` bytes.
    mutating func body(_ body: [UInt8], limit: Int, fullSize: Int?) {
        let cut = body.count > limit
        var kept = cut ? Array(body[0..<max(0, limit)]) : body
        var isText = String(validating: kept, as: UTF8.self) != nil
        if !isText && cut {
            // The cut may split a UTF-8 sequence: back off (at most 3 bytes) so text stays text.
            for drop in 1...3 where kept.count >= drop {
                if String(validating: kept[0..<(kept.count - drop)], as: UTF8.self) != nil {
                    kept.removeLast(drop)
                    isText = true
                    break
                }
            }
        }
        key("text")
        if isText {
            comma()
            appendQuoted(kept)
        } else {
            string(Data(kept).base64EncodedString())
            key("encoding")
            string("base64")
        }
        if cut || (fullSize.map { $0 > body.count } ?? false) {
            key("_truncated")
            raw("true")
        }
    }

    private mutating func appendQuoted<C: Collection>(_ utf8: C) where C.Element == UInt8 {
        bytes.append(0x22)
        for b in utf8 {
            switch b {
            case 0x22: bytes.append(0x5c); bytes.append(0x22)
            case 0x5c: bytes.append(0x5c); bytes.append(0x5c)
            case 0x0a: bytes.append(0x5c); bytes.append(UInt8(ascii: "n"))
            case 0x0d: bytes.append(0x5c); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(0x5c); bytes.append(UInt8(ascii: "t"))
            case 0..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(Self.hex[Int(b >> 4)])
                bytes.append(Self.hex[Int(b & 0xF)])
            default:
                bytes.append(b)
            }
        }
        bytes.append(0x22)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}
