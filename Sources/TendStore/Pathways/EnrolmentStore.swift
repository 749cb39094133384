import Foundation
public import SQLKit
public import TendCore

/// Which patients an enrolment call takes in.
public enum EnrolmentTarget: Sendable {
    case patient(String)
    /// Every active patient of the program whose tags match.
    case tagged(TagFilter)
    /// The active patients of a time zone who just entered (`move` "enter") or left a segment.
    case segmentMoved(segmentID: String, move: String, timeZone: String)
}

public struct EnrolmentResult: Sendable, Equatable {
    public var enrolled: Int
    public var touchpoints: Int
    /// Ids of the new enrolments when a single patient was enrolled.
    public var enrolmentIDs: [String]
}

/// Enrolments and their touchpoints. Materialisation is set-based: patients are grouped by
/// what their schedule depends on (zone, quiet hours, window, channels, age thresholds and tag
/// conditions of the pathway), each group is planned once, and the touchpoints of every
/// patient are written by one INSERT … SELECT.
public struct EnrolmentStore: ContextualStore {
    let context: StoreContext

    /// How far ahead open-ended recurrences are materialised.
    public static let horizonDays = 400

    // MARK: Enrol

    /// The temporary tables of one enrol call, named after its batch.
    private struct EnrolBatch {
        let batch: String
        let shapeKey: ShapeKey
        var candidates: String { "tmp_enrol_\(batch)" }
        var shapes: String { "tmp_shape_\(batch)" }
        var plans: String { "tmp_plan_\(batch)" }
        var flagColumns: [String] { shapeKey.flagNames.map { "\($0) BIGINT NOT NULL" } }
        var groupColumns: String { "time_zone, quiet, win, channels" + shapeKey.flagNames.map { ", " + $0 }.joined() }
    }

    public func enrol(programID: String, pathway stored: StoredPathway, target: EnrolmentTarget, anchors: [String: LocalDate], actor: AuditActor,
                      in joined: (any SQLDatabase)? = nil) async throws -> EnrolmentResult {
        let pathway = stored.pathway
        for anchor in pathway.anchors where anchors[anchor] == nil {
            throw TendError.missing("anchors.\(anchor)")
        }
        for name in anchors.keys where !pathway.allAnchors.contains(name) {
            throw TendError(kind: .notFound, code: "not_found", message: .init(en: "\(pathway.id) has no anchor \(name)", zh: "方案 \(pathway.id) 没有锚点 \(name)"), field: "anchors.\(name)")
        }
        let now = clock.now()
        // Unique per enrolment call.
        let batch = EnrolBatch(batch: String(ids.next().suffix(12)), shapeKey: ShapeKey(pathway: pathway, today: LocalDate(instant: now, in: TimeZone.utc)))
        return try await database.transaction(joining: joined) { sql in
            try await selectCandidates(batch, programID: programID, pathway: pathway, target: target, in: sql)
            let (candidateCount, touchpointCount) = try await planShapes(batch, pathway: pathway, anchors: anchors, now: now, in: sql)
            let single = try await writeEnrolments(batch, programID: programID, pathwayID: stored.id, target: target, now: now, actor: actor, in: sql)
            for table in [batch.candidates, batch.shapes, batch.plans] {
                try await sql.raw(SQLQueryString("DROP TABLE \(table)")).run()
            }
            return EnrolmentResult(enrolled: candidateCount, touchpoints: touchpointCount, enrolmentIDs: single)
        }
    }

    /// 1. The patients to enrol, with what their schedule depends on, each numbered in patient
    /// order (zero-padded so ids sort as they are written).
    private func selectCandidates(_ batch: EnrolBatch, programID: String, pathway: Pathway, target: EnrolmentTarget, in sql: any SQLDatabase) async throws {
        try await sql.raw(SQLQueryString("CREATE TEMP TABLE \(batch.candidates) (patient_id TEXT PRIMARY KEY, seq TEXT NOT NULL, time_zone TEXT NOT NULL, quiet TEXT NOT NULL, win TEXT NOT NULL, channels TEXT NOT NULL\(batch.flagColumns.map { ", " + $0 }.joined()))")).run()
        let seq = database.dialect.zeroPadded("ROW_NUMBER() OVER (ORDER BY p.id)", width: 8)
        var select = SQLQueryString("INSERT INTO \(unsafeRaw: batch.candidates) SELECT p.id, \(unsafeRaw: seq), p.time_zone, COALESCE(p.quiet_hours, ''), COALESCE(p.contact_window, ''), p.channels")
        batch.shapeKey.appendFlags(&select)
        select.appendLiteral(" FROM patients p WHERE p.program_id = ")
        select.appendInterpolation(bind: programID)
        select.appendLiteral(" AND p.status = 'active'")
        switch target {
        case .patient(let id):
            select.appendLiteral(" AND p.id = ")
            select.appendInterpolation(bind: id)
        case .tagged(let filter):
            TagSQL.appendFilter(&select, filter)
        case .segmentMoved(let segmentID, let move, let zone):
            select.appendLiteral(" AND p.time_zone = ")
            select.appendInterpolation(bind: zone)
            select.appendLiteral(" AND p.id IN (SELECT m.patient_id FROM segment_members m WHERE m.segment_id = ")
            select.appendInterpolation(bind: segmentID)
            select.appendLiteral(" AND m.pending = ")
            select.appendInterpolation(bind: move)
            select.appendLiteral(")")
        }
        select.appendLiteral(" AND NOT EXISTS (SELECT 1 FROM enrolments e JOIN pathways w ON w.id = e.pathway_id WHERE e.patient_id = p.id AND w.slug = ")
        select.appendInterpolation(bind: pathway.id)
        select.appendLiteral(" AND e.status IN ('active', 'paused')) ORDER BY p.id")
        try await sql.raw(select).run()
    }

    /// 2. Plans each distinct shape of candidate once; returns how many candidates and
    /// touchpoints that makes.
    private func planShapes(_ batch: EnrolBatch, pathway: Pathway, anchors: [String: LocalDate], now: Date, in sql: any SQLDatabase) async throws -> (Int, Int) {
        let shapeKey = batch.shapeKey
        let shapeRows = try await sql.raw(SQLQueryString("SELECT \(batch.groupColumns), COUNT(*) AS members FROM \(batch.candidates) GROUP BY \(batch.groupColumns)")).all()
        var touchpointCount = 0
        var candidateCount = 0
        try await sql.raw(SQLQueryString("CREATE TEMP TABLE \(batch.shapes) (shape_no BIGINT PRIMARY KEY, time_zone TEXT NOT NULL, quiet TEXT NOT NULL, win TEXT NOT NULL, channels TEXT NOT NULL, anchors TEXT NOT NULL, planned_until TEXT NOT NULL\(batch.flagColumns.map { ", " + $0 }.joined()))")).run()
        try await sql.raw(SQLQueryString("CREATE TEMP TABLE \(batch.plans) (shape_no BIGINT NOT NULL, step_id TEXT NOT NULL, occurrence BIGINT NOT NULL, due_at BIGINT NOT NULL, local_due TEXT NOT NULL, channels TEXT NOT NULL, kind TEXT NOT NULL, confirm BIGINT NOT NULL, if_unconfirmed TEXT, status TEXT NOT NULL)")).run()
        var planRows: [[any Encodable & Sendable]] = []
        for (number, row) in shapeRows.enumerated() {
            let zoneName = try row.decode(column: "time_zone", as: String.self)
            let zone = TimeZone(identifier: zoneName) ?? TimeZone.shanghai
            let quiet = try row.decode(column: "quiet", as: String.self), window = try row.decode(column: "win", as: String.self)
            let channelText = try row.decode(column: "channels", as: String.self)
            let flags = try shapeKey.flagNames.map { try row.decode(column: $0, as: Int.self) != 0 }
            var shapeAnchors = anchors
            if shapeAnchors[Pathway.enrolmentAnchor] == nil {
                shapeAnchors[Pathway.enrolmentAnchor] = LocalDate(instant: now, in: zone)
            }
            let plannedUntil = LocalDate(instant: now, in: zone).adding(days: Self.horizonDays)
            let patient = PlanningPatient(
                timeZone: zone, quietHours: quiet.isEmpty ? nil : try? DailyWindow.parse(quiet, field: "quiet_hours"),
                contactWindow: window.isEmpty ? nil : try? DailyWindow.parse(window, field: "contact_window"),
                channels: channelText.split(separator: ",").compactMap { ContactChannel(rawValue: String($0)) },
                age: shapeKey.representativeAge(flags), tags: shapeKey.representativeTags(flags))
            var shapeValues: [any Encodable & Sendable] = [number, zoneName, quiet, window, channelText, Self.encode(shapeAnchors), plannedUntil.description]
            shapeValues += flags.map { $0 ? 1 : 0 }
            try await sql.raw("INSERT INTO \(unsafeRaw: batch.shapes) VALUES (\(binds: shapeValues))").run()
            let plan = PathwayPlanner.plan(pathway, anchors: shapeAnchors, patient: patient, horizon: plannedUntil)
            let members = try row.decode(column: "members", as: Int.self)
            touchpointCount += plan.count * members
            candidateCount += members
            for planned in plan {
                planRows.append(Self.planRow(planned, shape: number, now: now))
            }
        }
        try await MultiRowInsert("INSERT INTO \(batch.plans)").run(sql, rows: planRows)
        // Indexes so each candidate finds its group and plan by lookup, not by scanning.
        try await sql.raw(SQLQueryString("CREATE INDEX \(batch.shapes)_key ON \(batch.shapes) (\(batch.groupColumns))")).run()
        try await sql.raw(SQLQueryString("CREATE INDEX \(batch.plans)_shape ON \(batch.plans) (shape_no)")).run()
        return (candidateCount, touchpointCount)
    }

    /// 3. Enrolments, touchpoints and audit events for every candidate, set-based; returns the
    /// enrolment's id when one patient was enrolled.
    private func writeEnrolments(_ batch: EnrolBatch, programID: String, pathwayID: String, target: EnrolmentTarget, now: Date, actor: AuditActor,
                                 in sql: any SQLDatabase) async throws -> [String] {
        let dialect = database.dialect
        let candidates = batch.candidates, shapes = batch.shapes, plans = batch.plans
        let nowMs = now.epochMilliseconds
        let shapeJoin = (["time_zone", "quiet", "win", "channels"] + batch.shapeKey.flagNames).map { "s.\($0) = c.\($0)" }.joined(separator: " AND ")
        // SQLite keeps the written order of a CROSS JOIN: walking candidates (in patient
        // order) outermost writes touchpoints in key order instead of all over the index.
        let join = dialect.orderedJoin
        // Enrolment ids are the call's batch prefix and the candidate's number: short, because
        // every touchpoint id (and its index entries) starts with one.
        let enrolmentID = dialect.concat([StorageDialect.literal(batch.batch), "c.seq"])
        try await sql.raw("""
            INSERT INTO enrolments (id, program_id, patient_id, pathway_id, anchors, status, planned_until, created_at, updated_at)
            SELECT \(unsafeRaw: enrolmentID), \(bind: programID), c.patient_id, \(bind: pathwayID), s.anchors, 'active', s.planned_until, \(bind: nowMs), \(bind: nowMs)
            FROM \(unsafeRaw: candidates) c \(unsafeRaw: join) \(unsafeRaw: shapes) s ON \(unsafeRaw: shapeJoin)
            """).run()
        let touchpointID = dialect.concat([StorageDialect.literal(batch.batch), "c.seq", StorageDialect.literal("."), "t.step_id", StorageDialect.literal("."), "CAST(t.occurrence AS TEXT)"])
        try await sql.raw("""
            INSERT INTO touchpoints (id, program_id, enrolment_id, patient_id, step_id, occurrence, due_at, local_due, channels, kind, confirm, if_unconfirmed, status, attempts, updated_at)
            SELECT \(unsafeRaw: touchpointID), \(bind: programID), \(unsafeRaw: enrolmentID), c.patient_id, t.step_id, t.occurrence, t.due_at, t.local_due,
                   t.channels, t.kind, t.confirm, t.if_unconfirmed, t.status, 0, \(bind: nowMs)
            FROM \(unsafeRaw: candidates) c \(unsafeRaw: join) \(unsafeRaw: shapes) s ON \(unsafeRaw: shapeJoin) \(unsafeRaw: join) \(unsafeRaw: plans) t ON t.shape_no = s.shape_no
            """).run()
        try await AuditLog.recordForEachPatient(in: candidates, idPrefix: ids.next(), action: .patientEnrol, by: actor, program: programID, at: nowMs,
                                                dialect: dialect, in: sql)
        guard case .patient = target else { return [] }
        return try await sql.raw(SQLQueryString("SELECT \(enrolmentID) AS id FROM \(candidates) c")).all().map { try $0.decode(column: "id", as: String.self) }
    }

    static func planRow(_ planned: PlannedTouchpoint, shape: Int, now: Date) -> [any Encodable & Sendable] {
        let status: TouchpointStatus = planned.dueAt < now ? .skipped : .scheduled
        return [shape, planned.stepID, planned.occurrence, planned.dueAt.epochMilliseconds, planned.local.description,
                planned.channels.map(\.rawValue).joined(separator: ","), planned.isTask ? "task" : "message",
                planned.confirm ? 1 : 0, planned.ifUnconfirmed, status.rawValue]
    }

    static func encode(_ anchors: [String: LocalDate]) -> String {
        let pairs = anchors.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }
        return "{" + pairs.joined(separator: ",") + "}"
    }

    static func decodeAnchors(_ text: String) -> [String: LocalDate] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String] else { return [:] }
        return object.compactMapValues(LocalDate.init)
    }

    /// What a pathway's schedule can depend on besides zone, windows and channels: an age
    /// threshold per `channels_by_age` rule and a tag condition per `only_tags` set.
    struct ShapeKey {
        let ageThresholds: [Int]
        let tagGroups: [[PatientTag]]
        let today: LocalDate

        init(pathway: Pathway, today: LocalDate) {
            ageThresholds = Array(Set(pathway.steps.flatMap { $0.channelsByAge.map(\.minimumAge) })).sorted()
            var groups: [[PatientTag]] = []
            for step in pathway.steps where !step.onlyTags.isEmpty && !groups.contains(step.onlyTags) {
                groups.append(step.onlyTags)
            }
            tagGroups = groups
            self.today = today
        }

        var flagNames: [String] {
            ageThresholds.indices.map { "age_\($0)" } + tagGroups.indices.map { "tags_\($0)" }
        }

        func appendFlags(_ query: inout SQLQueryString) {
            for threshold in ageThresholds {
                let cutoff = today.adding(months: -12 * threshold).description
                query.appendLiteral(", CASE WHEN p.birth_date IS NOT NULL AND p.birth_date <= ")
                query.appendInterpolation(bind: cutoff)
                query.appendLiteral(" THEN 1 ELSE 0 END")
            }
            for group in tagGroups {
                query.appendLiteral(", CASE WHEN 1 = 1")
                for tag in group {
                    query.appendLiteral(" AND EXISTS (")
                    TagSQL.appendMatch(&query, [tag])
                    query.appendLiteral(")")
                }
                query.appendLiteral(" THEN 1 ELSE 0 END")
            }
        }

        /// An age that crosses exactly the thresholds flagged, for planning the group.
        func representativeAge(_ flags: [Bool]) -> Int? {
            let crossed = zip(ageThresholds, flags).filter(\.1).map(\.0)
            return crossed.max()
        }

        func representativeTags(_ flags: [Bool]) -> Set<PatientTag> {
            Set(zip(tagGroups, flags.dropFirst(ageThresholds.count)).filter(\.1).flatMap(\.0))
        }
    }
}
