public import Foundation
import TendCore
public import TendStore

/// Missing-data alerts ("no check-in for 2 days"): for each questionnaire step with a
/// `missing_alert`, a touchpoint sent that long ago with no response from its patient since
/// opens an alert (`missing.<questionnaire>`) with a task, or joins the patient's open one. Run by
/// `tend dispatch` and the worker after each pass; each touchpoint is counted once.
public struct MissingCheckInSweep: Sendable {
    let stores: Stores
    let questionnaires: QuestionnaireActions
    /// How far back a sweep looks past the rule's delay, so a worker that was down catches up.
    static let catchUp: TimeInterval = 7 * 86_400
    static let batch = 1000

    public init(stores: Stores, questionnaires: QuestionnaireActions) {
        self.stores = stores
        self.questionnaires = questionnaires
    }

    /// Opens or joins the alerts due by `now`; returns how many touchpoints it counted.
    @discardableResult
    public func run(now: Date) async throws -> Int {
        var counted = 0
        for program in try await stores.programs.all() {
            var onCall: String??
            for stored in try await stores.pathways.all(programID: program.id) {
                for step in stored.pathway.steps {
                    guard let questionnaireID = step.questionnaire, let rule = step.missingAlert else { continue }
                    let dueBefore = now.addingTimeInterval(-Double(rule.afterDays) * 86_400)
                    var alertRule: ObservationAlertRule?
                    while true {
                        let waiting = try await stores.responses.unanswered(
                            programID: program.id, pathwayID: stored.id, stepID: step.id, questionnaireID: questionnaireID,
                            dueAfter: dueBefore.addingTimeInterval(-Self.catchUp), dueBefore: dueBefore, limit: Self.batch)
                        if waiting.isEmpty { break }
                        if onCall == nil { onCall = .some(try await stores.messages.settings(programID: program.id).onCallStaffID) }
                        if alertRule == nil {
                            let name = try await questionnaires.definition(programID: program.id, id: questionnaireID)?.name ?? LocalizedText(en: questionnaireID, zh: questionnaireID)
                            alertRule = ObservationAlertRule(
                                id: "missing.\(questionnaireID)", codes: [], priority: rule.level,
                                title: LocalizedText(en: "No \(name.en) for \(rule.afterDays) days", zh: "已 \(rule.afterDays) 天未填写「\(name.zh)」"))
                        }
                        guard let alertRule else { break }
                        let assignee = rule.level == .urgent ? onCall ?? nil : nil
                        try await stores.database.transaction { sql in
                            for (touchpointID, patientID) in waiting {
                                let alert = try await stores.alerts.raise(sql, programID: program.id, patientID: patientID, rule: alertRule,
                                                                          observationID: touchpointID, assignee: assignee, actor: .system)
                                try await stores.responses.countMissing(touchpointID: touchpointID, programID: program.id, alertID: alert.alert.id, at: now, in: sql)
                            }
                        }
                        counted += waiting.count
                        if waiting.count < Self.batch { break }
                    }
                }
            }
        }
        return counted
    }
}
