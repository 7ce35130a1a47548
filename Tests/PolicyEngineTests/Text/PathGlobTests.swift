import Testing
@testable import PolicyEngine

// MARK: - Path globs

@Suite struct PathGlobTests {
    @Test(arguments: [
        ("/repos/**", "/repos", true),
        ("/repos/**", "/repos/", true),
        ("/repos/**", "/repos/a/b/c", true),
        ("/repos/**", "/reposx", false),
        ("/repos/*", "/repos/a", true),
        ("/repos/*", "/repos/a/b", false),
        ("/repos/*/issues", "/repos/x/issues", true),
        ("/repos/*/issues", "/repos/x/y/issues", false),
        ("/repos/**/issues", "/repos/x/y/issues", true),
        ("/repos/**/issues", "/repos/issues", true),
        ("/v1/*.json", "/v1/a.json", true),
        ("/v1/*.json", "/v1/a.txt", false),
        ("/v1/a*b*c", "/v1/aXbYc", true),
        ("/v1/a*b*c", "/v1/aXcYb", false),
        ("/v1/a*a", "/v1/a", false),
        ("/**", "/", true),
        ("/**", "/anything/at/all", true),
        ("/", "/", true),
        ("/", "/x", false),
        ("/exact", "/exact", true),
        ("/exact", "/Exact", false),
        ("/**/secret/**", "/a/b/secret/c", true),
        ("/**/secret/**", "/a/b/secrets/c", false),
    ])
    func matches(pattern: String, path: String, expected: Bool) throws {
        let glob = try PathGlob(pattern)
        #expect(glob.matches(path) == expected)
    }

    @Test(arguments: [
        ("repos/**", "must start with '/'"),
        ("/a/**b", "'**' must be a whole path segment"),
        ("/a?b=1", "without query"),
        ("/a b", "visible ASCII"),
    ])
    func rejects(pattern: String, message: String) {
        do {
            _ = try PathGlob(pattern)
            Issue.record("\(pattern) was accepted")
        } catch {
            #expect(error.message.contains(message))
        }
    }

    @Test(arguments: [
        ("/repos/x?token=abc", "/repos/x"),
        ("/a/./b/../c", "/a/c"),
        ("//admin", "/admin"),
        ("/%61dmin", "/admin"),
        ("/a%2Fb", "/a%2Fb"),
        ("/a%2fb", "/a%2Fb"),
        ("/../../etc", "/etc"),
        ("", "/"),
        ("*", "/"),
        ("http://example.com/x/y?q", "/x/y"),
        ("http://example.com", "/"),
        ("/dir/", "/dir/"),
        ("/x#frag", "/x"),
    ])
    func normalizesRequestPaths(target: String, expected: String) {
        #expect(RequestPath.normalize(target) == expected)
    }
}
