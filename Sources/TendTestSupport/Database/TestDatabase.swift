import Foundation
public import Logging
public import TendCore
public import TendStore
import SQLKit

/// The storage backends a contract test runs on: SQLite always, PostgreSQL when
/// `TEND_TEST_POSTGRES_URL` is set.
public enum TestBackend: String, Sendable, CustomStringConvertible, CaseIterable {
    case sqlite
    case postgres

    public var description: String { rawValue }

    public static var available: [TestBackend] {
        postgresURL == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["TEND_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

public enum TestDatabase {
    public static let logger = Logger(label: "tend-test")

    /// A fresh, empty database location on the backend: a temporary SQLite file, or a
    /// new PostgreSQL schema reached through `search_path`. `cleanup` removes it.
    public static func makeLocation(_ backend: TestBackend) async throws -> (location: DatabaseLocation, cleanup: @Sendable () async -> Void) {
        let name = "t\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tend-test-\(name)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return (.sqlite(path: directory.appendingPathComponent("tend.sqlite").path), {
                try? FileManager.default.removeItem(at: directory)
            })
        case .postgres:
            guard let url = TestBackend.postgresURL, case .postgres(var target) = try DatabaseLocation.parse(url) else {
                throw TestSetupError(description: "TEND_TEST_POSTGRES_URL is not a postgres:// URL")
            }
            let admin = try await Database.open(.postgres(target), logger: logger)
            try await admin.session { sql in try await sql.raw("CREATE SCHEMA \(unsafeRaw: name)").run() }
            target.searchPath = name
            // Many tests run at once, each with its own pool: keep them small.
            target.poolSize = 3
            return (.postgres(target), {
                try? await admin.session { sql in try await sql.raw("DROP SCHEMA \(unsafeRaw: name) CASCADE").run() }
                await admin.close()
            })
        }
    }

    /// Runs the body against a fresh, migrated database and removes it afterwards.
    public static func withDatabase<R: Sendable>(_ backend: TestBackend, migrate: Bool = true, clock: TendClock = .system, _ body: (Database) async throws -> R) async throws -> R {
        let (location, cleanup) = try await makeLocation(backend)
        let database = try await Database.open(location, logger: logger)
        do {
            if migrate { try await Migrator(database: database, clock: clock).migrate() }
            let result = try await body(database)
            await database.close()
            await cleanup()
            return result
        } catch {
            await database.close()
            await cleanup()
            throw error
        }
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}

public enum TestKeys {
    /// Two fixed keys: k1 then k2 (active).
    public static let ring = "k1:\(Data(repeating: 1, count: 32).base64EncodedString()),k2:\(Data(repeating: 2, count: 32).base64EncodedString())"
    public static let single = "k1:\(Data(repeating: 1, count: 32).base64EncodedString())"
}

extension StoreContext {
    /// A context over a test database with the fixed test keys, for tests of one store.
    public static func testing(_ database: Database, clock: TendClock, ids: IDGenerator) throws -> StoreContext {
        StoreContext(database: database, clock: clock, ids: ids, keys: try KeyRing.parse(TestKeys.ring, source: "test"))
    }
}
