import PIIDetect
import PolicyEngine

// MARK: - CompiledTransformation

/// One `transformations[N]` compiled for the data path: its PCRE2 pattern (checked for
/// catastrophic backtracking, run under match and depth limits), its replacement template,
/// its host scope and header edits.
final class CompiledTransformation: Sendable {
    /// `transformations[N]`.
    let path: String
    let direction: TransformationDirection
    let hosts: HostPatternSet
    let regex: Regex2?
    let template: ReplacementTemplate
    let setHeaders: [HeaderField]
    let removeHeaders: [String]

    /// Match limit for transformation patterns at run time (backtracking steps per attempt).
    static let matchLimit: UInt32 = 1_000_000

    /// Compiles `spec`; a pattern PCRE2 refuses, one that may backtrack catastrophically, or a
    /// template referring to a group the pattern lacks is a diagnostic at
    /// `transformations[N].match` / `.replace`.
    static func compile(_ spec: TransformationSpec) -> Result<CompiledTransformation, PolicyDiagnostic> {
        var regex: Regex2?
        let template = ReplacementTemplate(spec.replace ?? "")
        if let pattern = spec.match {
            do {
                regex = try Regex2(pattern, matchLimit: matchLimit)
            } catch let error as Regex2CompileError {
                return .failure(PolicyDiagnostic(at: spec.position, path: spec.path + ".match",
                                                 "bad pattern: \(error.message) at offset \(error.offset)"))
            } catch {
                return .failure(PolicyDiagnostic(at: spec.position, path: spec.path + ".match", "bad pattern"))
            }
            if let refusal = RegexSafety.check(pattern) {
                return .failure(PolicyDiagnostic(at: spec.position, path: spec.path + ".match", refusal.message))
            }
            if let regex, template.highestGroup > regex.captureCount {
                return .failure(PolicyDiagnostic(
                    at: spec.position, path: spec.path + ".replace",
                    "refers to group $\(template.highestGroup) but the pattern has \(regex.captureCount) group(s)"))
            }
        }
        return .success(CompiledTransformation(spec: spec, regex: regex, template: template))
    }

    private init(spec: TransformationSpec, regex: Regex2?, template: ReplacementTemplate) {
        self.path = spec.path
        self.direction = spec.direction
        self.hosts = HostPatternSet(validated: spec.hosts)
        self.regex = regex
        self.template = template
        self.setHeaders = spec.setHeaders
        self.removeHeaders = spec.removeHeaders
    }

    var appliesOutbound: Bool { direction == .outbound || direction == .both }
    var appliesInbound: Bool { direction == .inbound || direction == .both }
    var hasHeaderEdits: Bool { !setHeaders.isEmpty || !removeHeaders.isEmpty }

    /// Applies the header edits; returns the number of edits that changed something.
    func editHeaders(_ headers: inout [(String, String)]) -> Int {
        var applied = 0
        for name in removeHeaders where HeaderList.remove(&headers, name) > 0 { applied += 1 }
        for field in setHeaders {
            HeaderList.set(&headers, field.name, field.value)
            applied += 1
        }
        return applied
    }
}

// MARK: - TransformationRule

/// A regex transformation as a window rule: every match that starts in the new bytes becomes
/// its expanded template. Matches run under PCRE2's limits; a limit hit fails the window
/// (the body is then handled as uninspectable).
struct TransformationRule: WindowRule {
    let transformation: CompiledTransformation
    let regex: Regex2
    let scratch: Regex2.Scratch

    init?(_ transformation: CompiledTransformation) {
        guard let regex = transformation.regex else { return nil }
        self.transformation = transformation
        self.regex = regex
        self.scratch = Regex2.Scratch(captureCount: regex.captureCount)
    }

    mutating func candidates(in buffer: [UInt8], historyCount: Int, absoluteStart: Int, isFinal: Bool)
        throws(WindowFailure) -> [WindowCandidate] {
        var out: [WindowCandidate] = []
        var offset = historyCount
        while offset <= buffer.count {
            let found: Regex2.Match?
            do {
                found = try regex.firstMatch(in: buffer, from: offset, scratch: scratch)
            } catch {
                throw WindowFailure(detail: "\(transformation.path).match: PCRE2 \(error == .matchLimit ? "match" : "depth") limit")
            }
            guard let match = found else { break }
            let replacement = transformation.template.expand(in: buffer, whole: match.range, groups: match.groups)
            out.append(WindowCandidate(range: match.range, label: transformation.path, replacement: replacement))
            if match.range.isEmpty {
                // An empty match (`x*`, `^`): taken once, then the search steps one character.
                if match.range.upperBound >= buffer.count { break }
                offset = Self.nextCharacter(buffer, after: match.range.upperBound)
            } else {
                offset = match.range.upperBound
            }
        }
        return out
    }

    private static func nextCharacter(_ p: [UInt8], after i: Int) -> Int {
        var j = i + 1
        while j < p.count, p[j] & 0xC0 == 0x80 { j += 1 }
        return j
    }
}
