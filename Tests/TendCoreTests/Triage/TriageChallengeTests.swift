import Foundation
import Testing
import TendCore

/// Messages written for these tests (level, locale, category, text), the way patients and families
/// write — not taken from the corpus. Each batch was written before the rules that catch it, so it
/// was the team's first look at how the rules generalise (TriageChallenge3.tsv: written by writers
/// who never saw the rules; its first-look figures are in docs/triage.md); kept as a regression
/// guard. Since session 16 files 1–11 are also training data for the model (train_model.py,
/// `TRAINED_THROUGH`); their first-look figures are in docs/triage.md. Urgent ones must be urgent, the others must not, and the level must be right (general
/// and social count half for each other) for nearly all.
@Suite struct TriageChallengeTests {
    static func rows(_ file: String) throws -> [LabelledMessage] {
        let url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(file)
        return try LabelledMessage.parse(try String(contentsOf: url, encoding: .utf8))
    }

    /// Each file with the lenient accuracy it must keep and the share of its non-urgent messages
    /// that may be graded urgent (the third, written last by writers who never saw the rules and in
    /// the hardest voices, holds the rules to less).
    static let files: [(name: String, accuracy: Double, falseAlarms: Double)] = [
        ("TriageChallenge.tsv", 0.97, 0.025), ("TriageChallenge2.tsv", 0.94, 0.02), ("TriageChallenge3.tsv", 0.89, 0.03),
        // Written last, graded first, then seven of its misses given rules.
        ("TriageChallenge4.tsv", 0.89, 0.03),
        // Batch F (session 13): written by helpers who read nothing of the repository, graded
        // first (docs/triage.md has that look), then its misses given rules.
        ("TriageChallenge5.tsv", 0.87, 0.05),
        // Batch G (session 13): written the same way after batch F's rules, graded first, then
        // its misses given rules.
        ("TriageChallenge6.tsv", 0.86, 0.05),
        // Batch H (session 13): aimed at the categories validate misses most (its per-category
        // aggregates: self-harm and glucose in Chinese; stroke, poisoning, oncology, high glucose
        // in English), 220 urgent and 140 hard negatives built to look like them — hence the
        // wider false-alarm allowance. Graded first, then given rules.
        ("TriageChallenge7.tsv", 0.85, 0.14),
        // Batch I (session 16): 580 messages by helpers given only the brief, graded first with
        // `tend triage evaluate` (docs/triage.md has that look), then its misses given rules.
        ("TriageChallenge8.tsv", 0.86, 0.05),
        // Batch J (session 16, after batch I's rules): programs and voices batch I under-used,
        // medication questions naming real drugs, idioms; graded first, then given rules.
        ("TriageChallenge9.tsv", 0.82, 0.06),
        // Batch K (session 16, after batch J's rules): written to be the hardest for a keyword
        // grader — emergencies with no textbook word, quiet self-harm, alarming words in jokes and
        // denials, dialect and mixed Chinese-English; graded first, then given rules.
        ("TriageChallenge10.tsv", 0.84, 0.08),
        // Batch L (session 16, after K's rules and the model retrained on files 1–10): chat-app
        // traffic (@mentions, forwards, placeholders, numbers in characters) and situations the
        // earlier batches lacked; graded first, then given rules.
        ("TriageChallenge11.tsv", 0.84, 0.06),
        // Batch M (session 16, after L's rules): weighted to the categories easiest to
        // under-describe, with look-alikes of each; graded first, then given rules. The model has
        // not been trained on it yet (it was written after the last training).
        ("TriageChallenge12.tsv", 0.85, 0.08),
    ]

    @Test(arguments: files.indices)
    func urgentOnesAreUrgentAndTheOthersAreNot(_ index: Int) throws {
        let (file, required, allowedFalseAlarms) = Self.files[index]
        let rows = try Self.rows(file)
        try #require(rows.count > 300)
        let evaluation = TriageEvaluation(rows)
        let missed = evaluation.misses.filter { $0.row.level == .urgent && $0.result.level != .urgent }
            .map { "\($0.row.category): \($0.row.text) → \($0.result.level.rawValue)" }
        let falseAlarms = evaluation.misses.filter { $0.row.level != .urgent && $0.result.level == .urgent }
            .map { "\($0.row.category): \($0.row.text) → \($0.result.reasons)" }
        let missedCompliance = evaluation.misses.filter { $0.row.expectsCompliance && !$0.result.flags.contains(.compliance) }.map(\.row.text)
        let figures = evaluation.all
        print("triage \(file): \(rows.count) messages, \(missed.count) urgent missed, \(falseAlarms.count) false alarms, \(missedCompliance.count) compliance missed, lenient accuracy \(figures.lenientAccuracy)")
        #expect(missed.isEmpty, "\(missed)")
        // Some false alarms are the price of catching what is new.
        #expect(Double(figures.falseAlarms) <= allowedFalseAlarms * Double(rows.count - figures.urgent), "\(falseAlarms)")
        // Compliance: at most 1 in 10 of the ads and personal data unflagged.
        #expect(missedCompliance.count * 10 <= figures.compliance, "\(missedCompliance)")
        #expect(figures.lenientAccuracy >= required)
    }
}
