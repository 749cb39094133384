import Foundation
public import SQLKit
public import TendCore

/// Who acted: a staff member, a token, the CLI, the system, or a patient through a link.
public struct AuditActor: Sendable {
    public var id: String?
    public var kind: ActorKind
    public var requestID: String?

    public init(id: String?, kind: ActorKind, requestID: String? = nil) {
        self.id = id
        self.kind = kind
        self.requestID = requestID
    }

    public static let cli = AuditActor(id: nil, kind: .cli)
    public static let system = AuditActor(id: nil, kind: .system)
}

/// What an event is about.
public struct AuditSubject: Sendable, Equatable {
    public var type: String
    public var id: String

    public init(type: String, id: String) {
        self.type = type
        self.id = id
    }

    public static func patient(_ id: String) -> AuditSubject { AuditSubject(type: "patient", id: id) }
}

/// Append-only record of who read or changed what. Events carry ids, never PII. This is the
/// one place that writes `audit_events`: a change records its event inside its own
/// transaction (a rolled-back change leaves none, a committed one always has one); a read
/// records its event before the data is answered, in a group commit with the reads around it.
public struct AuditLog: Sendable {
    let database: Database
    let clock: TendClock
    let ids: IDGenerator
    private let reads: ReadAuditBatch

    public init(database: Database, clock: TendClock, ids: IDGenerator) {
        self.database = database
        self.clock = clock
        self.ids = ids
        self.reads = ReadAuditBatch(database: database)
    }

    /// One event, in the caller's transaction.
    public func record(_ action: AuditAction, by actor: AuditActor, program: String?, subject: AuditSubject?, in sql: any SQLDatabase) async throws {
        try await Self.insert.run(sql, rows: BoundRows([Self.row(id: ids.next(), program: program, actor: actor, action: action, subject: subject, at: clock.now().epochMilliseconds)],
                                                        for: StorageDialect.of(sql).kind))
    }

    /// One event about a patient, or when there is none, about the other subject.
    func record(_ action: AuditAction, by actor: AuditActor, program: String, patient: String?, otherwise subject: AuditSubject? = nil,
                in sql: any SQLDatabase) async throws {
        try await record(action, by: actor, program: program, subject: patient.map(AuditSubject.patient) ?? subject, in: sql)
    }

    /// One event per patient, in the caller's transaction.
    func record(_ action: AuditAction, by actor: AuditActor, program: String, patients: [String], at: Int64, in sql: any SQLDatabase) async throws {
        guard !patients.isEmpty else { return }
        try await Self.insert.run(sql, rows: BoundRows(patients.map {
            Self.row(id: ids.next(), program: program, actor: actor, action: action, subject: .patient($0), at: at)
        }, for: database.kind))
    }

    /// A read's event, committed before this returns (and so before the caller answers with
    /// what it read); it fails when its batch fails to commit.
    public func recordRead(_ action: AuditAction, by actor: AuditActor, program: String?, subject: AuditSubject?) async throws {
        try await reads.write([Self.row(id: ids.next(), program: program, actor: actor, action: action, subject: subject, at: clock.now().epochMilliseconds)])
    }

    /// Read events about patients, one each, committed before this returns.
    public func recordReads(_ action: AuditAction, by actor: AuditActor, program: String, patients: [String]) async throws {
        guard !patients.isEmpty else { return }
        let now = clock.now().epochMilliseconds
        try await reads.write(patients.map { Self.row(id: ids.next(), program: program, actor: actor, action: action, subject: .patient($0), at: now) })
    }

    static let insert = MultiRowInsert("INSERT INTO audit_events (id, program_id, actor_id, actor_kind, action, subject_type, subject_id, request_id, at)")

    static func row(id: String, program: String?, actor: AuditActor, action: AuditAction, subject: AuditSubject?, at: Int64) -> [SQLValue] {
        [.text(id), SQLValue(program), SQLValue(actor.id), .text(actor.kind.rawValue), .text(action.rawValue),
         SQLValue(subject?.type), SQLValue(subject?.id), SQLValue(actor.requestID), .integer(at)]
    }

    /// The same event about every patient an `INSERT … SELECT` finds in `source` (a table or
    /// join with a `patient_id` column), set-based; ids are `idPrefix` followed by the patient id.
    static func recordForEachPatient(in source: String, idPrefix: String, action: AuditAction, by actor: AuditActor, program: String, at: Int64,
                                     dialect: StorageDialect, in sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO audit_events (id, program_id, actor_id, actor_kind, action, subject_type, subject_id, request_id, at)
            SELECT \(unsafeRaw: dialect.concat([StorageDialect.literal(idPrefix), "c.patient_id"])), \(bind: program), \(bind: actor.id), \(bind: actor.kind.rawValue),
                   \(bind: action.rawValue), 'patient', c.patient_id, \(bind: actor.requestID), \(bind: at)
            FROM \(unsafeRaw: source) c
            """).run()
    }

    /// The program's events, newest first, optionally for one subject.
    public func events(programID: String, subjectID: String? = nil, limit: Int = 100) async throws -> [AuditEvent] {
        let limit = max(1, min(limit, 1000))
        return try await database.session { sql in
            var query = SQLQueryString("SELECT id, program_id, actor_id, actor_kind, action, subject_type, subject_id, request_id, at FROM audit_events WHERE program_id = \(bind: programID)")
            if let subjectID {
                query.appendInterpolation(unsafeRaw: " AND subject_id = ")
                query.appendInterpolation(bind: subjectID)
            }
            query.appendInterpolation(unsafeRaw: " ORDER BY at DESC, id DESC LIMIT \(limit)")
            return try await sql.raw(query).all().map { row in
                AuditEvent(
                    id: try row.decode(column: "id", as: String.self),
                    programID: try row.decode(column: "program_id", as: String?.self),
                    actorID: try row.decode(column: "actor_id", as: String?.self),
                    actorKind: ActorKind(rawValue: try row.decode(column: "actor_kind", as: String.self)) ?? .system,
                    action: try row.decode(column: "action", as: String.self),
                    subjectType: try row.decode(column: "subject_type", as: String?.self),
                    subjectID: try row.decode(column: "subject_id", as: String?.self),
                    requestID: try row.decode(column: "request_id", as: String?.self),
                    at: Date(epochMilliseconds: try row.decode(column: "at", as: Int64.self)))
            }
        }
    }
}
