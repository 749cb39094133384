import Foundation

/// A questionnaire or scale (量表/问卷) as a program defines it in a YAML or JSON file
/// (docs/questionnaires.md): items, which of them show when, how answers score and band, which
/// answers raise flags, and which become observations. Built by `QuestionnaireDecoder`, which
/// checks every reference, so scoring never meets an unknown item.
public struct Questionnaire: Sendable, Equatable {
    public enum Wording: String, Sendable, Equatable {
        /// Item texts are in the file.
        case included
        /// The instrument's wording is licensed: the file ships its scoring, and a program that
        /// holds a licence adds the texts to its own copy (ACT).
        case program
    }

    public var id: String
    public var version: Int
    public var name: LocalizedText
    public var licence: LocalizedText?
    public var wording: Wording
    /// Values the caller supplies with a response (`cycle_day` from the pathway), each bounded.
    public var context: [ContextValue]
    public var items: [QuestionnaireItem]
    public var total: ScoreRule?
    public var subscales: [ScoreRule]
    public var flags: [FlagRule]

    public init(id: String, version: Int, name: LocalizedText, licence: LocalizedText? = nil, wording: Wording = .included,
                context: [ContextValue] = [], items: [QuestionnaireItem], total: ScoreRule? = nil,
                subscales: [ScoreRule] = [], flags: [FlagRule] = []) {
        self.id = id
        self.version = version
        self.name = name
        self.licence = licence
        self.wording = wording
        self.context = context
        self.items = items
        self.total = total
        self.subscales = subscales
        self.flags = flags
    }

    public func item(_ id: String) -> QuestionnaireItem? { items.first { $0.id == id } }
}

public struct ContextValue: Sendable, Equatable {
    public var name: String
    public var range: ClosedRange<Double>

    public init(name: String, range: ClosedRange<Double>) {
        self.name = name
        self.range = range
    }
}

public struct QuestionnaireItem: Sendable, Equatable {
    public var id: String
    public var kind: ItemKind
    /// Nil only when the wording is the program's (`Wording.program`).
    public var text: LocalizedText?
    public var required: Bool
    /// Shown only when this holds over earlier answers; hidden items are not asked, scored or recorded.
    public var showIf: Condition?
    /// A reverse-scored choice: the scored value is (lowest + highest option value) − the value.
    public var reverse: Bool
    /// The observation the answer becomes.
    public var observation: ObservationCode?
    public var line: Int

    public init(id: String, kind: ItemKind, text: LocalizedText?, required: Bool = true, showIf: Condition? = nil,
                reverse: Bool = false, observation: ObservationCode? = nil, line: Int = 0) {
        self.id = id
        self.kind = kind
        self.text = text
        self.required = required
        self.showIf = showIf
        self.reverse = reverse
        self.observation = observation
        self.line = line
    }

    /// Whether the item gives a number to a score.
    public var isScored: Bool {
        switch kind {
        case .single, .multiple: true
        case .yesNo(let scores): scores != nil
        case .number, .date, .text, .photo: false
        }
    }
}

public enum ItemKind: Sendable, Equatable {
    case single([ChoiceOption])
    case multiple([ChoiceOption])
    case number(NumberSpec)
    case date
    case text(maxLength: Int)
    /// With `scores`, yes and no count toward a score.
    case yesNo(scores: YesNoScores?)
    /// The answer is the id of an uploaded photo.
    case photo

    public var name: String {
        switch self {
        case .single: "single"
        case .multiple: "multiple"
        case .number: "number"
        case .date: "date"
        case .text: "text"
        case .yesNo: "yes_no"
        case .photo: "photo"
        }
    }
}

public struct YesNoScores: Sendable, Equatable {
    public var yes: Double
    public var no: Double

    public init(yes: Double, no: Double) {
        self.yes = yes
        self.no = no
    }
}

public struct ChoiceOption: Sendable, Equatable {
    /// What an answer names (defaults to the scored value as written: "0", "1" …).
    public var code: String
    /// The scored value.
    public var value: Double
    public var text: LocalizedText?

    public init(code: String, value: Double, text: LocalizedText?) {
        self.code = code
        self.value = value
        self.text = text
    }
}

public struct NumberSpec: Sendable, Equatable {
    /// The unit of the item: conditions compare in it and a bare number is taken in it.
    public var unit: String
    /// The range an answer must fall in, in `unit`; for a catalog code, its possible range.
    public var range: ClosedRange<Double>

    public init(unit: String, range: ClosedRange<Double>) {
        self.unit = unit
        self.range = range
    }
}

/// When an item shows or a flag is raised: a test of one answer, context value or score, or
/// all / any of several.
public indirect enum Condition: Sendable, Equatable {
    case all([Condition])
    case any([Condition])
    case test(ConditionSubject, ConditionTest)
}

public enum ConditionSubject: Sendable, Equatable {
    case item(String)
    case context(String)
    /// `total` or a subscale's id.
    case score(String)
}

public enum ConditionTest: Sendable, Equatable {
    case equals(String)
    case oneOf([String])
    case includes(String)
    case atLeast(Double)
    case above(Double)
    case atMost(Double)
    case below(Double)
    case between(Double, Double)
    case answered(Bool)
}

public struct ScoreRule: Sendable, Equatable {
    public enum Method: String, Sendable, Equatable {
        case sum
        case mean
    }

    public var id: String
    public var name: LocalizedText?
    public var items: [String]
    public var method: Method
    public var bands: [ScoreBand]
    public var observation: ObservationCode?

    public init(id: String, name: LocalizedText? = nil, items: [String], method: Method = .sum, bands: [ScoreBand] = [], observation: ObservationCode? = nil) {
        self.id = id
        self.name = name
        self.items = items
        self.method = method
        self.bands = bands
        self.observation = observation
    }
}

public struct ScoreBand: Sendable, Equatable, Encodable {
    public var id: String
    public var label: LocalizedText
    public var min: Double
    public var max: Double

    public init(id: String, label: LocalizedText, min: Double, max: Double) {
        self.id = id
        self.label = label
        self.min = min
        self.max = max
    }

    public func contains(_ score: Double) -> Bool { score >= min && score <= max }
}

/// A flag raised when a condition holds — on one item whatever the total (PHQ-9 item 9), on a
/// score, or on answers and context together (fever in the nadir window).
public struct FlagRule: Sendable, Equatable {
    public var id: String
    public var level: TaskPriority
    public var when: Condition
    public var reason: LocalizedText
    public var line: Int

    public init(id: String, level: TaskPriority, when: Condition, reason: LocalizedText, line: Int = 0) {
        self.id = id
        self.level = level
        self.when = when
        self.reason = reason
        self.line = line
    }
}

extension Condition {
    /// Whether the condition refers to a score (and so can only be judged on a complete response).
    var needsScores: Bool {
        switch self {
        case .all(let parts), .any(let parts): parts.contains { $0.needsScores }
        case .test(.score, _): true
        case .test: false
        }
    }

    /// The items it reads.
    var items: [String] {
        switch self {
        case .all(let parts), .any(let parts): parts.flatMap(\.items)
        case .test(.item(let id), _): [id]
        case .test: []
        }
    }
}
