public import Foundation
public import SQLKit
public import TendCore

/// A pathway as a program stores it: the file as written, and its parsed definition.
public struct StoredPathway: Sendable, Equatable {
    public var id: String
    public var programID: String
    public var pathway: Pathway
    public var source: String
    public var createdAt: Date
}

/// Pathway definitions per program. Versions are immutable: a changed file needs a new
/// version, so enrolments keep the steps they were planned with.
public struct PathwayStore: ContextualStore {
    let context: StoreContext

    /// Stores the pathway, or returns the stored one when the same version has the same file.
    public func save(programID: String, pathway: Pathway, source: String, in sql: (any SQLDatabase)? = nil) async throws -> StoredPathway {
        if let existing = try await find(programID: programID, slug: pathway.id, version: pathway.version, in: sql) {
            guard existing.pathway == pathway else {
                throw TendError.conflict("version", .init(
                    en: "\(pathway.version) of \(pathway.id) already exists with other steps; raise the version",
                    zh: "\(pathway.id) 的版本 \(pathway.version) 已存在且内容不同，请提高版本号"))
            }
            return existing
        }
        let stored = StoredPathway(id: ids.next(), programID: programID, pathway: pathway, source: source, createdAt: clock.now())
        let definition = String(decoding: try JSONEncoder().encode(pathway), as: UTF8.self)
        try await database.on(sql) { sql in
            try await sql.raw("""
                INSERT INTO pathways (id, program_id, slug, version, name_en, name_zh, source, definition, created_at)
                VALUES (\(bind: stored.id), \(bind: programID), \(bind: pathway.id), \(bind: pathway.version), \(bind: pathway.name.en),
                        \(bind: pathway.name.zh), \(bind: source), \(bind: definition), \(bind: stored.createdAt.epochMilliseconds))
                """).run()
        }
        return stored
    }

    public func find(programID: String, slug: String, version: Int? = nil, in sql: (any SQLDatabase)? = nil) async throws -> StoredPathway? {
        try await database.on(sql) { sql in
            var query = SQLQueryString("SELECT id, program_id, source, definition, created_at FROM pathways WHERE program_id = \(bind: programID) AND slug = \(bind: slug)")
            if let version {
                query.appendLiteral(" AND version = ")
                query.appendInterpolation(bind: version)
            }
            query.appendLiteral(" ORDER BY version DESC LIMIT 1")
            return try await sql.raw(query).first().map(Self.stored(from:))
        }
    }

    public func find(programID: String, id: String) async throws -> StoredPathway? {
        try await database.session { sql in
            try await sql.raw("SELECT id, program_id, source, definition, created_at FROM pathways WHERE program_id = \(bind: programID) AND id = \(bind: id)")
                .first().map(Self.stored(from:))
        }
    }

    /// Every version of every pathway of the program: enrolments keep the version they started on.
    public func all(programID: String) async throws -> [StoredPathway] {
        try await database.session { sql in
            try await sql.raw("SELECT id, program_id, source, definition, created_at FROM pathways WHERE program_id = \(bind: programID) ORDER BY slug, version")
                .all().map(Self.stored(from:))
        }
    }

    /// The newest version of each of the program's pathways.
    public func latest(programID: String) async throws -> [StoredPathway] {
        try await database.session { sql in
            try await sql.raw("""
                SELECT id, program_id, source, definition, created_at FROM pathways p
                WHERE program_id = \(bind: programID)
                  AND version = (SELECT MAX(version) FROM pathways q WHERE q.program_id = p.program_id AND q.slug = p.slug)
                ORDER BY slug
                """).all().map(Self.stored(from:))
        }
    }

    static func stored(from row: any SQLRow) throws -> StoredPathway {
        StoredPathway(
            id: try row.decode(column: "id", as: String.self),
            programID: try row.decode(column: "program_id", as: String.self),
            pathway: try JSONDecoder().decode(Pathway.self, from: Data(try row.decode(column: "definition", as: String.self).utf8)),
            source: try row.decode(column: "source", as: String.self),
            createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }
}
