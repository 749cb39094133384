import Foundation

/// What happens to a patient who enters or leaves a segment. Each is idempotent: enrolling a
/// patient already enrolled in the pathway, or setting a tag already set, does nothing.
public enum SegmentAction: Sendable, Equatable {
    /// Enrol in the latest version of the pathway, every anchor on the day of the change.
    case enrol(pathway: String)
    /// Cancel the patient's active or paused enrolment in the pathway (history kept).
    case endEnrolment(pathway: String)
    /// Set a tag, recorded as set by the segment.
    case setTag(PatientTag)
    /// Clear a tag the segment set (a tag staff set by hand stays).
    case clearTag(PatientTag)
    case joinGroup(String)
    case leaveGroup(String)

    static let keys: Set<String> = ["enrol", "end", "tag", "untag", "group", "leave_group"]

    /// An action as written, `enrol: intensive` being key `enrol` and value `intensive`.
    public init?(key: String, value: String) {
        switch key {
        case "enrol", "end":
            guard let pathway = try? Validate.slug(value) else { return nil }
            self = key == "enrol" ? .enrol(pathway: pathway) : .endEnrolment(pathway: pathway)
        case "tag", "untag":
            guard let tag = try? PatientTag.parse(value) else { return nil }
            self = key == "tag" ? .setTag(tag) : .clearTag(tag)
        case "group", "leave_group":
            guard (1...Bounds.identifierLength).contains(value.count) else { return nil }
            self = key == "group" ? .joinGroup(value) : .leaveGroup(value)
        default:
            return nil
        }
    }

    /// Reads back `text`.
    public init?(text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { return nil }
        self.init(key: parts[0], value: parts[1])
    }

    public var text: String {
        switch self {
        case .enrol(let pathway): "enrol: \(pathway)"
        case .endEnrolment(let pathway): "end: \(pathway)"
        case .setTag(let tag): "tag: \(tag.key)=\(tag.value)"
        case .clearTag(let tag): "untag: \(tag.key)=\(tag.value)"
        case .joinGroup(let group): "group: \(group)"
        case .leaveGroup(let group): "leave_group: \(group)"
        }
    }
}

/// A segment as a program admin writes it (docs/segments.md):
///
///     slug: poorly-controlled
///     name: {zh: 血糖控制不佳, en: Poorly controlled glucose}
///     rule: |
///       disease = T2DM and last(glucose-fasting, 14d) >= 7.0
///     on_enter:
///       - enrol: intensive-follow-up
///       - tag: control=poor
///     on_leave:
///       - end: intensive-follow-up
///       - untag: control=poor
public struct SegmentDefinition: Sendable, Equatable {
    public var slug: String
    public var name: LocalizedText
    public var rule: SegmentRule
    public var onEnter: [SegmentAction]
    public var onLeave: [SegmentAction]

    public init(slug: String, name: LocalizedText, rule: SegmentRule, onEnter: [SegmentAction] = [], onLeave: [SegmentAction] = []) {
        self.slug = slug
        self.name = name
        self.rule = rule
        self.onEnter = onEnter
        self.onLeave = onLeave
    }

    public static let maximumActions = 20

    /// Every pathway the definition names, in its rule or its actions.
    public var pathways: Set<String> {
        var names = Set(rule.clauses.compactMap { clause -> String? in
            if case .enrolled(let pathway, _) = clause.condition { return pathway }
            return nil
        })
        for action in onEnter + onLeave {
            switch action {
            case .enrol(let pathway), .endEnrolment(let pathway): names.insert(pathway)
            default: break
            }
        }
        return names
    }

    public var questionnaires: Set<String> {
        Set(rule.clauses.compactMap { clause -> String? in
            switch clause.condition {
            case .score(let questionnaire, _, _, _), .band(let questionnaire, _, _): questionnaire
            default: nil
            }
        })
    }

    public var groups: Set<String> {
        Set((onEnter + onLeave).compactMap { action -> String? in
            switch action {
            case .joinGroup(let group), .leaveGroup(let group): group
            default: nil
            }
        })
    }
}

/// Reads a segment document (YAML or JSON). A rule error is reported at its line in the file
/// with its column, when `source` (the file's text) lets the rule be found in it.
public struct SegmentDecoder: DocumentDecoding {
    var problems: [PathwayProblem] = []
    let source: String?

    public static func decode(_ root: DocumentNode, source: String? = nil) throws(PathwayProblems) -> SegmentDefinition {
        var decoder = SegmentDecoder(source: source)
        let definition = decoder.definition(root)
        if let problems = decoder.sortedProblems { throw problems }
        guard let definition else { throw PathwayProblems(problems: [PathwayProblem(line: root.line, message: "not a segment")]) }
        return definition
    }

    static let keys: Set<String> = ["slug", "name", "rule", "on_enter", "on_leave"]

    private mutating func definition(_ root: DocumentNode) -> SegmentDefinition? {
        guard let entries = map(root, "the segment") else { return nil }
        let fields = keys(entries, allowed: Self.keys, in: "the segment")
        var slug: String?
        if let entry = fields["slug"], let text = scalar(entry.value, "slug") {
            if let valid = try? Validate.slug(text) { slug = valid } else { fail(entry.line, "slug must be lowercase letters, digits and - (got \"\(text.prefix(60))\")") }
        } else if fields["slug"] == nil { fail(root.line, "missing \"slug\"") }
        var name: LocalizedText?
        if let entry = fields["name"] { name = localized(entry.value, what: "name", variables: nil) } else { fail(root.line, "missing \"name\" ({zh: …, en: …})") }
        var rule: SegmentRule?
        if let entry = fields["rule"], let text = scalar(entry.value, "rule") {
            do throws(SegmentRuleError) { rule = try SegmentRule.parse(text) } catch {
                let (line, column) = Self.position(of: error, inRuleAt: entry.value.line, rule: text, file: source)
                fail(line, "column \(column): \(error.message.en) / 第 \(column) 列：\(error.message.zh)")
            }
        } else if fields["rule"] == nil { fail(root.line, "missing \"rule\"") }
        let onEnter = fields["on_enter"].map { actions($0, "on_enter") } ?? []
        let onLeave = fields["on_leave"].map { actions($0, "on_leave") } ?? []
        guard let slug, let name, let rule else { return nil }
        return SegmentDefinition(slug: slug, name: name, rule: rule, onEnter: onEnter, onLeave: onLeave)
    }

    private mutating func actions(_ entry: DocumentEntry, _ what: String) -> [SegmentAction] {
        guard let nodes = list(entry.value, what) else { return [] }
        if nodes.count > SegmentDefinition.maximumActions { fail(entry.line, "\(what) has more than \(SegmentDefinition.maximumActions) actions") }
        var actions: [SegmentAction] = []
        for node in nodes.prefix(SegmentDefinition.maximumActions) {
            guard let pairs = map(node, "an action of \(what)") else { continue }
            guard pairs.count == 1, let pair = pairs.first else {
                fail(node.line, "an action is one of enrol, end, tag, untag, group, leave_group with its value")
                continue
            }
            guard let value = scalar(pair.value, pair.key) else { continue }
            guard SegmentAction.keys.contains(pair.key) else {
                fail(pair.line, "unknown action \"\(pair.key.prefix(40))\" (enrol, end, tag, untag, group, leave_group)")
                continue
            }
            guard let action = SegmentAction(key: pair.key, value: value) else {
                fail(pair.line, "\(pair.key): \"\(value.prefix(60))\" is not \(pair.key == "tag" || pair.key == "untag" ? "key=value" : pair.key.hasSuffix("group") ? "a group id" : "a pathway slug")")
                continue
            }
            actions.append(action)
        }
        return actions
    }

    /// Where a rule error is in the file: the rule's lines are found in the file from the line
    /// its value starts on (a block scalar's lines follow its `|`), each at its indentation.
    static func position(of error: SegmentRuleError, inRuleAt valueLine: Int, rule: String, file: String?) -> (line: Int, column: Int) {
        let ruleLines = rule.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let file, error.line - 1 < ruleLines.count else { return (valueLine + error.line - 1, error.column) }
        let fileLines = file.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let target = ruleLines[error.line - 1]
        var searchFrom = valueLine - 1
        // The rule's earlier lines come first; each is found on a later file line than the last.
        for (index, text) in ruleLines.enumerated() where index <= error.line - 1 {
            let needle = text.trimmingCharacters(in: .whitespaces)
            guard let found = (searchFrom..<fileLines.count).first(where: { needle.isEmpty || fileLines[$0].contains(needle) }) else {
                return (valueLine + error.line - 1, error.column)
            }
            if index == error.line - 1, !needle.isEmpty, let range = fileLines[found].range(of: target.trimmingCharacters(in: .whitespaces)) {
                let leading = target.prefix { $0 == " " || $0 == "\t" }.count
                let column = fileLines[found].distance(from: fileLines[found].startIndex, to: range.lowerBound) - leading + error.column
                return (found + 1, max(1, column))
            }
            searchFrom = found + 1
        }
        return (valueLine + error.line - 1, error.column)
    }
}
