/// The encoded forms of one secret value to look for, each mapped to the same encoding of the
/// secret's placeholder.
///
/// A response that echoes a secret may carry it raw, base64-encoded (a Basic credential, a JWT
/// segment, a data blob), percent-encoded (a URL, a form body) or escaped inside a JSON string.
/// Each form is replaced by the placeholder in the same encoding, so the surrounding document
/// stays well-formed: `base64(value)` becomes `base64(placeholder)`.
///
/// Forms shorter than `minimumLength` bytes are left out: they would collide with ordinary data.
/// Forms equal to an earlier one (for example percent-encoding of a value that has only
/// unreserved characters) are left out too.
public struct SecretForms: Sendable {
    /// One encoded form and its replacement.
    public struct Form: Sendable {
        public let encoding: SecretEncoding
        /// The encoded secret value: secret.
        public let pattern: [UInt8]
        /// The placeholder in the same encoding.
        public let replacement: [UInt8]
    }

    /// Shorter forms are not masked (too likely to match unrelated bytes).
    public static let minimumLength = 8

    /// The secret's name (not secret; used in audit records).
    public let name: String
    /// The forms to mask, raw first.
    public let forms: [Form]

    /// Computes the forms of `value` under `encodings` (all by default).
    public init(
        name: String,
        value: [UInt8],
        placeholder: [UInt8],
        encodings: [SecretEncoding] = SecretEncoding.allCases
    ) {
        var forms: [Form] = []
        var seen = Set<[UInt8]>()
        for encoding in encodings {
            let pattern = encoding.encode(value)
            guard pattern.count >= Self.minimumLength, seen.insert(pattern).inserted else { continue }
            forms.append(Form(encoding: encoding, pattern: pattern, replacement: encoding.encode(placeholder)))
        }
        self.name = name
        self.forms = forms
    }
}

// MARK: - Redacted descriptions

extension SecretForms: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The name and encodings only: the forms are the secret.
    public var description: String {
        "SecretForms(\(name), <redacted>, encodings: [\(forms.map(\.encoding.rawValue).joined(separator: ", "))])"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "encodings": forms.map(\.encoding)], displayStyle: .struct)
    }
}

extension SecretForms.Form: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SecretForms.Form(\(encoding.rawValue), <redacted>)" }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: ["encoding": encoding], displayStyle: .struct) }
}
