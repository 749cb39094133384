import Foundation
public import TendCore
public import TendStore

/// What a questionnaire link shows the patient, in the patient's language.
public struct FormPage: Sendable {
    public enum State: Sendable {
        /// Unknown, forged, or its touchpoint or questionnaire is gone.
        case invalid
        /// Expired: it shows its state and nothing about anyone.
        case expired
        /// Answered (now or before).
        case done(flags: [RaisedFlag])
        /// Not waiting for an answer (not sent yet, or cancelled).
        case closed
        /// The form, with what the patient sent and what was wrong with it on a second try.
        case ask(FormView)
    }

    public var state: State
    /// The patient's language; nil when the link is invalid.
    public var locale: AppLocale?
}

public struct FormView: Sendable {
    public var programName: String
    /// The touchpoint's message, as the patient received it.
    public var message: String
    public var questionnaire: Questionnaire
    public var context: [String: Double]
    public var answers: [String: AnswerValue]
    /// Problems of a refused submission, by field (`answers.<item>`), and required items left out.
    public var problems: [TendError]
    public var missing: [String]
}

/// The patient's side of a questionnaire link (`/q/<token>`): GET shows the form (link previews
/// fetch it; showing it is an audited read), POST records the response through
/// `QuestionnaireActions.record`, which completes the touchpoint.
public struct FormActions: Sendable {
    let stores: Stores
    let questionnaires: QuestionnaireActions
    let links: ConfirmationLinks

    public init(stores: Stores, questionnaires: QuestionnaireActions, links: ConfirmationLinks) {
        self.stores = stores
        self.questionnaires = questionnaires
        self.links = links
    }

    /// The page for `token`; with `fields` (the posted form) and `photos`, records the response first.
    public func open(_ token: String, fields: [(name: String, value: String)]? = nil, photos: [PhotoUpload] = [], language: AppLocale?,
                     requestID: String?) async throws -> FormPage {
        let touchpointID: String
        var expired = false
        switch links.verify(token, .form, now: stores.clock.now()) {
        case .invalid: return FormPage(state: .invalid)
        case .expired(let id): touchpointID = id; expired = true
        case .valid(let id): touchpointID = id
        }
        guard let found = try await stores.confirmations.context(touchpointID: touchpointID),
              let pathway = try await stores.pathways.find(programID: found.programID, id: found.pathwayID),
              let step = pathway.pathway.step(found.touchpoint.stepID), let questionnaireID = step.questionnaire,
              let program = try await stores.programs.all().first(where: { $0.id == found.programID }),
              let questionnaire = try await questionnaires.definition(programID: found.programID, id: questionnaireID),
              let zone = try await stores.patients.zones(programID: found.programID, ids: [found.touchpoint.patientID])[found.touchpoint.patientID],
              let timeZone = TimeZone(identifier: zone) else { return FormPage(state: .invalid) }
        let locale = language ?? found.locale
        if expired { return FormPage(state: .expired, locale: locale) }
        if found.touchpoint.status == .confirmed { return FormPage(state: .done(flags: []), locale: locale) }
        guard [.sent, .delivered, .escalated, .noResponse].contains(found.touchpoint.status) else { return FormPage(state: .closed, locale: locale) }

        var context: [String: Double] = [:]
        if questionnaire.context.contains(where: { $0.name == "cycle_day" }),
           let day = step.cycleDay(occurrence: found.touchpoint.occurrence, anchors: found.anchors, on: LocalDate(instant: stores.clock.now(), in: timeZone)),
           let declared = questionnaire.context.first(where: { $0.name == "cycle_day" }), declared.range.contains(Double(day)) {
            context["cycle_day"] = Double(day)
        }
        let patient = AuditActor(id: found.touchpoint.patientID, kind: .patient, requestID: requestID)
        let values = TouchpointMessage.values(patientName: found.patientName, programName: program.name, touchpoint: found.touchpoint,
                                              anchors: found.anchors, confirmLink: nil)
        var view = FormView(programName: program.name, message: TouchpointMessage.text(of: step, in: locale, values: values),
                            questionnaire: questionnaire, context: context, answers: [:], problems: [], missing: [])
        guard let fields else {
            try await stores.audit.recordRead(.formRead, by: patient, program: found.programID, subject: .patient(found.touchpoint.patientID))
            return FormPage(state: .ask(view), locale: locale)
        }
        do {
            view.answers = try FormFields.answers(fields, for: questionnaire)
        } catch {
            view.problems = [error]
            return FormPage(state: .ask(view), locale: locale)
        }
        let outcome: ResponseOutcome
        do {
            outcome = try await questionnaires.record(programID: found.programID, patientID: found.touchpoint.patientID, questionnaire: questionnaire,
                                                      answers: view.answers, context: context, photos: photos, source: .link,
                                                      touchpointID: touchpointID, by: patient)
        } catch let error as TendError where error.kind == .invalidInput {
            view.problems = [error]
            return FormPage(state: .ask(view), locale: locale)
        } catch let error as TendError where error.code == "already_answered" {
            return FormPage(state: .done(flags: []), locale: locale)
        }
        switch outcome {
        case .recorded(let recorded):
            return FormPage(state: .done(flags: recorded.score.flags), locale: locale)
        case .refused(let refusal, _):
            view.problems = refusal.problems
            view.missing = refusal.missing
            return FormPage(state: .ask(view), locale: locale)
        }
    }
}
