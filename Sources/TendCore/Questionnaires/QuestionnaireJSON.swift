import Foundation

// A questionnaire encodes to JSON in the very format it is written in (docs/questionnaires.md),
// so the API and the portal hand out what an admin can read, and what is handed out reads back
// into the same questionnaire.

private struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Questionnaire: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(id, forKey: JSONKey("questionnaire"))
        try container.encode(version, forKey: JSONKey("version"))
        try container.encode(name, forKey: JSONKey("name"))
        try container.encodeIfPresent(licence, forKey: JSONKey("licence"))
        try container.encode(wording.rawValue, forKey: JSONKey("wording"))
        if !context.isEmpty { try container.encode(context, forKey: JSONKey("context")) }
        try container.encode(items, forKey: JSONKey("items"))
        if total != nil || !subscales.isEmpty || !flags.isEmpty {
            var scoring = container.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("scoring"))
            try scoring.encodeIfPresent(total, forKey: JSONKey("total"))
            if !subscales.isEmpty { try scoring.encode(subscales, forKey: JSONKey("subscales")) }
            if !flags.isEmpty { try scoring.encode(flags, forKey: JSONKey("flags")) }
        }
    }
}

extension ContextValue: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(name, forKey: JSONKey("name"))
        try container.encode([range.lowerBound, range.upperBound], forKey: JSONKey("range"))
    }
}

extension QuestionnaireItem: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(id, forKey: JSONKey("id"))
        try container.encode(kind.name, forKey: JSONKey("type"))
        try container.encodeIfPresent(text, forKey: JSONKey("text"))
        try container.encode(required, forKey: JSONKey("required"))
        try container.encodeIfPresent(showIf, forKey: JSONKey("show_if"))
        if reverse { try container.encode(true, forKey: JSONKey("reverse")) }
        try container.encodeIfPresent(observation?.description, forKey: JSONKey("observation"))
        switch kind {
        case .single(let options), .multiple(let options):
            try container.encode(options, forKey: JSONKey("options"))
        case .number(let spec):
            try container.encode(spec.unit, forKey: JSONKey("unit"))
            try container.encode([spec.range.lowerBound, spec.range.upperBound], forKey: JSONKey("range"))
        case .text(let maxLength):
            try container.encode(maxLength, forKey: JSONKey("max_length"))
        case .yesNo(let scores?):
            try container.encode(["yes": scores.yes, "no": scores.no], forKey: JSONKey("scores"))
        case .yesNo(nil), .date, .photo:
            break
        }
    }
}

extension ChoiceOption: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(value, forKey: JSONKey("value"))
        try container.encode(code, forKey: JSONKey("code"))
        try container.encodeIfPresent(text, forKey: JSONKey("text"))
    }
}

extension Condition: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        switch self {
        case .all(let parts): try container.encode(parts, forKey: JSONKey("all"))
        case .any(let parts): try container.encode(parts, forKey: JSONKey("any"))
        case .test(let subject, let test):
            switch subject {
            case .item(let id): try container.encode(id, forKey: JSONKey("item"))
            case .context(let name): try container.encode(name, forKey: JSONKey("context"))
            case .score(let name): try container.encode(name, forKey: JSONKey("score"))
            }
            switch test {
            case .equals(let value): try container.encode(value, forKey: JSONKey("equals"))
            case .oneOf(let values): try container.encode(values, forKey: JSONKey("in"))
            case .includes(let value): try container.encode(value, forKey: JSONKey("includes"))
            case .atLeast(let bound): try container.encode(bound, forKey: JSONKey("at_least"))
            case .above(let bound): try container.encode(bound, forKey: JSONKey("above"))
            case .atMost(let bound): try container.encode(bound, forKey: JSONKey("at_most"))
            case .below(let bound): try container.encode(bound, forKey: JSONKey("below"))
            case .between(let low, let high): try container.encode([low, high], forKey: JSONKey("between"))
            case .answered(let wanted): try container.encode(wanted, forKey: JSONKey("answered"))
            }
        }
    }
}

extension ScoreRule: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        if id != "total" {
            try container.encode(id, forKey: JSONKey("id"))
            try container.encodeIfPresent(name, forKey: JSONKey("name"))
        }
        try container.encode(items, forKey: JSONKey("items"))
        try container.encode(method.rawValue, forKey: JSONKey("method"))
        if !bands.isEmpty { try container.encode(bands, forKey: JSONKey("bands")) }
        try container.encodeIfPresent(observation?.description, forKey: JSONKey("observation"))
    }
}

extension FlagRule: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONKey.self)
        try container.encode(id, forKey: JSONKey("id"))
        try container.encode(level, forKey: JSONKey("level"))
        try container.encode(when, forKey: JSONKey("when"))
        try container.encode(reason, forKey: JSONKey("reason"))
    }
}
