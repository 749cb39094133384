import Foundation
import SQLKit
import TendCore

/// Append-only record of who read or changed what. Events carry ids, never PII.
public struct AuditLog: Sendable {
    let database: Database
    let clock: TendClock
    let ids: IDGenerator

    public init(database: Database, clock: TendClock, ids: IDGenerator) {
        self.database = database
        self.clock = clock
        self.ids = ids
    }

    public struct Entry: Sendable {
        public var programID: String?
        public var actorID: String?
        public var actorKind: ActorKind
        public var action: String
        public var subjectType: String?
        public var subjectID: String?
        public var requestID: String?

        public init(programID: String?, actorID: String?, actorKind: ActorKind, action: String, subjectType: String? = nil, subjectID: String? = nil, requestID: String? = nil) {
            self.programID = programID
            self.actorID = actorID
            self.actorKind = actorKind
            self.action = action
            self.subjectType = subjectType
            self.subjectID = subjectID
            self.requestID = requestID
        }
    }

    /// An action on a patient (or, without one, on another subject) by this actor.
    func record(_ action: String, by actor: AuditActor, programID: String, patientID: String?, otherwise subject: (type: String, id: String)? = nil,
                in sql: any SQLDatabase) async throws {
        try await record(Entry(programID: programID, actorID: actor.id, actorKind: actor.kind, action: action,
                               subjectType: patientID == nil ? subject?.type : "patient", subjectID: patientID ?? subject?.id,
                               requestID: actor.requestID), in: sql)
    }

    @discardableResult
    public func record(_ entry: Entry, in sql: (any SQLDatabase)? = nil) async throws -> AuditEvent {
        let event = AuditEvent(
            id: ids.next(), programID: entry.programID, actorID: entry.actorID, actorKind: entry.actorKind,
            action: entry.action, subjectType: entry.subjectType, subjectID: entry.subjectID,
            requestID: entry.requestID, at: clock.now())
        let insert: @Sendable (any SQLDatabase) async throws -> Void = { sql in
            try await sql.raw("""
                INSERT INTO audit_events (id, program_id, actor_id, actor_kind, action, subject_type, subject_id, request_id, at)
                VALUES (\(bind: event.id), \(bind: event.programID), \(bind: event.actorID), \(bind: event.actorKind.rawValue),
                        \(bind: event.action), \(bind: event.subjectType), \(bind: event.subjectID), \(bind: event.requestID),
                        \(bind: event.at.epochMilliseconds))
                """).run()
        }
        if let sql {
            try await insert(sql)
        } else {
            try await database.session(insert)
        }
        return event
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
