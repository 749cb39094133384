import Foundation
import Testing
import TendCore

/// Messages written for these tests (TriageChallenge.tsv: level, locale, category, text), the way
/// patients and families write — not taken from the corpus. Each batch was written before the
/// rules that catch it, so it was the team's first look at how the rules generalise; kept as a
/// regression guard. Urgent ones must be urgent, the others must not, and the level must be
/// right (general and social count half for each other) for nearly all.
@Suite struct TriageChallengeTests {
    struct Row {
        let level: String
        let locale: AppLocale
        let category: String
        let text: String
    }

    static let rows: [Row] = {
        let url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("TriageChallenge.tsv")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 3).map(String.init)
            guard parts.count == 4 else { return nil }
            return Row(level: parts[0], locale: parts[1] == "en" ? .en : .zhHans, category: parts[2], text: parts[3])
        }
    }()

    @Test func urgentOnesAreUrgentAndTheOthersAreNot() throws {
        try #require(Self.rows.count > 1000)
        let classifier = TriageClassifier()
        var missed: [String] = [], falseAlarms: [String] = [], score = 0.0
        for row in Self.rows {
            let result = classifier.classify(row.text, locale: row.locale)
            let got = result.level.rawValue
            if row.level == "urgent" && got != "urgent" { missed.append("\(row.category): \(row.text) → \(got)") }
            if row.level != "urgent" && got == "urgent" { falseAlarms.append("\(row.category): \(row.text) → \(result.reasons)") }
            if got == row.level { score += 1 } else if Set([got, row.level]) == ["general", "social"] { score += 0.5 }
            if ["ads", "personal_data"].contains(row.category) {
                #expect(result.flags.contains(.compliance), "\(row.text)")
            }
        }
        let accuracy = score / Double(Self.rows.count)
        print("triage challenge: \(Self.rows.count) messages, \(missed.count) urgent missed, \(falseAlarms.count) false alarms, lenient accuracy \(accuracy)")
        #expect(missed.isEmpty, "\(missed)")
        // Some false alarms are the price of catching what is new: at most 2 % of the others.
        let others = Self.rows.filter { $0.level != "urgent" }.count
        #expect(falseAlarms.count * 50 <= others, "\(falseAlarms)")
        #expect(accuracy >= 0.97)
    }
}
