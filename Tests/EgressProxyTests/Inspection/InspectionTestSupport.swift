import Crypto
import NIOCore
import PolicyEngine

@testable import EgressProxy

/// Helpers shared by the inspection tests (namespaced: other test folders share the module).
enum InspectionTestSupport {
    /// A vault with a fixed key, so tokens are the same on every run.
    static func vault(_ seed: UInt8 = 1) -> TokenVault {
        TokenVault(key: SymmetricKey(data: [UInt8](repeating: seed, count: 32)))
    }

    /// Parses and compiles a policy (YAML), then its inspection plan.
    static func plan(_ yaml: String, environment: [String: String] = [:], vault: TokenVault = vault()) throws -> InspectionPlan {
        let doc = try PolicyLoader.parse(text: "sandbox: sb-test\n" + yaml, file: "test.yaml")
        let policy = try CompiledPolicy.compile(doc, environment: [:]) { _ in [] }
        return try InspectionPlan.compile(policy, environment: SandboxEnvironment(environment), vault: vault)
    }

    /// The inspection error a policy gets, or nil when it compiles.
    static func compileError(_ yaml: String) -> PolicyLoadError? {
        do {
            _ = try plan(yaml)
            return nil
        } catch let error as PolicyLoadError {
            return error
        } catch {
            return PolicyLoadError(diagnostics: [])
        }
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    /// What a body stage run produced.
    struct Run {
        var output: [UInt8] = []
        var denial: (reason: Reason, detail: String)?
        /// The largest retained byte count seen after any call.
        var maxRetained = 0
    }

    /// Feeds `body` to a request stage cut at `cuts` (ascending offsets) and finishes it.
    static func run(_ stage: inout RequestInspection, _ body: [UInt8], cuts: [Int] = []) -> Run {
        var run = Run()
        var previous = 0
        for cut in cuts + [body.count] {
            if !record(stage.feed(ByteBuffer(bytes: body[previous..<cut])), into: &run) { return run }
            run.maxRetained = max(run.maxRetained, stage.retainedByteCount)
            previous = cut
        }
        _ = record(stage.finish(), into: &run)
        return run
    }

    /// Feeds `body` to a response stage cut at `cuts` and finishes it.
    static func run(_ stage: inout ResponseInspection, _ body: [UInt8], cuts: [Int] = []) -> Run {
        var run = Run()
        var previous = 0
        for cut in cuts + [body.count] {
            if !record(stage.feed(ByteBuffer(bytes: body[previous..<cut])), into: &run) { return run }
            run.maxRetained = max(run.maxRetained, stage.retainedByteCount)
            previous = cut
        }
        _ = record(stage.finish(), into: &run)
        return run
    }

    private static func record(_ result: StageResult, into run: inout Run) -> Bool {
        switch result {
        case .forward(let buffer):
            run.output += buffer.readableBytesView
            return true
        case .deny(let reason, let detail):
            run.denial = (reason, detail)
            return false
        }
    }

    /// The `[TYPE_xxxxxx]` tokens in a text.
    static func tokens(in s: String) -> [String] {
        var found: [String] = []
        let b = Array(s.utf8)
        b.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                if p[i] == UInt8(ascii: "["), case .token(let length, let canonical, _) = RedactionToken.scan(p, at: i) {
                    found.append(canonical)
                    i += length
                } else {
                    i += 1
                }
            }
        }
        return found
    }
}
