import Foundation

/// Turns a definition document (YAML or JSON, read by TendFormats) into a `Questionnaire`,
/// collecting every problem with its line: unknown keys, missing texts, options, ranges and
/// units, references to unknown or later items, bands that overlap or leave scores uncovered.
public struct QuestionnaireDecoder: DocumentDecoding {
    var problems: [PathwayProblem] = []
    private var wording = Questionnaire.Wording.included
    private var contextNames: [String] = []
    private var items: [QuestionnaireItem] = []

    public init() {}

    public static let maximumItems = 200
    public static let maximumOptions = 50
    public static let maximumSubscales = 20
    public static let maximumFlags = 50
    public static let maximumBands = 20
    /// Conditions nest `all`/`any` at most this deep.
    public static let maximumConditionDepth = 4
    /// Scored values and band edges.
    public static let valueRange: ClosedRange<Double> = -10_000...10_000

    public static func decode(_ root: DocumentNode) throws(PathwayProblems) -> Questionnaire {
        var decoder = QuestionnaireDecoder()
        let questionnaire = decoder.questionnaire(root)
        if let problems = decoder.sortedProblems { throw problems }
        guard let questionnaire else { throw PathwayProblems(problems: [PathwayProblem(line: root.line, message: "not a questionnaire")]) }
        return questionnaire
    }

    static let topKeys: Set<String> = ["questionnaire", "version", "name", "licence", "wording", "context", "items", "scoring"]

    private mutating func questionnaire(_ root: DocumentNode) -> Questionnaire? {
        guard let entries = map(root, "the questionnaire") else { return nil }
        let fields = keys(entries, allowed: Self.topKeys, in: "the questionnaire")
        var id = ""
        if let entry = fields["questionnaire"], let text = scalar(entry.value, "questionnaire") {
            id = text
            if (try? Validate.slug(text)) == nil { fail(entry.line, "questionnaire id \"\(text.prefix(60))\" must be 2–48 lowercase letters, digits and single hyphens") }
        } else if fields["questionnaire"] == nil {
            fail(root.line, "missing \"questionnaire\" (the questionnaire's id)")
        }
        var version = 1
        if let entry = fields["version"] {
            if let value = number(entry.value, "version", in: 1...1_000_000) {
                if let whole = Int(exactly: value) { version = whole } else { fail(entry.line, "version must be a whole number") }
            }
        } else {
            fail(root.line, "missing \"version\" (a whole number, raised when the questions or scoring change)")
        }
        var name = LocalizedText(en: id, zh: id)
        if let entry = fields["name"] { name = localized(entry.value, what: "name", variables: []) ?? name } else { fail(root.line, "missing \"name\" with zh and en") }
        let licence = fields["licence"].flatMap { localized($0.value, what: "licence", variables: []) }
        if let entry = fields["wording"], let text = scalar(entry.value, "wording") {
            if let parsed = Questionnaire.Wording(rawValue: text) { wording = parsed } else { fail(entry.line, "wording must be included or program") }
        }
        if wording == .program, licence == nil { fail(root.line, "a questionnaire whose wording the program supplies needs a \"licence\" saying why and from whom") }
        let context = fields["context"].map { self.context($0) } ?? []
        if let entry = fields["items"], let nodes = list(entry.value, "items") {
            if nodes.isEmpty { fail(entry.line, "a questionnaire needs at least one item") }
            if nodes.count > Self.maximumItems { fail(entry.line, "a questionnaire has at most \(Self.maximumItems) items") }
            for node in nodes.prefix(Self.maximumItems) {
                guard let item = item(node) else { continue }
                if items.contains(where: { $0.id == item.id }) { fail(item.line, "item id \"\(item.id)\" is used twice") } else { items.append(item) }
            }
        } else if fields["items"] == nil {
            fail(root.line, "missing \"items\"")
        }
        var total: ScoreRule?
        var subscales: [ScoreRule] = []
        var flags: [FlagRule] = []
        if let entry = fields["scoring"] { (total, subscales, flags) = scoring(entry.value) }
        return Questionnaire(id: id, version: version, name: name, licence: licence, wording: wording, context: context,
                             items: items, total: total, subscales: subscales, flags: flags)
    }

    private mutating func context(_ entry: DocumentEntry) -> [ContextValue] {
        guard let nodes = list(entry.value, "context") else { return [] }
        var values: [ContextValue] = []
        for node in nodes.prefix(10) {
            guard let entries = map(node, "a context value") else { continue }
            let fields = keys(entries, allowed: ["name", "range"], in: "a context value")
            guard let nameEntry = fields["name"], let name = scalar(nameEntry.value, "name"), Self.isIdentifier(name) else {
                fail(node.line, "a context value needs a \"name\" of lowercase letters, digits or _")
                continue
            }
            guard let rangeEntry = fields["range"], let range = range(rangeEntry.value, "range of \(name)") else {
                if fields["range"] == nil { fail(node.line, "context value \(name) needs a \"range\", e.g. [0, 365]") }
                continue
            }
            contextNames.append(name)
            values.append(ContextValue(name: name, range: range))
        }
        if nodes.count > 10 { fail(entry.line, "at most 10 context values") }
        return values
    }

    static let itemKeys: Set<String> = ["id", "type", "text", "required", "show_if", "options", "reverse", "unit", "range", "max_length", "scores", "observation"]

    private mutating func item(_ node: DocumentNode) -> QuestionnaireItem? {
        guard let entries = map(node, "an item") else { return nil }
        let fields = keys(entries, allowed: Self.itemKeys, in: "an item")
        guard let idEntry = fields["id"], let id = scalar(idEntry.value, "id") else {
            fail(node.line, "an item needs an \"id\"")
            return nil
        }
        guard Self.isIdentifier(id) else {
            fail(idEntry.line, "item id \"\(id.prefix(40))\" must be at most 40 lowercase letters, digits, - or _")
            return nil
        }
        var text: LocalizedText?
        if let entry = fields["text"] {
            text = localized(entry.value, what: "text of item \(id)", variables: [])
        } else if wording == .included {
            fail(node.line, "item \(id) needs a \"text\" with zh and en (or the questionnaire's wording: program)")
        }
        let required = fields["required"].flatMap { boolean($0.value, "required") } ?? true
        let showIf = fields["show_if"].flatMap { condition($0.value, depth: 0, allowScores: false, before: id) }
        let observation = fields["observation"].flatMap { observationCode($0) }
        guard let kind = kind(fields, node: node, id: id, observation: observation) else { return nil }
        var reverse = false
        if let entry = fields["reverse"], let flag = boolean(entry.value, "reverse") {
            reverse = flag
            if case .single = kind {} else if flag { fail(entry.line, "only a single-choice item can be reverse-scored (item \(id))") }
        }
        for key in Self.keysOnlyFor.keys.sorted() {
            if let entry = fields[key], let types = Self.keysOnlyFor[key], !types.contains(kind.name) {
                fail(entry.line, "\"\(key)\" does not apply to a \(kind.name) item (item \(id))")
            }
        }
        return QuestionnaireItem(id: id, kind: kind, text: text, required: required, showIf: showIf, reverse: reverse, observation: observation, line: node.line)
    }

    static let keysOnlyFor: [String: Set<String>] = [
        "options": ["single", "multiple"], "unit": ["number"], "range": ["number"], "max_length": ["text"], "scores": ["yes_no"],
    ]

    private mutating func kind(_ fields: [String: DocumentEntry], node: DocumentNode, id: String, observation: ObservationCode?) -> ItemKind? {
        guard let typeEntry = fields["type"], let type = scalar(typeEntry.value, "type") else {
            fail(node.line, "item \(id) needs a \"type\": single, multiple, number, date, text, yes_no or photo")
            return nil
        }
        let definition = observation.flatMap(ObservationCatalog.definition(code:))
        if definition != nil, type != "number", let entry = fields["observation"] {
            fail(entry.line, "item \(id): \(observation?.description ?? "") is a measurement, so only a number item can record it")
        }
        switch type {
        case "single", "multiple":
            let options = self.options(fields["options"], node: node, id: id)
            return type == "single" ? .single(options) : .multiple(options)
        case "number":
            return numberSpec(fields, node: node, id: id, definition: definition).map(ItemKind.number)
        case "date": return .date
        case "photo": return .photo
        case "text":
            var maxLength = 1_000
            if let entry = fields["max_length"], let value = number(entry.value, "max_length", in: 1...Double(Bounds.textLength)) { maxLength = Int(exactly: value.rounded()) ?? maxLength }
            return .text(maxLength: maxLength)
        case "yes_no":
            guard let entry = fields["scores"] else { return .yesNo(scores: nil) }
            guard let entries = map(entry.value, "scores") else { return .yesNo(scores: nil) }
            let scores = keys(entries, allowed: ["yes", "no"], in: "scores")
            guard let yesEntry = scores["yes"], let noEntry = scores["no"] else {
                fail(entry.line, "scores of item \(id) needs yes and no")
                return .yesNo(scores: nil)
            }
            let yes = number(yesEntry.value, "scores.yes", in: Self.valueRange) ?? 1
            let no = number(noEntry.value, "scores.no", in: Self.valueRange) ?? 0
            return .yesNo(scores: YesNoScores(yes: yes, no: no))
        default:
            fail(typeEntry.line, "unknown item type \"\(type.prefix(40))\" (use single, multiple, number, date, text, yes_no or photo)")
            return nil
        }
    }

    private mutating func options(_ entry: DocumentEntry?, node: DocumentNode, id: String) -> [ChoiceOption] {
        guard let entry else {
            fail(node.line, "choice item \(id) needs \"options\"")
            return []
        }
        guard let nodes = list(entry.value, "options") else { return [] }
        if nodes.count < 2 || nodes.count > Self.maximumOptions { fail(entry.line, "item \(id) needs 2 to \(Self.maximumOptions) options") }
        var options: [ChoiceOption] = []
        for option in nodes.prefix(Self.maximumOptions) {
            guard let entries = map(option, "an option") else { continue }
            let fields = keys(entries, allowed: ["value", "code", "text"], in: "an option")
            guard let valueEntry = fields["value"], let value = number(valueEntry.value, "value", in: Self.valueRange) else {
                if fields["value"] == nil { fail(option.line, "an option of item \(id) needs a scored \"value\"") }
                continue
            }
            var code = value.text(decimals: 6)
            if let codeEntry = fields["code"], let text = scalar(codeEntry.value, "code") {
                if Self.isIdentifier(text) { code = text } else { fail(codeEntry.line, "option code \"\(text.prefix(40))\" must be at most 40 lowercase letters, digits, - or _") }
            }
            var text: LocalizedText?
            if let textEntry = fields["text"] {
                text = localized(textEntry.value, what: "an option of item \(id)", variables: [])
            } else if wording == .included {
                fail(option.line, "an option of item \(id) needs a \"text\" with zh and en")
            }
            if options.contains(where: { $0.code == code }) { fail(option.line, "option \(code) appears twice in item \(id)") }
            options.append(ChoiceOption(code: code, value: value, text: text))
        }
        return options
    }

    private mutating func numberSpec(_ fields: [String: DocumentEntry], node: DocumentNode, id: String, definition: ObservationDefinition?) -> NumberSpec? {
        var unit = definition?.canonicalUnit
        if let entry = fields["unit"], let text = scalar(entry.value, "unit") {
            let spelled = UnitName.parse(text) ?? text
            if let definition, definition.conversion(for: spelled) == nil {
                fail(entry.line, "unit \(text.prefix(40)) of item \(id) is not a unit of \(definition.key) (use \(definition.unitList))")
            } else if spelled.isEmpty || spelled.utf8.count > 40 {
                fail(entry.line, "unit of item \(id) must be 1–40 characters")
            } else {
                unit = spelled
            }
        }
        guard let unit else {
            // The item is still returned, so conditions naming it get no second, misleading error.
            fail(node.line, "number item \(id) needs a \"unit\" (UCUM, e.g. mmol/L, Cel, kg, or {count})")
            return NumberSpec(unit: "", range: 0...0)
        }
        var range = -ObservationCatalog.numberLimit...ObservationCatalog.numberLimit
        if let definition, let conversion = definition.conversion(for: unit) {
            let ends = [conversion.fromCanonical(definition.possible.lowerBound), conversion.fromCanonical(definition.possible.upperBound)]
            range = (ends.min() ?? 0)...(ends.max() ?? 0)
        }
        if let entry = fields["range"], let given = self.range(entry.value, "range of item \(id)") {
            range = given
        } else if definition == nil, fields["range"] == nil {
            fail(node.line, "number item \(id) needs a \"range\" [min, max] in \(unit)")
        }
        return NumberSpec(unit: unit, range: range)
    }

    private mutating func observationCode(_ entry: DocumentEntry) -> ObservationCode? {
        guard let text = scalar(entry.value, "observation") else { return nil }
        do {
            return try ObservationCatalog.code(text, field: "observation")
        } catch {
            fail(entry.line, "observation \"\(text.prefix(60))\" must be a known measurement (\(ObservationCatalog.all.map(\.key).joined(separator: ", "))), loinc:CODE or program:NAME")
            return nil
        }
    }

    private mutating func range(_ node: DocumentNode, _ what: String) -> ClosedRange<Double>? {
        guard case .list(let ends, _) = node, ends.count == 2 else {
            fail(node.line, "\(what) must be [min, max]")
            return nil
        }
        let limit = ObservationCatalog.numberLimit
        guard let low = number(ends[0], what, in: -limit...limit), let high = number(ends[1], what, in: -limit...limit) else { return nil }
        guard low <= high else {
            fail(node.line, "\(what): min \(low.shortText) is above max \(high.shortText)")
            return nil
        }
        return low...high
    }

    static func isIdentifier(_ text: String) -> Bool {
        (1...40).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}

// MARK: - Conditions

extension QuestionnaireDecoder {
    static let tests: Set<String> = ["equals", "in", "includes", "at_least", "above", "at_most", "below", "between", "answered"]

    /// A condition: `{item: "9", at_least: 1}`, `{context: cycle_day, between: [7, 14]}`,
    /// `{score: total, at_least: 20}`, or `{all: [...]}` / `{any: [...]}`. In `show_if` an item
    /// may only look at earlier items (`before`).
    mutating func condition(_ node: DocumentNode, depth: Int, allowScores: Bool, before: String?) -> Condition? {
        guard depth <= Self.maximumConditionDepth else {
            fail(node.line, "conditions nest at most \(Self.maximumConditionDepth) levels of all/any")
            return nil
        }
        guard let entries = map(node, "a condition") else { return nil }
        let fields = keys(entries, allowed: Self.tests.union(["item", "context", "score", "all", "any"]), in: "a condition")
        for group in ["all", "any"] {
            guard let entry = fields[group] else { continue }
            if fields.count > 1 { fail(node.line, "a condition with \(group) has nothing else beside it") }
            guard let nodes = list(entry.value, group), !nodes.isEmpty, nodes.count <= 20 else {
                fail(entry.line, "\(group) needs 1 to 20 conditions")
                return nil
            }
            let parts = nodes.compactMap { condition($0, depth: depth + 1, allowScores: allowScores, before: before) }
            guard parts.count == nodes.count else { return nil }
            return group == "all" ? .all(parts) : .any(parts)
        }
        let subjects = ["item", "context", "score"].compactMap { fields[$0] }
        let tests = Self.tests.sorted().compactMap { fields[$0] }
        guard subjects.count == 1, let subjectEntry = subjects.first, tests.count == 1, let testEntry = tests.first else {
            fail(node.line, "a condition names one of item, context or score, and one test (\(Self.tests.sorted().joined(separator: ", ")))")
            return nil
        }
        guard let name = scalar(subjectEntry.value, subjectEntry.key), let subject = subject(subjectEntry, name: name, allowScores: allowScores, before: before) else { return nil }
        guard let test = test(testEntry) else { return nil }
        if case .item(let id) = subject, let item = items.first(where: { $0.id == id }) { checkTest(test, on: item, line: testEntry.line) }
        return .test(subject, test)
    }

    private mutating func subject(_ entry: DocumentEntry, name: String, allowScores: Bool, before: String?) -> ConditionSubject? {
        switch entry.key {
        case "item":
            guard items.contains(where: { $0.id == name }) else {
                if let before, name == before {
                    fail(entry.line, "item \(before) cannot depend on itself")
                } else {
                    fail(entry.line, "unknown item \"\(name.prefix(40))\"\(before.map { " (show_if of item \($0) may only name earlier items)" } ?? "")")
                }
                return nil
            }
            return .item(name)
        case "context":
            guard contextNames.contains(name) else {
                fail(entry.line, "unknown context value \"\(name.prefix(40))\" (declared: \(contextNames.isEmpty ? "none" : contextNames.joined(separator: ", ")))")
                return nil
            }
            return .context(name)
        default:
            guard allowScores else {
                fail(entry.line, "show_if cannot depend on a score (scores exist only once every item is answered)")
                return nil
            }
            return .score(name)
        }
    }

    private mutating func test(_ entry: DocumentEntry) -> ConditionTest? {
        let what = "the test \(entry.key)"
        let limit = ObservationCatalog.numberLimit
        switch entry.key {
        case "equals": return scalar(entry.value, what).map(ConditionTest.equals)
        case "includes": return scalar(entry.value, what).map(ConditionTest.includes)
        case "in":
            guard let nodes = list(entry.value, what), !nodes.isEmpty, nodes.count <= Self.maximumOptions else {
                fail(entry.line, "in needs 1 to \(Self.maximumOptions) values")
                return nil
            }
            let values = nodes.compactMap { scalar($0, what) }
            return values.count == nodes.count ? .oneOf(values) : nil
        case "at_least": return number(entry.value, what, in: -limit...limit).map(ConditionTest.atLeast)
        case "above": return number(entry.value, what, in: -limit...limit).map(ConditionTest.above)
        case "at_most": return number(entry.value, what, in: -limit...limit).map(ConditionTest.atMost)
        case "below": return number(entry.value, what, in: -limit...limit).map(ConditionTest.below)
        case "between": return range(entry.value, what).map { .between($0.lowerBound, $0.upperBound) }
        default: return boolean(entry.value, what).map(ConditionTest.answered)
        }
    }

    /// A test must be able to hold for the item: a choice's code, a yes/no word.
    private mutating func checkTest(_ test: ConditionTest, on item: QuestionnaireItem, line: Int) {
        let wanted: [String] = switch test {
        case .equals(let value), .includes(let value): [value]
        case .oneOf(let values): values
        default: []
        }
        switch item.kind {
        case .single(let options), .multiple(let options):
            for value in wanted where QuestionnaireScorer.option(value, in: options) == nil {
                fail(line, "item \(item.id) has no option \"\(value.prefix(40))\" (options: \(QuestionnaireScorer.codes(options)))")
            }
        case .yesNo:
            for value in wanted where !["yes", "no", "true", "false"].contains(value) { fail(line, "item \(item.id) is answered yes or no, not \"\(value.prefix(40))\"") }
        case .number:
            for value in wanted where Double(value) == nil { fail(line, "item \(item.id) is a number; compare it with at_least, below, between …") }
        case .date, .text, .photo:
            break
        }
    }
}

// MARK: - Scoring

extension QuestionnaireDecoder {
    static let scoringKeys: Set<String> = ["total", "subscales", "flags"]
    static let ruleKeys: Set<String> = ["id", "name", "items", "method", "bands", "observation"]

    mutating func scoring(_ node: DocumentNode) -> (ScoreRule?, [ScoreRule], [FlagRule]) {
        guard let entries = map(node, "scoring") else { return (nil, [], []) }
        let fields = keys(entries, allowed: Self.scoringKeys, in: "scoring")
        let total = fields["total"].flatMap { scoreRule($0.value, id: "total") }
        var subscales: [ScoreRule] = []
        if let entry = fields["subscales"], let nodes = list(entry.value, "subscales") {
            if nodes.count > Self.maximumSubscales { fail(entry.line, "at most \(Self.maximumSubscales) subscales") }
            for node in nodes.prefix(Self.maximumSubscales) {
                guard let rule = scoreRule(node, id: nil) else { continue }
                if rule.id == "total" || subscales.contains(where: { $0.id == rule.id }) { fail(node.line, "subscale id \"\(rule.id)\" is used twice (or is \"total\")") } else { subscales.append(rule) }
            }
        }
        let scoreNames = Set(["total"].filter { _ in total != nil } + subscales.map(\.id))
        var flags: [FlagRule] = []
        if let entry = fields["flags"], let nodes = list(entry.value, "flags") {
            if nodes.count > Self.maximumFlags { fail(entry.line, "at most \(Self.maximumFlags) flags") }
            for node in nodes.prefix(Self.maximumFlags) {
                guard let flag = flagRule(node, scores: scoreNames) else { continue }
                if flags.contains(where: { $0.id == flag.id }) { fail(node.line, "flag id \"\(flag.id)\" is used twice") } else { flags.append(flag) }
            }
        }
        return (total, subscales, flags)
    }

    private mutating func scoreRule(_ node: DocumentNode, id fixedID: String?) -> ScoreRule? {
        guard let entries = map(node, fixedID ?? "a subscale") else { return nil }
        let fields = keys(entries, allowed: fixedID == nil ? Self.ruleKeys : Self.ruleKeys.subtracting(["id", "name"]), in: fixedID ?? "a subscale")
        var id = fixedID ?? ""
        if fixedID == nil {
            guard let entry = fields["id"], let text = scalar(entry.value, "id"), Self.isIdentifier(text) else {
                fail(node.line, "a subscale needs an \"id\" of lowercase letters, digits, - or _")
                return nil
            }
            id = text
        }
        let name = fields["name"].flatMap { localized($0.value, what: "name of subscale \(id)", variables: []) }
        var method = ScoreRule.Method.sum
        if let entry = fields["method"], let text = scalar(entry.value, "method") {
            if let parsed = ScoreRule.Method(rawValue: text) { method = parsed } else { fail(entry.line, "method must be sum or mean") }
        }
        let scoredItems = itemList(fields["items"], node: node, rule: id)
        let observation = fields["observation"].flatMap { observationCode($0) }
        var bands: [ScoreBand] = []
        if let entry = fields["bands"] { bands = self.bands(entry, rule: id, items: scoredItems, method: method) }
        return ScoreRule(id: id, name: name, items: scoredItems.map(\.id), method: method, bands: bands, observation: observation)
    }

    /// `items: all` (every scored item) or a list of scored item ids.
    private mutating func itemList(_ entry: DocumentEntry?, node: DocumentNode, rule: String) -> [QuestionnaireItem] {
        guard let entry else {
            fail(node.line, "\(rule) needs \"items\": all, or a list of item ids")
            return []
        }
        if case .scalar("all", _) = entry.value {
            let scored = items.filter(\.isScored)
            if scored.isEmpty { fail(entry.line, "\(rule) counts all items, but no item is scored") }
            return scored
        }
        guard let nodes = list(entry.value, "items") else { return [] }
        var found: [QuestionnaireItem] = []
        for node in nodes.prefix(Self.maximumItems) {
            guard let id = scalar(node, "an item id") else { continue }
            guard let item = items.first(where: { $0.id == id }) else {
                fail(node.line, "\(rule) counts unknown item \"\(id.prefix(40))\"")
                continue
            }
            if !item.isScored { fail(node.line, "\(rule) counts item \(id), which has no scored values (a \(item.kind.name) item\(item.kind.name == "yes_no" ? " without scores" : ""))") }
            if !item.required, item.showIf == nil { fail(node.line, "\(rule) counts item \(id), which is optional: a scored item must be required") }
            if found.contains(where: { $0.id == id }) { fail(node.line, "\(rule) counts item \(id) twice") } else { found.append(item) }
        }
        return found
    }

    private mutating func bands(_ entry: DocumentEntry, rule: String, items: [QuestionnaireItem], method: ScoreRule.Method) -> [ScoreBand] {
        guard let nodes = list(entry.value, "bands") else { return [] }
        let problemsBefore = problems.count
        if nodes.isEmpty || nodes.count > Self.maximumBands { fail(entry.line, "bands of \(rule) need 1 to \(Self.maximumBands) bands") }
        var bands: [ScoreBand] = []
        for node in nodes.prefix(Self.maximumBands) {
            guard let entries = map(node, "a band") else { continue }
            let fields = keys(entries, allowed: ["id", "min", "max", "label"], in: "a band")
            guard let idEntry = fields["id"], let id = scalar(idEntry.value, "id"), Self.isIdentifier(id) else {
                fail(node.line, "a band needs an \"id\" of lowercase letters, digits, - or _")
                continue
            }
            guard let minEntry = fields["min"], let maxEntry = fields["max"],
                  let low = number(minEntry.value, "min of band \(id)", in: Self.valueRange),
                  let high = number(maxEntry.value, "max of band \(id)", in: Self.valueRange) else {
                if fields["min"] == nil || fields["max"] == nil { fail(node.line, "band \(id) needs min and max") }
                continue
            }
            guard low <= high else {
                fail(node.line, "band \(id): min \(low.shortText) is above max \(high.shortText)")
                continue
            }
            guard let labelEntry = fields["label"], let label = localized(labelEntry.value, what: "label of band \(id)", variables: []) else {
                if fields["label"] == nil { fail(node.line, "band \(id) needs a \"label\" with zh and en") }
                continue
            }
            if let overlap = bands.first(where: { $0.min <= high && low <= $0.max }) {
                fail(node.line, "band \(id) (\(low.shortText)–\(high.shortText)) overlaps band \(overlap.id) (\(overlap.min.shortText)–\(overlap.max.shortText))")
                continue
            }
            if bands.contains(where: { $0.id == id }) { fail(node.line, "band id \(id) is used twice in \(rule)") }
            bands.append(ScoreBand(id: id, label: label, min: low, max: high))
        }
        // Gaps are judged only among bands that are themselves right.
        if problems.count == problemsBefore { checkCoverage(bands, entry: entry, rule: rule, items: items, method: method) }
        return bands
    }

    /// For a sum of whole-numbered items, the bands must cover every score from the lowest
    /// possible to the highest, so that no response falls between bands.
    private mutating func checkCoverage(_ bands: [ScoreBand], entry: DocumentEntry, rule: String, items: [QuestionnaireItem], method: ScoreRule.Method) {
        guard method == .sum, !bands.isEmpty, !items.isEmpty, items.allSatisfy({ $0.showIf == nil }) else { return }
        var low = 0.0, high = 0.0
        for item in items {
            let values: [Double]
            switch item.kind {
            case .single(let options): values = options.map(\.value)
            case .multiple(let options):
                values = [options.filter { $0.value < 0 }.reduce(0) { $0 + $1.value }, options.filter { $0.value > 0 }.reduce(0) { $0 + $1.value }]
            case .yesNo(let scores?): values = [scores.yes, scores.no]
            default: values = []
            }
            guard values.allSatisfy({ $0 == $0.rounded() }), let least = values.min(), let most = values.max() else { return }
            low += least
            high += most
        }
        let sorted = bands.sorted { $0.min < $1.min }
        var next = low
        for band in sorted {
            if band.min > next {
                fail(entry.line, "bands of \(rule) leave \(next.shortText)–\((band.min - 1).shortText) uncovered (scores run \(low.shortText)–\(high.shortText))")
                return
            }
            next = max(next, band.max + 1)
        }
        if next <= high { fail(entry.line, "bands of \(rule) leave \(next.shortText)–\(high.shortText) uncovered (scores run \(low.shortText)–\(high.shortText))") }
    }

    private mutating func flagRule(_ node: DocumentNode, scores: Set<String>) -> FlagRule? {
        guard let entries = map(node, "a flag") else { return nil }
        let fields = keys(entries, allowed: ["id", "level", "when", "reason"], in: "a flag")
        guard let idEntry = fields["id"], let id = scalar(idEntry.value, "id"), Self.isIdentifier(id) else {
            fail(node.line, "a flag needs an \"id\" of lowercase letters, digits, - or _")
            return nil
        }
        var level = TaskPriority.high
        if let entry = fields["level"], let text = scalar(entry.value, "level") {
            if let parsed = TaskPriority(rawValue: text) { level = parsed } else { fail(entry.line, "level of flag \(id) must be low, normal, high or urgent") }
        } else {
            fail(node.line, "flag \(id) needs a \"level\": low, normal, high or urgent")
        }
        guard let whenEntry = fields["when"] else {
            fail(node.line, "flag \(id) needs \"when\", a condition")
            return nil
        }
        let when = condition(whenEntry.value, depth: 0, allowScores: true, before: nil)
        if let when { checkScores(when, known: scores, line: whenEntry.line) }
        guard let reasonEntry = fields["reason"], let reason = localized(reasonEntry.value, what: "reason of flag \(id)", variables: []) else {
            if fields["reason"] == nil { fail(node.line, "flag \(id) needs a \"reason\" with zh and en, shown to staff") }
            return nil
        }
        guard let when else { return nil }
        return FlagRule(id: id, level: level, when: when, reason: reason, line: node.line)
    }

    private mutating func checkScores(_ condition: Condition, known: Set<String>, line: Int) {
        switch condition {
        case .all(let parts), .any(let parts): for part in parts { checkScores(part, known: known, line: line) }
        case .test(.score(let name), _) where !known.contains(name):
            fail(line, "unknown score \"\(name.prefix(40))\" (known: \(known.isEmpty ? "none" : known.sorted().joined(separator: ", ")))")
        case .test: break
        }
    }
}
