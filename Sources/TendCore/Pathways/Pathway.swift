public import Foundation

/// A follow-up pathway (随访方案): steps placed relative to named anchors, validated from a
/// hand-written file. See docs/pathways.md for the format.
public struct Pathway: Sendable, Equatable, Codable {
    public var id: String
    public var version: Int
    public var name: LocalizedText
    /// Anchor names the steps may use; `enrolment` is always available.
    public var anchors: [String]
    public var steps: [PathwayStep]
    /// A refill pathway follows the supply of one drug or drug class: a dispense of it enrols
    /// the patient with the anchor `run_out` (the first day without supply), and each later
    /// dispense that moves the run-out ends that enrolment (its unsent steps cancelled) and
    /// starts the next one.
    public var refill: String?

    public static let enrolmentAnchor = "enrolment"
    public static let runOutAnchor = "run_out"

    public init(id: String, version: Int, name: LocalizedText, anchors: [String], steps: [PathwayStep], refill: String? = nil) {
        self.id = id
        self.version = version
        self.name = name
        self.anchors = anchors
        self.steps = steps
        self.refill = refill
    }

    public var allAnchors: [String] { [Self.enrolmentAnchor] + anchors.filter { $0 != Self.enrolmentAnchor } }

    public func step(_ id: String) -> PathwayStep? { steps.first { $0.id == id } }

    /// Whether some step repeats until stopped, so its enrolments need their horizon extended.
    public var isOpenEnded: Bool {
        steps.contains { step in
            if case .openEnded? = step.recurrence?.limit { return true } else { return false }
        }
    }
}

/// A span of calendar time: days and months, either may be negative.
public struct CalendarOffset: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public var months: Int
    public var days: Int

    public init(months: Int = 0, days: Int = 0) {
        self.months = months
        self.days = days
    }

    /// `-7d`, `+1d`, `0d`, `2w`, `3mo`, `1y`, at most `Bounds.offsetDays` days or
    /// `Bounds.offsetMonths` months either way.
    public init?(_ text: String) {
        var body = Substring(text.trimmed.lowercased())
        var sign = 1
        if body.hasPrefix("-") { sign = -1; body = body.dropFirst() } else if body.hasPrefix("+") { body = body.dropFirst() }
        let digits = body.prefix(while: { $0.isNumber })
        let unit = body.dropFirst(digits.count)
        guard !digits.isEmpty, digits.count <= 5, let value = Int(digits) else { return nil }
        switch unit {
        case "d": self.init(days: sign * value)
        case "w": self.init(days: sign * value * 7)
        case "mo", "m": self.init(months: sign * value)
        case "y": self.init(months: sign * value * 12)
        default: return nil
        }
        guard abs(days) <= Bounds.offsetDays, abs(months) <= Bounds.offsetMonths else { return nil }
    }

    public var isZero: Bool { months == 0 && days == 0 }
    public var isPositive: Bool { months > 0 || (months == 0 && days > 0) }

    public func applied(to date: LocalDate, times: Int = 1) -> LocalDate {
        date.adding(months: months * times).adding(days: days * times)
    }

    public var description: String {
        months != 0 ? "\(months)mo" + (days != 0 ? "\(days)d" : "") : "\(days)d"
    }
}

public struct Recurrence: Sendable, Equatable, Codable {
    public enum Limit: Sendable, Equatable, Codable {
        /// This many occurrences in all.
        case count(Int)
        /// Occurrences whose date falls within this span from the first.
        case span(CalendarOffset)
        /// Until the enrolment ends; materialised within a rolling horizon.
        case openEnded
    }

    public var every: CalendarOffset
    public var limit: Limit

    public init(every: CalendarOffset, limit: Limit) {
        self.every = every
        self.limit = limit
    }
}

public struct PathwayStep: Sendable, Equatable, Codable {
    public enum Action: Sendable, Equatable, Codable {
        /// A message through the patient's channels.
        case message(LocalizedText)
        /// Work for staff, e.g. a call.
        case task(LocalizedText, priority: TaskPriority)
    }

    public enum Timing: String, Sendable, Equatable, Codable {
        /// At the step's time (moved out of quiet hours).
        case exact
        /// Moved into the patient's preferred contact window when they have one.
        case preferred
    }

    public struct AgeRule: Sendable, Equatable, Codable {
        public var minimumAge: Int
        public var channels: [ContactChannel]

        public init(minimumAge: Int, channels: [ContactChannel]) {
            self.minimumAge = minimumAge
            self.channels = channels
        }
    }

    public var id: String
    public var anchor: String
    public var offset: CalendarOffset
    public var at: LocalTime
    public var timing: Timing
    public var recurrence: Recurrence?
    public var channels: [ContactChannel]
    public var action: Action
    public var confirm: Bool
    public var questionnaire: String?
    /// Runs only if that step is still unconfirmed when this one is due: an escalation.
    public var ifUnconfirmed: String?
    /// Only for patients with all these tags.
    public var onlyTags: [PatientTag]
    public var channelsByAge: [AgeRule]
    /// For a questionnaire step: raise an alert when a patient leaves one unanswered this long.
    public var missingAlert: MissingAlert?
    /// The line of the step in its file, for messages.
    public var line: Int

    public init(
        id: String, anchor: String, offset: CalendarOffset, at: LocalTime, timing: Timing, recurrence: Recurrence?,
        channels: [ContactChannel], action: Action, confirm: Bool, questionnaire: String?, ifUnconfirmed: String?,
        onlyTags: [PatientTag], channelsByAge: [AgeRule], missingAlert: MissingAlert? = nil, line: Int
    ) {
        self.id = id
        self.anchor = anchor
        self.offset = offset
        self.at = at
        self.timing = timing
        self.recurrence = recurrence
        self.channels = channels
        self.action = action
        self.confirm = confirm
        self.questionnaire = questionnaire
        self.ifUnconfirmed = ifUnconfirmed
        self.onlyTags = onlyTags
        self.channelsByAge = channelsByAge
        self.missingAlert = missingAlert
        self.line = line
    }

    /// "No check-in for 2 days": a questionnaire sent `afterDays` days ago or more with no
    /// response from the patient since opens an alert of `level`.
    public struct MissingAlert: Sendable, Equatable, Codable {
        public var afterDays: Int
        public var level: TaskPriority

        public init(afterDays: Int, level: TaskPriority = .high) {
            self.afterDays = afterDays
            self.level = level
        }
    }
}

public enum TaskPriority: String, Sendable, Equatable, Codable, CaseIterable, Comparable {
    case low, normal, high, urgent

    var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
    public static func < (lhs: TaskPriority, rhs: TaskPriority) -> Bool { lhs.rank < rhs.rank }
}

// MARK: - Planning

/// What planning needs to know about a patient.
public struct PlanningPatient: Sendable, Equatable {
    public var timeZone: TimeZone
    public var quietHours: DailyWindow?
    public var contactWindow: DailyWindow?
    public var channels: [ContactChannel]
    public var age: Int?
    public var tags: Set<PatientTag>

    public init(timeZone: TimeZone, quietHours: DailyWindow?, contactWindow: DailyWindow?, channels: [ContactChannel] = [.inApp], age: Int? = nil, tags: Set<PatientTag> = []) {
        self.timeZone = timeZone
        self.quietHours = quietHours
        self.contactWindow = contactWindow
        self.channels = channels
        self.age = age
        self.tags = tags
    }
}

/// One contact planned for one patient: a touchpoint before it is stored.
public struct PlannedTouchpoint: Sendable, Equatable {
    public var stepID: String
    /// 1-based occurrence of a recurring step (1 for a one-off step).
    public var occurrence: Int
    /// Wall-clock time in the patient's zone, after quiet hours and window adjustments.
    public var local: LocalDateTime
    public var dueAt: Date
    public var channels: [ContactChannel]
    public var isTask: Bool
    public var confirm: Bool
    public var ifUnconfirmed: String?

    /// Stable per enrolment: `step#occurrence`.
    public var key: String { "\(stepID)#\(occurrence)" }
}

public enum PathwayPlanner {
    /// Safety net for open-ended and long recurrences.
    public static let maximumOccurrences = 1000

    /// Every touchpoint of the pathway for a patient, in due order. Steps whose anchor has no
    /// date are skipped (an anchor set later re-plans). Open-ended recurrences stop at `horizon`.
    public static func plan(_ pathway: Pathway, anchors: [String: LocalDate], patient: PlanningPatient, horizon: LocalDate) -> [PlannedTouchpoint] {
        var planned: [PlannedTouchpoint] = []
        for step in pathway.steps {
            guard let anchorDate = anchors[step.anchor] else { continue }
            guard step.onlyTags.allSatisfy({ patient.tags.contains($0) }) else { continue }
            let channels = channels(for: step, patient: patient)
            let first = step.offset.applied(to: anchorDate)
            var occurrence = 0
            while occurrence < maximumOccurrences {
                let date: LocalDate
                if let recurrence = step.recurrence {
                    // Counted from the anchor each time, so month ends do not drift (Nov 30 + 3mo steps: Feb 28, May 30 …).
                    date = CalendarOffset(months: step.offset.months + recurrence.every.months * occurrence,
                                          days: step.offset.days + recurrence.every.days * occurrence).applied(to: anchorDate)
                    if case .count(let count) = recurrence.limit, occurrence >= count { break }
                    if case .span(let span) = recurrence.limit, date >= span.applied(to: first) { break }
                    if case .openEnded = recurrence.limit, date > horizon { break }
                } else {
                    if occurrence > 0 { break }
                    date = first
                }
                occurrence += 1
                let local = adjusted(LocalDateTime(date: date, time: step.at), timing: step.timing, patient: patient)
                planned.append(PlannedTouchpoint(
                    stepID: step.id, occurrence: occurrence, local: local, dueAt: local.instant(in: patient.timeZone),
                    channels: channels, isTask: { if case .task = step.action { return true } else { return false } }(),
                    confirm: step.confirm, ifUnconfirmed: step.ifUnconfirmed))
            }
        }
        return planned.sorted { ($0.dueAt, $0.stepID, $0.occurrence) < ($1.dueAt, $1.stepID, $1.occurrence) }
    }

    static func channels(for step: PathwayStep, patient: PlanningPatient) -> [ContactChannel] {
        if let age = patient.age, let rule = step.channelsByAge.filter({ age >= $0.minimumAge }).max(by: { $0.minimumAge < $1.minimumAge }) {
            return rule.channels
        }
        if !step.channels.isEmpty { return step.channels }
        return patient.channels
    }

    /// Moves a wall-clock time into the preferred window (same day) when the step asks for
    /// it, then out of quiet hours to the moment they end.
    public static func adjusted(_ time: LocalDateTime, timing: PathwayStep.Timing, patient: PlanningPatient) -> LocalDateTime {
        var result = time
        if timing == .preferred, let window = patient.contactWindow, !window.contains(result.time) {
            result.time = LocalTime(minutes: window.start)
        }
        if let quiet = patient.quietHours, quiet.contains(result.time) {
            let end = LocalTime(minutes: quiet.end)
            if quiet.start > quiet.end, result.time.minutes >= quiet.start {
                result = LocalDateTime(date: result.date.adding(days: 1), time: end)
            } else {
                result.time = end
            }
        }
        return result
    }
}

extension PathwayStep {
    /// The day of the current cycle on `date` (day 1 is the cycle's start) for the step's
    /// `occurrence`: a repeating step's cycle starts at its anchor plus one period per earlier
    /// occurrence. Nil when the anchor is not set or the date is before the cycle.
    public func cycleDay(occurrence: Int, anchors: [String: LocalDate], on date: LocalDate) -> Int? {
        guard let anchorDate = anchors[anchor], occurrence >= 1 else { return nil }
        var start = anchorDate
        if let every = recurrence?.every, occurrence > 1 {
            start = start.adding(months: every.months * (occurrence - 1)).adding(days: every.days * (occurrence - 1))
        }
        let day = date.dayNumber - start.dayNumber + 1
        return day >= 1 ? day : nil
    }
}
