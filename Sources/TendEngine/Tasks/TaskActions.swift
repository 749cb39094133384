public import TendCore
public import TendStore

/// Staff tasks: the lists people work from (each read audited) and what they do with a task,
/// audited in its transaction by the store.
public struct TaskActions: Sendable {
    let stores: Stores

    public init(stores: Stores) {
        self.stores = stores
    }

    /// A person's Today list, a patient's tasks, or a status view of the program's.
    public func list(programID: String, filter: TaskFilter, by actor: AuditActor) async throws -> [StaffTask] {
        let tasks = try await stores.tasks.list(programID: programID, filter: filter)
        try await stores.audit.recordRead(.tasksRead, by: actor, program: programID,
                                          subject: filter.patientID.map(AuditSubject.patient) ?? AuditSubject(type: "program", id: programID))
        return tasks
    }

    /// One page of a listing with the listing's counts, for a page that says how many there are
    /// in all; read and audited as one list read.
    public func page(programID: String, filter: TaskFilter, by actor: AuditActor) async throws -> (tasks: [StaffTask], counts: TaskCounts) {
        let counts = try await stores.tasks.counts(programID: programID, filter: filter)
        return (try await list(programID: programID, filter: filter, by: actor), counts)
    }

    public func claim(programID: String, taskID: String, staffID: String, by actor: AuditActor) async throws -> StaffTask {
        guard let task = try await stores.tasks.claim(programID: programID, id: taskID, staffID: staffID, actor: actor) else { throw TendError.notFound("task") }
        return task
    }

    /// Closes the task; a call that reached the patient confirms the touchpoint behind it.
    public func complete(programID: String, taskID: String, outcome: TaskOutcome, note: String?, staffID: String, by actor: AuditActor) async throws -> StaffTask {
        let note = try note.map { (text) throws(TendError) in try Validate.text(text, field: "note", maxLength: 2000, allowEmpty: true) }
        guard let task = try await stores.tasks.complete(programID: programID, id: taskID, outcome: outcome, note: note, staffID: staffID,
                                                         actor: actor, confirmations: stores.confirmations) else { throw TendError.notFound("task") }
        return task
    }

    /// Gives the task to a member of the program, or back to the pool (nil).
    public func reassign(programID: String, taskID: String, to assigneeID: String?, by actor: AuditActor) async throws -> StaffTask {
        if let assigneeID, try await stores.staff.role(userID: assigneeID, programID: programID) == nil { throw TendError.notFound("staff member") }
        guard let task = try await stores.tasks.reassign(programID: programID, id: taskID, to: assigneeID, actor: actor) else { throw TendError.notFound("task") }
        return task
    }
}
