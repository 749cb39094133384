public import TendCore
public import TendStore

/// What happens to an enrolment after it starts.
public enum EnrolmentChange: String, Sendable, CaseIterable {
    case pause, resume, cancel
}

/// Enrolling patients into pathways and changing their enrolments, each audited in its
/// transaction by the store, the same from the API and the console.
public struct EnrolmentActions: Sendable {
    let stores: Stores
    let segments: SegmentActions

    public init(stores: Stores) {
        self.stores = stores
        self.segments = SegmentActions(stores: stores)
    }

    /// Enrols one patient or every active patient a tag filter selects into the latest version
    /// of the pathway `slug`.
    public func enrol(programID: String, pathway slug: String, target: EnrolmentTarget, anchors: [String: LocalDate], by actor: AuditActor) async throws -> EnrolmentResult {
        guard let pathway = try await stores.pathways.find(programID: programID, slug: slug) else { throw TendError.notFound("pathway") }
        if case .patient(let patientID) = target, try await stores.patients.fetch(programID: programID, ids: [patientID]).first == nil {
            throw TendError.notFound("patient")
        }
        guard case .patient(let patientID) = target else {
            // Many patients at once: the segments that read enrolments are evaluated over the
            // program afterwards, set-based.
            let result = try await stores.enrolments.enrol(programID: programID, pathway: pathway, target: target, anchors: anchors, actor: actor)
            if result.enrolled > 0 { try await segments.evaluateAll(programID: programID, after: .enrolments, by: actor) }
            return result
        }
        let (stores, segments) = (self.stores, self.segments)
        return try await stores.database.transaction { sql in
            let result = try await stores.enrolments.enrol(programID: programID, pathway: pathway, target: target, anchors: anchors, actor: actor, in: sql)
            try await segments.reevaluate(programID: programID, patientIDs: [patientID], after: .enrolments, by: actor, in: sql)
            return result
        }
    }

    /// Moves an anchor and plans the unsent touchpoints again.
    public func moveAnchor(programID: String, enrolmentID: String, anchor: String, to date: LocalDate, by actor: AuditActor) async throws -> Enrolment {
        let (enrolment, pathway) = try await find(programID, enrolmentID)
        guard let moved = try await stores.enrolments.moveAnchor(programID: programID, enrolmentID: enrolment.id, anchor: anchor, to: date,
                                                                 pathway: pathway, actor: actor) else { throw TendError.notFound("enrolment") }
        return moved
    }

    /// Pauses, resumes or cancels; a change the enrolment's state does not allow is a conflict.
    public func change(programID: String, enrolmentID: String, _ change: EnrolmentChange, by actor: AuditActor) async throws -> Enrolment {
        let (enrolment, pathway) = try await find(programID, enrolmentID)
        let (stores, segments) = (self.stores, self.segments)
        let changed = try await stores.database.transaction { sql in
            let changed: Bool = switch change {
            case .pause: try await stores.enrolments.pause(programID: programID, enrolmentID: enrolment.id, actor: actor, in: sql)
            case .resume: try await stores.enrolments.resume(programID: programID, enrolmentID: enrolment.id, pathway: pathway, actor: actor, in: sql)
            case .cancel: try await stores.enrolments.cancel(programID: programID, enrolmentID: enrolment.id, actor: actor, in: sql)
            }
            if changed { try await segments.reevaluate(programID: programID, patientIDs: [enrolment.patientID], after: .enrolments, by: actor, in: sql) }
            return changed
        }
        guard changed else {
            throw TendError(kind: .conflict, code: "enrolment_state", message: .init(
                en: "The enrolment is \(enrolment.status.rawValue) and cannot be \(change.rawValue)d", zh: "该入组当前状态为 \(enrolment.status.rawValue)，无法执行此操作"), field: "enrolment")
        }
        guard let updated = try await stores.enrolments.enrolment(programID: programID, id: enrolment.id) else { throw TendError.notFound("enrolment") }
        return updated
    }

    private func find(_ programID: String, _ enrolmentID: String) async throws -> (Enrolment, StoredPathway) {
        guard let found = try await stores.enrolmentWithPathway(programID: programID, enrolmentID: enrolmentID) else { throw TendError.notFound("enrolment") }
        return found
    }
}
