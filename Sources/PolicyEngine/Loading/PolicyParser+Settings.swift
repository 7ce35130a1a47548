import Yams

// MARK: - audit:, limits:, gateway:

extension PolicyParser {
    static let auditKeys = ["enabled", "path", "log_request_body", "log_response_body", "retention_hours"]
    static let limitsKeys = [
        "header_timeout_seconds", "idle_timeout_seconds", "upstream_connect_timeout_seconds",
        "max_body_inspect_bytes", "on_uninspectable", "max_connections", "requests_per_second",
    ]
    static let gatewayKeys = ["token_sha256"]

    mutating func parseAudit(_ node: Node) -> AuditSettings {
        var settings = AuditSettings()
        guard let fields = reader.mapping(node, "audit", allowed: Self.auditKeys) else { return settings }
        if let value = fields["enabled"], let flag = reader.bool(value, "audit.enabled") { settings.enabled = flag }
        if let value = fields["path"] { settings.path = reader.nonEmptyString(value, "audit.path") }
        if let value = fields["log_request_body"], let flag = reader.bool(value, "audit.log_request_body") {
            settings.logRequestBody = flag
        }
        if let value = fields["log_response_body"], let flag = reader.bool(value, "audit.log_response_body") {
            settings.logResponseBody = flag
        }
        if let value = fields["retention_hours"] {
            settings.retentionHours = reader.int(value, "audit.retention_hours", in: 1...Int(Int32.max))
        }
        return settings
    }

    mutating func parseLimits(_ node: Node) -> Limits {
        var limits = Limits.defaults
        guard let fields = reader.mapping(node, "limits", allowed: Self.limitsKeys) else { return limits }
        // Timeouts: positive and at most a day; a zero or negative timeout would disable the
        // protection it stands for.
        let seconds: ClosedRange<Double> = 0.001...86_400
        if let value = fields["header_timeout_seconds"], let number = reader.number(value, "limits.header_timeout_seconds", in: seconds) {
            limits.headerTimeoutSeconds = number
        }
        if let value = fields["idle_timeout_seconds"], let number = reader.number(value, "limits.idle_timeout_seconds", in: seconds) {
            limits.idleTimeoutSeconds = number
        }
        if let value = fields["upstream_connect_timeout_seconds"],
           let number = reader.number(value, "limits.upstream_connect_timeout_seconds", in: seconds) {
            limits.upstreamConnectTimeoutSeconds = number
        }
        if let value = fields["max_body_inspect_bytes"],
           let number = reader.int(value, "limits.max_body_inspect_bytes", in: 1...(1 << 31)) {
            limits.maxBodyInspectBytes = number
        }
        if let value = fields["on_uninspectable"],
           let choice = reader.enumeration(value, "limits.on_uninspectable", OnUninspectable.self) {
            limits.onUninspectable = choice
        }
        if let value = fields["max_connections"], let number = reader.int(value, "limits.max_connections", in: 1...1_000_000) {
            limits.maxConnections = number
        }
        if let value = fields["requests_per_second"],
           let number = reader.number(value, "limits.requests_per_second", in: 0.001...1_000_000) {
            limits.requestsPerSecond = number
        }
        return limits
    }

    mutating func parseGateway(_ node: Node) -> GatewaySettings {
        var settings = GatewaySettings()
        guard let fields = reader.mapping(node, "gateway", allowed: Self.gatewayKeys) else { return settings }
        if let value = fields["token_sha256"] {
            // Any scalar: an unquoted hex digest may happen to look like a number to YAML.
            var text = ""
            if case .scalar(let scalar) = value { text = scalar.string }
            if let digest = Self.hexBytes(text), digest.count == 32 {
                settings.tokenSHA256 = digest
            } else {
                reader.error(value, "gateway.token_sha256", "expected 64 hex digits (the SHA-256 of the sandbox token)")
            }
        }
        return settings
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexDigit(digits[index]), let low = hexDigit(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
