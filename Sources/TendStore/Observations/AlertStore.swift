public import Foundation
public import SQLKit
public import TendCore

public enum AlertStatus: String, Sendable, Codable, CaseIterable {
    case open
    case acknowledged
    case resolved
}

/// A patient's readings crossing one of the program's alert rules: one alert per rule and
/// patient while it is not resolved (a new breach is added to it), with the staff task it raised.
public struct ObservationAlert: Sendable, Equatable {
    public var id: String
    public var programID: String
    public var patientID: String
    public var ruleID: String
    /// What the rule is, as its task was titled.
    public var title: LocalizedText
    public var priority: TaskPriority
    public var status: AlertStatus
    public var firstObservationID: String
    public var lastObservationID: String
    public var breaches: Int
    public var taskID: String?
    public var openedAt: Date
    public var updatedAt: Date
    public var resolvedAt: Date?
    public var resolvedBy: String?
    /// What the member who acknowledged or resolved it wrote.
    public var note: String?
}

public struct AlertStore: ContextualStore {
    let context: StoreContext
    let tasks: TaskStore

    static func noteContext(_ programID: String, _ id: String) -> SealContext {
        SealContext(program: programID, table: "observation_alerts", column: "note_enc", row: id)
    }

    static let columns = "id, program_id, patient_id, rule_id, title_en, title_zh, priority, status, first_observation_id, last_observation_id, breaches, task_id, opened_at, updated_at, resolved_at, resolved_by, note_enc"

    /// Adds a breach to the patient's alert of this rule, or opens one with an urgent-or-other
    /// task (assigned to `assignee`, the on-call member for urgent ones), in the caller's
    /// transaction. Returns the alert and whether it was opened now.
    public func raise(_ sql: any SQLDatabase, programID: String, patientID: String, rule: ObservationAlertRule, observationID: String,
                      assignee: String?, actor: AuditActor) async throws -> (alert: ObservationAlert, opened: Bool) {
        let now = clock.now()
        let id = ids.next(), taskID = "alert.\(id)"
        // Insert first, on the unresolved-alert index: two requests recording for one patient at
        // once cannot both open an alert (on PostgreSQL the second waits for the first's commit,
        // then finds its alert and joins it).
        let opened = try await sql.raw("""
            INSERT INTO observation_alerts (\(unsafeRaw: Self.columns))
            VALUES (\(bind: id), \(bind: programID), \(bind: patientID), \(bind: rule.id), \(bind: rule.title.en), \(bind: rule.title.zh),
                    \(bind: rule.priority.rawValue), 'open', \(bind: observationID),
                    \(bind: observationID), 1, \(bind: taskID), \(bind: now.epochMilliseconds), \(bind: now.epochMilliseconds), NULL, NULL, NULL)
            ON CONFLICT (program_id, rule_id, patient_id) WHERE status <> 'resolved' DO NOTHING
            RETURNING id
            """).first() != nil
        if opened {
            try await tasks.insert(sql, StaffTask(
                id: taskID, programID: programID, patientID: patientID, touchpointID: nil, kind: .observationAlert, title: rule.title,
                priority: rule.priority, dueAt: now, slaAt: now.addingTimeInterval(StaffTask.slaWindow(rule.priority)), assigneeID: assignee, createdAt: now))
            try await audit.record(.alertOpen, by: actor, program: programID, patient: patientID, in: sql)
            let alert = ObservationAlert(id: id, programID: programID, patientID: patientID, ruleID: rule.id, title: rule.title, priority: rule.priority, status: .open,
                                         firstObservationID: observationID, lastObservationID: observationID, breaches: 1, taskID: taskID,
                                         openedAt: now, updatedAt: now, resolvedAt: nil, resolvedBy: nil, note: nil)
            return (alert, true)
        }
        guard let row = try await sql.raw("""
            UPDATE observation_alerts SET breaches = breaches + 1, last_observation_id = \(bind: observationID), updated_at = \(bind: now.epochMilliseconds)
            WHERE program_id = \(bind: programID) AND rule_id = \(bind: rule.id) AND patient_id = \(bind: patientID) AND status <> 'resolved'
            RETURNING \(unsafeRaw: Self.columns)
            """).first() else {
            throw StoreCorruption(what: "alert \(rule.id) of patient \(patientID) neither inserted nor found")
        }
        return (try alert(from: row), false)
    }

    /// The program's alerts that are not resolved (or those of one patient, any status),
    /// urgent first, then oldest first. Unaudited: the use case audits the read.
    public func list(programID: String, patientID: String? = nil, limit: Int = 200) async throws -> [ObservationAlert] {
        var query = SQLQueryString("SELECT \(Self.columns) FROM observation_alerts WHERE ")
        if let patientID {
            query.appendLiteral("patient_id = ")
            query.appendInterpolation(bind: patientID)
            query.appendInterpolation(unsafeRaw: " AND \(database.dialect.unindexed("program_id")) = ")
            query.appendInterpolation(bind: programID)
        } else {
            query.appendLiteral("program_id = ")
            query.appendInterpolation(bind: programID)
            // Named, not "<> 'resolved'": the (program, status, opened_at) index serves each, and
            // resolved alerts, which only grow, are never walked.
            query.appendLiteral(" AND status IN ('open', 'acknowledged')")
        }
        query.appendLiteral(" ORDER BY CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, opened_at, id")
        query.appendInterpolation(unsafeRaw: " LIMIT \(max(1, min(limit, 1000)))")
        let finished = query
        return try await database.read { sql in try await sql.raw(finished).all() }.map(alert(from:))
    }

    /// Acknowledges or resolves an alert (resolving also completes its task); nil when the
    /// program has no such alert, or it is already resolved.
    public func change(programID: String, id: String, to status: AlertStatus, staffID: String?, note: String? = nil, actor: AuditActor) async throws -> ObservationAlert? {
        guard status != .open else { return nil }
        let now = clock.now().epochMilliseconds
        let sealedNote = try note.map { try cipher.seal($0, for: Self.noteContext(programID, id)) }
        return try await database.transaction { sql in
            guard let row = try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM observation_alerts WHERE program_id = \(bind: programID) AND id = \(bind: id) AND status <> 'resolved'
                """).first() else { return nil }
            var alert = try self.alert(from: row)
            let resolving = status == .resolved
            try await sql.raw("""
                UPDATE observation_alerts SET status = \(bind: status.rawValue), updated_at = \(bind: now),
                       resolved_at = \(bind: resolving ? now : nil), resolved_by = \(bind: resolving ? staffID : nil),
                       note_enc = COALESCE(\(bind: sealedNote), note_enc)
                WHERE id = \(bind: id)
                """).run()
            if resolving, let task = alert.taskID {
                try await sql.raw("""
                    UPDATE staff_tasks SET status = 'done', outcome = 'done', completed_at = \(bind: now), completed_by = \(bind: staffID), updated_at = \(bind: now)
                    WHERE program_id = \(bind: programID) AND id = \(bind: task) AND status = 'open'
                    """).run()
            }
            try await audit.record(resolving ? .alertResolve : .alertAcknowledge, by: actor, program: programID, patient: alert.patientID, in: sql)
            alert.status = status
            alert.updatedAt = Date(epochMilliseconds: now)
            if let note { alert.note = note }
            if resolving {
                alert.resolvedAt = Date(epochMilliseconds: now)
                alert.resolvedBy = staffID
            }
            return alert
        }
    }

    /// The program's own alert-rule document, or nil when it has none.
    public func ruleSource(programID: String) async throws -> String? {
        try await database.read { sql in
            try await sql.raw("SELECT source FROM alert_rules WHERE program_id = \(bind: programID)").first()?.decode(column: "source", as: String.self)
        }
    }

    /// Replaces the program's alert-rule document (already checked), audited.
    public func saveRules(programID: String, source: String, actor: AuditActor) async throws {
        let now = clock.now().epochMilliseconds
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO alert_rules (program_id, source, updated_at, updated_by) VALUES (\(bind: programID), \(bind: source), \(bind: now), \(bind: actor.id))
                ON CONFLICT (program_id) DO UPDATE SET source = excluded.source, updated_at = excluded.updated_at, updated_by = excluded.updated_by
                """).run()
            try await audit.record(.alertRulesSave, by: actor, program: programID, subject: AuditSubject(type: "program", id: programID), in: sql)
        }
    }

    func alert(from row: any SQLRow) throws -> ObservationAlert {
        let id = try row.decode(column: "id", as: String.self), programID = try row.decode(column: "program_id", as: String.self)
        guard let priority = TaskPriority(rawValue: try row.decode(column: "priority", as: String.self)),
              let status = AlertStatus(rawValue: try row.decode(column: "status", as: String.self)) else {
            throw StoreCorruption(what: "alert \(id) has an unknown priority or status")
        }
        return ObservationAlert(
            id: id, programID: programID, patientID: try row.decode(column: "patient_id", as: String.self),
            ruleID: try row.decode(column: "rule_id", as: String.self),
            title: LocalizedText(en: try row.decode(column: "title_en", as: String.self), zh: try row.decode(column: "title_zh", as: String.self)),
            priority: priority, status: status,
            firstObservationID: try row.decode(column: "first_observation_id", as: String.self),
            lastObservationID: try row.decode(column: "last_observation_id", as: String.self),
            breaches: try row.decode(column: "breaches", as: Int.self), taskID: try row.decode(column: "task_id", as: String?.self),
            openedAt: Date(epochMilliseconds: try row.decode(column: "opened_at", as: Int64.self)),
            updatedAt: Date(epochMilliseconds: try row.decode(column: "updated_at", as: Int64.self)),
            resolvedAt: try row.decode(column: "resolved_at", as: Int64?.self).map(Date.init(epochMilliseconds:)),
            resolvedBy: try row.decode(column: "resolved_by", as: String?.self),
            note: try row.decode(column: "note_enc", as: String?.self).map { try cipher.open($0, for: Self.noteContext(programID, id)) })
    }
}
