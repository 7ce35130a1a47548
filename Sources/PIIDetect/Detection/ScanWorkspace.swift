#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Per-thread scan state

/// Buffers a scan reuses instead of allocating per body: PCRE2 match data, digit-chain
/// scratch, start positions and candidates. One per thread (kept in thread-local storage),
/// so ``Detector`` stays shareable without locks; a workspace is only touched by the
/// thread that owns it.
final class ScanWorkspace {
    let match = Regex2.Scratch(captureCount: 16)
    var chains = NumberFinder.Scratch()
    var starts = Detector.Starts()
    var candidates: [Candidate] = []
    /// Set while a scan on this thread uses the workspace (a nested scan gets a fresh one).
    var busy = false

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            guard let pointer else { return }
            Unmanaged<ScanWorkspace>.fromOpaque(pointer).release()
        }
        return key
    }()

    /// The calling thread's workspace, or a fresh one if it is in use.
    static func acquire() -> ScanWorkspace {
        if let p = pthread_getspecific(key) {
            let w = Unmanaged<ScanWorkspace>.fromOpaque(p).takeUnretainedValue()
            if !w.busy { w.busy = true; return w }
            return ScanWorkspace()
        }
        let w = ScanWorkspace()
        pthread_setspecific(key, Unmanaged.passRetained(w).toOpaque())
        w.busy = true
        return w
    }

    func release() {
        busy = false
        // Keep memory bounded after a huge body.
        if candidates.capacity > 4096 { candidates = [] }
        if starts.numbers.capacity > 65_536 { starts = Detector.Starts() }
    }
}
