import Foundation
import SQLiteNIO
import TendCore
import Testing
import TendTestSupport
@testable import TendStore

/// The read connections keep their statements prepared: a statement over two tables, bound again
/// with new values a thousand times, is never prepared again (SQLite 3.54 re-prepared such a
/// statement on every binding until the planner's stability guarantee was turned on).
@Suite struct SQLiteReadConnectionTests {
    @Test func keptStatementsOverTwoTablesAreNotPreparedAgain() async throws {
        let (location, cleanup) = try await TestDatabase.makeLocation(.sqlite)
        guard case .sqlite(let path) = location else { return }
        let database = try await Database.open(location, logger: TestDatabase.logger)
        try await Migrator(database: database, clock: .system).migrate()
        await database.close()
        let connection = SQLiteReadConnection(path: path)
        do {
            let joined = "SELECT t.id FROM api_tokens t JOIN staff_users u ON u.id = t.user_id WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)"
            let single = "SELECT id FROM patients WHERE id = ?"
            for index in 0..<1000 {
                _ = try connection.run(joined, [.text("hash-\(index)"), .integer(1_796_000_000_000 + index)]).get()
                _ = try connection.run(single, [.text("p-\(index)")]).get()
            }
            #expect(connection.reprepares(of: joined) == 0)
            #expect(connection.reprepares(of: single) == 0)
        } catch {
            connection.close()
            await cleanup()
            throw error
        }
        connection.close()
        await cleanup()
    }
}
