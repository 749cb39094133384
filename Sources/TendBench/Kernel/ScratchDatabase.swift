import Foundation
import Logging
import TendCore
import TendStore
import SQLKit

/// The throw-away database a benchmark is pointed at, emptied before each measurement and
/// migrated by the real migrations, so no measurement writes into B-trees another one has
/// grown and none keeps a copy of the schema of its own.
struct ScratchDatabase {
    let location: DatabaseLocation
    /// A key ring made for this run: nothing a benchmark seals outlives it.
    let keys: KeyRing
    /// PostgreSQL: the schema the benchmark's tables live in, dropped and created again each time.
    static let postgresSchema = "tend_bench"

    init(_ text: String) throws {
        location = try DatabaseLocation.parse(text)
        keys = try KeyRing.parse(KeyRing.generateKeyLine(id: "k1"), source: "bench")
    }

    /// Runs `body` on an empty, migrated database and closes it afterwards, also when `body` throws.
    func withFresh<Result>(clock: TendClock, _ body: (Database) async throws -> Result) async throws -> Result {
        let database = try await fresh(clock: clock)
        do {
            let result = try await body(database)
            await database.close()
            return result
        } catch {
            await database.close()
            throw error
        }
    }

    /// Every store over `database`, with this run's keys.
    func stores(_ database: Database, clock: TendClock, ids: IDGenerator) -> Stores {
        Stores(database: database, clock: clock, ids: ids, keys: keys)
    }

    var description: String { location.redactedDescription }

    /// An empty database, migrated to the current schema.
    func fresh(clock: TendClock) async throws -> Database {
        let database = try await Database.open(try await emptied(), logger: Logger(label: "bench"))
        do {
            try await Migrator(database: database, clock: clock).migrate()
        } catch {
            await database.close()
            throw error
        }
        return database
    }

    private func emptied() async throws -> DatabaseLocation {
        switch location {
        case .sqlite(let path):
            for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
                try FileManager.default.removeItem(atPath: file)
            }
            return location
        case .postgres(var target):
            let schema = target.searchPath ?? Self.postgresSchema
            let admin = try await Database.open(.postgres(target), logger: Logger(label: "bench"))
            do {
                try await admin.session { sql in
                    try await sql.raw("DROP SCHEMA IF EXISTS \(ident: schema) CASCADE").run()
                    try await sql.raw("CREATE SCHEMA \(ident: schema)").run()
                }
            } catch {
                await admin.close()
                throw error
            }
            await admin.close()
            target.searchPath = schema
            return .postgres(target)
        }
    }
}
