import Foundation

/// A program's own alert rules over readings, from a YAML or JSON document (docs/questionnaires.md):
///
///     rules:
///       - id: post-meal-high-sustained
///         code: glucose-post-meal
///         sustained: {at_least: 10, count: 3, of: 5}
///         level: high
///         title: {zh: 餐后血糖连续偏高, en: Post-meal glucose high in 3 of the last 5}
///       - id: weight-gain
///         code: body-weight
///         change: {rise: 2, within: 3d}
///         level: high
///         title: {zh: 3天内体重增加≥2kg, en: Weight up 2 kg or more in 3 days}
///
/// Values are in the code's canonical unit. They add to the rules the program's triage
/// thresholds give; missing check-ins are a pathway step's `missing_alert`, questionnaire
/// scores and items their `flags`. An optional `units` mapping names the unit the program's
/// staff read a code in (`units: {glucose-fasting: mg/dL}`); readings are stored in the
/// canonical unit all the same.
public struct AlertRuleDecoder: DocumentDecoding {
    var problems: [PathwayProblem] = []

    public static let maximumRules = 100

    /// A program's observation settings: its own rules and the units it reads codes in.
    public struct Settings: Sendable, Equatable {
        public var rules: [ObservationAlertRule]
        public var units: [ObservationCode: String]
    }

    public static func decode(_ root: DocumentNode) throws(PathwayProblems) -> Settings {
        var decoder = AlertRuleDecoder()
        let settings = decoder.settings(root)
        if let problems = decoder.sortedProblems { throw problems }
        return settings
    }

    private mutating func settings(_ root: DocumentNode) -> Settings {
        guard let entries = map(root, "the alert rules") else { return Settings(rules: [], units: [:]) }
        let fields = keys(entries, allowed: ["rules", "units"], in: "the alert rules")
        var units: [ObservationCode: String] = [:]
        if let entry = fields["units"], let pairs = map(entry.value, "units") {
            for pair in pairs.prefix(200) {
                guard let text = scalar(pair.value, "the unit of \(pair.key.prefix(60))") else { continue }
                guard let code = try? ObservationCatalog.code(pair.key, field: "units"), let definition = ObservationCatalog.definition(code: code) else {
                    fail(pair.line, "units: \"\(pair.key.prefix(60))\" is not a code of the catalog")
                    continue
                }
                guard let unit = UnitName.parse(text), definition.units.contains(where: { $0.unit == unit }) else {
                    fail(pair.line, "units: \(pair.key) is read in one of \(definition.unitList), not \"\(text.prefix(40))\"")
                    continue
                }
                units[code] = unit
            }
        }
        if fields["rules"] == nil, fields["units"] == nil { fail(root.line, "missing \"rules\", a list (or \"units\")") }
        return Settings(rules: fields["rules"] == nil ? [] : rules(fields["rules"]!), units: units)
    }

    private mutating func rules(_ entry: DocumentEntry) -> [ObservationAlertRule] {
        guard let nodes = list(entry.value, "rules") else { return [] }
        if nodes.count > Self.maximumRules { fail(entry.line, "at most \(Self.maximumRules) rules") }
        var seen = Set<String>()
        var rules: [ObservationAlertRule] = []
        for node in nodes.prefix(Self.maximumRules) {
            guard let rule = rule(node) else { continue }
            if !seen.insert(rule.id).inserted { fail(node.line, "rule id \(rule.id) is used twice") }
            rules.append(rule)
        }
        return rules
    }

    static let ruleKeys: Set<String> = ["id", "code", "codes", "below", "at_least", "sustained", "change", "level", "title"]

    private mutating func rule(_ node: DocumentNode) -> ObservationAlertRule? {
        guard let entries = map(node, "a rule") else { return nil }
        let fields = keys(entries, allowed: Self.ruleKeys, in: "a rule")
        guard let idEntry = fields["id"], let id = scalar(idEntry.value, "id"), (try? Validate.slug(id)) != nil else {
            fail(node.line, "a rule needs an \"id\" of 2–48 lowercase letters, digits and single hyphens")
            return nil
        }
        var codes: Set<ObservationCode> = []
        var codeTexts: [(String, Int)] = []
        if let entry = fields["code"], let text = scalar(entry.value, "code") { codeTexts.append((text, entry.line)) }
        if let entry = fields["codes"], let nodes = list(entry.value, "codes") {
            for item in nodes.prefix(20) { if let text = scalar(item, "a code") { codeTexts.append((text, item.line)) } }
        }
        for (text, line) in codeTexts {
            do { codes.insert(try ObservationCatalog.code(text, field: "code")) } catch { fail(line, "unknown code \"\(text.prefix(60))\" in rule \(id): a catalog key, loinc:CODE or program:NAME") }
        }
        if codeTexts.isEmpty { fail(node.line, "rule \(id) needs a \"code\" (or \"codes\")") }
        var below = fields["below"].flatMap { number($0.value, "below", in: -1e9...1e9) }
        var atLeast = fields["at_least"].flatMap { number($0.value, "at_least", in: -1e9...1e9) }
        var kind = ObservationAlertRule.Kind.threshold
        switch (fields["sustained"], fields["change"]) {
        case (let sustained?, nil):
            guard let parts = map(sustained.value, "sustained") else { return nil }
            let given = keys(parts, allowed: ["below", "at_least", "count", "of"], in: "sustained")
            below = given["below"].flatMap { number($0.value, "below", in: -1e9...1e9) } ?? below
            atLeast = given["at_least"].flatMap { number($0.value, "at_least", in: -1e9...1e9) } ?? atLeast
            let count = given["count"].flatMap { number($0.value, "count", in: 1...50) }.flatMap { Int(exactly: $0) }
            let of = given["of"].flatMap { number($0.value, "of", in: 1...50) }.flatMap { Int(exactly: $0) }
            guard let count, let of, count <= of else {
                fail(sustained.line, "sustained in rule \(id) needs whole numbers count ≤ of, at most 50 (e.g. count: 3, of: 5)")
                return nil
            }
            kind = .sustained(count: count, of: of)
        case (nil, let change?):
            guard let parts = map(change.value, "change") else { return nil }
            let given = keys(parts, allowed: ["rise", "fall", "within"], in: "change")
            let rise = given["rise"].flatMap { number($0.value, "rise", in: 0.000_001...1e9) }
            let fall = given["fall"].flatMap { number($0.value, "fall", in: 0.000_001...1e9) }
            let within = given["within"].flatMap { scalar($0.value, "within") }.flatMap(CalendarOffset.init)
            guard (rise == nil) != (fall == nil), let within, within.months == 0, (1...90).contains(within.days) else {
                fail(change.line, "change in rule \(id) needs one of rise or fall (a positive number) and within: 1d to 90d")
                return nil
            }
            kind = .change(by: rise ?? fall ?? 0, rise: rise != nil, withinDays: within.days)
        case (_?, _?):
            fail(node.line, "rule \(id) has both sustained and change; give one")
            return nil
        case (nil, nil):
            break
        }
        if case .change = kind {} else if below == nil && atLeast == nil {
            fail(node.line, "rule \(id) needs a threshold: below or at_least")
        }
        var level = TaskPriority.high
        if let entry = fields["level"], let text = scalar(entry.value, "level") {
            if let parsed = TaskPriority(rawValue: text) { level = parsed } else { fail(entry.line, "level must be low, normal, high or urgent") }
        }
        guard let titleEntry = fields["title"], let title = localized(titleEntry.value, what: "title of rule \(id)", variables: []) else {
            if fields["title"] == nil { fail(node.line, "rule \(id) needs a \"title\" with zh and en") }
            return nil
        }
        return ObservationAlertRule(id: id, codes: codes, below: below, atOrAbove: atLeast, kind: kind, priority: level, title: title)
    }
}
