import Foundation
import Testing
import TendEngine

@Suite struct RateLimiterTests {
    @Test func rateLimiterAllowsTwentyAMinute() async {
        let limiter = RateLimiter(perMinute: 20)
        let start = Date(timeIntervalSince1970: 0)
        for second in 0..<20 { #expect(await limiter.reserve(at: start.addingTimeInterval(Double(second))) == nil) }
        #expect(await limiter.reserve(at: start.addingTimeInterval(30)) == start.addingTimeInterval(60))
        #expect(await limiter.reserve(at: start.addingTimeInterval(60)) == nil)
    }
}
