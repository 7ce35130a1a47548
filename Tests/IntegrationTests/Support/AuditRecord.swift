import Foundation

// MARK: - Audit record

/// One line of the proxy's audit log (SPEC section 7), kept both parsed and raw: tests read
/// fields, and "never contains" checks grep the raw line.
struct AuditRecord: Sendable, CustomStringConvertible {
    let raw: String
    let fields: [String: JSONValue]

    init(line: String) throws {
        raw = line
        guard let fields = try JSONValue.parse(line).objectValue else {
            throw HarnessError("audit line is not a JSON object: \(line)")
        }
        self.fields = fields
    }

    subscript(key: String) -> JSONValue? { fields[key] }

    func string(_ key: String) -> String? { fields[key]?.stringValue }
    func int(_ key: String) -> Int? { fields[key]?.intValue }

    var event: String? { string("event") }
    var decision: String? { string("decision") }
    var reason: String? { string("reason") }
    var host: String? { string("host") }
    var mode: String? { string("mode") }
    var method: String? { string("method") }
    var path: String? { string("path") }
    var status: Int? { int("status") }
    var port: Int? { int("port") }
    var rule: String? { string("rule") }
    /// Names in `secrets` (empty when absent).
    var secrets: [String] { fields["secrets"]?.arrayValue?.compactMap(\.stringValue) ?? [] }

    var description: String { raw }

    /// Parses a JSON Lines file. A last line without its newline may still be being written
    /// and is left for the next read.
    static func parseFile(_ path: String) throws -> [AuditRecord] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if !text.hasSuffix("\n") {
            lines.removeLast()
        }
        return try lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map {
            try AuditRecord(line: String($0))
        }
    }
}
