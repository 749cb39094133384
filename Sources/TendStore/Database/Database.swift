import Foundation
public import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresKit
import SQLiteKit
public import SQLKit
import TendCore

public enum DatabaseKind: String, Sendable {
    case sqlite
    case postgres
}

/// Why the database could not be opened, in one line for the operator.
public struct DatabaseOpenError: Error, CustomStringConvertible {
    public var description: String
}

/// A store opened a session while already inside one: pass the caller's connection instead.
public struct NestedSessionError: Error, CustomStringConvertible {
    public var description: String { "a database session was opened inside another; pass the open connection down (in: sql)" }
}

/// Rows left pointing at nothing after a table rebuild; the rebuild was rolled back.
public struct ForeignKeyCheckError: Error, CustomStringConvertible {
    public let table: String
    public var description: String { "rows of \(table) refer to rows that do not exist / \(table) 中有记录引用了不存在的记录" }
}

/// The one handle to storage. Stores run their SQL through `session` (plain statements) or
/// `transaction` (all or nothing); the differences between the backends' SQL live in `dialect`.
public final class Database: Sendable {
    public let kind: DatabaseKind
    public var dialect: StorageDialect { StorageDialect(kind) }
    /// Whether this task is inside an SQLite session (which holds the one connection).
    @TaskLocal static var holdsConnection = false
    /// Installed by query-plan tests: every SELECT's plan is recorded before it runs.
    @TaskLocal public static var planRecorder: QueryPlanRecorder?
    private let backend: Backend

    private enum Backend: Sendable {
        case sqlite(SQLiteConnection, SerialGate, SQLiteReaders)
        case postgres(PostgresClient, Task<Void, Never>)
    }

    private init(kind: DatabaseKind, backend: Backend) {
        self.kind = kind
        self.backend = backend
    }

    public static func open(_ location: DatabaseLocation, logger: Logger) async throws -> Database {
        switch location {
        case .sqlite(let path):
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if !FileManager.default.fileExists(atPath: directory) {
                throw DatabaseOpenError(description: "SQLite folder \(directory) does not exist / SQLite 目录不存在")
            }
            let connection: SQLiteConnection
            do {
                connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            } catch {
                throw DatabaseOpenError(description: "cannot open SQLite file \(path): \(error) / 无法打开 SQLite 文件")
            }
            let sql = connection.sql(queryLogLevel: nil)
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=10000", "PRAGMA synchronous=NORMAL", "PRAGMA cache_size=-\(cacheKiB)", "PRAGMA temp_store=MEMORY", "PRAGMA wal_autocheckpoint=\(walCheckpointPages)",
                           // Statistics for the planner, bounded in cost as SQLite recommends for a
                           // long-lived connection; hot queries do not rely on them (see `unindexed`).
                           "PRAGMA analysis_limit=400", "PRAGMA optimize=0x10002"] {
                try await sql.raw(SQLQueryString(pragma)).run()
            }
            return Database(kind: .sqlite, backend: .sqlite(connection, SerialGate(), SQLiteReaders(path: path, count: readers, logger: logger)))
        case .postgres(let target):
            try await probe(target, logger: logger)
            var configuration = PostgresClient.Configuration(
                host: target.host, port: target.port, username: target.username,
                password: target.password, database: target.database, tls: try clientTLS(target.tls))
            if let searchPath = target.searchPath {
                configuration.options.additionalStartupParameters = [("search_path", searchPath)]
            }
            configuration.options.maximumConnections = target.poolSize
            let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            let runner = Task { await client.run() }
            // Let the pool's run loop start before the first lease, which it warns about otherwise.
            try await Task.sleep(for: .milliseconds(20))
            return Database(kind: .postgres, backend: .postgres(client, runner))
        }
    }

    /// Connects once, directly, so that a wrong address or password fails at start-up with
    /// a reason instead of hanging in the pool's retry loop.
    private static func probe(_ target: DatabaseLocation.PostgresTarget, logger: Logger) async throws {
        let tls: PostgresConnection.Configuration.TLS
        switch target.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: target.host, port: target.port, username: target.username,
            password: target.password, database: target.database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        do {
            let connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: 0, logger: logger)
            try await connection.close()
        } catch let error as PSQLError {
            let detail = error.serverInfo?[.message] ?? error.underlying.map { "\($0)" } ?? "\(error.code)"
            throw DatabaseOpenError(description: "cannot connect to PostgreSQL at \(target.host):\(target.port): \(detail) / 无法连接 PostgreSQL")
        } catch {
            throw DatabaseOpenError(description: "cannot connect to PostgreSQL at \(target.host):\(target.port): \(error) / 无法连接 PostgreSQL")
        }
    }

    private static func clientTLS(_ mode: DatabaseLocation.PostgresTarget.TLSMode) throws -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    /// Runs statements on one connection, outside a transaction.
    public func session<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        switch backend {
        case .sqlite(let connection, let gate, _):
            // The one connection is held for the whole body: a session opened inside it would
            // wait for itself for ever. Refuse it, so the mistake fails a test instead of hanging.
            guard !Self.holdsConnection else { throw NestedSessionError() }
            await gate.acquire()
            do {
                let result = try await Self.$holdsConnection.withValue(true) {
                    try await body(SQLiteSession(base: connection.sql(queryLogLevel: nil), connection: connection, recorder: Self.planRecorder))
                }
                await gate.release()
                return result
            } catch {
                await gate.release()
                throw error
            }
        case .postgres(let client, _):
            let recorder = Self.planRecorder
            return try await client.withConnection { connection in
                let sql = connection.sql(queryLogLevel: nil)
                return try await body(recorder.map { ExplainingSession(base: sql, recorder: $0) } ?? sql)
            }
        }
    }

    /// Runs statements that only read, outside any transaction. On SQLite they run on a
    /// read-only connection of their own, beside the writer, and see what was committed before
    /// they began; on PostgreSQL this is `session`. Never for a read that must see a write of the
    /// same task not yet committed (inside a transaction, pass its connection instead).
    public func read<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        switch backend {
        case .sqlite(_, _, let readers):
            guard !Self.holdsConnection else { throw NestedSessionError() }
            return try await readers.read(body)
        case .postgres:
            return try await session(body)
        }
    }

    /// Runs the body on the caller's connection when given one (inside the caller's
    /// transaction), else on a session of its own: how a store's write joins a use case's
    /// transaction, with its audit event.
    public func on<R: Sendable>(_ sql: (any SQLDatabase)?, _ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        if let sql { return try await body(sql) }
        return try await session(body)
    }

    /// A transaction of its own, or the caller's when given one.
    public func transaction<R: Sendable>(joining sql: (any SQLDatabase)?, _ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        if let sql { return try await body(sql) }
        return try await transaction(body)
    }

    /// Runs the body in one transaction: every write in it lands, or none does.
    public func transaction<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await session { sql in try await Self.inTransaction(sql, kind: kind, body) }
    }

    /// A transaction for rebuilding tables that others reference (SQLite's way of changing a
    /// constraint): foreign keys are not enforced statement by statement while the old table
    /// is dropped and the new one renamed into its place, and are checked in full before it
    /// commits. On PostgreSQL it is a plain transaction.
    public func transactionCheckingForeignKeysAtEnd<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        guard kind == .sqlite else { return try await transaction(body) }
        return try await session { sql in
            // Only takes effect outside a transaction, hence around it.
            try await sql.raw("PRAGMA foreign_keys=OFF").run()
            do {
                let result = try await Self.inTransaction(sql, kind: kind) { sql in
                    let result = try await body(sql)
                    if let broken = try await sql.raw("PRAGMA foreign_key_check").first() {
                        let table = (try? broken.decode(column: "table", as: String.self)) ?? "?"
                        throw ForeignKeyCheckError(table: table)
                    }
                    return result
                }
                try await sql.raw("PRAGMA foreign_keys=ON").run()
                return result
            } catch {
                try? await sql.raw("PRAGMA foreign_keys=ON").run()
                throw error
            }
        }
    }

    private static func inTransaction<R: Sendable>(_ sql: any SQLDatabase, kind: DatabaseKind, _ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await sql.raw(SQLQueryString(StorageDialect(kind).beginWrite)).run()
        do {
            let result = try await body((sql as? SQLiteSession)?.inTransaction() ?? sql)
            try await sql.raw("COMMIT").run()
            return result
        } catch {
            try? await sql.raw("ROLLBACK").run()
            throw error
        }
    }

    /// SQLite's page cache: 64 MB serving, 256 MB while a bulk load dirties index pages at random
    /// (a server's resident memory is mostly this cache once it has been read through).
    static let cacheKiB = 65_536
    /// Each read-only connection's cache (the file's hot pages are also in the OS page cache).
    static let readerCacheKiB = 16_384
    /// Read-only SQLite connections: a few, as the machine has few cores to run them on.
    static let readers = 3
    static let bulkCacheKiB = 262_144

    /// SQLite folds its write-ahead log back into the database file at a commit that finds this
    /// many pages in it: a safety valve (400 MB) for processes that do not run a `LogCheckpointer`.
    /// At 8,000 pages one commit in a few hundred paid for a checkpoint, and every request waiting
    /// on that commit stalled with it (GET patient p99 155–230 ms under load at 100,000 patients,
    /// 9.8 ms with checkpoints off the commit path).
    static let walCheckpointPages = 100_000
    /// During a bulk load: 400 MB of log. Random index pages are dirtied again and again by
    /// consecutive transactions; folding them back rarely writes (and syncs) each page once
    /// instead of once per few transactions — at a million patients the load runs 40 % faster.
    static let bulkWALCheckpointPages = 100_000

    /// Runs a bulk load. On SQLite the log is folded back into the file rarely while it runs,
    /// and once, in full, at the end (so the log file does not stay large).
    public func bulkLoad<R: Sendable>(_ body: () async throws -> R) async throws -> R {
        guard kind == .sqlite else { return try await body() }
        try await session { sql in
            try await sql.raw("PRAGMA wal_autocheckpoint=\(unsafeRaw: String(Self.bulkWALCheckpointPages))").run()
            try await sql.raw("PRAGMA cache_size=-\(unsafeRaw: String(Self.bulkCacheKiB))").run()
        }
        let result: R
        do {
            result = try await body()
        } catch {
            try? await session { sql in
                try await sql.raw("PRAGMA wal_autocheckpoint=\(unsafeRaw: String(Self.walCheckpointPages))").run()
                try await sql.raw("PRAGMA cache_size=-\(unsafeRaw: String(Self.cacheKiB))").run()
            }
            throw error
        }
        try await session { sql in
            try await sql.raw("PRAGMA wal_autocheckpoint=\(unsafeRaw: String(Self.walCheckpointPages))").run()
            try await sql.raw("PRAGMA cache_size=-\(unsafeRaw: String(Self.cacheKiB))").run()
            try await sql.raw("PRAGMA wal_checkpoint(TRUNCATE)").run()
            try await sql.raw("PRAGMA optimize").run()
        }
        return result
    }

    /// Folds the committed part of SQLite's write-ahead log back into the database file, on a
    /// connection of its own, waiting for neither the writer nor readers (PASSIVE), so that no
    /// request's commit pays for it. A server calls it every second (`LogCheckpointer`).
    /// PostgreSQL checkpoints by itself: nothing to do.
    public func checkpointLog() async throws {
        switch backend {
        case .sqlite(_, _, let readers): try await readers.checkpoint()
        case .postgres: return
        }
    }

    public func close() async {
        switch backend {
        case .sqlite(let connection, _, let readers):
            await readers.close()
            try? await connection.close()
        case .postgres(_, let runner):
            runner.cancel()
            await runner.value
        }
    }
}

/// The index or constraint a PostgreSQL unique violation names (SQLite's messages name
/// columns instead: "UNIQUE constraint failed: patients.program_id, patients.phone_bidx").
func violatedConstraint(_ error: any Error) -> String? {
    if let error = error as? PSQLError { return error.serverInfo?[.constraintName] }
    if let error = error as? SQLiteError { return error.message }
    return nil
}

/// Recognises a unique-constraint violation from either driver, so stores can turn it into
/// a `conflict` error naming the field.
public func isUniqueViolation(_ error: any Error) -> Bool {
    if let error = error as? PSQLError {
        return error.serverInfo?[.sqlState] == "23505"
    }
    if let error = error as? SQLiteError {
        switch error.reason {
        case .constraintUniqueFailed, .constraintPrimaryKeyFailed: return true
        case .constraint: return error.message.contains("UNIQUE")
        default: return false
        }
    }
    return false
}

/// SQLKit's view of the one SQLite connection, which also hands the connection itself to
/// `MultiRowInsert`: bulk statements bind plain values directly instead of encoding each
/// through SQLKit's `Encodable` machinery, which costs more than SQLite's own work per row.
struct SQLiteSession: SQLDatabaseWrapper {
    let base: any SQLDatabase
    let connection: SQLiteConnection
    /// Query-plan tests only.
    var recorder: QueryPlanRecorder?
    /// Inside `Database.transaction`, where any failing statement ends in a rollback of all.
    var isInTransaction = false

    func inTransaction() -> SQLiteSession {
        SQLiteSession(base: base, connection: connection, recorder: recorder, isInTransaction: true)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        if let recorder { try await recorder.explain(query, on: base, kind: .sqlite) }
        try await base.execute(sql: query, onRow)
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }
}
