import Foundation
import TendCore
import TendStore

/// Missing-data alerts ("no check-in for 2 days"): for each questionnaire step with a
/// `missing_alert`, a touchpoint sent that long ago with no response from its patient since
/// opens an alert (`missing.<questionnaire>`) with a task, or joins the patient's open one. Run by
/// `tend dispatch` and the worker after each pass; a touchpoint is counted once.
public struct MissingCheckInSweep: Sendable {
    let stores: Stores
    /// How far back a sweep looks past the rule's delay, so a worker that was down catches up.
    static let catchUp: TimeInterval = 7 * 86_400

    public init(stores: Stores) {
        self.stores = stores
    }

    /// Opens or joins the alerts due by `now`; returns the alerts touched.
    @discardableResult
    public func run(now: Date) async throws -> [ObservationAlert] {
        let system = AuditActor.system
        var touched: [ObservationAlert] = []
        for program in try await stores.programs.all() {
            var settings: ProgramTriageSettings?
            for stored in try await stores.pathways.all(programID: program.id) {
                for step in stored.pathway.steps {
                    guard let questionnaireID = step.questionnaire, let rule = step.missingAlert else { continue }
                    let ruleID = "missing.\(questionnaireID)"
                    let dueBefore = now.addingTimeInterval(-Double(rule.afterDays) * 86_400)
                    let waiting = try await stores.responses.unanswered(
                        programID: program.id, pathwayID: stored.id, stepID: step.id, questionnaireID: questionnaireID, ruleID: ruleID,
                        dueAfter: dueBefore.addingTimeInterval(-Self.catchUp), dueBefore: dueBefore)
                    guard !waiting.isEmpty else { continue }
                    if settings == nil { settings = try await stores.messages.settings(programID: program.id) }
                    let onCall = rule.level == .urgent ? settings?.onCallStaffID : nil
                    let alertRule = ObservationAlertRule(
                        id: ruleID, codes: [], priority: rule.level,
                        title: LocalizedText(en: "No \(questionnaireID) response for \(rule.afterDays) days", zh: "已 \(rule.afterDays) 天未填写 \(questionnaireID)"))
                    for (touchpointID, patientID) in waiting {
                        let alert = try await stores.database.transaction { sql in
                            try await stores.alerts.raise(sql, programID: program.id, patientID: patientID, rule: alertRule, observationID: touchpointID,
                                                          assignee: onCall, actor: system)
                        }
                        touched.append(alert.alert)
                    }
                }
            }
        }
        return touched
    }
}
