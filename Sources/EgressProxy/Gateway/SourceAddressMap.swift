import Foundation
import NIOCore
import PolicyEngine

// MARK: - SourceAddressMap

/// Which sandbox a client address belongs to, for setups where the sandbox cannot send
/// `Proxy-Authorization` (`--source-map FILE`: lines `IP SANDBOX`, `#` comments).
///
/// Only used for requests that carry no credentials: wrong credentials are never rescued by
/// the source address.
public struct SourceAddressMap: Sendable, Equatable {
    public private(set) var sandboxes: [IPAddress: String]

    public init(_ sandboxes: [IPAddress: String] = [:]) {
        self.sandboxes = sandboxes.reduce(into: [:]) { $0[Self.canonical($1.key)] = $1.value }
    }

    /// The sandbox of a peer address (IPv4-mapped IPv6 peers, as a dual-stack listener sees
    /// IPv4 clients, match their IPv4 entry).
    public func sandbox(for address: IPAddress) -> String? {
        sandboxes[Self.canonical(address)]
    }

    /// The sandbox of a NIO peer address; nil for Unix sockets and unknown peers.
    public func sandbox(for address: SocketAddress?) -> String? {
        guard let text = address?.ipAddress else { return nil }
        // Link-local IPv6 peers come with a zone (`fe80::1%eth0`); the map has none.
        let bare = text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? text
        guard let ip = IPAddress(bare) else { return nil }
        return sandbox(for: ip)
    }

    /// `::ffff:a.b.c.d` as `a.b.c.d`; everything else unchanged.
    static func canonical(_ address: IPAddress) -> IPAddress {
        guard address.family == .v6 else { return address }
        let b = address.bytes
        guard b.count == 16, b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xff, b[11] == 0xff else { return address }
        return IPAddress(v4: (b[12], b[13], b[14], b[15]))
    }

    // MARK: Parsing

    /// Parses the file's text; all errors at once as `FILE:LINE:COLUMN: message`.
    public static func parse(text: String, file: String) throws(PolicyLoadError) -> SourceAddressMap {
        var map: [IPAddress: String] = [:]
        var firstLine: [IPAddress: Int] = [:]
        var diagnostics: [PolicyDiagnostic] = []
        func error(_ line: Int, _ column: Int, _ message: String) {
            diagnostics.append(PolicyDiagnostic(file: file, line: line, column: column, path: "", message: message))
        }
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let fields = fieldsWithColumns(line)
            if fields.isEmpty { continue }
            guard fields.count == 2 else {
                error(lineNumber, fields[0].column, "expected 'IP SANDBOX', got \(fields.count) field(s)")
                continue
            }
            let (ipText, ipColumn) = fields[0]
            let (sandbox, sandboxColumn) = fields[1]
            guard let ip = IPAddress(String(ipText)) else {
                error(lineNumber, ipColumn, "'\(ipText)' is not an IP address")
                continue
            }
            guard SandboxID.isValid(String(sandbox)) else {
                error(lineNumber, sandboxColumn, "'\(sandbox)' is not a valid sandbox id")
                continue
            }
            let key = canonical(ip)
            if let earlier = firstLine[key] {
                error(lineNumber, ipColumn, "\(ipText) is already mapped on line \(earlier)")
                continue
            }
            map[key] = String(sandbox)
            firstLine[key] = lineNumber
        }
        guard diagnostics.isEmpty else { throw PolicyLoadError(diagnostics: diagnostics) }
        return SourceAddressMap(map)
    }

    /// Reads and parses a source map file.
    public static func load(path: String) throws(PolicyLoadError) -> SourceAddressMap {
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8) else {
            throw PolicyLoadError(diagnostics: [
                PolicyDiagnostic(file: path, line: 1, column: 1, path: "", message: "cannot read source map (missing, unreadable or not UTF-8)")
            ])
        }
        return try parse(text: text, file: path)
    }

    /// Whitespace-separated fields with their 1-based columns (in characters).
    private static func fieldsWithColumns(_ line: Substring) -> [(text: Substring, column: Int)] {
        var out: [(Substring, Int)] = []
        var column = 1
        var start: Substring.Index?
        var startColumn = 1
        var i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if c == " " || c == "\t" || c == "\r" {
                if let s = start { out.append((line[s..<i], startColumn)); start = nil }
            } else if start == nil {
                start = i
                startColumn = column
            }
            column += 1
            i = line.index(after: i)
        }
        if let s = start { out.append((line[s...], startColumn)) }
        return out
    }
}

// MARK: - SandboxID

/// The sandbox id rule of the policy engine (it names a CA folder and a policy file):
/// 1-64 letters, digits, `.`, `_` or `-`, not starting with `.` or `-`.
public enum SandboxID {
    public static func isValid(_ id: String) -> Bool {
        guard (1...64).contains(id.utf8.count), let first = id.utf8.first,
              first != UInt8(ascii: "."), first != UInt8(ascii: "-") else { return false }
        return id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }
}
