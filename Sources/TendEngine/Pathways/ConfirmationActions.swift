import Foundation
public import TendCore
public import TendStore

/// What a confirmation link shows the patient, in the patient's language.
public struct ConfirmationPage: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Unknown, forged, or its touchpoint is gone.
        case invalid
        /// Expired: it shows its state and nothing about anyone.
        case expired
        case done
        /// Not waiting for a confirmation (not sent, cancelled, or no confirmation asked).
        case closed
        /// The message the link came with, and the question.
        case ask(programName: String, message: String)
    }

    public var state: State
    /// The patient's language; nil when the link is invalid.
    public var locale: AppLocale?
}

/// The patient's side of a signed confirmation link: GET only shows (link previews fetch it),
/// POST confirms. Showing the message is a read of patient data and is audited.
public struct ConfirmationActions: Sendable {
    let stores: Stores
    public let links: ConfirmationLinks
    let clock: TendClock

    public init(stores: Stores, links: ConfirmationLinks, clock: TendClock) {
        self.stores = stores
        self.links = links
        self.clock = clock
    }

    /// The page for `token`; with `confirming`, confirms first. `language` is the one the
    /// visitor chose on the page, if any; `requestID` ties the audit event to the request.
    public func open(_ token: String, confirming: Bool, language: AppLocale?, requestID: String?) async throws -> ConfirmationPage {
        let touchpointID: String
        var expired = false
        switch links.verify(token, now: clock.now()) {
        case .invalid: return ConfirmationPage(state: .invalid)
        case .expired(let id): touchpointID = id; expired = true
        case .valid(let id): touchpointID = id
        }
        guard let found = try await stores.confirmations.context(touchpointID: touchpointID),
              let pathway = try await stores.pathways.find(programID: found.programID, id: found.pathwayID),
              let step = pathway.pathway.step(found.touchpoint.stepID),
              let program = try await stores.programs.all().first(where: { $0.id == found.programID }) else { return ConfirmationPage(state: .invalid) }
        let locale = language ?? found.locale
        if expired { return ConfirmationPage(state: .expired, locale: locale) }
        if found.touchpoint.status == .confirmed { return ConfirmationPage(state: .done, locale: locale) }
        let pending = [.sent, .delivered, .escalated, .noResponse].contains(found.touchpoint.status) && found.touchpoint.confirm
        guard pending else { return ConfirmationPage(state: .closed, locale: locale) }
        let patient = AuditActor(id: found.touchpoint.patientID, kind: .patient, requestID: requestID)
        if confirming {
            switch try await stores.confirmations.confirm(programID: found.programID, touchpointID: touchpointID, via: .link, actor: patient) {
            case .confirmed, .alreadyConfirmed: return ConfirmationPage(state: .done, locale: locale)
            case .notConfirmable: return ConfirmationPage(state: .closed, locale: locale)
            }
        }
        let values = TouchpointMessage.values(patientName: found.patientName, programName: program.name, touchpoint: found.touchpoint,
                                              anchors: found.anchors, confirmLink: nil)
        try await stores.audit.recordRead(.confirmationRead, by: patient, program: found.programID, subject: .patient(found.touchpoint.patientID))
        return ConfirmationPage(state: .ask(programName: program.name, message: TouchpointMessage.text(of: step, in: locale, values: values)), locale: locale)
    }
}
