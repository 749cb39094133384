import Foundation
import Logging
import Testing
import TendCore
import TendEngine
import TendStore
import TendTestSupport
import SQLKit

/// SQLite's write-ahead log is folded into the database file by the server's checkpointer,
/// not at a commit (where every request waiting on that commit stalled with it).
@Suite struct LogCheckpointerTests {
    @Test func theCheckpointerFoldsCommittedPagesIntoTheFile() async throws {
        let (location, cleanup) = try await TestDatabase.makeLocation(.sqlite)
        guard case .sqlite(let path) = location else { Issue.record("not SQLite"); return }
        let database = try await Database.open(location, logger: TestDatabase.logger)
        try await Migrator(database: database, clock: .fixed(Date(timeIntervalSince1970: 1_796_000_000))).migrate()
        try await database.transaction { sql in
            try await sql.raw("CREATE TABLE filler (x TEXT NOT NULL)").run()
            for index in 0..<2_000 {
                try await sql.raw("INSERT INTO filler (x) VALUES (\(bind: String(repeating: "x", count: 1_000) + String(index)))").run()
            }
        }
        func fileSize() throws -> Int { try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0 }
        let before = try fileSize()
        // Under SQLite's automatic threshold: without a checkpoint the rows stay in the log.
        try await Task.sleep(for: .milliseconds(50))
        #expect(try fileSize() == before)

        let checkpointer = LogCheckpointer(database: database, interval: .milliseconds(10), logger: TestDatabase.logger)
        let grew = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await checkpointer.run(); return false }
            group.addTask {
                for _ in 0..<500 where try fileSize() == before { try await Task.sleep(for: .milliseconds(10)) }
                return try fileSize() > before
            }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(grew, "the file holds the 2,000 rows (about 2 MB) after a checkpoint; it was \(before) bytes")
        let rows = try await database.read { sql in try await sql.raw("SELECT COUNT(*) AS n FROM filler").first()?.decode(column: "n", as: Int.self) }
        #expect(rows == 2_000)
        await database.close()
        await cleanup()
    }

    @Test func onPostgreSQLThereIsNothingToFold() async throws {
        guard TestBackend.available.contains(.postgres) else { return }
        try await TestDatabase.withDatabase(.postgres) { database in
            try await database.checkpointLog()
        }
    }
}
