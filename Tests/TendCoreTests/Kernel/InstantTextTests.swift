import Foundation
import Testing
import TendCore

/// The hand-written RFC 3339 reader agrees with Foundation's on what both accept, and refuses
/// what the API must not take.
@Suite struct InstantTextTests {
    @Test(arguments: [
        "2026-12-03T07:42:00+08:00", "2026-12-03T07:42:00Z", "2026-12-03T07:42:00.5Z", "2026-12-03T07:42:00.123456789-05:30",
        "1900-01-01T00:00:00Z", "2200-12-31T23:59:59+18:00", "2024-02-29T12:00:00-18:00", "2026-12-03T20:00:00.4788+08:00",
    ])
    func agreesWithFoundation(text: String) throws {
        let ours = try #require(InstantText.parse(text))
        let theirs = try (try? Date.ISO8601FormatStyle().parse(text)) ?? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
        // Foundation keeps milliseconds; ours keeps nanoseconds.
        #expect(abs(ours.timeIntervalSince(theirs)) < 0.001, "\(text): \(ours) vs \(theirs)")
    }

    @Test(arguments: [
        "", "2026-12-03", "2026-12-03T07:42:00", "2026-13-03T07:42:00Z", "2026-02-29T07:42:00Z", "2026-12-32T07:42:00Z",
        "2026-12-03T24:00:00Z", "2026-12-03T07:60:00Z", "2026-12-03T07:42:60Z", "2026-12-03T07:42:00+18:01", "2026-12-03T07:42:00+08",
        "2026-12-03T07:42:00.Z", "2026-12-03T07:42:00.1234567891Z", "1899-12-31T23:59:59Z", "2201-01-01T00:00:00Z",
        "99999-12-03T07:42:00Z", "2026-12-03 07:42:00Z", "２０２６-12-03T07:42:00Z", "2026-12-03T07:42:00Z trailing", "2026-12-03T07:42:00+08:00Z",
    ])
    func refuses(text: String) {
        #expect(InstantText.parse(text) == nil, "\(text)")
    }

    /// The writer the API's encoder uses agrees with Foundation's `.iso8601` strategy, which it replaced.
    @Test func writesWhatFoundationWrites() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        var generator = SplitMix(seed: 8601)
        let fixed: [Double] = [0, -0.5, -1, -86_400, -86_401, 951_782_400, 1_764_806_520.999, -2_208_988_800, 7_258_118_399.9]
        let random = (0..<2000).map { _ in Double(Int64.random(in: -2_208_988_800...7_258_118_399, using: &generator)) + Double(Int.random(in: 0..<1000, using: &generator)) / 1000 }
        for seconds in fixed + random {
            let date = Date(timeIntervalSince1970: seconds)
            let theirs = String(decoding: try encoder.encode([date]), as: UTF8.self).dropFirst(2).dropLast(2)
            #expect(InstantText.format(date) == String(theirs), "\(seconds)")
        }
        #expect(InstantText.format(Date(timeIntervalSince1970: 1e300)).isEmpty == false)
    }

    @Test func roundTripsRandomInstants() {
        var generator = SplitMix(seed: 3339)
        let formatter = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        for _ in 0..<2000 {
            let seconds = Double(Int64.random(in: -2_208_988_800...7_258_118_399, using: &generator)) + Double(Int.random(in: 0..<1000, using: &generator)) / 1000
            let date = Date(timeIntervalSince1970: seconds)
            // Foundation writes the milliseconds truncated; what it reads back is the reference.
            let text = formatter.format(date)
            let expected = (try? formatter.parse(text))?.timeIntervalSince1970 ?? .nan
            #expect(abs((InstantText.parse(text)?.timeIntervalSince1970 ?? .nan) - expected) < 0.0001, "\(text)")
        }
    }
}
