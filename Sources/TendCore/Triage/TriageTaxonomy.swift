import Foundation

/// The red-flag taxonomy (`Sources/TendCore/Triage/Rules/triage-taxonomy.json`): urgent categories and
/// the rules that fire them, plus the non-urgent rules (review, general, private, social), all
/// written over concepts whose phrases live per language in `triage-<locale>.json`.
public struct TriageTaxonomy: Sendable, Codable, Equatable {
    public var categories: [TriageCategory]
    public var rules: [TriageConceptRule]

    public init(categories: [TriageCategory] = [], rules: [TriageConceptRule] = []) {
        self.categories = categories
        self.rules = rules
    }
}

/// One urgent category: what it covers and the public references its rules were written from.
public struct TriageCategory: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var covers: String
    public var sources: [String]

    public init(id: String, name: String, covers: String, sources: [String]) {
        self.id = id
        self.name = name
        self.covers = covers
        self.sources = sources
    }
}

/// A rule over concepts. `all`: terms that must all hold in one window of `window` adjacent
/// clauses (a term is `a|b|c`: any of these concepts); `context`: terms anywhere in the message,
/// past events included (pregnancy, chemotherapy, a blood thinner); `none`: terms that, present
/// anywhere, cancel the rule. An occurrence counts when it is not negated, not over, not
/// hypothetical and not part of a general question (context terms: when not negated).
///
/// A rule with a `category` is urgent, its reason `urgent.<category>.<id>`; otherwise `level`
/// says what it signals. `resolves_review`: a general rule that explains a symptom as the mild,
/// expected kind ("有点掉头发，正常吗"), so it is not sent for review.
public struct TriageConceptRule: Sendable, Codable, Equatable {
    public var id: String
    public var category: String?
    public var level: TriageLevel?
    public var all: [String]
    public var context: [String]
    public var none: [String]
    public var window: Int
    public var resolvesReview: Bool
    /// A flag the rule raises (`compliance`: an ad's offer with a way to buy).
    public var flag: TriageFlag?
    /// Hypotheticals and general questions count (as `window: -1`), within the rule's window.
    public var lenient: Bool

    public init(id: String, category: String? = nil, level: TriageLevel? = nil, all: [String], context: [String] = [], none: [String] = [], window: Int = 2, resolvesReview: Bool = false, flag: TriageFlag? = nil) {
        self.id = id
        self.category = category
        self.level = level
        self.all = all
        self.context = context
        self.none = none
        self.window = window
        self.resolvesReview = resolvesReview
        self.flag = flag
        self.lenient = false
    }

    enum CodingKeys: String, CodingKey {
        case id, category, level, all, context, none, window, flag, lenient
        case resolvesReview = "resolves_review"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        category = try container.decodeIfPresent(String.self, forKey: .category)
        level = try container.decodeIfPresent(TriageLevel.self, forKey: .level)
        all = try container.decodeIfPresent([String].self, forKey: .all) ?? []
        context = try container.decodeIfPresent([String].self, forKey: .context) ?? []
        none = try container.decodeIfPresent([String].self, forKey: .none) ?? []
        window = try container.decodeIfPresent(Int.self, forKey: .window) ?? 2
        resolvesReview = try container.decodeIfPresent(Bool.self, forKey: .resolvesReview) ?? false
        flag = try container.decodeIfPresent(TriageFlag.self, forKey: .flag)
        lenient = try container.decodeIfPresent(Bool.self, forKey: .lenient) ?? false
    }

    /// The level this rule signals.
    public var signalledLevel: TriageLevel? { category != nil ? .urgent : (level ?? (flag == nil ? .review : nil)) }

    /// The reason id: `urgent.<category>.<id>` or the id itself.
    public var reasonID: String { category.map { "urgent.\($0).\(id)" } ?? id }
}
