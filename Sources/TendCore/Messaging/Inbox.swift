public import Foundation

/// Where a graded message waits for staff.
public enum InboxQueue: String, Sendable, Codable, CaseIterable {
    case urgent
    /// Something clinical that no rule resolved: a person looks right after the urgent ones.
    case review
    /// Ads, drug selling, personal data posted in a group: for a moderator.
    case moderation
    /// To be answered one-to-one.
    case `private`
    /// To be answered in the group.
    case general
    /// Archived without action.
    case social

    /// Inbox order: what must be acted on now first.
    public var rank: Int {
        switch self {
        case .urgent: 0
        case .review: 1
        case .moderation: 2
        case .private: 3
        case .general: 4
        case .social: 5
        }
    }
}

public enum MessageStatus: String, Sendable, Codable, CaseIterable {
    case open
    case resolved
    case archived
}

/// What routing decided for one graded message.
public struct MessageRouting: Sendable, Equatable {
    public var queue: InboxQueue
    public var status: MessageStatus
    /// How long staff have to act; nil for archived messages.
    public var sla: TimeInterval?
    /// Urgent messages become a staff task with the highest priority.
    public var createsTask: Bool
    /// A message to move out of the group into a one-to-one conversation.
    public var movesToPrivate: Bool

    /// SLA per level: urgent 15 minutes, review 1 hour, moderation 1 hour, private 2 hours,
    /// general 4 hours. Only what is recognised as social is archived; review never is.
    public static func route(_ result: TriageResult, inGroup: Bool) -> MessageRouting {
        switch result.level {
        case .urgent:
            return MessageRouting(queue: .urgent, status: .open, sla: 15 * 60, createsTask: true, movesToPrivate: false)
        case .review:
            return MessageRouting(queue: .review, status: .open, sla: 3600, createsTask: false, movesToPrivate: false)
        case _ where result.flags.contains(.compliance) && inGroup:
            return MessageRouting(queue: .moderation, status: .open, sla: 3600, createsTask: false, movesToPrivate: result.level == .private)
        case .private:
            return MessageRouting(queue: .private, status: .open, sla: 2 * 3600, createsTask: false, movesToPrivate: inGroup)
        case .general:
            return MessageRouting(queue: .general, status: .open, sla: 4 * 3600, createsTask: false, movesToPrivate: false)
        case .social:
            return MessageRouting(queue: .social, status: .archived, sla: nil, createsTask: false, movesToPrivate: false)
        }
    }
}

/// A ready answer staff can send with one click; matched to a message by its keywords.
public struct KnowledgeAnswer: Sendable, Codable, Equatable {
    public var id: String
    public var keywords: [String]
    public var answer: LocalizedText
    /// A reply for one-to-one use (it asks for details, or touches something sensitive).
    public var `private`: Bool

    public init(id: String, keywords: [String], answer: LocalizedText, private isPrivate: Bool = false) {
        self.id = id
        self.keywords = keywords
        self.answer = answer
        self.private = isPrivate
    }

    enum CodingKeys: String, CodingKey { case id, keywords, answer, `private` }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        keywords = try container.decode([String].self, forKey: .keywords)
        answer = try container.decode(LocalizedText.self, forKey: .answer)
        `private` = try container.decodeIfPresent(Bool.self, forKey: .private) ?? false
    }
}

public struct KnowledgeBase: Sendable {
    private let answers: [(answer: KnowledgeAnswer, keywords: [String])]

    /// The answers with their keywords folded once, for matching many messages.
    public init(_ answers: [KnowledgeAnswer]) {
        self.answers = answers.map { ($0, $0.keywords.map { TextFolding.halfWidth($0).lowercased() }) }
    }

    /// Up to `limit` answers whose keywords the message contains, most matches first; private
    /// answers only for messages routed one-to-one.
    public func suggest(_ text: String, privateThread: Bool, limit: Int = 3) -> [KnowledgeAnswer] {
        let folded = TextFolding.halfWidth(text).lowercased()
        return answers
            .filter { $0.answer.private == privateThread || !$0.answer.private }
            .map { entry in (entry.answer, entry.keywords.filter { TextFolding.contains(folded, $0) }.count) }
            .filter { $0.1 > 0 }
            .sorted { ($0.1, $1.0.id) > ($1.1, $0.0.id) }
            .prefix(limit)
            .map(\.0)
    }
}

/// What a program adds to the shipped triage rules: phrases per language, its own thresholds,
/// ready answers, and who is on call for urgent messages.
public struct ProgramTriageSettings: Sendable, Codable, Equatable {
    public var thresholds: TriageThresholds?
    /// Extra phrase rules by locale (`zh-Hans`, `en`), added to the shipped ones.
    public var phrases: [String: [TriagePhraseRule]]?
    public var answers: [KnowledgeAnswer]?
    public var onCallStaffID: String?

    public init(thresholds: TriageThresholds? = nil, phrases: [String: [TriagePhraseRule]]? = nil, answers: [KnowledgeAnswer]? = nil, onCallStaffID: String? = nil) {
        self.thresholds = thresholds
        self.phrases = phrases
        self.answers = answers
        self.onCallStaffID = onCallStaffID
    }

    enum CodingKeys: String, CodingKey {
        case thresholds, phrases, answers
        case onCallStaffID = "on_call_staff_id"
    }

    /// Checks what an admin sent; errors name the field.
    public func validated() throws -> ProgramTriageSettings {
        for (locale, rules) in phrases ?? [:] {
            guard AppLocale(rawValue: locale) != nil else {
                throw TendError.invalid("phrases.\(locale)", .init(en: "must be zh-Hans or en", zh: "语言必须是 zh-Hans 或 en"))
            }
            try Validate.count(rules, field: "phrases.\(locale)", max: 200)
            for (index, rule) in rules.enumerated() {
                let field = "phrases.\(locale)[\(index)]"
                guard !rule.id.trimmed.isEmpty else { throw TendError.missing("\(field).id") }
                guard rule.level != nil || rule.flag != nil else { throw TendError.missing("\(field).level") }
                guard !rule.phrases.isEmpty, rule.phrases.count <= 100, rule.phrases.allSatisfy({ !$0.trimmed.isEmpty && $0.unicodeScalars.count <= 100 }) else {
                    throw TendError.invalid("\(field).phrases", .init(en: "must be 1–100 non-empty phrases of at most 100 characters", zh: "须为 1–100 个不超过 100 字的短语"))
                }
            }
        }
        if let thresholds {
            let checks: [(String, Double, ClosedRange<Double>)] = [
                ("glucose_low", thresholds.glucoseLow, TriageThresholds.glucoseLowRange),
                ("glucose_high", thresholds.glucoseHigh, TriageThresholds.glucoseHighRange),
                ("temperature", thresholds.temperature, TriageThresholds.temperatureRange),
                ("oxygen_saturation", thresholds.oxygenSaturation, TriageThresholds.oxygenRange),
                ("systolic", thresholds.systolic, TriageThresholds.systolicRange),
                ("diastolic", thresholds.diastolic, TriageThresholds.diastolicRange),
            ]
            for (name, value, range) in checks {
                _ = try Validate.number(value, field: "thresholds.\(name)", in: range)
            }
        }
        try Validate.count(answers ?? [], field: "answers", max: 200)
        for (index, answer) in (answers ?? []).enumerated() where answer.keywords.isEmpty || answer.answer.en.trimmed.isEmpty || answer.answer.zh.trimmed.isEmpty {
            throw TendError.invalid("answers[\(index)]", .init(en: "needs keywords and an answer in both languages", zh: "需要关键词和中英文答案"))
        }
        return self
    }

    /// The shipped rules with this program's additions.
    public func classifier(base: [AppLocale: TriageRules]) -> TriageClassifier {
        var rules = base
        for (name, extra) in phrases ?? [:] {
            guard let locale = AppLocale(rawValue: name) else { continue }
            rules[locale]?.phrases += extra
        }
        return TriageClassifier(rules: rules, thresholds: thresholds ?? TriageThresholds())
    }
}

extension TriageThresholds {
    /// What a program may set each threshold to: clinically sensible, and apart, so that a low
    /// glucose threshold is always below a high one.
    public static let glucoseLowRange: ClosedRange<Double> = 1...6
    public static let glucoseHighRange: ClosedRange<Double> = 10...40
    public static let temperatureRange: ClosedRange<Double> = 37...41
    public static let oxygenRange: ClosedRange<Double> = 80...98
    public static let systolicRange: ClosedRange<Double> = 120...250
    public static let diastolicRange: ClosedRange<Double> = 70...160
}
