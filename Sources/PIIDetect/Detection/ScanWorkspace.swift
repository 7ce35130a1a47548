#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - One object per thread

/// A reusable object per thread in thread-local storage (the scanners' workspaces): a
/// thread takes its own unless a scan on it already uses it (a nested scan, for decoded
/// text, gets a fresh one). The object is released when its thread ends.
enum PerThread {
    /// A key whose destructor releases the object stored under it.
    static func makeKey() -> pthread_key_t {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            guard let pointer else { return }
            Unmanaged<AnyObject>.fromOpaque(pointer).release()
        }
        return key
    }

    /// The calling thread's object under `key` (made the first time) marked busy, or a
    /// fresh one when it is busy.
    static func acquire<W: Workspace>(_ key: pthread_key_t) -> W {
        if let p = pthread_getspecific(key) {
            let w = Unmanaged<W>.fromOpaque(p).takeUnretainedValue()
            if !w.busy { w.busy = true; return w }
            return W()
        }
        let w = W()
        pthread_setspecific(key, Unmanaged.passRetained(w).toOpaque())
        w.busy = true
        return w
    }

    protocol Workspace: AnyObject {
        init()
        /// Set while a scan on the owning thread uses it.
        var busy: Bool { get set }
    }
}

// MARK: - Per-thread scan state

/// Buffers a scan reuses instead of allocating per body: PCRE2 match data, digit-chain
/// storage, start positions, candidates and the decoded text.
struct ScanState: ~Copyable {
    let match = Regex2.Scratch(captureCount: 16)
    let chains = NumberFinder.Storage()
    var starts = Detector.Starts()
    var candidates: [Candidate] = []
    var decoding = DecodeBuffers()

    /// Drops what a huge body grew, so memory stays bounded.
    mutating func trim() {
        if candidates.capacity > 4096 { candidates = [] }
        if starts.capacity > 65_536 { starts = Detector.Starts() }
        decoding.trim(above: 1 << 20)
    }
}

/// One ``ScanState`` per thread (kept in thread-local storage), so ``Detector`` stays
/// shareable without locks; a workspace is only touched by the thread that owns it.
final class ScanWorkspace: PerThread.Workspace {
    var state = ScanState()
    /// Set while a scan on this thread uses the workspace (a nested scan gets a fresh one).
    var busy = false

    private static let key = PerThread.makeKey()

    /// The calling thread's workspace, or a fresh one if it is in use.
    static func acquire() -> ScanWorkspace {
        PerThread.acquire(key)
    }

    func release() {
        busy = false
        state.trim()
    }
}
