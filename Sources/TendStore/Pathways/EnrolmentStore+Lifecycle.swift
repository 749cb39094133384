import Foundation
public import SQLKit
public import TendCore

extension EnrolmentStore {
    static let enrolmentColumns = "id, program_id, patient_id, pathway_id, anchors, status, planned_until, created_at, updated_at"
    static let touchpointColumns = "id, enrolment_id, patient_id, step_id, occurrence, due_at, local_due, channels, kind, confirm, if_unconfirmed, status, attempts, channel, last_error, sent_at, confirmed_at"

    public func enrolments(programID: String, patientID: String, in joined: (any SQLDatabase)? = nil) async throws -> [Enrolment] {
        let query: SQLQueryString = """
            SELECT \(unsafeRaw: Self.enrolmentColumns) FROM enrolments
            WHERE program_id = \(bind: programID) AND patient_id = \(bind: patientID) ORDER BY created_at, id
            """
        if let joined { return try await joined.raw(query).all().map(Self.enrolment(from:)) }
        return try await database.read { sql in try await sql.raw(query).all().map(Self.enrolment(from:)) }
    }

    public func enrolment(programID: String, id: String, in joined: (any SQLDatabase)? = nil) async throws -> Enrolment? {
        let query: SQLQueryString = "SELECT \(unsafeRaw: Self.enrolmentColumns) FROM enrolments WHERE program_id = \(bind: programID) AND id = \(bind: id)"
        if let joined { return try await joined.raw(query).first().map(Self.enrolment(from:)) }
        return try await database.read { sql in try await sql.raw(query).first().map(Self.enrolment(from:)) }
    }

    /// The patient's touchpoints, past and future, in due order.
    public func schedule(programID: String, patientID: String) async throws -> [Touchpoint] {
        let dialect = database.dialect
        return try await database.read { sql in
            let enrolmentIDs = try await Self.enrolmentIDs(sql, programID: programID, patientID: patientID)
            var query = SQLQueryString("SELECT \(Self.touchpointColumns) FROM touchpoints WHERE program_id = ")
            query.appendInterpolation(bind: programID)
            query.appendLiteral(" AND ")
            dialect.appendTouchpoints(of: enrolmentIDs, to: &query)
            query.appendLiteral(" ORDER BY due_at, step_id, occurrence")
            return try await sql.raw(query).all().map(Self.touchpoint(from:))
        }
    }

    static func enrolmentIDs(_ sql: any SQLDatabase, programID: String, patientID: String) async throws -> [String] {
        try await sql.raw("SELECT id FROM enrolments WHERE program_id = \(bind: programID) AND patient_id = \(bind: patientID)")
            .all().map { try $0.decode(column: "id", as: String.self) }
    }

    /// A condition selecting the touchpoints of these enrolments without scanning the table:
    /// on SQLite the key range of each enrolment's id prefix (ids are `enrolment.step.occurrence`
    /// and '/' follows '.'), on PostgreSQL the enrolment index.
    /// Moves one anchor (the revisit was rescheduled) and re-plans every touchpoint that has
    /// not gone out; sent ones keep their history. Returns nil when there is no such enrolment.
    public func moveAnchor(programID: String, enrolmentID: String, anchor: String, to date: LocalDate, pathway: StoredPathway, actor: AuditActor) async throws -> Enrolment? {
        guard var enrolment = try await enrolment(programID: programID, id: enrolmentID) else { return nil }
        guard pathway.pathway.allAnchors.contains(anchor) else {
            throw TendError(kind: .notFound, code: "not_found", message: .init(en: "\(pathway.pathway.id) has no anchor \(anchor)", zh: "方案 \(pathway.pathway.id) 没有锚点 \(anchor)"), field: "anchor")
        }
        guard enrolment.status != .cancelled else {
            throw TendError(kind: .conflict, code: "enrolment_cancelled", message: .init(en: "The enrolment is cancelled", zh: "该入组已取消"), field: "enrolment")
        }
        enrolment.anchors[anchor] = date
        try await replan(enrolment, pathway: pathway, action: .enrolmentMoveAnchor, actor: actor)
        return try await self.enrolment(programID: programID, id: enrolmentID)
    }

    public func pause(programID: String, enrolmentID: String, actor: AuditActor, in joined: (any SQLDatabase)? = nil) async throws -> Bool {
        try await setStatus(programID: programID, enrolmentID: enrolmentID, from: [.active], to: .paused,
                            touchpoints: ([.scheduled], .paused), action: .enrolmentPause, actor: actor, in: joined)
    }

    /// Resumes a paused enrolment by re-planning it: what fell due while paused is skipped.
    public func resume(programID: String, enrolmentID: String, pathway: StoredPathway, actor: AuditActor, in joined: (any SQLDatabase)? = nil) async throws -> Bool {
        guard var enrolment = try await enrolment(programID: programID, id: enrolmentID, in: joined), enrolment.status == .paused else { return false }
        enrolment.status = .active
        try await replan(enrolment, pathway: pathway, action: .enrolmentResume, actor: actor, in: joined)
        return true
    }

    public func cancel(programID: String, enrolmentID: String, actor: AuditActor, in joined: (any SQLDatabase)? = nil) async throws -> Bool {
        try await setStatus(programID: programID, enrolmentID: enrolmentID, from: [.active, .paused], to: .cancelled,
                            touchpoints: ([.scheduled, .paused], .cancelled), action: .enrolmentCancel, actor: actor, in: joined)
    }

    /// Cancels the active or paused enrolments in any version of the pathway `slug` of the
    /// patients `source` selects (a subquery with a `patient_id` column), with their unsent
    /// touchpoints, in the caller's transaction, each audited. Returns how many ended.
    public func cancel(programID: String, pathway slug: String, patientsIn source: String, actor: AuditActor, in sql: any SQLDatabase) async throws -> Int {
        let now = clock.now().epochMilliseconds
        let dialect = database.dialect
        var ended = 0
        while true {
            let rows = try await sql.raw("""
                SELECT e.id, e.patient_id FROM enrolments e
                WHERE e.patient_id IN \(unsafeRaw: source) AND \(unsafeRaw: dialect.unindexed("e.program_id")) = \(bind: programID) AND e.status IN ('active', 'paused')
                  AND e.pathway_id IN (SELECT w.id FROM pathways w WHERE w.program_id = \(bind: programID) AND w.slug = \(bind: slug))
                LIMIT 500
                """).all()
            guard !rows.isEmpty else { return ended }
            let enrolmentIDs = try rows.map { try $0.decode(column: "id", as: String.self) }
            let patientIDs = try rows.map { try $0.decode(column: "patient_id", as: String.self) }
            var update = SQLQueryString("UPDATE touchpoints SET status = 'cancelled', updated_at = ")
            update.appendInterpolation(bind: now)
            update.appendLiteral(" WHERE ")
            dialect.appendTouchpoints(of: enrolmentIDs, to: &update)
            update.appendInterpolation(unsafeRaw: " AND \(dialect.unindexed("status")) IN ('scheduled', 'paused')")
            try await sql.raw(update).run()
            try await sql.raw("UPDATE enrolments SET status = 'cancelled', updated_at = \(bind: now) WHERE id IN (\(binds: enrolmentIDs))").run()
            try await audit.record(.enrolmentCancel, by: actor, program: programID, patients: patientIDs, at: now, in: sql)
            ended += rows.count
        }
    }

    /// On withdrawal or death: every enrolment of the patient ends and nothing more is sent.
    /// Runs inside the caller's transaction.
    static func cancelAll(_ sql: any SQLDatabase, dialect: StorageDialect, programID: String, patientID: String, at now: Int64) async throws {
        var update = SQLQueryString("UPDATE touchpoints SET status = 'cancelled', updated_at = ")
        update.appendInterpolation(bind: now)
        update.appendLiteral(" WHERE ")
        dialect.appendTouchpoints(of: try await enrolmentIDs(sql, programID: programID, patientID: patientID), to: &update)
        update.appendInterpolation(unsafeRaw: " AND \(dialect.unindexed("status")) IN ('scheduled', 'paused')")
        try await sql.raw(update).run()
        try await sql.raw("""
            UPDATE enrolments SET status = 'cancelled', updated_at = \(bind: now)
            WHERE patient_id = \(bind: patientID) AND program_id = \(bind: programID) AND status IN ('active', 'paused')
            """).run()
    }

    private func setStatus(programID: String, enrolmentID: String, from: [EnrolmentStatus], to: EnrolmentStatus, touchpoints: ([TouchpointStatus], TouchpointStatus), action: AuditAction, actor: AuditActor,
                           in joined: (any SQLDatabase)?) async throws -> Bool {
        let now = clock.now().epochMilliseconds
        let dialect = database.dialect
        return try await database.transaction(joining: joined) { sql in
            let rows = try await sql.raw("""
                UPDATE enrolments SET status = \(bind: to.rawValue), updated_at = \(bind: now)
                WHERE program_id = \(bind: programID) AND id = \(bind: enrolmentID) AND status IN (\(binds: from.map(\.rawValue)))
                RETURNING patient_id
                """).all()
            guard let patientID = try rows.first?.decode(column: "patient_id", as: String.self) else { return false }
            var update = SQLQueryString("UPDATE touchpoints SET status = ")
            update.appendInterpolation(bind: touchpoints.1.rawValue)
            update.appendLiteral(", updated_at = ")
            update.appendInterpolation(bind: now)
            update.appendLiteral(" WHERE ")
            dialect.appendTouchpoints(of: [enrolmentID], to: &update)
            update.appendInterpolation(unsafeRaw: " AND \(dialect.unindexed("status")) IN (")
            update.appendInterpolation(binds: touchpoints.0.map(\.rawValue))
            update.appendLiteral(")")
            try await sql.raw(update).run()
            try await audit.record(action, by: actor, program: programID, subject: .patient(patientID), in: sql)
            return true
        }
    }

    /// Deletes the enrolment's unsent touchpoints and plans them again from its anchors and
    /// the patient's current settings. Occurrences already sent are not planned twice.
    func replan(_ enrolment: Enrolment, pathway: StoredPathway, action: AuditAction, actor: AuditActor, in joined: (any SQLDatabase)? = nil) async throws {
        let now = clock.now()
        let nowMs = now.epochMilliseconds
        let dialect = database.dialect
        try await database.transaction(joining: joined) { sql in
            let patient = try await Self.planningPatient(sql, programID: enrolment.programID, patientID: enrolment.patientID, now: now)
            let horizon = LocalDate(instant: now, in: patient.timeZone).adding(days: Self.horizonDays)
            var delete = SQLQueryString("DELETE FROM touchpoints WHERE ")
            dialect.appendTouchpoints(of: [enrolment.id], to: &delete)
            delete.appendInterpolation(unsafeRaw: " AND \(dialect.unindexed("status")) IN (")
            delete.appendInterpolation(binds: TouchpointStatus.unsent.map(\.rawValue))
            delete.appendLiteral(")")
            try await sql.raw(delete).run()
            let planned = PathwayPlanner.plan(pathway.pathway, anchors: enrolment.anchors, patient: patient, horizon: horizon)
            try await Self.insert(sql, planned: planned, enrolment: enrolment, now: now)
            try await sql.raw("""
                UPDATE enrolments SET anchors = \(bind: Self.encode(enrolment.anchors)), status = \(bind: enrolment.status.rawValue),
                       planned_until = \(bind: horizon.description), updated_at = \(bind: nowMs)
                WHERE id = \(bind: enrolment.id)
                """).run()
            try await audit.record(action, by: actor, program: enrolment.programID, subject: .patient(enrolment.patientID), in: sql)
        }
    }

    /// Plans open-ended recurrences further ahead for active enrolments whose horizon is less
    /// than `horizonDays - 30` days away: only occurrences after the old horizon are added,
    /// nothing planned before is touched. Enrolments of pathways without open-ended steps are
    /// marked as needing no extension. Returns how many enrolments it looked at (at most `limit`).
    public func extendHorizons(pathways: [String: Pathway], limit: Int = 500) async throws -> Int {
        let now = clock.now()
        let threshold = LocalDate(instant: now, in: TimeZone.utc).adding(days: Self.horizonDays - 30).description
        let due = try await database.session { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.enrolmentColumns) FROM enrolments WHERE status = 'active' AND planned_until < \(bind: threshold)
                ORDER BY planned_until LIMIT \(unsafeRaw: String(max(1, limit)))
                """).all().map(Self.enrolment(from:))
        }
        let nowMs = now.epochMilliseconds
        for enrolment in due {
            guard let pathway = pathways[enrolment.pathwayID], pathway.isOpenEnded else {
                try await database.session { sql in
                    try await sql.raw("UPDATE enrolments SET planned_until = '9999-12-31' WHERE id = \(bind: enrolment.id)").run()
                }
                continue
            }
            try await database.transaction { sql in
                let patient = try await Self.planningPatient(sql, programID: enrolment.programID, patientID: enrolment.patientID, now: now)
                let horizon = LocalDate(instant: now, in: patient.timeZone).adding(days: Self.horizonDays)
                let added = PathwayPlanner.plan(pathway, anchors: enrolment.anchors, patient: patient, horizon: horizon)
                    .filter { $0.local.date > enrolment.plannedUntil }
                try await Self.insert(sql, planned: added, enrolment: enrolment, now: now)
                try await sql.raw("""
                    UPDATE enrolments SET planned_until = \(bind: horizon.description), updated_at = \(bind: nowMs) WHERE id = \(bind: enrolment.id)
                    """).run()
                try await audit.record(.enrolmentExtend, by: .system, program: enrolment.programID, subject: .patient(enrolment.patientID), in: sql)
            }
        }
        return due.count
    }

    /// Writes planned touchpoints of one enrolment; an occurrence that already exists (it was
    /// sent) is left as it is.
    static func insert(_ sql: any SQLDatabase, planned: [PlannedTouchpoint], enrolment: Enrolment, now: Date) async throws {
        try await MultiRowInsert(
            "INSERT INTO touchpoints (id, program_id, enrolment_id, patient_id, step_id, occurrence, due_at, local_due, channels, kind, confirm, if_unconfirmed, status, attempts, updated_at)",
            tail: "ON CONFLICT (id) DO NOTHING"
        ).run(sql, rows: planned.map { item in
            let status: TouchpointStatus = enrolment.status == .paused ? .paused : (item.dueAt < now ? .skipped : .scheduled)
            return [
                Touchpoint.id(enrolmentID: enrolment.id, stepID: item.stepID, occurrence: item.occurrence), enrolment.programID, enrolment.id,
                enrolment.patientID, item.stepID, item.occurrence, item.dueAt.epochMilliseconds, item.local.description,
                item.channels.map(\.rawValue).joined(separator: ","), item.isTask ? "task" : "message", item.confirm ? 1 : 0,
                item.ifUnconfirmed, status.rawValue, 0, now.epochMilliseconds,
            ]
        })
    }

    /// What planning needs about one patient, read from the plain (unencrypted) columns.
    static func planningPatient(_ sql: any SQLDatabase, programID: String, patientID: String, now: Date) async throws -> PlanningPatient {
        guard let row = try await sql.raw("""
            SELECT time_zone, quiet_hours, contact_window, channels, birth_date FROM patients WHERE program_id = \(bind: programID) AND id = \(bind: patientID)
            """).first() else { throw TendError.notFound("patient") }
        let tags = try await sql.raw("SELECT tag_key, tag_value FROM patient_tags WHERE patient_id = \(bind: patientID)").all().map {
            PatientTag(key: try $0.decode(column: "tag_key", as: String.self), value: try $0.decode(column: "tag_value", as: String.self))
        }
        let zoneName = try row.decode(column: "time_zone", as: String.self)
        var profile = PatientProfile(name: "-", birthDate: try row.decode(column: "birth_date", as: String?.self), timeZone: zoneName)
        profile.quietHours = try row.decode(column: "quiet_hours", as: String?.self).flatMap { try? DailyWindow.parse($0, field: "quiet_hours") }
        profile.contactWindow = try row.decode(column: "contact_window", as: String?.self).flatMap { try? DailyWindow.parse($0, field: "contact_window") }
        return PlanningPatient(
            timeZone: TimeZone(identifier: zoneName) ?? TimeZone.shanghai, quietHours: profile.quietHours,
            contactWindow: profile.contactWindow,
            channels: try row.decode(column: "channels", as: String.self).split(separator: ",").compactMap { ContactChannel(rawValue: String($0)) },
            age: profile.age(on: now), tags: Set(tags))
    }

    static func enrolment(from row: any SQLRow) throws -> Enrolment {
        Enrolment(
            id: try row.decode(column: "id", as: String.self),
            programID: try row.decode(column: "program_id", as: String.self),
            patientID: try row.decode(column: "patient_id", as: String.self),
            pathwayID: try row.decode(column: "pathway_id", as: String.self),
            anchors: decodeAnchors(try row.decode(column: "anchors", as: String.self)),
            status: EnrolmentStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .active,
            plannedUntil: LocalDate(try row.decode(column: "planned_until", as: String.self)) ?? LocalDate(year: 1970, month: 1, day: 1),
            createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(epochMilliseconds: try row.decode(column: "updated_at", as: Int64.self)))
    }

    static func touchpoint(from row: any SQLRow) throws -> Touchpoint {
        var touchpoint = Touchpoint(
            id: try row.decode(column: "id", as: String.self),
            enrolmentID: try row.decode(column: "enrolment_id", as: String.self),
            patientID: try row.decode(column: "patient_id", as: String.self),
            stepID: try row.decode(column: "step_id", as: String.self),
            occurrence: try row.decode(column: "occurrence", as: Int.self),
            dueAt: Date(epochMilliseconds: try row.decode(column: "due_at", as: Int64.self)),
            localDue: try row.decode(column: "local_due", as: String.self),
            channels: try row.decode(column: "channels", as: String.self).split(separator: ",").compactMap { ContactChannel(rawValue: String($0)) },
            isTask: try row.decode(column: "kind", as: String.self) == "task",
            confirm: try row.decode(column: "confirm", as: Int.self) != 0,
            ifUnconfirmed: try row.decode(column: "if_unconfirmed", as: String?.self),
            status: TouchpointStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .scheduled,
            attempts: try row.decode(column: "attempts", as: Int.self))
        // The delivery columns, when the query selected them.
        if row.contains(column: "channel") {
            touchpoint.channel = try row.decode(column: "channel", as: String?.self).flatMap(ContactChannel.init(rawValue:))
            touchpoint.lastError = try row.decode(column: "last_error", as: String?.self)
            touchpoint.sentAt = try row.decode(column: "sent_at", as: Int64?.self).map(Date.init(epochMilliseconds:))
            touchpoint.confirmedAt = try row.decode(column: "confirmed_at", as: Int64?.self).map(Date.init(epochMilliseconds:))
        }
        return touchpoint
    }
}
