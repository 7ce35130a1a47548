// MARK: - ConstantTime

/// Comparisons of secrets (token digests) whose duration does not depend on where the inputs
/// first differ, so a client cannot learn a token byte by byte from response times.
public enum ConstantTime {
    /// Whether `a` and `b` are equal. Every byte of the longer input is read whatever the
    /// contents; only the lengths (public here: digests have a fixed size) are not hidden.
    public static func equals<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        let left = Array(a)
        let right = Array(b)
        let count = max(left.count, right.count)
        // A length mismatch still walks `count` bytes and then fails.
        var difference: UInt8 = left.count == right.count ? 0 : 1
        for i in 0..<count {
            let x = i < left.count ? left[i] : 0
            let y = i < right.count ? right[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
