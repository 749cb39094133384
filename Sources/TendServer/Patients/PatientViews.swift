import Foundation
import TendCore
import TendEngine
import TendStore

/// What the patient page shows, built from the patient's one audited record; the template
/// `patient.mustache` reads these properties by name.
struct PatientPageView {
    var program: ProgramView
    var patient: PatientView
    var canWrite: Bool
    var showAudit: Bool
    var schedule: ScheduleView
    var alerts: [AlertLine]
    var charts: [ChartView]
    var medication: MedicationView
    var segments: [SegmentWhyView]
    var responses: [ResponseView]
    var thread: [ThreadLine]
    var portalActivity: [EventLine]
    var audit: [EventLine]

    struct ThreadLine {
        var outgoing: Bool
        var text: String
        var at: String
        var place: String
        var level: String?

        init(_ message: StoredMessage, groupNames: [String: String], strings t: [String: String]) {
            outgoing = message.direction == "out"
            text = message.text
            at = TaskConsole.format(message.sentAt)
            place = message.groupID.flatMap { groupNames[$0] } ?? (t["inbox_one_to_one"] ?? "1:1")
            level = message.level.map { t["level_\($0.rawValue)"] ?? $0.rawValue }
        }
    }

    struct AlertLine {
        var rule: String
        var priority: String
        var urgent: Bool
        var status: String
        var breachesLabel: String
        var breaches: Int
        var openedAt: String

        init(_ alert: ObservationAlert, strings t: [String: String], locale: AppLocale) {
            rule = AlertConsole.title(alert, strings: t, locale: locale)
            priority = alert.priority.label.text(in: locale)
            urgent = alert.priority == .urgent
            status = t["alert_status_\(alert.status.rawValue)"] ?? alert.status.rawValue
            breachesLabel = AlertConsole.breachesLabel(alert, strings: t)
            breaches = alert.breaches
            openedAt = TaskConsole.format(alert.openedAt)
        }
    }

    /// One line of the portal activity or the audit trail.
    struct EventLine {
        var at: String
        var action: String
        var actor: String
        var requestID: String
    }
}

/// The program a console page belongs to, as its links and heading show it.
struct ProgramView {
    var name: String
    var slug: String
}

/// A patient's profile, tags and consents as the page and the edit link show them.
struct PatientView {
    var id: String
    var name: String
    var externalID: String
    var status: String
    var statusLabel: String
    var sexLabel: String
    var age: Int?
    var phone: String
    var idNumber: String
    var birthDate: String
    var address: String
    var locale: String
    var timeZone: String
    var contactWindow: String
    var quietHours: String
    var channels: String
    var caregivers: [Caregiver]
    var tags: [Tag]
    var consents: [Consent]

    struct Caregiver {
        var name: String
        var relation: String
        var phone: String
    }

    struct Tag {
        var text: String
        var source: String
        var setAt: String
    }

    struct Consent {
        var kind: String
        var version: String
        var grantedAt: String
        var withdrawnAt: String?
    }

    init(_ patient: Patient, now: Date, strings t: [String: String]) {
        let profile = patient.profile
        id = patient.id
        name = profile.name
        externalID = profile.externalID ?? ""
        status = profile.status.rawValue
        statusLabel = t["status_\(profile.status.rawValue)"] ?? ""
        sexLabel = t["sex_\(profile.sex.rawValue)"] ?? ""
        age = profile.age(on: now)
        phone = profile.phone ?? "—"
        idNumber = profile.idNumber ?? "—"
        birthDate = profile.birthDate ?? "—"
        address = profile.address ?? "—"
        locale = profile.locale.rawValue
        timeZone = profile.timeZone
        contactWindow = profile.contactWindow?.text ?? "—"
        quietHours = profile.quietHours?.text ?? "—"
        channels = profile.channels.map(\.rawValue).joined(separator: ", ")
        caregivers = profile.caregivers.map { Caregiver(name: $0.name, relation: $0.relation, phone: $0.phone ?? "") }
        tags = patient.tags.map { Tag(text: $0.tag.text, source: $0.source, setAt: TaskConsole.format($0.setAt)) }
        consents = patient.consents.map {
            Consent(kind: $0.kind, version: $0.version, grantedAt: TaskConsole.format($0.grantedAt), withdrawnAt: $0.withdrawnAt.map(TaskConsole.format))
        }
    }
}

/// The schedule section: enrolments with their anchors, the touchpoints, and the pathways to enrol in.
struct ScheduleView {
    var enrolments: [EnrolmentLine]
    var touchpoints: [TouchpointLine]
    var pathways: [PathwayChoice]

    struct EnrolmentLine {
        var id: String
        var pathwayName: String
        var statusLabel: String
        var active: Bool
        var paused: Bool
        var cancelled: Bool
        var anchors: [Anchor]
    }

    struct Anchor {
        var name: String
        var date: String
    }

    struct TouchpointLine {
        var localDue: String
        var step: String
        var occurrence: Int
        /// The step recurs, so the occurrence number tells its touchpoints apart.
        var multiple: Bool
        var task: Bool
        var channels: String
        var status: String
        var statusLabel: String
        var channel: String?
        var lastError: String?
    }

    struct PathwayChoice {
        var slug: String
        var name: String
    }

    init(_ record: PatientRecord, pathways: [StoredPathway], strings t: [String: String], locale: AppLocale) {
        let names = record.pathways.mapValues { $0.pathway.name.text(in: locale) }
        enrolments = record.enrolments.map { enrolment in
            EnrolmentLine(
                id: enrolment.id, pathwayName: names[enrolment.pathwayID] ?? enrolment.pathwayID,
                statusLabel: t["enrolment_\(enrolment.status.rawValue)"] ?? enrolment.status.rawValue,
                active: enrolment.status == .active, paused: enrolment.status == .paused, cancelled: enrolment.status == .cancelled,
                // The pathway's own anchors (the revisit date …) before the enrolment date.
                anchors: enrolment.anchors.sorted { ($0.key == Pathway.enrolmentAnchor ? 1 : 0, $0.key) < ($1.key == Pathway.enrolmentAnchor ? 1 : 0, $1.key) }
                    .map { Anchor(name: $0.key, date: $0.value.description) })
        }
        let recurring = Set(Dictionary(grouping: record.touchpoints, by: { "\($0.enrolmentID)|\($0.stepID)" }).filter { $0.value.count > 1 }.keys)
        touchpoints = record.touchpoints.map { touchpoint in
            TouchpointLine(
                localDue: touchpoint.localDue, step: touchpoint.stepID, occurrence: touchpoint.occurrence,
                multiple: recurring.contains("\(touchpoint.enrolmentID)|\(touchpoint.stepID)"), task: touchpoint.isTask,
                channels: touchpoint.isTask ? "—" : touchpoint.channels.map(\.rawValue).joined(separator: ", "),
                status: touchpoint.status.rawValue, statusLabel: t["tp_\(touchpoint.status.rawValue)"] ?? touchpoint.status.rawValue,
                channel: touchpoint.channel?.rawValue, lastError: touchpoint.lastError)
        }
        self.pathways = pathways.map { PathwayChoice(slug: $0.pathway.id, name: $0.pathway.name.text(in: locale)) }
    }
}

/// One option of a select or filter.
struct ChoiceView {
    var value: String
    var label: String
    var selected: Bool
}

/// The patient list with its filters and search.
struct PatientListView {
    var program: ProgramView
    var canWrite: Bool
    var filter: Filter
    var statuses: [ChoiceView]
    /// The rows, written by `PatientConsole.rowsHTML`.
    var rowsHTML: String
    var patientCount: Int
    var error: String?
    var nextURL: String?

    struct Filter {
        var tags: String
        var notTags: String
    }
}

/// Adding or editing a patient: the fields with what was typed or stored, and the problem.
struct PatientFormView {
    var program: ProgramView
    var formTitle: String
    var action: String
    var fields: [Field]
    var error: String?

    struct Field {
        var name: String
        var label: String
        var value = ""
        var placeholder = ""
        var required = false
        var invalid: Bool
        var isSelect = false
        var options: [ChoiceView] = []
    }
}

/// The program's pathways, step by step.
struct PathwaysView {
    var program: ProgramView
    var pathways: [PathwayLine]

    struct PathwayLine {
        var slug: String
        var version: Int
        var name: String
        var anchors: String
        var steps: [Step]
    }

    struct Step {
        var id: String
        var when: String
        var task: Bool
        var confirm: Bool
        /// The step that follows up when this one is not confirmed.
        var escalation: String?
        var channels: String
        var repeatText: String?
        var text: String

        init(_ step: PathwayStep, strings t: [String: String], locale: AppLocale) {
            switch step.action {
            case .message(let message): text = message.text(in: locale); task = false
            case .task(let note, _): text = note.text(in: locale); task = true
            }
            id = step.id
            when = "\(step.anchor) \(step.offset.days >= 0 && step.offset.months >= 0 ? "+" : "")\(step.offset) \(step.at)"
            confirm = step.confirm
            escalation = step.ifUnconfirmed
            channels = task ? t["task"] ?? "" : step.channels.map(\.rawValue).joined(separator: ", ")
            repeatText = step.recurrence.map { recurrence in
                switch recurrence.limit {
                case .count(let count): "↻ \(recurrence.every) × \(count)"
                case .span(let span): "↻ \(recurrence.every) / \(span)"
                case .openEnded: "↻ \(recurrence.every) …"
                }
            }
        }
    }
}
