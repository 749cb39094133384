import Foundation
import Testing
import TendCore

/// Messages written for these tests (level, locale, category, text), the way patients and families
/// write — not taken from the corpus. Each batch was written before the rules that catch it, so it
/// was the team's first look at how the rules generalise (TriageChallenge3.tsv: written by writers
/// who never saw the rules; its first-look figures are in docs/triage.md); kept as a regression
/// guard. Urgent ones must be urgent, the others must not, and the level must be right (general
/// and social count half for each other) for nearly all.
@Suite struct TriageChallengeTests {
    struct Row {
        let level: String
        let locale: AppLocale
        let category: String
        let text: String
    }

    static func rows(_ file: String) -> [Row] {
        let url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(file)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 3).map(String.init)
            guard parts.count == 4 else { return nil }
            return Row(level: parts[0], locale: parts[1] == "en" ? .en : .zhHans, category: parts[2], text: parts[3])
        }
    }

    /// Each file with the lenient accuracy it must keep and the share of its non-urgent messages
    /// that may be graded urgent (the third, written last by writers who never saw the rules and in
    /// the hardest voices, holds the rules to less).
    static let files: [(name: String, accuracy: Double, falseAlarms: Double)] = [
        ("TriageChallenge.tsv", 0.97, 0.02), ("TriageChallenge2.tsv", 0.95, 0.02), ("TriageChallenge3.tsv", 0.89, 0.03),
        // Written last, graded first, then seven of its misses given rules; the model was never
        // trained on it (train_model.py does not read it).
        ("TriageChallenge4.tsv", 0.89, 0.03),
        // Batch F (session 13): written by helpers who read nothing of the repository, graded
        // first (docs/triage.md has that look), then its misses given rules; not trained on.
        ("TriageChallenge5.tsv", 0.87, 0.05),
        // Batch G (session 13): written the same way after batch F's rules, graded first, then
        // its misses given rules; not trained on.
        ("TriageChallenge6.tsv", 0.86, 0.05),
        // Batch H (session 13): aimed at the categories validate misses most (its per-category
        // aggregates: self-harm and glucose in Chinese; stroke, poisoning, oncology, high glucose
        // in English), 220 urgent and 140 hard negatives built to look like them — hence the
        // wider false-alarm allowance. Graded first, then given rules; not trained on.
        ("TriageChallenge7.tsv", 0.85, 0.14),
    ]

    @Test(arguments: files.indices)
    func urgentOnesAreUrgentAndTheOthersAreNot(_ index: Int) throws {
        let (file, required, allowedFalseAlarms) = Self.files[index]
        let rows = Self.rows(file)
        try #require(rows.count > 300)
        let classifier = TriageClassifier()
        var missed: [String] = [], falseAlarms: [String] = [], missedCompliance: [String] = [], score = 0.0
        for row in rows {
            let result = classifier.classify(row.text, locale: row.locale)
            let got = result.level.rawValue
            if row.level == "urgent" && got != "urgent" { missed.append("\(row.category): \(row.text) → \(got)") }
            if row.level != "urgent" && got == "urgent" { falseAlarms.append("\(row.category): \(row.text) → \(result.reasons)") }
            if got == row.level { score += 1 } else if Set([got, row.level]) == ["general", "social"] { score += 0.5 }
            if ["ads", "personal_data"].contains(row.category), !result.flags.contains(.compliance) { missedCompliance.append(row.text) }
        }
        let accuracy = score / Double(rows.count)
        print("triage \(file): \(rows.count) messages, \(missed.count) urgent missed, \(falseAlarms.count) false alarms, \(missedCompliance.count) compliance missed, lenient accuracy \(accuracy)")
        #expect(missed.isEmpty, "\(missed)")
        // Some false alarms are the price of catching what is new.
        let others = rows.filter { $0.level != "urgent" }.count
        #expect(Double(falseAlarms.count) <= allowedFalseAlarms * Double(others), "\(falseAlarms)")
        // Compliance: at most 1 in 10 of the ads and personal data unflagged.
        let compliance = rows.filter { ["ads", "personal_data"].contains($0.category) }.count
        #expect(missedCompliance.count * 10 <= compliance, "\(missedCompliance)")
        #expect(accuracy >= required)
    }
}
