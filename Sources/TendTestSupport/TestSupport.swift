import Foundation
import Logging
import TendCore
import TendServer
import TendStore

/// A clock tests move by hand.
public final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date = Date(timeIntervalSince1970: 1_796_112_000)) {  // 2026-12-01T00:00:00Z
        current = start
    }

    public var now: Date { lock.withLock { current } }

    public func advance(by seconds: TimeInterval) {
        lock.withLock { current = current.addingTimeInterval(seconds) }
    }

    public var clock: TendClock { TendClock { [self] in now } }
}

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
}

public enum TestKeys {
    /// Two fixed keys: k1 then k2 (active).
    public static let ring = "k1:\(Data(repeating: 1, count: 32).base64EncodedString()),k2:\(Data(repeating: 2, count: 32).base64EncodedString())"
    public static let single = "k1:\(Data(repeating: 1, count: 32).base64EncodedString())"
}

/// Keeps every log line, at every level, so tests can look for what must never be logged.
public final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    public init() {}

    public var text: String { lock.withLock { lines.joined(separator: "\n") } }

    func append(_ line: String) { lock.withLock { lines.append(line) } }

    public var logger: Logger {
        Logger(label: "tend-capture") { label in CapturingHandler(label: label, capture: self) }
    }

    struct CapturingHandler: LogHandler {
        let label: String
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = self.metadata.merging(event.metadata ?? [:]) { _, new in new }
            capture.append("\(event.level) \(label) \(event.message) \(all) \(event.error.map { "\($0)" } ?? "")")
        }
    }
}

/// A whole application on a fresh database, with the demo programs and logins seeded.
public struct TestApp: Sendable {
    public let dependencies: AppDependencies
    public let clock: TestClock

    public var stores: Stores { dependencies.stores }

    public static func withApp<R: Sendable>(_ backend: TestBackend, seedDemo: Bool = true, logger: Logger = TestDatabase.logger, _ body: (TestApp) async throws -> R) async throws -> R {
        let clock = TestClock()
        let (location, cleanup) = try await TestDatabase.makeLocation(backend)
        let config = AppConfig(database: location, port: 0, keySource: .inline(TestKeys.ring), logLevel: .warning, passwordCost: 4, outbound: .testReceivers,
                               sessionIdle: 7 * 86400)
        let ids = IDGenerator.uuidV7(clock: clock.clock)
        let stores: Stores
        do {
            stores = try await openStores(config: config, clock: clock.clock, ids: ids, logger: logger, migrate: true)
        } catch {
            await cleanup()
            throw error
        }
        let dependencies = AppDependencies(config: config, stores: stores, clock: clock.clock, ids: ids, logger: logger)
        do {
            if seedDemo {
                try await DemoSeed.seed(stores: stores, passwords: dependencies.passwords, messages: dependencies.actions.messages, patientsPerProgram: 30, now: clock.now)
            }
            let result = try await body(TestApp(dependencies: dependencies, clock: clock))
            await stores.database.close()
            await cleanup()
            return result
        } catch {
            await stores.database.close()
            await cleanup()
            throw error
        }
    }

    /// A bearer token for a demo login.
    public func token(for email: String) async throws -> String {
        guard let user = try await stores.staff.credentials(email: email)?.user else {
            throw TestSetupError(description: "no user \(email)")
        }
        return try await stores.tokens.create(userID: user.id, name: "test").plaintext
    }
}

extension OutboundPolicy {
    /// Tests send only to receivers they start on this machine.
    public static let testReceivers = OutboundPolicy(allowedHosts: ["127.0.0.1", "localhost"])
}
