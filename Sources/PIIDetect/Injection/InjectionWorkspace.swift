#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Per-thread scorer state

/// Buffers ``InjectionScorer`` reuses instead of allocating per body: the sentence list,
/// the phrase hits of a block and the lists ``InjectionScorer/combine`` builds. One per
/// thread (kept in thread-local storage, like ``ScanWorkspace``), so the scorer stays
/// shareable without locks; a workspace is only touched by the thread that owns it.
///
/// The arrays are taken out while in use (`var list = ws.list; ws.list = []`, no copy: the
/// local holds the only reference) and put back after, so the hot loops work on locals.
final class InjectionWorkspace: PerThread.Workspace {
    var sentences: [InjectionScorer.Sentence] = []
    var slot: [Int32] = []
    var signalList: [SignalSet] = []
    var penaltyList: [Double] = []
    var interesting: [Int] = []
    var members: [Int] = []
    /// Phrase hits of one block (``PhraseAutomaton/findHits``).
    private(set) var hits: UnsafeMutablePointer<UInt32>
    private(set) var hitCapacity: Int
    /// Set while an analysis on this thread uses the workspace (a nested one, for decoded
    /// text, gets a fresh one).
    var busy = false

    init() {
        hitCapacity = 1024
        hits = UnsafeMutablePointer<UInt32>.allocate(capacity: hitCapacity)
    }

    deinit { hits.deallocate() }

    /// The hit buffer, holding at least `count` entries.
    func hitBuffer(_ count: Int) -> UnsafeMutablePointer<UInt32> {
        if count > hitCapacity {
            hits.deallocate()
            hitCapacity = count
            hits = UnsafeMutablePointer<UInt32>.allocate(capacity: count)
        }
        return hits
    }

    private static let key = PerThread.makeKey()

    /// The calling thread's workspace, or a fresh one if it is in use.
    static func acquire() -> InjectionWorkspace {
        PerThread.acquire(key)
    }

    func release() {
        busy = false
        // Keep memory bounded after a huge body.
        if sentences.capacity > 4096 { sentences = [] }
        if slot.capacity > 4096 { slot = []; signalList = []; penaltyList = []; interesting = []; members = [] }
        if hitCapacity > 4096 {
            hits.deallocate()
            hitCapacity = 1024
            hits = UnsafeMutablePointer<UInt32>.allocate(capacity: hitCapacity)
        }
    }
}
