import Foundation
public import SQLKit
public import TendCore

/// Who is reading or writing, for the audit trail.
public struct PatientQuery: Sendable {
    public var tags = TagFilter()
    public var status: PatientStatus?
    public var externalID: String?
    /// Paging: ids sort by creation time; a page continues after the last id of the previous one.
    public var after: String?
    public var limit = 50

    public init(tags: TagFilter = TagFilter(), status: PatientStatus? = nil, externalID: String? = nil, after: String? = nil, limit: Int = 50) {
        self.tags = tags
        self.status = status
        self.externalID = externalID
        self.after = after
        self.limit = limit
    }
}

public struct PatientPage: Sendable {
    public var patients: [Patient]
    public var nextAfter: String?
}

/// Patients of one program. PII is sealed with the field cipher before it reaches SQL, and
/// every read and write appends audit events in the same unit of work.
public struct PatientStore: ContextualStore {
    let context: StoreContext

    static let columns = [
        "id", "program_id", "external_id", "name_enc", "name_bidx", "sex", "birth_date", "phone_enc", "phone_bidx",
        "id_number_enc", "id_number_bidx", "address_enc", "locale", "time_zone", "contact_window", "quiet_hours",
        "channels", "caregivers_enc", "status", "created_at", "updated_at",
    ]
    static let columnList = columns.joined(separator: ", ")
    static let updatableColumns = columns.filter { !["id", "program_id", "created_at"].contains($0) }

    // MARK: Blind indexes

    public func phoneIndex(_ normalised: String, program: String) -> String { blindIndex.index(normalised, purpose: "phone", program: program) }
    public func idNumberIndex(_ normalised: String, program: String) -> String { blindIndex.index(normalised, purpose: "id_number", program: program) }
    public func nameIndex(_ name: String, program: String) -> String { blindIndex.index(PatientFields.normalisedName(name), purpose: "name", program: program) }

    /// The three lookups a profile is found by.
    struct BlindIndexes: Sendable {
        var name: String
        var phone: String?
        var idNumber: String?
    }

    func indexes(of profile: PatientProfile, program: String) -> BlindIndexes {
        BlindIndexes(name: nameIndex(profile.name, program: program), phone: profile.phone.map { phoneIndex($0, program: program) },
                     idNumber: profile.idNumber.map { idNumberIndex($0, program: program) })
    }

    /// The column values of one patient row, PII sealed.
    func row(id: String, programID: String, profile: PatientProfile, indexes: BlindIndexes? = nil, createdAt: Int64, updatedAt: Int64) throws -> [SQLValue] {
        let indexes = indexes ?? self.indexes(of: profile, program: programID)
        func seal(_ value: String?, _ column: String) throws -> SQLValue {
            SQLValue(try value.map { try cipher.seal($0, for: Self.context(programID, id, column)) })
        }
        let caregivers = profile.caregivers.isEmpty ? nil : String(decoding: try JSONEncoder().encode(profile.caregivers), as: UTF8.self)
        return [
            .text(id), .text(programID), SQLValue(profile.externalID),
            try seal(profile.name, "name_enc"), .text(indexes.name),
            .text(profile.sex.rawValue), SQLValue(profile.birthDate),
            try seal(profile.phone, "phone_enc"), SQLValue(indexes.phone),
            try seal(profile.idNumber, "id_number_enc"), SQLValue(indexes.idNumber),
            try seal(profile.address, "address_enc"),
            .text(profile.locale.rawValue), .text(profile.timeZone),
            SQLValue(profile.contactWindow?.text), SQLValue(profile.quietHours?.text),
            .text(profile.channels.map(\.rawValue).joined(separator: ",")),
            try seal(caregivers, "caregivers_enc"), .text(profile.status.rawValue), .integer(createdAt), .integer(updatedAt),
        ]
    }

    /// Seals a profile's fields again for this patient and writes them.
    func rewriteSealed(_ sql: any SQLDatabase, programID: String, patientID: String, profile: PatientProfile) async throws {
        let values = try row(id: patientID, programID: programID, profile: profile, createdAt: 0, updatedAt: 0)
        var query = SQLQueryString("UPDATE patients SET ")
        for (index, column) in Self.sealedColumns.enumerated() {
            if index > 0 { query.appendLiteral(", ") }
            query.appendInterpolation(unsafeRaw: "\(column) = ")
            if let position = Self.columns.firstIndex(of: column) { query.appendInterpolation(bind: values[position].encodable) }
        }
        query.appendLiteral(" WHERE id = ")
        query.appendInterpolation(bind: patientID)
        try await sql.raw(query).run()
    }

    func profile(from row: any SQLRow) throws -> PatientProfile {
        let id = try row.decode(column: "id", as: String.self), programID = try row.decode(column: "program_id", as: String.self)
        func open(_ column: String) throws -> String? {
            try row.decode(column: column, as: String?.self).map { try cipher.open($0, for: Self.context(programID, id, column)) }
        }
        let caregivers: [Caregiver] = try open("caregivers_enc").map { try JSONDecoder().decode([Caregiver].self, from: Data($0.utf8)) } ?? []
        return PatientProfile(
            externalID: try row.decode(column: "external_id", as: String?.self),
            name: try open("name_enc") ?? "",
            sex: Sex(rawValue: try row.decode(column: "sex", as: String.self)) ?? .unknown,
            birthDate: try row.decode(column: "birth_date", as: String?.self),
            phone: try open("phone_enc"),
            idNumber: try open("id_number_enc"),
            address: try open("address_enc"),
            locale: AppLocale(rawValue: try row.decode(column: "locale", as: String.self)) ?? .zhHans,
            timeZone: try row.decode(column: "time_zone", as: String.self),
            contactWindow: try row.decode(column: "contact_window", as: String?.self).flatMap { try? DailyWindow.parse($0, field: "contact_window") },
            quietHours: try row.decode(column: "quiet_hours", as: String?.self).flatMap { try? DailyWindow.parse($0, field: "quiet_hours") },
            channels: try row.decode(column: "channels", as: String.self).split(separator: ",").compactMap { ContactChannel(rawValue: String($0)) },
            caregivers: caregivers,
            status: PatientStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .active)
    }

    // MARK: Writes

    /// Creates a patient after checking that no other patient of the program has the same
    /// external id, phone or ID number.
    public func create(programID: String, profile rawProfile: PatientProfile, tags: [PatientTag] = [], actor: AuditActor,
                       in joined: (any SQLDatabase)? = nil) async throws -> Patient {
        let profile = try rawProfile.validated()
        let tags = try tags.map { try $0.validated() }
        let id = ids.next()
        let now = clock.now().epochMilliseconds
        let values = try row(id: id, programID: programID, profile: profile, createdAt: now, updatedAt: now).map(\.encodable)
        let auditIDs = (0..<2).map { _ in ids.next() }
        do {
            try await database.transaction(joining: joined) { sql in
                try await self.checkDuplicates(sql, programID: programID, profile: profile, excluding: nil)
                try await sql.raw("INSERT INTO patients (\(unsafeRaw: Self.columnList)) VALUES (\(binds: values))").run()
                try await self.syncCaregivers(sql, programID: programID, patients: [(id, profile.caregivers)])
                try await self.insertTags(sql, programID: programID, patientID: id, tags: tags, setBy: actor.id, source: actor.kind.rawValue, at: now)
                try await self.audit(sql, programID: programID, patientIDs: [id], action: .patientCreate, actor: actor, eventIDs: [auditIDs[0]], at: now)
            }
        } catch where isUniqueViolation(error) {
            // Another request created the same patient between the check and the insert; the
            // unique index decided (PostgreSQL).
            throw Self.duplicate(violatedConstraint(error))
        }
        return Patient(
            id: id, programID: programID, profile: profile,
            tags: tags.map { AppliedTag(tag: $0, setBy: actor.id, source: actor.kind.rawValue, setAt: Date(epochMilliseconds: now)) },
            consents: [], createdAt: Date(epochMilliseconds: now), updatedAt: Date(epochMilliseconds: now))
    }

    /// Replaces the patient's profile. Returns nil when the program has no such patient.
    public func update(programID: String, patientID: String, profile rawProfile: PatientProfile, actor: AuditActor) async throws -> Patient? {
        guard try await updateProfile(programID: programID, patientID: patientID, profile: rawProfile, actor: actor) else { return nil }
        return try await fetch(programID: programID, ids: [patientID]).first
    }

    /// Replaces the profile, in the caller's transaction when given; false when the program has
    /// no such patient.
    public func updateProfile(programID: String, patientID: String, profile rawProfile: PatientProfile, actor: AuditActor,
                              in joined: (any SQLDatabase)? = nil) async throws -> Bool {
        let profile = try rawProfile.validated()
        let now = clock.now().epochMilliseconds
        let values = try row(id: patientID, programID: programID, profile: profile, createdAt: 0, updatedAt: now).map(\.encodable)
        let auditID = ids.next()
        let dialect = database.dialect
        let updated: Bool
        do {
            updated = try await database.transaction(joining: joined) { sql in
            try await self.checkDuplicates(sql, programID: programID, profile: profile, excluding: patientID)
            var query = SQLQueryString("UPDATE patients SET ")
            var first = true
            for (column, value) in zip(Self.columns, values) where Self.updatableColumns.contains(column) {
                if !first { query.appendLiteral(", ") }
                first = false
                query.appendInterpolation(unsafeRaw: "\(column) = ")
                query.appendInterpolation(bind: value)
            }
            query.appendLiteral(" WHERE program_id = ")
            query.appendInterpolation(bind: programID)
            query.appendLiteral(" AND id = ")
            query.appendInterpolation(bind: patientID)
            query.appendLiteral(" RETURNING id")
            guard try await !sql.raw(query).all().isEmpty else { return false }
            try await self.syncCaregivers(sql, programID: programID, patients: [(patientID, profile.caregivers)])
            if profile.status == .withdrawn || profile.status == .deceased {
                try await EnrolmentStore.cancelAll(sql, dialect: dialect, programID: programID, patientID: patientID, at: now)
            }
            try await self.audit(sql, programID: programID, patientIDs: [patientID], action: .patientUpdate, actor: actor, eventIDs: [auditID], at: now)
            return true
            }
        } catch where isUniqueViolation(error) {
            throw Self.duplicate(violatedConstraint(error))
        }
        return updated
    }

    static func duplicate(_ constraint: String?) -> TendError {
        let field = constraint.map { name in
            name.contains("phone") ? "phone" : name.contains("id_number") ? "id_number" : "external_id"
        } ?? "external_id"
        return TendError(kind: .conflict, code: "duplicate_patient",
                         message: .init(en: "\(field) already belongs to another patient in this program", zh: "\(field) 已属于本项目另一位患者"), field: field)
    }

    private func checkDuplicates(_ sql: any SQLDatabase, programID: String, profile: PatientProfile, excluding patientID: String?) async throws {
        let probes: [(field: String, column: String, value: String?)] = [
            ("external_id", "external_id", profile.externalID),
            ("phone", "phone_bidx", profile.phone.map { phoneIndex($0, program: programID) }),
            ("id_number", "id_number_bidx", profile.idNumber.map { idNumberIndex($0, program: programID) }),
        ]
        for probe in probes {
            guard let value = probe.value else { continue }
            let rows = try await sql.raw("SELECT id FROM patients WHERE program_id = \(bind: programID) AND \(unsafeRaw: probe.column) = \(bind: value) LIMIT 2").all()
            let others = try rows.map { try $0.decode(column: "id", as: String.self) }.filter { $0 != patientID }
            if let other = others.first {
                throw TendError(
                    kind: .conflict, code: "duplicate_patient",
                    message: .init(en: "\(probe.field) already belongs to patient \(other) in this program", zh: "\(probe.field) 已属于本项目患者 \(other)"),
                    field: probe.field)
            }
        }
    }

    func insertTags(_ sql: any SQLDatabase, programID: String, patientID: String, tags: [PatientTag], setBy: String?, source: String, at: Int64) async throws {
        try await Self.tagInsert.run(sql, rows: tags.map { [programID, patientID, $0.key, $0.value, setBy, source, at] })
    }

    static let tagInsert = MultiRowInsert(
        "INSERT INTO patient_tags (program_id, patient_id, tag_key, tag_value, set_by, source, set_at)",
        tail: "ON CONFLICT (patient_id, tag_key, tag_value) DO NOTHING")

    /// Adds tags; returns false when the program has no such patient.
    public func addTags(programID: String, patientID: String, tags rawTags: [PatientTag], actor: AuditActor, in joined: (any SQLDatabase)? = nil) async throws -> Bool {
        let tags = try rawTags.map { try $0.validated() }
        let now = clock.now().epochMilliseconds
        let auditID = ids.next()
        return try await database.transaction(joining: joined) { sql in
            guard try await self.exists(sql, programID: programID, patientID: patientID) else { return false }
            try await self.insertTags(sql, programID: programID, patientID: patientID, tags: tags, setBy: actor.id, source: actor.kind.rawValue, at: now)
            try await self.touch(sql, patientID: patientID, at: now)
            try await self.audit(sql, programID: programID, patientIDs: [patientID], action: .patientTagAdd, actor: actor, eventIDs: [auditID], at: now)
            return true
        }
    }

    public func removeTags(programID: String, patientID: String, tags rawTags: [PatientTag], actor: AuditActor, in joined: (any SQLDatabase)? = nil) async throws -> Bool {
        let tags = try rawTags.map { try $0.validated() }
        let now = clock.now().epochMilliseconds
        let auditID = ids.next()
        return try await database.transaction(joining: joined) { sql in
            guard try await self.exists(sql, programID: programID, patientID: patientID) else { return false }
            for tag in tags {
                try await sql.raw("DELETE FROM patient_tags WHERE patient_id = \(bind: patientID) AND tag_key = \(bind: tag.key) AND tag_value = \(bind: tag.value)").run()
            }
            try await self.touch(sql, patientID: patientID, at: now)
            try await self.audit(sql, programID: programID, patientIDs: [patientID], action: .patientTagRemove, actor: actor, eventIDs: [auditID], at: now)
            return true
        }
    }

    public func recordConsent(programID: String, patientID: String, kind rawKind: String, version rawVersion: String, actor: AuditActor) async throws -> ConsentRecord? {
        let kind = try Validate.name(rawKind, field: "kind", maxLength: 64)
        let version = try Validate.name(rawVersion, field: "version", maxLength: 64)
        let now = clock.now()
        let consent = ConsentRecord(id: ids.next(), kind: kind, version: version, grantedAt: now, withdrawnAt: nil, recordedBy: actor.id)
        let auditID = ids.next()
        let recorded: Bool = try await database.transaction { sql in
            guard try await self.exists(sql, programID: programID, patientID: patientID) else { return false }
            try await sql.raw("""
                INSERT INTO patient_consents (id, program_id, patient_id, kind, version, granted_at, recorded_by)
                VALUES (\(bind: consent.id), \(bind: programID), \(bind: patientID), \(bind: kind), \(bind: version), \(bind: now.epochMilliseconds), \(bind: actor.id))
                """).run()
            try await self.audit(sql, programID: programID, patientIDs: [patientID], action: .patientConsentRecord, actor: actor, eventIDs: [auditID], at: now.epochMilliseconds)
            return true
        }
        return recorded ? consent : nil
    }

    public func withdrawConsent(programID: String, patientID: String, consentID: String, actor: AuditActor) async throws -> Bool {
        let now = clock.now().epochMilliseconds
        let auditID = ids.next()
        return try await database.transaction { sql in
            let rows = try await sql.raw("""
                UPDATE patient_consents SET withdrawn_at = \(bind: now)
                WHERE id = \(bind: consentID) AND patient_id = \(bind: patientID) AND program_id = \(bind: programID) AND withdrawn_at IS NULL
                RETURNING id
                """).all()
            guard !rows.isEmpty else { return false }
            try await self.audit(sql, programID: programID, patientIDs: [patientID], action: .patientConsentWithdraw, actor: actor, eventIDs: [auditID], at: now)
            return true
        }
    }

    private func exists(_ sql: any SQLDatabase, programID: String, patientID: String) async throws -> Bool {
        try await sql.raw("SELECT id FROM patients WHERE program_id = \(bind: programID) AND id = \(bind: patientID)").first() != nil
    }

    private func touch(_ sql: any SQLDatabase, patientID: String, at: Int64) async throws {
        try await sql.raw("UPDATE patients SET updated_at = \(bind: at) WHERE id = \(bind: patientID)").run()
    }

    /// Appends one audit event per patient in as few statements as the backend allows.
    func audit(_ sql: any SQLDatabase, programID: String, patientIDs: [String], action: AuditAction, actor: AuditActor, eventIDs: [String], at: Int64) async throws {
        try await AuditLog.insert.run(sql, rows: BoundRows(patientIDs.enumerated().map { index, patientID in
            AuditLog.row(id: eventIDs[index], program: programID, actor: actor, action: action, subject: .patient(patientID), at: at)
        }, for: database.kind))
    }

    // MARK: Reads

    /// One patient with tags and consents, audited as a read.
    public func get(programID: String, patientID: String, actor: AuditActor) async throws -> Patient? {
        guard let patient = try await fetch(programID: programID, ids: [patientID]).first else { return nil }
        try await recordReads(programID: programID, patientIDs: [patientID], action: .patientRead, actor: actor)
        return patient
    }

    public func list(programID: String, query: PatientQuery, actor: AuditActor) async throws -> PatientPage {
        let limit = max(1, min(query.limit, 500))
        // One page per status, each read in id order off the (program, status, id) index, and
        // merged: a single query over all statuses sorts the whole program (1.4 s a page at a
        // million patients on SQLite) to return fifty rows.
        var sqlQuery = SQLQueryString("")
        for (position, status) in (query.status.map { [$0] } ?? PatientStatus.allCases).enumerated() {
            sqlQuery.appendInterpolation(unsafeRaw: position == 0 ? "SELECT id FROM (" : " UNION ALL SELECT id FROM (")
            sqlQuery.appendLiteral("SELECT p.id FROM patients p WHERE p.program_id = ")
            sqlQuery.appendInterpolation(bind: programID)
            sqlQuery.appendLiteral(" AND p.status = ")
            sqlQuery.appendInterpolation(bind: status.rawValue)
            if let externalID = query.externalID {
                sqlQuery.appendLiteral(" AND p.external_id = ")
                sqlQuery.appendInterpolation(bind: externalID)
            }
            if let after = query.after {
                sqlQuery.appendLiteral(" AND p.id > ")
                sqlQuery.appendInterpolation(bind: after)
            }
            TagSQL.appendFilter(&sqlQuery, query.tags)
            sqlQuery.appendInterpolation(unsafeRaw: " ORDER BY p.id LIMIT \(limit + 1)) AS \(status.rawValue)")
        }
        sqlQuery.appendInterpolation(unsafeRaw: " ORDER BY id LIMIT \(limit + 1)")
        let finalQuery = sqlQuery
        let ids = try await database.read { sql in
            try await sql.raw(finalQuery).all().map { try $0.decode(column: "id", as: String.self) }
        }
        let pageIDs = Array(ids.prefix(limit))
        let patients = try await fetch(programID: programID, ids: pageIDs)
        try await recordReads(programID: programID, patientIDs: pageIDs, action: .patientList, actor: actor)
        return PatientPage(patients: patients, nextAfter: ids.count > limit ? pageIDs.last : nil)
    }

    /// Finds patients by exact phone, ID number or name through the blind indexes.
    public func search(programID: String, phone: String?, idNumber: String?, name: String?, actor: AuditActor) async throws -> [Patient] {
        var conditions: [(String, String)] = []
        if let phone, let normalised = try PatientFields.phone(phone, field: "phone") { conditions.append(("phone_bidx", phoneIndex(normalised, program: programID))) }
        if let idNumber, let normalised = try PatientFields.idNumber(idNumber) { conditions.append(("id_number_bidx", idNumberIndex(normalised, program: programID))) }
        if let name, !name.trimmed.isEmpty { conditions.append(("name_bidx", nameIndex(name, program: programID))) }
        // Nothing to look for finds nobody.
        guard !conditions.isEmpty else { return [] }
        var query = SQLQueryString("SELECT id FROM patients WHERE program_id = \(bind: programID)")
        for (column, value) in conditions {
            query.appendInterpolation(unsafeRaw: " AND \(column) = ")
            query.appendInterpolation(bind: value)
        }
        query.appendLiteral(" ORDER BY id LIMIT 50")
        let finalQuery = query
        let ids = try await database.read { sql in
            try await sql.raw(finalQuery).all().map { try $0.decode(column: "id", as: String.self) }
        }
        let patients = try await fetch(programID: programID, ids: ids)
        try await recordReads(programID: programID, patientIDs: ids, action: .patientSearch, actor: actor)
        return patients
    }

    private func recordReads(programID: String, patientIDs: [String], action: AuditAction, actor: AuditActor) async throws {
        try await audit.recordReads(action, by: actor, program: programID, patients: patientIDs)
    }

    /// The time zone of each of these patients of the program (absent ones are not there),
    /// without opening anyone's sealed fields.
    public func zones(programID: String, ids: [String]) async throws -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        let program = database.dialect.unindexed("program_id")
        return try await database.read { sql in
            var zones: [String: String] = [:]
            for start in stride(from: 0, to: ids.count, by: 5_000) {
                let slice = Array(ids[start..<min(start + 5_000, ids.count)])
                for row in try await sql.raw("SELECT id, time_zone FROM patients WHERE id IN (\(binds: slice)) AND \(unsafeRaw: program) = \(bind: programID)").all() {
                    zones[try row.decode(column: "id", as: String.self)] = try row.decode(column: "time_zone", as: String.self)
                }
            }
            return zones
        }
    }

    /// Patient ids by their external ids in the program (unknown ones are not there).
    public func ids(programID: String, externalIDs: [String]) async throws -> [String: String] {
        guard !externalIDs.isEmpty else { return [:] }
        return try await database.read { sql in
            var found: [String: String] = [:]
            for start in stride(from: 0, to: externalIDs.count, by: 5_000) {
                let slice = Array(externalIDs[start..<min(start + 5_000, externalIDs.count)])
                for row in try await sql.raw("SELECT id, external_id FROM patients WHERE program_id = \(bind: programID) AND external_id IN (\(binds: slice))").all() {
                    found[try row.decode(column: "external_id", as: String.self)] = try row.decode(column: "id", as: String.self)
                }
            }
            return found
        }
    }

    /// Loads patients with their tags and consents, in the order of `ids`. Unaudited: for
    /// callers that audit the surrounding operation themselves (a write that reads first).
    public func fetch(programID: String, ids: [String]) async throws -> [Patient] {
        guard !ids.isEmpty else { return [] }
        // The keys find the rows; the program only filters them. Left indexable, `program_id`
        // steers SQLite (which has no statistics here) onto the (program, …) indexes, which scan
        // the whole program: 0.22 s a query at a million patients.
        let program = database.dialect.unindexed("program_id")
        let (rows, tagRows, consentRows) = try await database.read { sql in
            let rows = try await sql.raw("SELECT \(unsafeRaw: Self.columnList) FROM patients WHERE id IN (\(binds: ids)) AND \(unsafeRaw: program) = \(bind: programID)").all()
            let tagRows = try await sql.raw("SELECT patient_id, tag_key, tag_value, set_by, source, set_at FROM patient_tags WHERE patient_id IN (\(binds: ids)) AND \(unsafeRaw: program) = \(bind: programID)").all()
            let consentRows = try await sql.raw("SELECT id, patient_id, kind, version, granted_at, withdrawn_at, recorded_by FROM patient_consents WHERE patient_id IN (\(binds: ids)) AND \(unsafeRaw: program) = \(bind: programID) ORDER BY granted_at, id").all()
            return (rows, tagRows, consentRows)
        }
        var tags: [String: [AppliedTag]] = [:]
        for row in tagRows {
            tags[try row.decode(column: "patient_id", as: String.self), default: []].append(AppliedTag(
                tag: PatientTag(key: try row.decode(column: "tag_key", as: String.self), value: try row.decode(column: "tag_value", as: String.self)),
                setBy: try row.decode(column: "set_by", as: String?.self),
                source: try row.decode(column: "source", as: String.self),
                setAt: Date(epochMilliseconds: try row.decode(column: "set_at", as: Int64.self))))
        }
        // Sorted here: asked of the database, the order pulls PostgreSQL onto the (program, tag)
        // index, a walk of the program's tags, to avoid sorting a handful of rows.
        for (patient, applied) in tags { tags[patient] = applied.sorted { ($0.tag.key, $0.tag.value) < ($1.tag.key, $1.tag.value) } }
        var consents: [String: [ConsentRecord]] = [:]
        for row in consentRows {
            consents[try row.decode(column: "patient_id", as: String.self), default: []].append(ConsentRecord(
                id: try row.decode(column: "id", as: String.self),
                kind: try row.decode(column: "kind", as: String.self),
                version: try row.decode(column: "version", as: String.self),
                grantedAt: Date(epochMilliseconds: try row.decode(column: "granted_at", as: Int64.self)),
                withdrawnAt: try row.decode(column: "withdrawn_at", as: Int64?.self).map(Date.init(epochMilliseconds:)),
                recordedBy: try row.decode(column: "recorded_by", as: String?.self)))
        }
        var byID: [String: Patient] = [:]
        for row in rows {
            let id = try row.decode(column: "id", as: String.self)
            byID[id] = Patient(
                id: id, programID: programID, profile: try profile(from: row), tags: tags[id] ?? [], consents: consents[id] ?? [],
                createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
                updatedAt: Date(epochMilliseconds: try row.decode(column: "updated_at", as: Int64.self)))
        }
        return ids.compactMap { byID[$0] }
    }
}

/// Who sent a message, as far as the program knows.
public struct MatchedSender: Sendable, Equatable {
    public var patientID: String
    /// The family member's relation ("女儿") when a caregiver wrote; nil for the patient.
    public var relation: String?
}

extension PatientStore {
    /// Replaces the caregiver-phone identities of these patients, inside the caller's transaction.
    func syncCaregivers(_ sql: any SQLDatabase, programID: String, patients: [(id: String, caregivers: [Caregiver])]) async throws {
        guard !patients.isEmpty else { return }
        try await sql.raw("""
            DELETE FROM sender_identities WHERE kind = 'caregiver_phone' AND patient_id IN (\(binds: patients.map(\.id)))
            """).run()
        var rows: [[any Encodable & Sendable]] = []
        for (id, caregivers) in patients {
            var seen = Set<String>()
            for caregiver in caregivers {
                guard let phone = caregiver.phone, seen.insert(phone).inserted else { continue }
                rows.append([programID, "caregiver_phone", phoneIndex(phone, program: programID), id, caregiver.relation])
            }
        }
        try await MultiRowInsert("INSERT INTO sender_identities (program_id, kind, key_bidx, patient_id, relation)").run(sql, rows: rows)
    }

    func channelUserIndex(channel: ContactChannel, userID: String, program: String) -> String {
        blindIndex.index("\(channel.rawValue):\(userID.trimmed)", purpose: "channel-user", program: program)
    }

    /// Ties a channel's user id (a WeCom userid, say) to the patient, so their group messages are theirs.
    public func bindChannelUser(programID: String, patientID: String, channel: ContactChannel, userID: String, actor: AuditActor) async throws {
        let key = channelUserIndex(channel: channel, userID: userID, program: programID)
        let now = clock.now().epochMilliseconds
        let auditID = ids.next()
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM sender_identities WHERE program_id = \(bind: programID) AND kind = 'channel_user' AND key_bidx = \(bind: key)").run()
            try await sql.raw("""
                INSERT INTO sender_identities (program_id, kind, key_bidx, patient_id, relation) VALUES (\(bind: programID), 'channel_user', \(bind: key), \(bind: patientID), NULL)
                """).run()
            try await self.audit(sql, programID: programID, patientIDs: [patientID], action: .patientIdentityBind, actor: actor, eventIDs: [auditID], at: now)
        }
    }

    /// The sender of a message: by channel user id, then the patient's own phone, then a
    /// family member's phone. Nil when nobody in the program matches.
    public func matchSender(programID: String, phone: String?, channel: ContactChannel?, userID: String?) async throws -> MatchedSender? {
        var userKey: String?
        if let channel, let userID, !userID.trimmed.isEmpty { userKey = channelUserIndex(channel: channel, userID: userID, program: programID) }
        let lookupKey = userKey
        let phoneKey = try phone.flatMap { try PatientFields.phone($0, field: "phone") }.map { phoneIndex($0, program: programID) }
        return try await database.session { sql in
            if let lookupKey, let row = try await sql.raw("""
                SELECT patient_id FROM sender_identities WHERE program_id = \(bind: programID) AND kind = 'channel_user' AND key_bidx = \(bind: lookupKey)
                """).first() {
                return MatchedSender(patientID: try row.decode(column: "patient_id", as: String.self), relation: nil)
            }
            guard let phoneKey else { return nil }
            if let row = try await sql.raw("SELECT id FROM patients WHERE program_id = \(bind: programID) AND phone_bidx = \(bind: phoneKey) LIMIT 1").first() {
                return MatchedSender(patientID: try row.decode(column: "id", as: String.self), relation: nil)
            }
            if let row = try await sql.raw("""
                SELECT patient_id, relation FROM sender_identities WHERE program_id = \(bind: programID) AND kind = 'caregiver_phone' AND key_bidx = \(bind: phoneKey)
                ORDER BY patient_id LIMIT 1
                """).first() {
                return MatchedSender(patientID: try row.decode(column: "patient_id", as: String.self), relation: try row.decode(column: "relation", as: String?.self))
            }
            return nil
        }
    }

    static let sealedColumns = ["name_enc", "phone_enc", "id_number_enc", "address_enc", "caregivers_enc"]

    public static func context(_ programID: String, _ patientID: String, _ column: String) -> SealContext {
        SealContext(program: programID, table: "patients", column: column, row: patientID)
    }

    /// Every table with sealed columns: what key rotation re-encrypts.
    static let sealedTables: [(table: String, columns: [String])] = [
        ("patients", sealedColumns),
        ("staff_tasks", ["title_enc", "note_enc"]),
        ("portal_messages", ["body_enc"]),
        ("channel_configs", ["config_enc"]),
        ("messages", ["sender_enc", "text_enc", "reasons_enc"]),
        ("observations", ["value_text_enc"]),
    ]

    /// Re-seals every sealed field not under the active key, or not yet bound to its row, in
    /// batches. Returns the number of rows changed. Safe to run while servers write: a row is
    /// re-read in its batch.
    public func reencryptAll(batchSize: Int = 500, progress: (Int) -> Void = { _ in }) async throws -> Int {
        var changed = 0
        for (table, columns) in Self.sealedTables {
            changed += try await reencrypt(table: table, columns: columns, batchSize: batchSize) { progress(changed + $0) }
        }
        return changed
    }

    private func reencrypt(table: String, columns: [String], batchSize: Int, progress: (Int) -> Void) async throws -> Int {
        // channel_configs has a two-column key; a row value key works on both backends.
        let key = table == "channel_configs" ? "program_id || '/' || channel" : "id"
        var after = ""
        var changed = 0
        while true {
            let active = cipher.activeKeyID
            let cipher = self.cipher
            let start = after
            let (lastKey, count): (String?, Int) = try await database.transaction { sql in
                let rows = try await sql.raw("""
                    SELECT \(unsafeRaw: key) AS row_key, program_id, \(unsafeRaw: columns.joined(separator: ", ")) FROM \(unsafeRaw: table)
                    WHERE \(unsafeRaw: key) > \(bind: start) ORDER BY \(unsafeRaw: key) LIMIT \(unsafeRaw: String(batchSize))
                    """).all()
                var count = 0
                for row in rows {
                    var updates: [(String, String)] = []
                    let rowKey = try row.decode(column: "row_key", as: String.self), programID = try row.decode(column: "program_id", as: String.self)
                    for column in columns {
                        guard let sealed = try row.decode(column: column, as: String?.self) else { continue }
                        let bound = FieldCipher.isBound(sealed)
                        guard FieldCipher.keyID(of: sealed) != active || !bound else { continue }
                        let context = SealContext(program: programID, table: table, column: column, row: rowKey)
                        let plain = bound ? try cipher.open(sealed, for: context) : try cipher.openUnbound(sealed)
                        updates.append((column, try cipher.seal(plain, for: context)))
                    }
                    guard !updates.isEmpty else { continue }
                    var query = SQLQueryString("UPDATE \(table) SET ")
                    for (index, update) in updates.enumerated() {
                        if index > 0 { query.appendLiteral(", ") }
                        query.appendInterpolation(unsafeRaw: "\(update.0) = ")
                        query.appendInterpolation(bind: update.1)
                    }
                    query.appendInterpolation(unsafeRaw: " WHERE \(key) = ")
                    query.appendInterpolation(bind: rowKey)
                    try await sql.raw(query).run()
                    count += 1
                }
                return (try rows.last?.decode(column: "row_key", as: String.self), count)
            }
            changed += count
            progress(changed)
            guard let lastKey else { return changed }
            after = lastKey
        }
    }

    /// How many rows still have a field sealed under another key than the active one, or not
    /// bound to its row.
    public func countNotUnderActiveKey() async throws -> Int {
        let prefix = cipher.activeKeyID + FieldCipher.boundMarker + ":%"
        var total = 0
        for (table, columns) in Self.sealedTables {
            total += try await database.session { sql in
                var query = SQLQueryString("SELECT COUNT(*) AS n FROM \(table) WHERE ")
                for (index, column) in columns.enumerated() {
                    if index > 0 { query.appendLiteral(" OR ") }
                    query.appendInterpolation(unsafeRaw: "(\(column) IS NOT NULL AND \(column) NOT LIKE ")
                    query.appendInterpolation(bind: prefix)
                    query.appendLiteral(")")
                }
                return try await sql.raw(query).first()?.decode(column: "n", as: Int.self) ?? 0
            }
        }
        return total
    }
}
