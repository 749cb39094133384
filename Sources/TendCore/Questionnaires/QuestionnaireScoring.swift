import Foundation

/// An answer as it arrives (JSON): a number, a string, true/false, a list of choices, or a
/// number with its unit (`{"value": 101.5, "unit": "[degF]"}`).
public enum AnswerValue: Sendable, Equatable, Codable {
    case number(Double)
    case string(String)
    case bool(Bool)
    case list([AnswerValue])
    case quantity(Double, unit: String)

    private enum Keys: String, CodingKey { case value, unit }

    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: Keys.self) {
            self = .quantity(try container.decode(Double.self, forKey: .value), unit: try container.decode(String.self, forKey: .unit))
            return
        }
        if var list = try? decoder.unkeyedContainer() {
            var items: [AnswerValue] = []
            while !list.isAtEnd {
                guard items.count < Self.maximumChoices else {
                    throw DecodingError.dataCorruptedError(in: list, debugDescription: "at most \(Self.maximumChoices) choices")
                }
                let item = try list.decode(AnswerValue.self)
                if case .list = item { throw DecodingError.dataCorruptedError(in: list, debugDescription: "a list of choices holds single values") }
                items.append(item)
            }
            self = .list(items)
            return
        }
        let single = try decoder.singleValueContainer()
        if let flag = try? single.decode(Bool.self) {
            self = .bool(flag)
        } else if let number = try? single.decode(Double.self) {
            self = .number(number)
        } else {
            self = .string(try single.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .number(let number):
            var container = encoder.singleValueContainer()
            try container.encode(number)
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .bool(let flag):
            var container = encoder.singleValueContainer()
            try container.encode(flag)
        case .list(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(item) }
        case .quantity(let number, let unit):
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(number, forKey: .value)
            try container.encode(unit, forKey: .unit)
        }
    }

    static let maximumChoices = 100

    /// The answer as text, for matching a choice's code.
    var scalarText: String? {
        switch self {
        case .number(let number): number.text(decimals: 6)
        case .string(let text): text.trimmed
        case .bool(let flag): flag ? "yes" : "no"
        case .list, .quantity: nil
        }
    }
}

/// A flag a response raised.
public struct RaisedFlag: Sendable, Equatable, Encodable {
    public var id: String
    public var level: TaskPriority
    public var reason: LocalizedText
    /// The items whose answers raised it.
    public var items: [String]
}

/// The scores of a complete response, what it flags and the observations it becomes.
public struct ResponseScore: Sendable, Equatable {
    public var total: Double?
    public var subscales: [String: Double]
    public var band: ScoreBand?
    public var subscaleBands: [String: ScoreBand]
    public var flags: [RaisedFlag]
    public var observations: [ObservationReading]
}

/// A response that cannot be scored: answers that are wrong (each naming its field,
/// `answers.<item>`), required items not answered — and the flags the answered items raised
/// all the same (an answered PHQ-9 item 9 is urgent however many items are missing).
public struct ResponseRefusal: Error, Sendable, Equatable {
    public var problems: [TendError]
    public var missing: [String]
    public var flags: [RaisedFlag]

    /// One error for the API and CLI: the first problem, or the missing items named.
    public var error: TendError {
        if let first = problems.first { return first }
        let names = missing.joined(separator: ", ")
        return TendError(kind: .invalidInput, code: "incomplete_response",
                         message: .init(en: "answers are missing for required items: \(names)", zh: "以下必答题未作答：\(names)"),
                         field: missing.first.map { "answers.\($0)" })
    }
}

/// An answer checked against its item.
enum ResolvedAnswer: Equatable {
    case choice(ChoiceOption)
    case choices([ChoiceOption])
    /// In the item's unit, with the observation it becomes (if the item has one).
    case number(Double, reading: ObservationReading?)
    case date(LocalDate)
    case text(String)
    case yesNo(Bool)
    case photo(String)
}

/// Scores responses to a questionnaire.
public struct QuestionnaireScorer {
    public let questionnaire: Questionnaire

    public init(_ questionnaire: Questionnaire) {
        self.questionnaire = questionnaire
    }

    /// Checks the answers, scores a complete response, raises its flags and lists the
    /// observations it becomes. Answers to items hidden by their `show_if` are dropped.
    public func score(_ answers: [String: AnswerValue], context: [String: Double] = [:]) throws(ResponseRefusal) -> ResponseScore {
        var problems: [TendError] = []
        if answers.count > questionnaire.items.count {
            problems.append(.invalid("answers", .init(en: "has more answers than the questionnaire has items", zh: "答案数量多于题目数量")))
        }
        let ids = Set(questionnaire.items.map(\.id))
        for id in answers.keys.filter({ !ids.contains($0) }).sorted().prefix(20) {
            problems.append(.invalid("answers.\(id.prefix(40))", .init(en: "is not an item of \(questionnaire.id)", zh: "不是 \(questionnaire.id) 的题目")))
        }
        var values: [String: Double] = [:]
        for (name, value) in context.sorted(by: { $0.key < $1.key }) {
            guard let declared = questionnaire.context.first(where: { $0.name == name }) else {
                problems.append(.invalid("context.\(name.prefix(40))", .init(en: "is not a context value of \(questionnaire.id)", zh: "不是 \(questionnaire.id) 的上下文值")))
                continue
            }
            do { values[name] = try Validate.number(value, field: "context.\(name)", in: declared.range) } catch { problems.append(error) }
        }
        let walk = self.walk(answers, context: values)
        problems += walk.problems
        let answered = Evaluation(questionnaire: questionnaire, answers: walk.resolved, context: values, scores: [:])
        guard problems.isEmpty, walk.missing.isEmpty else {
            let flags = questionnaire.flags.filter { !$0.when.needsScores }.compactMap { answered.raise($0) }
            throw ResponseRefusal(problems: problems, missing: walk.missing, flags: flags)
        }
        return complete(walk.resolved, shown: Set(walk.shown.map(\.id)), context: values)
    }

    /// The items in order, each judged on the answers before it: shown or hidden, its answer
    /// checked, or missing when required.
    struct Walk {
        var shown: [QuestionnaireItem] = []
        var resolved: [String: ResolvedAnswer] = [:]
        var problems: [TendError] = []
        var missing: [String] = []
    }

    func walk(_ answers: [String: AnswerValue], context: [String: Double]) -> Walk {
        var walk = Walk()
        for item in questionnaire.items {
            let state = Evaluation(questionnaire: questionnaire, answers: walk.resolved, context: context, scores: [:])
            if let condition = item.showIf, !state.holds(condition) { continue }
            walk.shown.append(item)
            guard let answer = answers[item.id] else {
                if item.required { walk.missing.append(item.id) }
                continue
            }
            do { walk.resolved[item.id] = try resolve(answer, for: item) } catch { walk.problems.append(error) }
        }
        return walk
    }

    /// The items shown for the answers given so far, in order: what the portal asks next, and
    /// what it may leave out.
    public func visibleItems(_ answers: [String: AnswerValue], context: [String: Double] = [:]) -> [QuestionnaireItem] {
        walk(answers, context: context).shown
    }

    private func complete(_ resolved: [String: ResolvedAnswer], shown: Set<String>, context: [String: Double]) -> ResponseScore {
        var scores: [String: Double] = [:]
        var total: Double?
        var band: ScoreBand?
        var subscales: [String: Double] = [:]
        var subscaleBands: [String: ScoreBand] = [:]
        var observations: [ObservationReading] = []
        for item in questionnaire.items {
            if let reading = observation(of: item, resolved[item.id]) { observations.append(reading) }
        }
        if let rule = questionnaire.total {
            let value = score(rule, resolved, shown: shown)
            total = value
            scores["total"] = value
            band = rule.bands.first { $0.contains(value) }
            if let code = rule.observation { observations.append(ObservationReading(code: code, value: .score(value))) }
        }
        for rule in questionnaire.subscales {
            let value = score(rule, resolved, shown: shown)
            subscales[rule.id] = value
            scores[rule.id] = value
            if let found = rule.bands.first(where: { $0.contains(value) }) { subscaleBands[rule.id] = found }
            if let code = rule.observation { observations.append(ObservationReading(code: code, value: .score(value))) }
        }
        let state = Evaluation(questionnaire: questionnaire, answers: resolved, context: context, scores: scores)
        let flags = questionnaire.flags.compactMap { state.raise($0) }
        return ResponseScore(total: total, subscales: subscales, band: band, subscaleBands: subscaleBands, flags: flags, observations: observations)
    }

    /// The sum or mean of the shown items' scored values.
    func score(_ rule: ScoreRule, _ resolved: [String: ResolvedAnswer], shown: Set<String>) -> Double {
        var sum = 0.0
        var count = 0
        for id in rule.items where shown.contains(id) {
            guard let item = questionnaire.item(id), let value = scoredValue(item, resolved[id]) else { continue }
            sum += value
            count += 1
        }
        switch rule.method {
        case .sum: return sum
        case .mean: return count == 0 ? 0 : (sum / Double(count)).rounded(decimals: 2)
        }
    }

    func scoredValue(_ item: QuestionnaireItem, _ answer: ResolvedAnswer?) -> Double? {
        switch (item.kind, answer) {
        case (.single(let options), .choice(let option)?):
            guard item.reverse, let low = options.map(\.value).min(), let high = options.map(\.value).max() else { return option.value }
            return low + high - option.value
        case (.multiple, .choices(let options)?):
            return options.reduce(0) { $0 + $1.value }
        case (.yesNo(let scores?), .yesNo(let yes)?):
            return yes ? scores.yes : scores.no
        default:
            return nil
        }
    }

    func observation(of item: QuestionnaireItem, _ answer: ResolvedAnswer?) -> ObservationReading? {
        guard let code = item.observation, let answer else { return nil }
        switch answer {
        case .number(let value, let reading):
            if case .number(let spec) = item.kind, reading == nil { return ObservationReading(code: code, value: .quantity(value, unit: spec.unit)) }
            return reading
        case .choice(let option): return ObservationReading(code: code, value: .coded(option.code))
        case .choices(let options): return ObservationReading(code: code, value: .coded(options.map(\.code).joined(separator: ",")))
        case .yesNo(let yes): return ObservationReading(code: code, value: .boolean(yes))
        case .text(let text), .photo(let text): return ObservationReading(code: code, value: .text(text))
        case .date(let date): return ObservationReading(code: code, value: .text(date.description))
        }
    }

    /// Holds one answer to its item's type and bounds; errors name `answers.<item>`.
    func resolve(_ answer: AnswerValue, for item: QuestionnaireItem) throws(TendError) -> ResolvedAnswer {
        let field = "answers.\(item.id)"
        switch item.kind {
        case .single(let options):
            guard let text = answer.scalarText, let option = Self.option(text, in: options) else {
                throw TendError.invalid(field, .init(en: "must be one of \(Self.codes(options))", zh: "应为以下之一：\(Self.codes(options))"))
            }
            return .choice(option)
        case .multiple(let options):
            let picked: [AnswerValue] = if case .list(let items) = answer { items } else { [answer] }
            var chosen: [ChoiceOption] = []
            for value in picked {
                guard let text = value.scalarText, let option = Self.option(text, in: options) else {
                    throw TendError.invalid(field, .init(en: "must be a list of \(Self.codes(options))", zh: "应为以下选项的列表：\(Self.codes(options))"))
                }
                if !chosen.contains(option) { chosen.append(option) }
            }
            return .choices(chosen)
        case .number(let spec):
            return try number(answer, spec: spec, item: item, field: field)
        case .date:
            guard case .string(let text) = answer else {
                throw TendError.invalid(field, .init(en: "must be a date like 2026-12-03", zh: "应为日期，如 2026-12-03"))
            }
            return .date(try Validate.date(text, field: field))
        case .text(let maxLength):
            guard case .string(let text) = answer else { throw TendError.invalid(field, .init(en: "must be text", zh: "应为文字")) }
            return .text(try Validate.text(text, field: field, maxLength: maxLength))
        case .yesNo:
            switch answer {
            case .bool(let flag): return .yesNo(flag)
            case .string(let text) where ["yes", "true", "是"].contains(text.trimmed.lowercased()): return .yesNo(true)
            case .string(let text) where ["no", "false", "否"].contains(text.trimmed.lowercased()): return .yesNo(false)
            case .number(1): return .yesNo(true)
            case .number(0): return .yesNo(false)
            default: throw TendError.invalid(field, .init(en: "must be yes or no", zh: "应为“是”或“否”"))
            }
        case .photo:
            guard case .string(let text) = answer else { throw TendError.invalid(field, .init(en: "must be the id of an uploaded photo", zh: "应为已上传照片的编号")) }
            return .photo(try Validate.identifier(text, field: field))
        }
    }

    private func number(_ answer: AnswerValue, spec: NumberSpec, item: QuestionnaireItem, field: String) throws(TendError) -> ResolvedAnswer {
        let value: Double
        let unit: String
        switch answer {
        case .number(let number): (value, unit) = (number, spec.unit)
        case .quantity(let number, let given): (value, unit) = (number, given)
        case .string(let text):
            guard let parsed = Self.quantity(text) else {
                throw TendError.invalid(field, .init(en: "must be a number, e.g. 5.6 or \"101.5 °F\"", zh: "应为数字，如 5.6 或 \"101.5 °F\""))
            }
            (value, unit) = (parsed.value, parsed.unit ?? spec.unit)
        case .bool, .list:
            throw TendError.invalid(field, .init(en: "must be a number", zh: "应为数字"))
        }
        if let code = item.observation, let definition = ObservationCatalog.definition(code: code) {
            // Converted and bounded by the code; the item's own range applies in its unit.
            let reading = try ObservationCatalog.admit(value, unit: unit, code: code, field: field)
            let inItemUnit = ObservationCatalog.convert(reading, to: spec.unit) ?? reading.number ?? value
            let rounded = inItemUnit.rounded(decimals: max(definition.decimals, 1))
            guard spec.range.contains(rounded) else { throw Self.outOfRange(field, spec) }
            return .number(rounded, reading: reading)
        }
        guard UnitName.parse(unit) ?? unit == spec.unit else {
            throw TendError.invalid(field, .init(en: "must be given in \(spec.unit)", zh: "单位应为 \(spec.unit)"))
        }
        guard value.isFinite, spec.range.contains(value) else { throw Self.outOfRange(field, spec) }
        return .number(value, reading: nil)
    }

    static func outOfRange(_ field: String, _ spec: NumberSpec) -> TendError {
        TendError.invalid(field, .init(en: "must be from \(spec.range.lowerBound.shortText) to \(spec.range.upperBound.shortText) \(spec.unit)",
                                       zh: "应在 \(spec.range.lowerBound.shortText) 到 \(spec.range.upperBound.shortText) \(spec.unit) 之间"),
                          code: "impossible_value")
    }

    /// `101.5 °F`, `5.6mmol/L`, `98`: the number and the unit written after it, if any.
    static func quantity(_ text: String) -> (value: Double, unit: String?)? {
        let trimmed = text.trimmed
        guard trimmed.count <= 60 else { return nil }
        let numberPart = trimmed.prefix { $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" }
        guard let value = Double(numberPart), value.isFinite else { return nil }
        let rest = trimmed.dropFirst(numberPart.count).trimmed
        return (value, rest.isEmpty ? nil : rest)
    }

    static func option(_ text: String, in options: [ChoiceOption]) -> ChoiceOption? {
        if let byCode = options.first(where: { $0.code == text }) { return byCode }
        guard let number = Double(text) else { return nil }
        return options.first { $0.value == number }
    }

    static func codes(_ options: [ChoiceOption]) -> String { options.map(\.code).joined(separator: ", ") }
}

/// Judges conditions over the answers so far, the context and (once complete) the scores.
struct Evaluation {
    let questionnaire: Questionnaire
    let answers: [String: ResolvedAnswer]
    let context: [String: Double]
    let scores: [String: Double]

    func raise(_ rule: FlagRule) -> RaisedFlag? {
        guard holds(rule.when) else { return nil }
        var items: [String] = []
        for id in rule.when.items where answers[id] != nil && !items.contains(id) { items.append(id) }
        return RaisedFlag(id: rule.id, level: rule.level, reason: rule.reason, items: items)
    }

    func holds(_ condition: Condition) -> Bool {
        switch condition {
        case .all(let parts): return parts.allSatisfy(holds)
        case .any(let parts): return parts.contains(where: holds)
        case .test(let subject, let test): return holds(subject, test)
        }
    }

    private func holds(_ subject: ConditionSubject, _ test: ConditionTest) -> Bool {
        switch subject {
        case .item(let id):
            let answer = answers[id]
            if case .answered(let wanted) = test { return (answer != nil) == wanted }
            guard let answer else { return false }
            return Self.holds(answer, test)
        case .context(let name):
            if case .answered(let wanted) = test { return (context[name] != nil) == wanted }
            guard let value = context[name] else { return false }
            return Self.compare(value, test)
        case .score(let name):
            guard let value = scores[name] else { return false }
            return Self.compare(value, test)
        }
    }

    static func holds(_ answer: ResolvedAnswer, _ test: ConditionTest) -> Bool {
        switch answer {
        case .choice(let option):
            switch test {
            case .equals(let code): return option.code == code
            case .oneOf(let codes): return codes.contains(option.code)
            case .includes(let code): return option.code == code
            default: return compare(option.value, test)
            }
        case .choices(let options):
            switch test {
            case .includes(let code), .equals(let code): return options.contains { $0.code == code }
            case .oneOf(let codes): return options.contains { codes.contains($0.code) }
            default: return compare(options.reduce(0) { $0 + $1.value }, test)
            }
        case .number(let value, _):
            return compare(value, test)
        case .yesNo(let yes):
            switch test {
            case .equals(let text): return (["yes", "true"].contains(text) && yes) || (["no", "false"].contains(text) && !yes)
            default: return compare(yes ? 1 : 0, test)
            }
        case .text(let text), .photo(let text):
            switch test {
            case .equals(let wanted): return text == wanted
            case .oneOf(let wanted): return wanted.contains(text)
            default: return false
            }
        case .date(let date):
            switch test {
            case .equals(let wanted): return date.description == wanted
            default: return false
            }
        }
    }

    static func compare(_ value: Double, _ test: ConditionTest) -> Bool {
        switch test {
        case .atLeast(let bound): value >= bound
        case .above(let bound): value > bound
        case .atMost(let bound): value <= bound
        case .below(let bound): value < bound
        case .between(let low, let high): value >= low && value <= high
        case .equals(let text): Double(text) == value
        case .oneOf(let texts): texts.compactMap(Double.init).contains(value)
        case .includes, .answered: false
        }
    }
}

// MARK: - JSON

/// `{"total", "subscales", "band", "flags", "observations"}`, as `tend questionnaire score` prints it.
extension ResponseScore: Encodable {
    private enum Keys: String, CodingKey { case total, subscales, band, subscaleBands = "subscale_bands", flags, observations }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(total, forKey: .total)
        try container.encode(subscales, forKey: .subscales)
        try container.encode(band, forKey: .band)
        if !subscaleBands.isEmpty { try container.encode(subscaleBands, forKey: .subscaleBands) }
        try container.encode(flags, forKey: .flags)
        try container.encode(observations, forKey: .observations)
    }
}

/// `{"error", "message", "field", "missing", "flags"}`: why a response was refused, and the flags
/// its answered items raised all the same.
extension ResponseRefusal: Encodable {
    private enum Keys: String, CodingKey { case error, message, field, missing, flags, problems }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        let main = error
        try container.encode(main.code, forKey: .error)
        try container.encode(main.message, forKey: .message)
        try container.encode(main.field, forKey: .field)
        try container.encode(missing, forKey: .missing)
        try container.encode(flags, forKey: .flags)
        if problems.count > 1 {
            try container.encode(problems.map { ["field": $0.field ?? "", "en": $0.message.en, "zh": $0.message.zh] }, forKey: .problems)
        }
    }
}

/// `{"code": "loinc:8310-5", "value": 38.6, "unit": "Cel", "flags": []}`.
extension ObservationReading: Encodable {
    private enum Keys: String, CodingKey { case code, value, unit, flags }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(code.description, forKey: .code)
        switch value {
        case .quantity(let number, let unit):
            try container.encode(number, forKey: .value)
            try container.encode(unit, forKey: .unit)
        case .score(let number):
            try container.encode(number, forKey: .value)
            try container.encode(UnitName.score, forKey: .unit)
        case .coded(let code): try container.encode(code, forKey: .value)
        case .boolean(let flag): try container.encode(flag, forKey: .value)
        case .text(let text): try container.encode(text, forKey: .value)
        }
        try container.encode(flags, forKey: .flags)
    }
}
