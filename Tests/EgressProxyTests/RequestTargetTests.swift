import Testing
@testable import EgressProxy

@Suite struct RequestTargetTests {
    @Test(arguments: [
        ("http://example.com/a?b=1", "example.com", 80, "/a?b=1"),
        ("http://Example.COM.:8080", "example.com", 8080, "/"),
        ("http://[::1]:81/x", "::1", 81, "/x"),
        ("http://h.test?q", "h.test", 80, "/?q"),
        ("https://h.test/p#frag", "h.test", 443, "/p"),
    ])
    func parsesAbsoluteForm(uri: String, host: String, port: Int, pq: String) throws {
        let t = try #require(RequestTarget.parseAbsolute(uri))
        #expect(t.host == host)
        #expect(t.port == port)
        #expect(t.pathAndQuery == pq)
    }

    @Test(arguments: ["/relative", "ftp://x/", "http://", "http://user:pw@h/", "http://h:0/", "http://h:99999/", "http://h h/"])
    func rejectsBadTargets(uri: String) {
        #expect(RequestTarget.parseAbsolute(uri) == nil)
    }

    @Test(arguments: [
        ("api.test:443", "api.test", 443),
        ("[::ffff:127.0.0.1]:443", "::ffff:127.0.0.1", 443),
        ("169.254.169.254:80", "169.254.169.254", 80),
    ])
    func parsesConnectAuthority(a: String, host: String, port: Int) throws {
        let (h, p) = try #require(RequestTarget.parseAuthority(a, defaultPort: 443))
        #expect(h == host)
        #expect(p == port)
    }

    @Test func auditPathDropsQueryValues() {
        #expect(RequestTarget.auditPath("/s?q=secret&page=2") == "/s?q=&page=")
        #expect(RequestTarget.auditPath("/plain") == "/plain")
    }
}
