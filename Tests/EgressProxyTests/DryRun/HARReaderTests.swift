import Foundation
import PIIDetect
import Testing
@testable import EgressProxy

@Suite struct HARReaderTests {
    // MARK: Realistic shapes

    @Test func readsChromeDevtoolsExport() throws {
        let (entries, truncation) = try HARFixtures.readAll(HARFixtures.path("chrome-session.har"))
        #expect(truncation == nil)
        #expect(entries.count == 10)
        #expect(entries.map(\.index) == Array(0..<10))
        // HTTP/2 pseudo-headers are kept as the export has them.
        #expect(entries[0].requestHeader(":authority") == "github.com")
        #expect(entries[0].httpVersion == "http/2.0")
        #expect(entries[0].serverIPAddress == "140.82.121.4")
        // IPv6 in brackets, as Chrome writes it; an empty address means none.
        #expect(entries[7].serverIPAddress == "2606:50c0:8000::154")
        #expect(entries[9].serverIPAddress == nil)
        #expect(entries[3].method == "POST")
        #expect(String(decoding: try #require(entries[3].requestBody), as: UTF8.self).hasPrefix("{\"query\":\"mutation"))
        #expect(entries[6].url.hasPrefix("data:image/png;base64,"))
        // Response bodies are dropped unless asked for.
        #expect(entries[0].responseBody == nil)
        #expect(entries[0].responseStatus == 200)
        #expect(entries[0].timings == HARTimings(send: 0.21, wait: 80.4, receive: 4.78))
    }

    @Test func readsMitmproxyExport() throws {
        let (entries, truncation) = try HARFixtures.readAll(HARFixtures.path("mitmproxy-export.har"),
                                                            options: .init(keepResponseBodies: true))
        #expect(truncation == nil)
        #expect(entries.count == 9)
        #expect(entries[1].serverIPAddress == "::ffff:151.101.64.223")
        // Binary content in base64 decodes to the zip bytes.
        #expect(Array(try #require(entries[1].responseBody).prefix(4)) == [0x50, 0x4b, 0x03, 0x04])
        #expect(entries[2].requestHeader("authorization") == "Bearer PH_OPENAI_API_KEY")
        #expect(entries[4].requestBody.map { String(decoding: $0, as: UTF8.self) } == "api_dev_key=PH_OPENAI_API_KEY&api_option=paste&api_paste_code=hello")
        // A flow without a response: status 0, null timings, no serverIPAddress.
        #expect(entries[8].responseStatus == nil)
        #expect(entries[8].serverIPAddress == nil)
        #expect(entries[8].timings == HARTimings(send: 0, wait: 0, receive: 0))
    }

    @Test func readsOwnCaptureWithEgressField() throws {
        let (entries, truncation) = try HARFixtures.readAll(HARFixtures.path("llm-sdk-capture.har"),
                                                            options: .init(keepResponseBodies: true))
        #expect(truncation == nil)
        #expect(entries.count == 10)
        #expect(entries[0].method == "CONNECT")
        #expect(entries[0].egress == HAREgress(decision: "allow", reason: "allowed", rule: "network.allow_out[2]", secrets: [], mode: "tunnel"))
        #expect(entries[6].egress?.secrets == ["ANTHROPIC_API_KEY"])
        let sse = String(decoding: try #require(entries[2].responseBody), as: UTF8.self)
        #expect(sse.hasSuffix("data: [DONE]\n\n"))
        #expect(entries[4].requestHeader("x-api-key") == "PH_ANTHROPIC_API_KEY")
    }

    // MARK: Chunking

    /// The tokenizer must give the same entries whatever the chunk boundaries (inside
    /// strings, escapes, keys, between entries).
    @Test(arguments: [4096, 4097, 5003, 65536])
    func chunkBoundariesDoNotMatter(chunk: Int) throws {
        let reference = try HARFixtures.readAll(HARFixtures.path("chrome-session.har"), options: .init(keepResponseBodies: true)).entries
        let split = try HARFixtures.readAll(HARFixtures.path("chrome-session.har"), options: .init(keepResponseBodies: true, chunkBytes: chunk)).entries
        #expect(split.count == reference.count)
        for (a, b) in zip(reference, split) {
            #expect(a.url == b.url)
            #expect(a.requestBody == b.requestBody)
            #expect(a.responseBody == b.responseBody)
            #expect(a.requestHeaders.map(\.value) == b.requestHeaders.map(\.value))
        }
    }

    @Test func splitterHandlesEveryByteBoundary() throws {
        // Strings with braces, escaped quotes and a nested "entries" key must not confuse it.
        let text = #"{"log":{"creator":{"name":"x}]\"{"},"pages":[{"entries":[1]}],"entries":[{"request":{"method":"get","url":"https://a.test/\"}"},"response":{"content":{"text":"{]}\"\\"}}},{"request":{"method":"POST","url":"http://b.test/"}}]}}"#
        let bytes = Array(text.utf8)
        for cut in 1..<bytes.count {
            var splitter = HAREntrySplitter(options: .init(keepResponseBodies: true))
            var got: [[UInt8]] = []
            for part in [Array(bytes[0..<cut]), Array(bytes[cut...])] {
                try part.withUnsafeBufferPointer { try splitter.feed($0) }
                got += splitter.takeReady()
            }
            #expect(try splitter.finish() == .complete)
            #expect(got.count == 2, "cut at \(cut)")
            let first = try JSONParser.parse(got[0])
            #expect(first["request"]?["url"]?.stringValue == "https://a.test/\"}")
            #expect(first["response"]?["content"]?["text"]?.stringValue == "{]}\"\\")
        }
    }

    @Test func responseBodiesAreDroppedWhileSplitting() throws {
        let text = #"{"log":{"entries":[{"request":{"method":"GET","url":"http://a.test/","postData":{"text":"keep"}},"response":{"status":200,"content":{"size":3,"text":"drop \"me\"","mimeType":"x"}}}]}}"#
        var splitter = HAREntrySplitter()
        try Array(text.utf8).withUnsafeBufferPointer { try splitter.feed($0) }
        let entry = try #require(splitter.takeReady().first)
        let json = try JSONParser.parse(entry)
        #expect(json["response"]?["content"]?["text"]?.stringValue == "")
        #expect(json["response"]?["content"]?["mimeType"]?.stringValue == "x")
        #expect(json["request"]?["postData"]?["text"]?.stringValue == "keep")
    }

    // MARK: Cut short and broken files

    @Test func fileCutInsideAnEntryYieldsTheCompleteOnes() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: HARFixtures.path("llm-sdk-capture.har")))
        let text = String(decoding: full, as: UTF8.self)
        // Cut in the middle of entries[5] (the file upload).
        let marker = try #require(text.range(of: "\"url\":\"https://api.openai.com/v1/files\""))
        let cut = text.utf8.distance(from: text.startIndex, to: marker.upperBound)
        let path = HARFixtures.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try full.prefix(cut).write(to: URL(fileURLWithPath: path))

        let (entries, truncation) = try HARFixtures.readAll(path)
        #expect(entries.count == 5)
        #expect(truncation == .insideEntry(index: 5))
    }

    @Test func fileCutBetweenEntriesYieldsAll() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: HARFixtures.path("llm-sdk-capture.har")))
        // Without the closing "\n]}}\n": what a crashed proxy leaves.
        let path = HARFixtures.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try full.prefix(full.count - 5).write(to: URL(fileURLWithPath: path))
        let (entries, truncation) = try HARFixtures.readAll(path)
        #expect(entries.count == 10)
        #expect(truncation == .betweenEntries(count: 10))
    }

    @Test func brokenEntryIsNamed() throws {
        let reader = try HARReader(path: HARFixtures.path("broken-entry.har"))
        #expect(try reader.next()?.index == 0)
        #expect(try reader.next()?.index == 1)
        let error = #expect(throws: HARError.self) { try reader.next() }
        #expect(error?.entryIndex == 2)
        #expect(error?.description.hasPrefix("entries[2]: invalid JSON: expected ',' or '}' in an object") == true)
    }

    @Test(arguments: [
        (#"{"log":{"entries":[{"request":{"url":"http://a.test/"}}]}}"#, "entries[0]: request.method is missing or not a string"),
        (#"{"log":{"entries":[{"request":{"method":"GET","url":"http://a.test/"}},{"response":{}}]}}"#, "entries[1]: request is missing or not an object"),
        (#"{"log":{"entries":[{"request":{"method":"GET","url":"http://a.test/"}}, 7]}}"#, "entries[1]: is not an object"),
        (#"{"log":{"entries":[{"request":{"method":"POST","url":"http://a.test/","postData":{"text":"%%%","encoding":"base64"}}}]}}"#, "entries[0]: request.postData.text is not valid base64"),
        (#"{"log":{"entries":[{"request":{"method":"GET","url":"http://a.test/"}]}}"#, "entries[0]: has an unexpected ']'"),
        (#"{"log":{"version":"1.2"}}"#, "not a HAR 1.2 file: no log.entries array found"),
        (#"[1,2]"#, "not a HAR 1.2 file: the top level is not a JSON object"),
        ("", "not a HAR 1.2 file: the file is empty"),
    ])
    func errorsNameTheEntry(text: String, message: String) throws {
        let path = HARFixtures.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: HARError.self) { _ = try HARFixtures.readAll(path) }
        #expect(error.map { $0.description.hasPrefix(message) } == true, "got \(String(describing: error))")
    }

    @Test func byteOrderMarkIsSkipped() throws {
        let path = HARFixtures.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data([0xEF, 0xBB, 0xBF] + Array(#"{"log":{"entries":[{"request":{"method":"GET","url":"http://a.test/"}}]}}"#.utf8))
            .write(to: URL(fileURLWithPath: path))
        #expect(try HARFixtures.readAll(path).entries.map(\.url) == ["http://a.test/"])
    }

    @Test func missingFileIsAClearError() {
        let error = #expect(throws: HARError.self) { _ = try HARReader(path: "/nonexistent/x.har") }
        #expect(error?.description == "cannot read /nonexistent/x.har: No such file or directory")
    }

    @Test func oversizedEntryIsRefused() throws {
        let big = String(repeating: "a", count: 10_000)
        let text = #"{"log":{"entries":[{"request":{"method":"POST","url":"http://a.test/","postData":{"text":""# + big + #""}}}]}}"#
        let path = HARFixtures.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: HARError.self) { _ = try HARFixtures.readAll(path, options: .init(maximumEntryBytes: 4096)) }
        #expect(error?.entryIndex == 0)
    }
}

@Suite struct JSONParserTests {
    @Test(arguments: [
        (#"{"a":[1,-2.5e3,true,false,null],"b":"x"}"#, JSONValue.object([("a", .array([.number(1), .number(-2500), .bool(true), .bool(false), .null])), ("b", .string("x"))])),
        (#""\u00e9\ud83d\ude00\n\/""#, JSONValue.string("é😀\n/")),
        (#""\ud800x""#, JSONValue.string("\u{FFFD}x")),
        (" [ ] ", JSONValue.array([])),
    ])
    func parses(text: String, value: JSONValue) throws {
        #expect(try JSONParser.parse(Array(text.utf8)) == value)
    }

    @Test(arguments: [#"{"a" 1}"#, #"[1,]"#, #"{"a":01x}"#, "\"a\u{01}\"", #""\q""#, "[1] 2", "nul", "[[[[" ])
    func rejects(text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func boundsNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let error = #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(Array(deep.utf8)) }
        #expect(error?.message.hasPrefix("nesting deeper") == true)
    }
}
