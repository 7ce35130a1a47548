// MARK: - Entity types and findings

/// The kinds of personal data and secrets the detector reports. Raw values are the names
/// the evaluation corpus and the audit log use (Presidio's names for PII).
public enum EntityType: String, Sendable, CaseIterable, Hashable, Comparable {
    case US_SSN
    case CREDIT_CARD
    case EMAIL_ADDRESS
    case PHONE_NUMBER
    case IP_ADDRESS
    case IBAN_CODE
    case AWS_ACCESS_KEY
    case AWS_SECRET_KEY
    case GITHUB_TOKEN
    case OPENAI_API_KEY
    case ANTHROPIC_API_KEY
    case SLACK_TOKEN
    case STRIPE_KEY
    case PRIVATE_KEY
    case JWT

    /// PII or secret.
    public enum Family: String, Sendable { case pii, secret }

    /// The family the type belongs to.
    public var family: Family {
        switch self {
        case .US_SSN, .CREDIT_CARD, .EMAIL_ADDRESS, .PHONE_NUMBER, .IP_ADDRESS, .IBAN_CODE: return .pii
        default: return .secret
        }
    }

    /// Every PII type.
    public static let pii: Set<EntityType> = Set(allCases.filter { $0.family == .pii })
    /// Every secret-format type (the policy's `api_key`).
    public static let secrets: Set<EntityType> = Set(allCases.filter { $0.family == .secret })

    /// The types a policy `pii.types` name selects (`ssn`, `credit_card`, `email`,
    /// `phone_number`, `ip_address`, `iban`, `api_key`), or `nil` for an unknown name.
    public static func types(forPolicyName name: String) -> Set<EntityType>? {
        switch name.lowercased() {
        case "ssn", "us_ssn": return [.US_SSN]
        case "credit_card": return [.CREDIT_CARD]
        case "email", "email_address": return [.EMAIL_ADDRESS]
        case "phone_number", "phone": return [.PHONE_NUMBER]
        case "ip_address", "ip": return [.IP_ADDRESS]
        case "iban", "iban_code": return [.IBAN_CODE]
        case "api_key", "secrets": return secrets
        default: return nil
        }
    }

    /// Order used when two findings overlap: the more specific, better-validated type wins.
    var priority: Int {
        switch self {
        case .PRIVATE_KEY: return 100
        case .ANTHROPIC_API_KEY: return 95
        case .OPENAI_API_KEY, .GITHUB_TOKEN, .SLACK_TOKEN, .STRIPE_KEY: return 90
        case .JWT: return 85
        case .AWS_ACCESS_KEY, .AWS_SECRET_KEY: return 80
        case .EMAIL_ADDRESS: return 60
        case .IBAN_CODE: return 55
        case .CREDIT_CARD: return 50
        case .US_SSN: return 45
        case .IP_ADDRESS: return 40
        case .PHONE_NUMBER: return 30
        }
    }

    public static func < (a: EntityType, b: EntityType) -> Bool { a.rawValue < b.rawValue }
}

/// A set of entity types as bits (cheap membership tests on the scan path).
struct TypeMask: OptionSet, Sendable {
    let rawValue: UInt32

    init(rawValue: UInt32) { self.rawValue = rawValue }

    init(_ types: Set<EntityType>) {
        var v: UInt32 = 0
        for t in types { v |= t.bit }
        rawValue = v
    }

    @inline(__always) func has(_ t: EntityType) -> Bool { rawValue & t.bit != 0 }
}

extension EntityType {
    /// This type's bit in a ``TypeMask``.
    var bit: UInt32 {
        switch self {
        case .US_SSN: return 1 << 0
        case .CREDIT_CARD: return 1 << 1
        case .EMAIL_ADDRESS: return 1 << 2
        case .PHONE_NUMBER: return 1 << 3
        case .IP_ADDRESS: return 1 << 4
        case .IBAN_CODE: return 1 << 5
        case .AWS_ACCESS_KEY: return 1 << 6
        case .AWS_SECRET_KEY: return 1 << 7
        case .GITHUB_TOKEN: return 1 << 8
        case .OPENAI_API_KEY: return 1 << 9
        case .ANTHROPIC_API_KEY: return 1 << 10
        case .SLACK_TOKEN: return 1 << 11
        case .STRIPE_KEY: return 1 << 12
        case .PRIVATE_KEY: return 1 << 13
        case .JWT: return 1 << 14
        }
    }
}

/// One detected item: its type and the byte range in the raw input it was found in
/// (including the encodings and separators it was written with).
public struct Finding: Sendable, Equatable, Hashable {
    public var type: EntityType
    public var range: Range<Int>

    public init(type: EntityType, range: Range<Int>) {
        self.type = type
        self.range = range
    }
}
