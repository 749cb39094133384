import Foundation
import SQLKit
import Testing
import TendCore
import TendStore
import TendTestSupport

/// The store contract: every test runs on SQLite, and on PostgreSQL when
/// TEND_TEST_POSTGRES_URL is set.
@Suite struct StoreContractTests {
    @Test(arguments: TestBackend.available)
    func migrationsApplyOnceAndRecordTheirVersion(backend: TestBackend) async throws {
        try await TestDatabase.withDatabase(backend, migrate: false) { database in
            let migrator = Migrator(database: database, clock: .system)
            #expect(try await migrator.currentVersion() == 0)
            await #expect(throws: SchemaOutdatedError.self) { try await migrator.checkCompatible() }
            #expect(try await migrator.migrate() == Schema.migrations.map(\.version))
            #expect(try await migrator.migrate().isEmpty)
            #expect(try await migrator.currentVersion() == migrator.knownVersion)
            try await migrator.checkCompatible()
        }
    }

    /// More rows than one statement may bind (SQLite allows 32,766 values, PostgreSQL 65,535)
    /// land in several statements of one transaction, nulls and integers intact, and RETURNING
    /// gives one row per inserted row; a failing row rolls back every statement.
    @Test(arguments: TestBackend.available)
    func multiRowInsertsSplitAtTheBindLimit(backend: TestBackend) async throws {
        try await TestDatabase.withDatabase(backend) { database in
            try await database.session { try await $0.raw("CREATE TABLE bulk_rows (name TEXT PRIMARY KEY, amount BIGINT NOT NULL, note TEXT)").run() }
            let insert = MultiRowInsert("INSERT INTO bulk_rows (name, amount, note)", tail: "RETURNING name")
            let rows: [[any Encodable & Sendable]] = (0..<25_000).map { ["r\($0)", Int64($0), $0 % 2 == 0 ? nil as String? : "odd"] }
            let returned = try await database.transaction { try await insert.returning($0, rows: rows).count }
            #expect(returned == 25_000)
            try await database.session { sql in
                let row = try #require(try await sql.raw("SELECT COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS total, COUNT(note) AS notes FROM bulk_rows").first())
                #expect(try row.decode(column: "n", as: Int.self) == 25_000)
                #expect(try row.decode(column: "total", as: Int.self) == 24_999 * 25_000 / 2)
                #expect(try row.decode(column: "notes", as: Int.self) == 12_500)
            }
            let clash: [[any Encodable & Sendable]] = [["new-1", Int64(1), nil as String?]] + (0..<12_000).map { ["late\($0)", Int64($0), nil as String?] } + [["r7", Int64(7), nil as String?]]
            await #expect(throws: (any Error).self) { try await database.transaction { try await insert.run($0, rows: clash) } }
            try await database.session { sql in
                let count = try #require(try await sql.raw("SELECT COUNT(*) AS n FROM bulk_rows").first())
                #expect(try count.decode(column: "n", as: Int.self) == 25_000)
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func refusesASchemaNewerThanTheBinary(backend: TestBackend) async throws {
        try await TestDatabase.withDatabase(backend) { database in
            try await database.session { sql in
                try await sql.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)").run()
            }
            let migrator = Migrator(database: database, clock: .system)
            await #expect(throws: SchemaTooNewError.self) { try await migrator.checkCompatible() }
            await #expect(throws: SchemaTooNewError.self) { try await migrator.migrate() }
        }
    }

    @Test(arguments: TestBackend.available)
    func transactionRollsBackEveryWriteWhenTheBodyFails(backend: TestBackend) async throws {
        try await TestDatabase.withDatabase(backend) { database in
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await database.transaction { sql in
                    try await sql.raw("INSERT INTO programs (id, slug, name, created_at) VALUES ('p1', 'one', 'One', 0)").run()
                    throw Boom()
                }
            }
            let count = try await database.session { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM programs").first()!.decode(column: "n", as: Int.self)
            }
            #expect(count == 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func programsAreCreatedFoundAndUniqueBySlug(backend: TestBackend) async throws {
        let clock = TestClock()
        try await TestDatabase.withDatabase(backend) { database in
            let programs = Stores(try StoreContext.testing(database, clock: clock.clock, ids: .sequential(prefix: "p"))).programs
            let created = try await programs.create(slug: "lung-followup", name: " 肺癌随访 ")
            #expect(created.name == "肺癌随访")
            #expect(created.createdAt == clock.now)
            #expect(try await programs.find(slug: "lung-followup") == created)
            #expect(try await programs.find(slug: "nope") == nil)
            do {
                _ = try await programs.create(slug: "lung-followup", name: "again")
                Issue.record("a duplicate slug was accepted")
            } catch let error as TendError {
                #expect(error.kind == .conflict)
                #expect(error.field == "slug")
            }
            await #expect(throws: TendError.self) { try await programs.create(slug: "Bad Slug", name: "x") }
            #expect(try await programs.all().map(\.slug) == ["lung-followup"])
        }
    }

    @Test(arguments: TestBackend.available)
    func staffMembershipsAndRoles(backend: TestBackend) async throws {
        let clock = TestClock()
        try await TestDatabase.withDatabase(backend) { database in
            let ids = IDGenerator.sequential()
            let programs = Stores(try StoreContext.testing(database, clock: clock.clock, ids: ids)).programs
            let staff = Stores(try StoreContext.testing(database, clock: clock.clock, ids: ids)).staff
            let gdm = try await programs.create(slug: "gdm", name: "GDM")
            let lung = try await programs.create(slug: "lung", name: "Lung")
            let li = try await staff.createUser(email: "Li@Example.org ", displayName: "Li Hua", passwordHash: "hash-1")
            #expect(li.email == "li@example.org")
            do {
                _ = try await staff.createUser(email: "li@example.org", displayName: "Other", passwordHash: "x")
                Issue.record("a duplicate email was accepted")
            } catch let error as TendError {
                #expect(error.kind == .conflict && error.field == "email")
            }
            #expect(try await staff.credentials(email: "LI@example.org")?.passwordHash == "hash-1")

            try await staff.setMembership(userID: li.id, programID: gdm.id, role: .manager)
            try await staff.setMembership(userID: li.id, programID: gdm.id, role: .admin)
            try await staff.setMembership(userID: li.id, programID: lung.id, role: .viewer)
            #expect(try await staff.role(userID: li.id, programID: gdm.id) == .admin)
            #expect(try await staff.memberships(userID: li.id).map { "\($0.program.slug)=\($0.role.rawValue)" } == ["gdm=admin", "lung=viewer"])
            #expect(try await staff.members(programID: gdm.id).map(\.user.id) == [li.id])
            #expect(try await staff.removeMembership(userID: li.id, programID: lung.id))
            #expect(try await staff.removeMembership(userID: li.id, programID: lung.id) == false)
            #expect(try await staff.role(userID: li.id, programID: lung.id) == nil)

            try await staff.setLocale(userID: li.id, locale: .en)
            #expect(try await staff.user(id: li.id)?.locale == .en)
        }
    }

    @Test(arguments: TestBackend.available)
    func sessionsExpireAndCanBeEnded(backend: TestBackend) async throws {
        let clock = TestClock()
        try await TestDatabase.withDatabase(backend) { database in
            let staff = Stores(try StoreContext.testing(database, clock: clock.clock, ids: .sequential())).staff
            let sessions = Stores(try StoreContext.testing(database, clock: clock.clock, ids: .sequential(prefix: "s"))).sessions
            let user = try await staff.createUser(email: "a@b.org", displayName: "A", passwordHash: "h")
            let (secret, session) = try await sessions.create(userID: user.id, lifetime: 3600)
            #expect(try await sessions.find(secret: secret) == session)
            #expect(try await sessions.find(secret: secret + "x") == nil)
            let stored = try await database.session { sql in
                try await sql.raw("SELECT token_hash FROM web_sessions").first()!.decode(column: "token_hash", as: String.self)
            }
            #expect(stored != secret, "the cookie secret itself must not be stored")
            clock.advance(by: 3601)
            #expect(try await sessions.find(secret: secret) == nil)
            let (second, _) = try await sessions.create(userID: user.id, lifetime: 3600)
            try await sessions.delete(secret: second)
            #expect(try await sessions.find(secret: second) == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func apiTokensAuthenticateUntilRevoked(backend: TestBackend) async throws {
        let clock = TestClock()
        try await TestDatabase.withDatabase(backend) { database in
            let staff = Stores(try StoreContext.testing(database, clock: clock.clock, ids: .sequential(prefix: "u"))).staff
            let tokens = Stores(try StoreContext.testing(database, clock: clock.clock, ids: .sequential(prefix: "t"))).tokens
            let user = try await staff.createUser(email: "int@b.org", displayName: "HIS", passwordHash: "h")
            let (token, plaintext) = try await tokens.create(userID: user.id, name: "his-import")
            #expect(plaintext.hasPrefix("tend_\(token.id)_"))
            clock.advance(by: 60)
            #expect(try await tokens.authenticate(plaintext: plaintext)?.userID == user.id)
            #expect(try await tokens.list(userID: user.id).first?.lastUsedAt == clock.now)
            #expect(try await tokens.authenticate(plaintext: plaintext + "x") == nil)
            #expect(try await tokens.authenticate(plaintext: "garbage") == nil)
            #expect(try await tokens.revoke(id: token.id, userID: "someone-else") == false)
            #expect(try await tokens.revoke(id: token.id, userID: user.id))
            #expect(try await tokens.authenticate(plaintext: plaintext) == nil)
            #expect(try await tokens.revoke(id: token.id, userID: user.id) == false)
        }
    }

    @Test(arguments: TestBackend.available)
    func auditEventsAreScopedToTheirProgram(backend: TestBackend) async throws {
        let clock = TestClock()
        try await TestDatabase.withDatabase(backend) { database in
            let audit = AuditLog(database: database, clock: clock.clock, ids: .sequential(prefix: "a"))
            try await audit.recordRead(.patientRead, by: AuditActor(id: "u1", kind: .staff, requestID: "r1"), program: "p1", subject: .patient("x1"))
            clock.advance(by: 1)
            try await audit.recordRead(.patientUpdate, by: AuditActor(id: "u1", kind: .apiToken), program: "p1", subject: .patient("x2"))
            try await audit.recordRead(.patientRead, by: AuditActor(id: "u2", kind: .cli), program: "p2", subject: .patient("x1"))
            let p1 = try await audit.events(programID: "p1")
            #expect(p1.map(\.action) == ["patient.update", "patient.read"])
            #expect(p1.last?.requestID == "r1")
            #expect(try await audit.events(programID: "p1", subjectID: "x1").count == 1)
            #expect(try await audit.events(programID: "p2").map(\.actorKind) == [.cli])
            #expect(try await audit.events(programID: "p1", limit: 1).count == 1)
        }
    }
}
