import Testing
@Test func placeholder_EgressProxyTests() {}
