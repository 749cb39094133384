public import TendCore
public import TendStore

/// What staff read about a patient's follow-up, each read audited before it is answered.
public struct ScheduleReads: Sendable {
    let stores: Stores

    public init(stores: Stores) {
        self.stores = stores
    }

    /// The patient's touchpoints, past and future; nil when the program has no such patient.
    public func schedule(programID: String, patientID: String, by actor: AuditActor) async throws -> [Touchpoint]? {
        guard try await exists(programID, patientID) else { return nil }
        let touchpoints = try await stores.enrolments.schedule(programID: programID, patientID: patientID)
        try await stores.audit.recordRead(.patientScheduleRead, by: actor, program: programID, subject: .patient(patientID))
        return touchpoints
    }

    public func enrolments(programID: String, patientID: String, by actor: AuditActor) async throws -> [Enrolment]? {
        guard try await exists(programID, patientID) else { return nil }
        let enrolments = try await stores.enrolments.enrolments(programID: programID, patientID: patientID)
        try await stores.audit.recordRead(.patientEnrolmentsRead, by: actor, program: programID, subject: .patient(patientID))
        return enrolments
    }

    /// The patient's portal inbox, newest first.
    public func portalInbox(programID: String, patientID: String, by actor: AuditActor) async throws -> [PortalMessage]? {
        guard try await exists(programID, patientID) else { return nil }
        let messages = try await stores.channels.inbox(programID: programID, patientID: patientID)
        try await stores.audit.recordRead(.patientInboxRead, by: actor, program: programID, subject: .patient(patientID))
        return messages
    }

    private func exists(_ programID: String, _ patientID: String) async throws -> Bool {
        try await stores.patients.fetch(programID: programID, ids: [patientID]).first != nil
    }
}
