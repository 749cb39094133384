import Foundation
public import SQLKit
public import TendCore

public struct ProgramStore: ContextualStore {
    let context: StoreContext

    public func create(slug rawSlug: String, name rawName: String, in sql: (any SQLDatabase)? = nil) async throws -> Program {
        let program = Program(
            id: ids.next(), slug: try Validate.slug(rawSlug), name: try Validate.name(rawName),
            createdAt: clock.now())
        do {
            try await database.on(sql) { sql in
                try await sql.raw("""
                    INSERT INTO programs (id, slug, name, created_at)
                    VALUES (\(bind: program.id), \(bind: program.slug), \(bind: program.name), \(bind: program.createdAt.epochMilliseconds))
                    """).run()
            }
        } catch where isUniqueViolation(error) {
            throw TendError.conflict("slug", .init(en: "is already used by another program", zh: "已被其他项目使用"))
        }
        return program
    }

    public func find(slug: String) async throws -> Program? {
        try await database.read { sql in
            try await sql.raw("SELECT id, slug, name, created_at FROM programs WHERE slug = \(bind: slug)")
                .first().map(Self.program(from:))
        }
    }

    /// A program by slug with the user's role in it (nil when not a member), in one query.
    public func find(slug: String, roleOf userID: String) async throws -> (program: Program, role: StaffRole?)? {
        try await database.read { sql in
            guard let row = try await sql.raw("""
                SELECT p.id, p.slug, p.name, p.created_at, m.role FROM programs p
                LEFT JOIN memberships m ON m.program_id = p.id AND m.user_id = \(bind: userID)
                WHERE p.slug = \(bind: slug)
                """).first() else { return nil }
            let role = try row.decode(column: "role", as: String?.self)
            guard role.map({ StaffRole(rawValue: $0) != nil }) ?? true else { throw StoreCorruption(what: "unknown role \(role ?? "")") }
            return (try Self.program(from: row), role.flatMap(StaffRole.init(rawValue:)))
        }
    }

    public func all() async throws -> [Program] {
        try await database.session { sql in
            try await sql.raw("SELECT id, slug, name, created_at FROM programs ORDER BY slug").all().map(Self.program(from:))
        }
    }

    static func program(from row: any SQLRow) throws -> Program {
        Program(
            id: try row.decode(column: "id", as: String.self),
            slug: try row.decode(column: "slug", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }
}
