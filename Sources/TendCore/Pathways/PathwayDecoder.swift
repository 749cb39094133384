import Foundation

/// A parsed YAML or JSON document with the line of every node, so that problems in a
/// hand-written pathway file can be reported where they are. The parser lives outside
/// TendCore; this is the shape it hands over.
public indirect enum DocumentNode: Sendable, Equatable {
    case scalar(String, line: Int)
    case list([DocumentNode], line: Int)
    case map([DocumentEntry], line: Int)

    public var line: Int {
        switch self {
        case .scalar(_, let line), .list(_, let line), .map(_, let line): line
        }
    }
}

public struct DocumentEntry: Sendable, Equatable {
    public var key: String
    public var line: Int
    public var value: DocumentNode

    public init(key: String, line: Int, value: DocumentNode) {
        self.key = key
        self.line = line
        self.value = value
    }
}

public struct PathwayProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

public struct PathwayProblems: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [PathwayProblem]

    public init(problems: [PathwayProblem]) {
        self.problems = problems
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Turns a document into a `Pathway`, collecting every problem with its line.
public struct PathwayDecoder: DocumentDecoding {
    var problems: [PathwayProblem] = []

    public init() {}

    public static func decode(_ root: DocumentNode) throws(PathwayProblems) -> Pathway {
        var decoder = PathwayDecoder()
        let pathway = decoder.pathway(root)
        decoder.checkReferences(pathway)
        if let problems = decoder.sortedProblems { throw problems }
        guard let pathway else { throw PathwayProblems(problems: [PathwayProblem(line: root.line, message: "not a pathway")]) }
        return pathway
    }

    private mutating func pathway(_ root: DocumentNode) -> Pathway? {
        guard let entries = map(root, "the pathway") else { return nil }
        let fields = keys(entries, allowed: ["pathway", "version", "name", "anchors", "steps", "refill"], in: "the pathway")
        var id = ""
        if let entry = fields["pathway"], let text = scalar(entry.value, "pathway") {
            id = text
            if (try? Validate.slug(text)) == nil { fail(entry.line, "pathway id \"\(text)\" must be lowercase letters, digits and hyphens") }
        } else if fields["pathway"] == nil {
            fail(root.line, "missing \"pathway\" (the pathway's id)")
        }
        var version = 1
        if let entry = fields["version"], let text = scalar(entry.value, "version") {
            if let number = Int(text), (1...1_000_000).contains(number) { version = number } else { fail(entry.line, "version must be a whole number from 1 to 1000000") }
        }
        var name = LocalizedText(en: id, zh: id)
        if let entry = fields["name"] {
            name = localized(entry.value, what: "name", variables: nil) ?? name
        } else {
            fail(root.line, "missing \"name\" with zh and en")
        }
        var anchors: [String] = []
        if let entry = fields["anchors"], let items = list(entry.value, "anchors") {
            if items.count > Self.maximumAnchors { fail(entry.line, "a pathway has at most \(Self.maximumAnchors) anchors") }
            for item in items.prefix(Self.maximumAnchors) {
                guard let text = scalar(item, "an anchor") else { continue }
                if text.isEmpty || !text.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) {
                    fail(item.line, "anchor \"\(text)\" must be lowercase letters, digits or _")
                } else if anchors.contains(text) || text == Pathway.enrolmentAnchor {
                    fail(item.line, "anchor \"\(text)\" is declared twice (enrolment is always there)")
                } else {
                    anchors.append(text)
                }
            }
        }
        var refill: String?
        if let entry = fields["refill"], let text = scalar(entry.value, "refill") {
            if text.isEmpty || text.count > Bounds.nameLength {
                fail(entry.line, "refill names the drug or drug class whose supply the pathway follows (1 to \(Bounds.nameLength) characters)")
            } else if !anchors.contains(Pathway.runOutAnchor) {
                fail(entry.line, "a refill pathway declares the anchor \(Pathway.runOutAnchor) (the first day without supply)")
            } else {
                refill = text
            }
        }
        var steps: [PathwayStep] = []
        if let entry = fields["steps"], let items = list(entry.value, "steps") {
            if items.isEmpty { fail(entry.line, "a pathway needs at least one step") }
            if items.count > Bounds.pathwaySteps { fail(entry.line, "a pathway has at most \(Bounds.pathwaySteps) steps") }
            for item in items.prefix(Bounds.pathwaySteps) {
                if let step = step(item, anchors: [Pathway.enrolmentAnchor] + anchors) {
                    if steps.contains(where: { $0.id == step.id }) {
                        fail(step.line, "step id \"\(step.id)\" is used twice")
                    } else {
                        steps.append(step)
                    }
                }
            }
        } else if fields["steps"] == nil {
            fail(root.line, "missing \"steps\"")
        }
        return Pathway(id: id, version: version, name: name, anchors: anchors, steps: steps, refill: refill)
    }

    static let maximumAnchors = 20

    static let stepKeys: Set<String> = [
        "id", "anchor", "offset", "at", "window", "repeat", "channels", "message", "task", "priority",
        "confirm", "questionnaire", "if_unconfirmed", "only_tags", "channels_by_age", "missing_alert",
    ]

    private mutating func step(_ node: DocumentNode, anchors: [String]) -> PathwayStep? {
        guard let entries = map(node, "a step") else { return nil }
        let fields = keys(entries, allowed: Self.stepKeys, in: "a step")
        guard let idEntry = fields["id"], let id = scalar(idEntry.value, "id"), !id.isEmpty else {
            fail(node.line, "a step needs an \"id\"")
            return nil
        }
        guard id.count <= 40, id.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-") }) else {
            fail(idEntry.line, "step id \"\(id.prefix(40))\" must be at most 40 lowercase letters, digits, - or _")
            return nil
        }
        var anchor = Pathway.enrolmentAnchor
        if let entry = fields["anchor"], let text = scalar(entry.value, "anchor") {
            if anchors.contains(text) {
                anchor = text
            } else {
                fail(entry.line, "unknown anchor \"\(text)\" in step \(id) (declared: \(anchors.joined(separator: ", ")))")
            }
        }
        var offset = CalendarOffset()
        if let entry = fields["offset"], let text = scalar(entry.value, "offset") {
            if let parsed = CalendarOffset(text) { offset = parsed } else {
                fail(entry.line, "bad offset \"\(text)\" in step \(id): write e.g. -7d, +1d, 2w or 3mo")
            }
        }
        var at = LocalTime(hour: 9, minute: 0)
        if let entry = fields["at"], let text = scalar(entry.value, "at") {
            if let parsed = LocalTime(text) { at = parsed } else { fail(entry.line, "bad time \"\(text)\" in step \(id): write HH:MM, e.g. 08:00") }
        } else {
            fail(node.line, "step \(id) needs \"at\", the local time, e.g. \"09:00\"")
        }
        var timing = PathwayStep.Timing.exact
        if let entry = fields["window"], let text = scalar(entry.value, "window") {
            if let parsed = PathwayStep.Timing(rawValue: text) { timing = parsed } else { fail(entry.line, "window must be exact or preferred") }
        }
        var recurrence: Recurrence?
        if let entry = fields["repeat"] {
            recurrence = self.recurrence(entry.value, step: id)
        }
        let channels = channelList(fields["channels"], step: id)
        let action = stepAction(fields, node: node, id: id, anchors: anchors, channels: channels)
        var confirm = false
        if let entry = fields["confirm"], let flag = boolean(entry.value, "confirm") { confirm = flag }
        let questionnaire = fields["questionnaire"].flatMap { scalar($0.value, "questionnaire") }
        let ifUnconfirmed = fields["if_unconfirmed"].flatMap { scalar($0.value, "if_unconfirmed") }
        let onlyTags = onlyTags(fields["only_tags"])
        let ageRules = ageRules(fields["channels_by_age"], step: id)
        var missingAlert: PathwayStep.MissingAlert?
        if let entry = fields["missing_alert"] { missingAlert = self.missingAlert(entry, step: id, questionnaire: questionnaire) }
        // A step with problems is still returned, so other steps can refer to it without a
        // second, misleading error; the decode fails on the problems anyway.
        return PathwayStep(
            id: id, anchor: anchor, offset: offset, at: at, timing: timing, recurrence: recurrence, channels: channels,
            action: action ?? .message(LocalizedText(en: "", zh: "")), confirm: confirm, questionnaire: questionnaire, ifUnconfirmed: ifUnconfirmed,
            onlyTags: onlyTags, channelsByAge: ageRules, missingAlert: missingAlert, line: node.line)
    }

    /// `missing_alert: 2d`, or `missing_alert: {after: 2d, level: urgent}`; whole days, 1 to 60.
    private mutating func missingAlert(_ entry: DocumentEntry, step id: String, questionnaire: String?) -> PathwayStep.MissingAlert? {
        guard questionnaire != nil else {
            fail(entry.line, "missing_alert in step \(id) needs a questionnaire: it watches for responses to it")
            return nil
        }
        var afterText: String?
        var level = TaskPriority.high
        if case .scalar = entry.value {
            afterText = scalar(entry.value, "missing_alert")
        } else if let entries = map(entry.value, "missing_alert") {
            let fields = keys(entries, allowed: ["after", "level"], in: "missing_alert")
            afterText = fields["after"].flatMap { scalar($0.value, "after") }
            if let levelEntry = fields["level"], let text = scalar(levelEntry.value, "level") {
                if let parsed = TaskPriority(rawValue: text) { level = parsed } else { fail(levelEntry.line, "level must be low, normal, high or urgent") }
            }
        }
        guard let afterText, let offset = CalendarOffset(afterText), offset.months == 0, (1...60).contains(offset.days) else {
            fail(entry.line, "missing_alert in step \(id) needs a whole number of days from 1d to 60d, e.g. 2d")
            return nil
        }
        return PathwayStep.MissingAlert(afterDays: offset.days, level: level)
    }

    /// The step's message to the patient or task for staff, exactly one of them.
    private mutating func stepAction(_ fields: [String: DocumentEntry], node: DocumentNode, id: String, anchors: [String], channels: [ContactChannel]) -> PathwayStep.Action? {
        let variables = Set(["patient.name", "program.name", "occurrence", "due.date", "due.time", "confirm.link", "form.link"] + anchors.map { "\($0).date" })
        var action: PathwayStep.Action?
        var priority = TaskPriority.normal
        if let entry = fields["priority"], let text = scalar(entry.value, "priority") {
            if let parsed = TaskPriority(rawValue: text) { priority = parsed } else { fail(entry.line, "priority must be low, normal, high or urgent") }
        }
        switch (fields["message"], fields["task"]) {
        case (let message?, nil):
            if let text = localized(message.value, what: "message of step \(id)", variables: variables) { action = .message(text) }
        case (nil, let task?):
            if let text = localized(task.value, what: "task of step \(id)", variables: variables) { action = .task(text, priority: priority) }
        case (_?, let task?):
            fail(task.line, "step \(id) has both a message and a task; give one")
        case (nil, nil):
            fail(node.line, "step \(id) needs a \"message\" (to the patient) or a \"task\" (for staff)")
        }
        if case .message = action, channels.isEmpty, let listed = fields["channels"] {
            fail(listed.line, "step \(id) lists no channel")
        }
        return action
    }

    /// `only_tags`: the step goes only to patients with all of them.
    private mutating func onlyTags(_ entry: DocumentEntry?) -> [PatientTag] {
        var onlyTags: [PatientTag] = []
        if let entry, let items = list(entry.value, "only_tags") {
            if items.count > Bounds.tagFilterTerms { fail(entry.line, "only_tags has at most \(Bounds.tagFilterTerms) tags") }
            for item in items.prefix(Bounds.tagFilterTerms) {
                guard let text = scalar(item, "a tag") else { continue }
                do { onlyTags.append(try PatientTag.parse(text, field: "only_tags")) } catch { fail(item.line, "bad tag \"\(text)\": write key=value") }
            }
        }
        return onlyTags
    }

    /// `channels_by_age`: other channels from an age on.
    private mutating func ageRules(_ entry: DocumentEntry?, step id: String) -> [PathwayStep.AgeRule] {
        var ageRules: [PathwayStep.AgeRule] = []
        if let entry, let items = list(entry.value, "channels_by_age") {
            if items.count > 10 { fail(entry.line, "channels_by_age has at most 10 rules") }
            for item in items.prefix(10) {
                guard let ruleEntries = map(item, "an age rule") else { continue }
                let rule = keys(ruleEntries, allowed: ["min_age", "channels"], in: "an age rule")
                guard let ageEntry = rule["min_age"], let text = scalar(ageEntry.value, "min_age"), let age = Int(text), (0...130).contains(age) else {
                    fail(item.line, "an age rule needs min_age, a whole number of years")
                    continue
                }
                let ruleChannels = channelList(rule["channels"], step: id)
                if ruleChannels.isEmpty { fail(item.line, "an age rule needs channels") }
                ageRules.append(.init(minimumAge: age, channels: ruleChannels))
            }
        }
        return ageRules
    }

    private mutating func recurrence(_ node: DocumentNode, step: String) -> Recurrence? {
        guard let entries = map(node, "repeat") else { return nil }
        let fields = keys(entries, allowed: ["every", "count", "for", "until"], in: "repeat")
        guard let everyEntry = fields["every"], let text = scalar(everyEntry.value, "every") else {
            fail(node.line, "repeat in step \(step) needs \"every\", e.g. 21d")
            return nil
        }
        guard let every = CalendarOffset(text), every.isPositive else {
            fail(everyEntry.line, "bad repeat interval \"\(text)\" in step \(step): write a positive span such as 1d, 21d or 3mo")
            return nil
        }
        let limits = ["count", "for", "until"].compactMap { fields[$0] }
        guard limits.count == 1, let limit = limits.first else {
            fail(node.line, "repeat in step \(step) needs exactly one of count, for, until: stopped")
            return nil
        }
        guard let value = scalar(limit.value, limit.key) else { return nil }
        switch limit.key {
        case "count":
            guard let count = Int(value), (1...PathwayPlanner.maximumOccurrences).contains(count) else {
                fail(limit.line, "repeat count must be a whole number from 1 to \(PathwayPlanner.maximumOccurrences)")
                return nil
            }
            return Recurrence(every: every, limit: .count(count))
        case "for":
            guard let span = CalendarOffset(value), span.isPositive else {
                fail(limit.line, "bad repeat span \"\(value)\" in step \(step): write e.g. 28d")
                return nil
            }
            return Recurrence(every: every, limit: .span(span))
        default:
            guard value == "stopped" else {
                fail(limit.line, "until must be \"stopped\" (the recurrence runs until the enrolment ends)")
                return nil
            }
            return Recurrence(every: every, limit: .openEnded)
        }
    }

    private mutating func channelList(_ entry: DocumentEntry?, step: String) -> [ContactChannel] {
        guard let entry, let items = list(entry.value, "channels") else { return [] }
        if items.count > ContactChannel.allCases.count { fail(entry.line, "a step lists at most \(ContactChannel.allCases.count) channels") }
        var channels: [ContactChannel] = []
        for item in items.prefix(ContactChannel.allCases.count) {
            guard let text = scalar(item, "a channel") else { continue }
            if let channel = ContactChannel(rawValue: text) { channels.append(channel) } else {
                fail(item.line, "unknown channel \"\(text)\" in step \(step) (use \(ContactChannel.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        return channels
    }

    /// Escalation references must name an earlier-or-same confirming step, and may not loop.
    private mutating func checkReferences(_ pathway: Pathway?) {
        guard let pathway else { return }
        for step in pathway.steps {
            guard let target = step.ifUnconfirmed else { continue }
            guard let referenced = pathway.step(target) else {
                fail(step.line, "step \(step.id) escalates from unknown step \"\(target)\"")
                continue
            }
            if !referenced.confirm && referenced.ifUnconfirmed == nil {
                fail(step.line, "step \(step.id) escalates from \(target), which does not ask for confirmation")
            }
            // Follow the chain; coming back to this step is a cycle.
            var seen: [String] = [step.id]
            var current: PathwayStep? = referenced
            while let link = current {
                if seen.contains(link.id) {
                    fail(step.line, "cycle in escalation: \((seen + [link.id]).joined(separator: " → "))")
                    break
                }
                seen.append(link.id)
                current = link.ifUnconfirmed.flatMap(pathway.step)
            }
        }
    }
}

/// `{{name}}` placeholders in message templates.
public enum Template {
    public static func variables(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            names.append(rest[open.upperBound..<close.lowerBound].trimmed)
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// Fills the placeholders; unknown ones are left visible rather than silently dropped.
    public static func render(_ text: String, _ values: [String: String]) -> String {
        var output = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            output += rest[..<open.lowerBound]
            let name = rest[open.upperBound..<close.lowerBound].trimmed
            output += values[name] ?? "{{\(name)}}"
            rest = rest[close.upperBound...]
        }
        return output + rest
    }
}
