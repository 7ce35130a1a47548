import Foundation

// MARK: - WebSocket client

/// What the WebSocket client saw.
struct WebSocketConversation: Sendable {
    let connectStatus: Int?
    let upgradeStatus: Int?
    let acceptKeyValid: Bool
    /// Echoed texts, in order (the first 4 KiB of each).
    let echoes: [String]
    /// Byte length of each echo.
    let echoLengths: [Int]
    /// Whether every echo frame was unmasked, as a server's frames must be.
    let echoesUnmasked: Bool
    let closeCode: Int?
    let error: String?
}

enum WebSocketClient {
    /// Opens a WebSocket to `host:port` (through the proxy when `proxyPort` is given), sends
    /// each message as a text frame and collects the echoes. The test upstream answers
    /// `big:N` with one text frame of N bytes.
    static func converse(
        proxyPort: Int?, host: String, port: Int, tls: Bool, caFile: String?, messages: [String]
    ) async throws -> WebSocketConversation {
        var arguments = [try PythonScripts.path("ws_client.py"), "--host", host, "--port", String(port)]
        if let proxyPort {
            arguments += ["--proxy-port", String(proxyPort)]
        }
        if tls {
            arguments.append("--tls")
        }
        if let caFile {
            arguments += ["--cafile", caFile]
        }
        for message in messages {
            arguments += ["--message", message]
        }
        let output = try await Subprocess.run(TestEnvironment.python3, arguments, timeout: .seconds(40))
        guard output.exitCode == 0, let json = try? JSONValue.parse(output.stdout) else {
            throw HarnessError("WebSocket client failed (\(output.exitCode)): \(output.combinedText)")
        }
        let echoes = json["echoes"]?.arrayValue ?? []
        return WebSocketConversation(
            connectStatus: json["connect_status"]?.intValue,
            upgradeStatus: json["upgrade_status"]?.intValue,
            acceptKeyValid: json["accept_ok"]?.boolValue ?? false,
            echoes: echoes.compactMap { $0["text"]?.stringValue },
            echoLengths: echoes.compactMap { $0["length"]?.intValue },
            echoesUnmasked: echoes.allSatisfy { $0["masked"]?.boolValue == false },
            closeCode: json["close_code"]?.intValue,
            error: json["error"]?.stringValue)
    }
}
