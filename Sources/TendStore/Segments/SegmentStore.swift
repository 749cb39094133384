public import Foundation
public import SQLKit
public import TendCore

/// A program's segment as stored: its definition and the document it was written as.
public struct StoredSegment: Sendable, Equatable {
    public var id: String
    public var programID: String
    public var definition: SegmentDefinition
    public var source: String
    public var createdAt: Date
    public var updatedAt: Date
    public var updatedBy: String?
    public var evaluatedAt: Date?

    public var slug: String { definition.slug }
    public var name: LocalizedText { definition.name }
}

/// Who entered and left a segment in one evaluation.
public struct SegmentChange: Sendable, Equatable {
    public var entered: Int
    public var left: Int

    public init(entered: Int = 0, left: Int = 0) {
        self.entered = entered
        self.left = left
    }

    public static func + (lhs: SegmentChange, rhs: SegmentChange) -> SegmentChange {
        SegmentChange(entered: lhs.entered + rhs.entered, left: lhs.left + rhs.left)
    }
}

/// A patient's time in a segment; `leftAt` is nil while they are in it.
public struct SegmentMembership: Sendable, Equatable {
    public var segmentID: String
    public var patientID: String
    public var enteredAt: Date
    public var leftAt: Date?
}

/// Which way a membership just changed, until its actions have run.
public enum SegmentMove: String, Sendable {
    case enter, leave
}

/// Segments and their members. Membership changes are set-based: an evaluation writes the
/// rule's members into a temporary table, closes the memberships of those no longer in it and
/// opens one for each newcomer, marking both `pending` until their actions have run.
public struct SegmentStore: ContextualStore {
    let context: StoreContext

    static let columns = "id, program_id, slug, name_en, name_zh, rule, on_enter, on_leave, source, created_at, updated_at, updated_by, evaluated_at"

    // MARK: Definitions

    /// Creates the segment or, for a slug the program has, replaces its definition (members are
    /// kept until the next evaluation, which the caller runs in the same transaction).
    public func save(programID: String, definition: SegmentDefinition, source: String, actor: AuditActor, in sql: any SQLDatabase) async throws -> StoredSegment {
        let now = clock.now().epochMilliseconds
        let enter = definition.onEnter.map(\.text).joined(separator: "\n")
        let leave = definition.onLeave.map(\.text).joined(separator: "\n")
        let existing = try await sql.raw("SELECT id, created_at FROM segments WHERE program_id = \(bind: programID) AND slug = \(bind: definition.slug)").first()
        let id: String
        let createdAt: Int64
        if let existing {
            id = try existing.decode(column: "id", as: String.self)
            createdAt = try existing.decode(column: "created_at", as: Int64.self)
            try await sql.raw("""
                UPDATE segments SET name_en = \(bind: definition.name.en), name_zh = \(bind: definition.name.zh), rule = \(bind: definition.rule.source),
                    on_enter = \(bind: enter), on_leave = \(bind: leave), source = \(bind: source), updated_at = \(bind: now), updated_by = \(bind: actor.id)
                WHERE id = \(bind: id)
                """).run()
        } else {
            id = ids.next()
            createdAt = now
            try await sql.raw("""
                INSERT INTO segments (\(unsafeRaw: Self.columns))
                VALUES (\(bind: id), \(bind: programID), \(bind: definition.slug), \(bind: definition.name.en), \(bind: definition.name.zh), \(bind: definition.rule.source),
                        \(bind: enter), \(bind: leave), \(bind: source), \(bind: now), \(bind: now), \(bind: actor.id), \(bind: Int64?.none))
                """).run()
        }
        try await audit.record(.segmentSave, by: actor, program: programID, subject: AuditSubject(type: "segment", id: id), in: sql)
        return StoredSegment(id: id, programID: programID, definition: definition, source: source, createdAt: Date(epochMilliseconds: createdAt),
                             updatedAt: Date(epochMilliseconds: now), updatedBy: actor.id, evaluatedAt: nil)
    }

    public func list(programID: String, in sql: (any SQLDatabase)? = nil) async throws -> [StoredSegment] {
        try await database.on(sql) { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM segments WHERE program_id = \(bind: programID) ORDER BY created_at, id").all().map(Self.stored(from:))
        }
    }

    public func find(programID: String, id: String) async throws -> StoredSegment? {
        try await database.session { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM segments WHERE program_id = \(bind: programID) AND (id = \(bind: id) OR slug = \(bind: id))")
                .first().map(Self.stored(from:))
        }
    }

    static func stored(from row: any SQLRow) throws -> StoredSegment {
        let ruleText = try row.decode(column: "rule", as: String.self)
        let rule: SegmentRule
        do throws(SegmentRuleError) { rule = try SegmentRule.parse(ruleText) } catch {
            throw StoreCorruption(what: "a stored segment rule no longer reads: \(error)")
        }
        func actions(_ column: String) throws -> [SegmentAction] {
            try row.decode(column: column, as: String.self).split(separator: "\n").compactMap { SegmentAction(text: String($0)) }
        }
        let definition = SegmentDefinition(
            slug: try row.decode(column: "slug", as: String.self),
            name: LocalizedText(en: try row.decode(column: "name_en", as: String.self), zh: try row.decode(column: "name_zh", as: String.self)),
            rule: rule, onEnter: try actions("on_enter"), onLeave: try actions("on_leave"))
        return StoredSegment(
            id: try row.decode(column: "id", as: String.self), programID: try row.decode(column: "program_id", as: String.self),
            definition: definition, source: try row.decode(column: "source", as: String.self),
            createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(epochMilliseconds: try row.decode(column: "updated_at", as: Int64.self)),
            updatedBy: try row.decode(column: "updated_by", as: String?.self),
            evaluatedAt: try row.decode(column: "evaluated_at", as: Int64?.self).map(Date.init(epochMilliseconds:)))
    }

    /// Current members of each of the program's segments.
    public func counts(programID: String) async throws -> [String: Int] {
        try await database.session { sql in
            var counts: [String: Int] = [:]
            for row in try await sql.raw("""
                SELECT m.segment_id, COUNT(*) AS n FROM segments s JOIN segment_members m ON m.segment_id = s.id AND m.left_at IS NULL
                WHERE s.program_id = \(bind: programID) GROUP BY m.segment_id
                """).all() {
                counts[try row.decode(column: "segment_id", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return counts
        }
    }

    // MARK: Evaluation

    /// Who the rule takes in now, without keeping anything: how many, and the first `limit` ids.
    public func preview(programID: String, rule: SegmentRule, limit: Int) async throws -> (count: Int, patientIDs: [String]) {
        let query = SegmentSQL(programID: programID, now: clock.now(), scope: .program, dialect: database.dialect).members(rule.expression)
        return try await database.session { sql in
            var count = SQLQueryString("SELECT COUNT(*) AS n FROM (")
            count += query
            count.appendLiteral(") c")
            let total = try await sql.raw(count).first()?.decode(column: "n", as: Int.self) ?? 0
            var sample = SQLQueryString("SELECT id FROM (")
            sample += query
            sample.appendInterpolation(unsafeRaw: ") c ORDER BY id LIMIT \(max(0, min(limit, 1000)))")
            return (total, try await sql.raw(sample).all().map { try $0.decode(column: "id", as: String.self) })
        }
    }

    /// The rule over the whole program: closes the memberships of patients it no longer takes in
    /// and opens one for each newcomer, both marked pending, each audited.
    public func evaluate(_ segment: StoredSegment, actor: AuditActor, in sql: any SQLDatabase) async throws -> SegmentChange {
        let now = clock.now()
        let nowMs = now.epochMilliseconds
        let table = "tmp_segment_\(String(ids.next().suffix(12)))"
        let members = SegmentSQL(programID: segment.programID, now: now, scope: .program, dialect: database.dialect).members(segment.definition.rule.expression)
        try await sql.raw(SQLQueryString("CREATE TEMP TABLE \(table) (patient_id TEXT PRIMARY KEY)")).run()
        var fill = SQLQueryString("INSERT INTO \(unsafeRaw: table) (patient_id) ")
        fill += members
        try await sql.raw(fill).run()
        try await sql.raw("""
            UPDATE segment_members SET left_at = \(bind: nowMs), pending = 'leave'
            WHERE segment_id = \(bind: segment.id) AND left_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM \(unsafeRaw: table) t WHERE t.patient_id = segment_members.patient_id)
            """).run()
        try await sql.raw("""
            INSERT INTO segment_members (segment_id, patient_id, program_id, entered_at, pending)
            SELECT \(bind: segment.id), t.patient_id, \(bind: segment.programID), \(bind: nowMs), 'enter' FROM \(unsafeRaw: table) t
            WHERE NOT EXISTS (SELECT 1 FROM segment_members m WHERE m.segment_id = \(bind: segment.id) AND m.patient_id = t.patient_id AND m.left_at IS NULL)
            """).run()
        try await sql.raw(SQLQueryString("DROP TABLE \(table)")).run()
        try await sql.raw("UPDATE segments SET evaluated_at = \(bind: nowMs) WHERE id = \(bind: segment.id)").run()
        try await auditMoves(segment, actor: actor, at: nowMs, in: sql)
        var change = SegmentChange()
        for row in try await sql.raw("""
            SELECT pending, COUNT(*) AS n FROM segment_members WHERE segment_id = \(bind: segment.id) AND pending IS NOT NULL GROUP BY pending
            """).all() {
            let count = try row.decode(column: "n", as: Int.self)
            if try row.decode(column: "pending", as: String.self) == SegmentMove.enter.rawValue { change.entered = count } else { change.left = count }
        }
        return change
    }

    /// The rule for one patient, after something about them changed.
    public func evaluate(_ segment: StoredSegment, patientID: String, actor: AuditActor, in sql: any SQLDatabase) async throws -> SegmentChange {
        let now = clock.now()
        let nowMs = now.epochMilliseconds
        let holds = try await sql.raw(SegmentSQL(programID: segment.programID, now: now, scope: .patient(patientID), dialect: database.dialect)
            .members(segment.definition.rule.expression)).first() != nil
        let member = try await sql.raw("""
            SELECT 1 AS one FROM segment_members WHERE segment_id = \(bind: segment.id) AND patient_id = \(bind: patientID) AND left_at IS NULL
            """).first() != nil
        guard holds != member else { return SegmentChange() }
        if holds {
            try await sql.raw("""
                INSERT INTO segment_members (segment_id, patient_id, program_id, entered_at, pending)
                VALUES (\(bind: segment.id), \(bind: patientID), \(bind: segment.programID), \(bind: nowMs), 'enter')
                """).run()
        } else {
            try await sql.raw("""
                UPDATE segment_members SET left_at = \(bind: nowMs), pending = 'leave'
                WHERE segment_id = \(bind: segment.id) AND patient_id = \(bind: patientID) AND left_at IS NULL
                """).run()
        }
        try await audit.record(holds ? .segmentEnter : .segmentLeave, by: actor, program: segment.programID, subject: .patient(patientID), in: sql)
        return holds ? SegmentChange(entered: 1) : SegmentChange(left: 1)
    }

    private func auditMoves(_ segment: StoredSegment, actor: AuditActor, at now: Int64, in sql: any SQLDatabase) async throws {
        for move in [SegmentMove.enter, .leave] {
            try await AuditLog.recordForEachPatient(
                in: pendingSource(segment.id, move), idPrefix: ids.next() + ".", action: move == .enter ? .segmentEnter : .segmentLeave,
                by: actor, program: segment.programID, at: now, dialect: database.dialect, in: sql)
        }
    }

    /// The patients whose move into or out of the segment has actions still to run, as a
    /// source with a `patient_id` column.
    public func pendingSource(_ segmentID: String, _ move: SegmentMove) -> String {
        "(SELECT patient_id FROM segment_members WHERE segment_id = \(StorageDialect.literal(segmentID)) AND pending = '\(move.rawValue)')"
    }

    /// The time zones of the patients who just entered (their enrolments start on their own
    /// local day).
    public func pendingZones(_ segmentID: String, _ move: SegmentMove, in sql: any SQLDatabase) async throws -> [String] {
        try await sql.raw("""
            SELECT DISTINCT p.time_zone FROM segment_members m JOIN patients p ON p.id = m.patient_id
            WHERE m.segment_id = \(bind: segmentID) AND m.pending = \(bind: move.rawValue) ORDER BY p.time_zone
            """).all().map { try $0.decode(column: "time_zone", as: String.self) }
    }

    /// Actions have run: the segment's moves are no longer pending.
    public func settle(_ segmentID: String, in sql: any SQLDatabase) async throws {
        try await sql.raw("UPDATE segment_members SET pending = NULL WHERE segment_id = \(bind: segmentID) AND pending IS NOT NULL").run()
    }

    // MARK: Actions (set-based over the pending moves)

    /// Sets a tag on every patient who just made `move` and lacks it, recorded as the segment's.
    public func setTag(_ tag: PatientTag, segment: StoredSegment, for move: SegmentMove, actor: AuditActor, in sql: any SQLDatabase) async throws {
        let now = clock.now().epochMilliseconds
        let lacking = """
            (SELECT c.patient_id FROM \(pendingSource(segment.id, move)) c WHERE NOT EXISTS (SELECT 1 FROM patient_tags t WHERE t.patient_id = c.patient_id \
            AND t.tag_key = \(StorageDialect.literal(tag.key)) AND t.tag_value = \(StorageDialect.literal(tag.value))))
            """
        try await AuditLog.recordForEachPatient(in: lacking, idPrefix: ids.next() + ".", action: .patientTagAdd, by: actor, program: segment.programID,
                                                at: now, dialect: database.dialect, in: sql)
        try await sql.raw("""
            INSERT INTO patient_tags (program_id, patient_id, tag_key, tag_value, set_by, source, set_at)
            SELECT \(bind: segment.programID), c.patient_id, \(bind: tag.key), \(bind: tag.value), \(bind: segment.id), 'segment', \(bind: now)
            FROM \(unsafeRaw: lacking) c
            """).run()
    }

    /// Clears a tag this segment set from every patient who just made `move`.
    public func clearTag(_ tag: PatientTag, segment: StoredSegment, for move: SegmentMove, actor: AuditActor, in sql: any SQLDatabase) async throws {
        let now = clock.now().epochMilliseconds
        let holding = """
            (SELECT t.patient_id FROM patient_tags t WHERE t.patient_id IN \(pendingSource(segment.id, move)) \
            AND t.tag_key = \(StorageDialect.literal(tag.key)) AND t.tag_value = \(StorageDialect.literal(tag.value)) \
            AND t.source = 'segment' AND t.set_by = \(StorageDialect.literal(segment.id)))
            """
        try await AuditLog.recordForEachPatient(in: holding, idPrefix: ids.next() + ".", action: .patientTagRemove, by: actor, program: segment.programID,
                                                at: now, dialect: database.dialect, in: sql)
        try await sql.raw("""
            DELETE FROM patient_tags WHERE patient_id IN \(unsafeRaw: pendingSource(segment.id, move))
              AND tag_key = \(bind: tag.key) AND tag_value = \(bind: tag.value) AND source = 'segment' AND set_by = \(bind: segment.id)
            """).run()
    }

    /// Adds every patient who just made `move` to a chat group of the program (or removes them).
    public func changeGroup(_ groupID: String, join: Bool, segment: StoredSegment, for move: SegmentMove, actor: AuditActor, in sql: any SQLDatabase) async throws {
        guard try await sql.raw("SELECT 1 AS one FROM chat_groups WHERE id = \(bind: groupID) AND program_id = \(bind: segment.programID)").first() != nil else { return }
        let now = clock.now().epochMilliseconds
        let affected = join
            ? "(SELECT c.patient_id FROM \(pendingSource(segment.id, move)) c WHERE NOT EXISTS (SELECT 1 FROM chat_group_members g WHERE g.group_id = \(StorageDialect.literal(groupID)) AND g.member_kind = 'patient' AND g.member_id = c.patient_id))"
            : "(SELECT g.member_id AS patient_id FROM chat_group_members g WHERE g.group_id = \(StorageDialect.literal(groupID)) AND g.member_kind = 'patient' AND g.member_id IN \(pendingSource(segment.id, move)))"
        try await AuditLog.recordForEachPatient(in: affected, idPrefix: ids.next() + ".", action: join ? .groupJoin : .groupLeave, by: actor,
                                                program: segment.programID, at: now, dialect: database.dialect, in: sql)
        if join {
            try await sql.raw("INSERT INTO chat_group_members (group_id, member_kind, member_id) SELECT \(bind: groupID), 'patient', c.patient_id FROM \(unsafeRaw: affected) c").run()
        } else {
            try await sql.raw("""
                DELETE FROM chat_group_members WHERE group_id = \(bind: groupID) AND member_kind = 'patient' AND member_id IN \(unsafeRaw: pendingSource(segment.id, move))
                """).run()
        }
    }

    // MARK: Reading

    /// Current members, newest first.
    public func members(_ segment: StoredSegment, limit: Int, offset: Int = 0) async throws -> [SegmentMembership] {
        try await database.session { sql in
            try await sql.raw("""
                SELECT segment_id, patient_id, entered_at, left_at FROM segment_members
                WHERE segment_id = \(bind: segment.id) AND left_at IS NULL
                ORDER BY entered_at DESC, patient_id LIMIT \(unsafeRaw: String(max(1, min(limit, 500)))) OFFSET \(unsafeRaw: String(max(0, min(offset, 1_000_000))))
                """).all().map(Self.membership(from:))
        }
    }

    /// Every time the patient was in one of the program's segments, the current ones first.
    public func memberships(programID: String, patientID: String, in sql: (any SQLDatabase)? = nil) async throws -> [SegmentMembership] {
        try await database.on(sql) { sql in
            try await sql.raw("""
                SELECT segment_id, patient_id, entered_at, left_at FROM segment_members
                WHERE patient_id = \(bind: patientID) AND \(unsafeRaw: database.dialect.neverIndexed("program_id")) = \(bind: programID)
                ORDER BY CASE WHEN left_at IS NULL THEN 0 ELSE 1 END, entered_at DESC LIMIT 200
                """).all().map(Self.membership(from:))
        }
    }

    static func membership(from row: any SQLRow) throws -> SegmentMembership {
        SegmentMembership(segmentID: try row.decode(column: "segment_id", as: String.self), patientID: try row.decode(column: "patient_id", as: String.self),
                          enteredAt: Date(epochMilliseconds: try row.decode(column: "entered_at", as: Int64.self)),
                          leftAt: try row.decode(column: "left_at", as: Int64?.self).map(Date.init(epochMilliseconds:)))
    }

    /// Whether one clause holds for the patient now (for "why").
    public func holds(_ clause: SegmentClause, programID: String, patientID: String) async throws -> Bool {
        let query = SegmentSQL(programID: programID, now: clock.now(), scope: .patient(patientID), dialect: database.dialect).members(.clause(clause))
        return try await database.session { sql in try await sql.raw(query).first() != nil }
    }
    /// The value a clause read for the patient: the reading, aggregate, score, band, tag values,
    /// age or attribute that decided it, with when it was taken where that applies.
    public func evidence(_ clause: SegmentClause, programID: String, patientID: String) async throws -> SegmentEvidence? {
        let now = clock.now()
        let nowMs = now.epochMilliseconds
        let since: @Sendable (SegmentWindow?) -> Int64 = { window in window.map { nowMs - Int64($0.hours) * 3_600_000 } ?? Int64.min / 2 }
        return try await database.session { sql -> SegmentEvidence? in
            switch clause.condition {
            case .tag(let key, _):
                let values = try await sql.raw("SELECT tag_value FROM patient_tags WHERE patient_id = \(bind: patientID) AND tag_key = \(bind: key) ORDER BY tag_value")
                    .all().map { try $0.decode(column: "tag_value", as: String.self) }
                return values.isEmpty ? nil : SegmentEvidence(value: values.joined(separator: ", "), at: nil)
            case .age, .attribute:
                guard let row = try await sql.raw("SELECT sex, birth_date, status, time_zone, locale FROM patients WHERE id = \(bind: patientID) AND program_id = \(bind: programID)").first() else { return nil }
                if case .attribute(let attribute, _) = clause.condition {
                    return SegmentEvidence(value: try row.decode(column: attribute.rawValue, as: String.self), at: nil)
                }
                guard let text = try row.decode(column: "birth_date", as: String?.self), let born = LocalDate(text) else { return nil }
                let today = LocalDate(instant: now, in: .utc)
                let years = today.year - born.year - ((today.month, today.day) < (born.month, born.day) ? 1 : 0)
                return SegmentEvidence(value: String(years), at: nil)
            case .observation(let aggregate, let code, let window, _, _):
                let decimals = ObservationCatalog.definition(code: code)?.decimals ?? 2
                let unit = ObservationCatalog.definition(code: code).map { " " + ObservationCatalog.symbol($0.canonicalUnit) } ?? ""
                if aggregate == .last {
                    guard let row = try await sql.raw("""
                        SELECT value_number, effective_at FROM observations WHERE patient_id = \(bind: patientID) AND code = \(bind: code.description)
                          AND effective_at >= \(bind: since(window)) AND effective_at <= \(bind: nowMs) AND value_number IS NOT NULL
                          AND \(unsafeRaw: database.dialect.neverIndexed("program_id")) = \(bind: programID)
                        ORDER BY effective_at DESC, id DESC LIMIT 1
                        """).first() else { return nil }
                    return SegmentEvidence(value: try row.decode(column: "value_number", as: Double.self).text(decimals: decimals) + unit,
                                           at: Date(epochMilliseconds: try row.decode(column: "effective_at", as: Int64.self)))
                }
                let function = switch aggregate { case .min: "MIN(value_number)"; case .max: "MAX(value_number)"; case .mean: "AVG(value_number)"; default: "COUNT(*)" }
                guard let row = try await sql.raw("""
                    SELECT \(unsafeRaw: function) AS v, COUNT(*) AS n FROM observations WHERE patient_id = \(bind: patientID) AND code = \(bind: code.description)
                      AND effective_at >= \(bind: since(window)) AND effective_at <= \(bind: nowMs) AND value_number IS NOT NULL
                      AND \(unsafeRaw: database.dialect.neverIndexed("program_id")) = \(bind: programID)
                    """).first() else { return nil }
                let count = try row.decode(column: "n", as: Int.self)
                if aggregate == .count { return SegmentEvidence(value: String(count), at: nil) }
                guard count > 0, let value = try row.decode(column: "v", as: Double?.self) else { return nil }
                return SegmentEvidence(value: value.text(decimals: decimals) + unit + " (n=\(count))", at: nil)
            case .score(let questionnaire, let window, _, _), .band(let questionnaire, let window, _):
                let needsTotal: String
                if case .score = clause.condition { needsTotal = " AND total IS NOT NULL" } else { needsTotal = "" }
                guard let row = try await sql.raw("""
                    SELECT total, band, submitted_at FROM questionnaire_responses WHERE patient_id = \(bind: patientID) AND questionnaire_id = \(bind: questionnaire)
                      AND submitted_at >= \(bind: since(window)) AND submitted_at <= \(bind: nowMs)\(unsafeRaw: needsTotal)
                      AND \(unsafeRaw: database.dialect.neverIndexed("program_id")) = \(bind: programID)
                    ORDER BY submitted_at DESC, id DESC LIMIT 1
                    """).first() else { return nil }
                let at = Date(epochMilliseconds: try row.decode(column: "submitted_at", as: Int64.self))
                if case .score = clause.condition {
                    return SegmentEvidence(value: (try row.decode(column: "total", as: Double?.self) ?? 0).text(decimals: 1), at: at)
                }
                return SegmentEvidence(value: try row.decode(column: "band", as: String?.self) ?? "—", at: at)
            case .adherence(let drugClass, let window, _, _):
                let clauses = SegmentSQL(programID: programID, now: now, scope: .patient(patientID), dialect: database.dialect)
                var pdc = SQLQueryString("SELECT covered_days, treatment_days FROM (")
                pdc += DispenseStore.pdcQuery(programID: programID, patientID: patientID, start: clauses.adherenceStart(window), end: clauses.today, dialect: database.dialect)
                pdc.appendLiteral(") q WHERE q.cls = ")
                pdc.appendInterpolation(bind: drugClass)
                guard let row = try await sql.raw(pdc).first() else { return nil }
                let covered = try row.decode(column: "covered_days", as: Int.self), treatment = try row.decode(column: "treatment_days", as: Int.self)
                guard treatment >= PDC.minimumTreatmentDays else {
                    return SegmentEvidence(value: "\(covered)/\(treatment) days (under \(PDC.minimumTreatmentDays): not measurable)", at: nil)
                }
                return SegmentEvidence(value: (Double(covered) / Double(treatment)).text(decimals: 2) + " (\(covered)/\(treatment) days)", at: nil)
            case .enrolled(let pathway, _):
                let statuses = try await sql.raw("""
                    SELECT e.status FROM enrolments e WHERE e.patient_id = \(bind: patientID) AND e.program_id = \(bind: programID)
                      AND e.pathway_id IN (SELECT w.id FROM pathways w WHERE w.program_id = \(bind: programID) AND w.slug = \(bind: pathway))
                    ORDER BY e.created_at DESC
                    """).all().map { try $0.decode(column: "status", as: String.self) }
                return statuses.isEmpty ? nil : SegmentEvidence(value: statuses.joined(separator: ", "), at: nil)
            }
        }
    }
}

/// What a clause read for one patient.
public struct SegmentEvidence: Sendable, Equatable {
    public var value: String
    public var at: Date?
}
