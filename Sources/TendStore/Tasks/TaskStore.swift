import Foundation
import SQLKit
public import TendCore

/// Which tasks a listing shows.
public struct TaskFilter: Sendable {
    public var statuses: [TaskStatus]
    /// Tasks assigned to this staff member or to nobody (the program's pool).
    public var mineOrPool: String?
    public var assigneeID: String?
    public var patientID: String?
    public var limit: Int
    /// How many of the list's first rows to skip: the pages after the first.
    public var offset: Int

    /// A page is 50 rows: what a person works through at a sitting, and what a page can show
    /// without a wait (a page of 200 took four times as long to open, seal and write).
    public static let pageSize = 50

    public init(statuses: [TaskStatus] = [.open], mineOrPool: String? = nil, assigneeID: String? = nil, patientID: String? = nil,
                limit: Int = TaskFilter.pageSize, offset: Int = 0) {
        self.statuses = statuses
        self.mineOrPool = mineOrPool
        self.assigneeID = assigneeID
        self.patientID = patientID
        self.limit = limit
        self.offset = offset
    }
}

/// How many tasks a listing holds in all, and how many of them are past their deadline.
public struct TaskCounts: Sendable, Equatable {
    public var total: Int
    public var overdue: Int

    public init(total: Int, overdue: Int) {
        self.total = total
        self.overdue = overdue
    }
}

/// The staff work queue. Titles and notes name patients, so they are sealed like PII.
public struct TaskStore: ContextualStore {
    let context: StoreContext

    static let columns = "id, program_id, patient_id, touchpoint_id, kind, title_enc, priority, due_at, sla_at, status, assignee_id, outcome, note_enc, created_at, completed_at, completed_by"

    /// Inserts inside the caller's transaction; a task with the same id (the same touchpoint
    /// dispatched twice) is kept as it is.
    func insert(_ sql: any SQLDatabase, _ task: StaffTask) async throws {
        let title = try cipher.seal(try Self.encodeTitle(task.title), for: Self.context(task.programID, task.id, "title_enc"))
        let note = try task.note.map { try cipher.seal($0, for: Self.context(task.programID, task.id, "note_enc")) }
        try await sql.raw("""
            INSERT INTO staff_tasks (id, program_id, patient_id, touchpoint_id, kind, title_enc, priority, due_at, sla_at, status, assignee_id, outcome, note_enc, created_at, updated_at)
            VALUES (\(bind: task.id), \(bind: task.programID), \(bind: task.patientID), \(bind: task.touchpointID), \(bind: task.kind.rawValue), \(bind: title),
                    \(bind: Self.rank(task.priority)), \(bind: task.dueAt.epochMilliseconds), \(bind: task.slaAt.epochMilliseconds), \(bind: task.status.rawValue),
                    \(bind: task.assigneeID), \(bind: task.outcome?.rawValue), \(bind: note), \(bind: task.createdAt.epochMilliseconds), \(bind: task.createdAt.epochMilliseconds))
            ON CONFLICT (id) DO NOTHING
            """).run()
    }

    public func create(_ task: StaffTask) async throws {
        try await database.session { sql in try await insert(sql, task) }
    }

    public func find(programID: String, id: String) async throws -> StaffTask? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM staff_tasks WHERE program_id = \(bind: programID) AND id = \(bind: id)").first()
        }.map { try task(from: $0) }
    }

    /// Open tasks come back overdue first, then by priority and due time.
    public func list(programID: String, filter: TaskFilter) async throws -> [StaffTask] {
        let now = clock.now()
        var query = Self.filtered("SELECT \(Self.columns) FROM staff_tasks WHERE program_id = ", programID: programID, filter: filter)
        query.appendLiteral(" ORDER BY CASE WHEN status = 'open' AND sla_at < ")
        query.appendInterpolation(bind: now.epochMilliseconds)
        query.appendLiteral(" THEN 0 ELSE 1 END, priority DESC, due_at, id LIMIT ")
        query.appendInterpolation(unsafeRaw: String(max(1, min(filter.limit, 1000))))
        query.appendLiteral(" OFFSET ")
        query.appendInterpolation(unsafeRaw: String(max(0, min(filter.offset, Self.maxOffset))))
        let finished = query
        let rows = try await database.read { sql in try await sql.raw(finished).all() }
        let titles = JSONDecoder()
        return try rows.map { try task(from: $0, titles: titles) }
    }

    /// The furthest a listing pages.
    public static let maxOffset = 10_000

    /// How many tasks the filter finds in all (its limit and offset aside), and how many are overdue.
    public func counts(programID: String, filter: TaskFilter) async throws -> TaskCounts {
        let now = clock.now().epochMilliseconds
        let finished = Self.filtered("SELECT COUNT(*) AS total, COUNT(CASE WHEN status = 'open' AND sla_at < \(bind: now) THEN 1 END) AS overdue FROM staff_tasks WHERE program_id = ",
                                     programID: programID, filter: filter)
        let row = try await database.read { sql in try await sql.raw(finished).first() }
        return TaskCounts(total: try row?.decode(column: "total", as: Int.self) ?? 0, overdue: try row?.decode(column: "overdue", as: Int.self) ?? 0)
    }

    /// `prefix` (ending in `program_id = `) with the program and the filter's conditions.
    private static func filtered(_ prefix: SQLQueryString, programID: String, filter: TaskFilter) -> SQLQueryString {
        var query = prefix
        query.appendInterpolation(bind: programID)
        query.appendLiteral(" AND status IN (")
        query.appendInterpolation(binds: filter.statuses.map(\.rawValue))
        query.appendLiteral(")")
        if let staffID = filter.mineOrPool {
            query.appendLiteral(" AND (assignee_id IS NULL OR assignee_id = ")
            query.appendInterpolation(bind: staffID)
            query.appendLiteral(")")
        }
        if let assignee = filter.assigneeID {
            query.appendLiteral(" AND assignee_id = ")
            query.appendInterpolation(bind: assignee)
        }
        if let patient = filter.patientID {
            query.appendLiteral(" AND patient_id = ")
            query.appendInterpolation(bind: patient)
        }
        return query
    }

    /// Takes a task from the pool (or from a colleague) for this staff member.
    public func claim(programID: String, id: String, staffID: String, actor: AuditActor) async throws -> StaffTask? {
        try await update(programID: programID, id: id, action: .taskClaim, actor: actor) { sql, now in
            try await sql.raw("""
                UPDATE staff_tasks SET assignee_id = \(bind: staffID), updated_at = \(bind: now)
                WHERE program_id = \(bind: programID) AND id = \(bind: id) AND status = 'open' RETURNING id
                """).all().count
        }
    }

    /// Gives the task to someone else, or back to the pool with nil.
    public func reassign(programID: String, id: String, to staffID: String?, actor: AuditActor) async throws -> StaffTask? {
        try await update(programID: programID, id: id, action: .taskReassign, actor: actor) { sql, now in
            try await sql.raw("""
                UPDATE staff_tasks SET assignee_id = \(bind: staffID), updated_at = \(bind: now)
                WHERE program_id = \(bind: programID) AND id = \(bind: id) AND status = 'open' RETURNING id
                """).all().count
        }
    }

    /// Closes the task with what happened. A call that reached the patient counts as their
    /// confirmation of the touchpoint behind it, so its own escalations stop.
    public func complete(programID: String, id: String, outcome: TaskOutcome, note: String?, staffID: String, actor: AuditActor, confirmations: ConfirmationStore) async throws -> StaffTask? {
        let sealedNote = try note.flatMap { $0.trimmed.isEmpty ? nil : try cipher.seal($0.trimmed, for: Self.context(programID, id, "note_enc")) }
        let completed = try await update(programID: programID, id: id, action: .taskComplete, actor: actor) { sql, now in
            try await sql.raw("""
                UPDATE staff_tasks SET status = 'done', outcome = \(bind: outcome.rawValue), note_enc = \(bind: sealedNote),
                       completed_at = \(bind: now), completed_by = \(bind: staffID), assignee_id = COALESCE(assignee_id, \(bind: staffID)), updated_at = \(bind: now)
                WHERE program_id = \(bind: programID) AND id = \(bind: id) AND status = 'open' RETURNING id
                """).all().count
        }
        if let completed, outcome == .reached, let touchpointID = completed.touchpointID, completed.kind != .deliveryFailed {
            _ = try await confirmations.confirm(programID: programID, touchpointID: touchpointID, via: .call, requireRequest: false, actor: actor)
        }
        return completed
    }

    /// Runs a guarded update and its audit event together; nil when the task is not there,
    /// a conflict when it is there but no longer open.
    private func update(programID: String, id: String, action: AuditAction, actor: AuditActor, _ body: @escaping @Sendable (any SQLDatabase, Int64) async throws -> Int) async throws -> StaffTask? {
        let now = clock.now().epochMilliseconds
        let audit = AuditLog(database: database, clock: clock, ids: ids)
        let changed: Bool? = try await database.transaction { sql in
            guard let row = try await sql.raw("SELECT patient_id FROM staff_tasks WHERE program_id = \(bind: programID) AND id = \(bind: id)").first() else { return nil }
            guard try await body(sql, now) > 0 else { return false }
            try await audit.record(action, by: actor, program: programID, patient: try row.decode(column: "patient_id", as: String?.self),
                                   otherwise: AuditSubject(type: "task", id: id), in: sql)
            return true
        }
        switch changed {
        case nil: return nil
        case false?: throw TendError(kind: .conflict, code: "task_closed", message: .init(en: "The task is already closed", zh: "该任务已关闭"), field: "task")
        case true?: return try await find(programID: programID, id: id)
        }
    }

    static func rank(_ priority: TaskPriority) -> Int { TaskPriority.allCases.firstIndex(of: priority) ?? 0 }

    static func encodeTitle(_ title: LocalizedText) throws -> String {
        String(decoding: try JSONEncoder().encode(title), as: UTF8.self)
    }

    static func context(_ programID: String, _ taskID: String, _ column: String) -> SealContext {
        SealContext(program: programID, table: "staff_tasks", column: column, row: taskID)
    }

    func task(from row: any SQLRow, titles: JSONDecoder = JSONDecoder()) throws -> StaffTask {
        let id = try row.decode(column: "id", as: String.self), programID = try row.decode(column: "program_id", as: String.self)
        let titleJSON = try cipher.open(try row.decode(column: "title_enc", as: String.self), for: Self.context(programID, id, "title_enc"))
        let title = (try? titles.decode(LocalizedText.self, from: Data(titleJSON.utf8))) ?? LocalizedText(en: titleJSON, zh: titleJSON)
        let rank = try row.decode(column: "priority", as: Int.self)
        return StaffTask(
            id: try row.decode(column: "id", as: String.self),
            programID: try row.decode(column: "program_id", as: String.self),
            patientID: try row.decode(column: "patient_id", as: String?.self),
            touchpointID: try row.decode(column: "touchpoint_id", as: String?.self),
            kind: TaskKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .call,
            title: title,
            priority: TaskPriority.allCases.indices.contains(rank) ? TaskPriority.allCases[rank] : .normal,
            dueAt: Date(epochMilliseconds: try row.decode(column: "due_at", as: Int64.self)),
            slaAt: Date(epochMilliseconds: try row.decode(column: "sla_at", as: Int64.self)),
            status: TaskStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .open,
            assigneeID: try row.decode(column: "assignee_id", as: String?.self),
            outcome: try row.decode(column: "outcome", as: String?.self).flatMap(TaskOutcome.init(rawValue:)),
            note: try row.decode(column: "note_enc", as: String?.self).map { try cipher.open($0, for: Self.context(programID, id, "note_enc")) },
            createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
            completedAt: try row.decode(column: "completed_at", as: Int64?.self).map(Date.init(epochMilliseconds:)),
            completedBy: try row.decode(column: "completed_by", as: String?.self))
    }
}
