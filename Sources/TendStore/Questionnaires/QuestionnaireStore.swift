public import Foundation
import SQLKit
import TendCore

/// A program's own questionnaire file, as saved.
public struct StoredQuestionnaire: Sendable, Equatable {
    public var id: String
    public var version: Int
    public var source: String
    public var createdAt: Date
}

/// The questionnaires a program defined itself (its wording of a licensed scale, its own
/// forms), every version kept: a response names the version it answered.
public struct QuestionnaireStore: ContextualStore {
    let context: StoreContext

    /// Saves a version; false when the program already has that id and version.
    public func save(programID: String, id: String, version: Int, source: String, actor: AuditActor) async throws -> Bool {
        let now = clock.now()
        return try await database.transaction { sql in
            let inserted = try await sql.raw("""
                INSERT INTO questionnaires (program_id, id, version, source, created_at, created_by)
                VALUES (\(bind: programID), \(bind: id), \(bind: version), \(bind: source), \(bind: now.epochMilliseconds), \(bind: actor.id))
                ON CONFLICT (program_id, id, version) DO NOTHING RETURNING id
                """).first() != nil
            if inserted {
                try await audit.record(.questionnaireSave, by: actor, program: programID, subject: AuditSubject(type: "questionnaire", id: id), in: sql)
            }
            return inserted
        }
    }

    /// The latest version of each of the program's questionnaires, or of one; or that exact version.
    public func find(programID: String, id: String, version: Int? = nil) async throws -> StoredQuestionnaire? {
        var query = SQLQueryString("SELECT id, version, source, created_at FROM questionnaires WHERE program_id = ")
        query.appendInterpolation(bind: programID)
        query.appendLiteral(" AND id = ")
        query.appendInterpolation(bind: id)
        if let version {
            query.appendLiteral(" AND version = ")
            query.appendInterpolation(bind: version)
        }
        query.appendLiteral(" ORDER BY version DESC LIMIT 1")
        let finished = query
        return try await database.read { sql in try await sql.raw(finished).first() }.map(Self.stored(from:))
    }

    public func latest(programID: String) async throws -> [StoredQuestionnaire] {
        let rows = try await database.read { sql in
            try await sql.raw("SELECT id, version, source, created_at FROM questionnaires WHERE program_id = \(bind: programID) ORDER BY id, version DESC LIMIT 2000").all()
        }
        var seen = Set<String>()
        return try rows.map(Self.stored(from:)).filter { seen.insert($0.id).inserted }
    }

    static func stored(from row: any SQLRow) throws -> StoredQuestionnaire {
        StoredQuestionnaire(id: try row.decode(column: "id", as: String.self), version: try row.decode(column: "version", as: Int.self),
                            source: try row.decode(column: "source", as: String.self),
                            createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }
}
