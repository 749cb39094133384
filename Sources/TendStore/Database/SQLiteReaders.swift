import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteKit
import SQLKit
import Synchronization

/// Read-only connections to the SQLite file beside its one writer. In WAL mode a reader sees
/// the last committed state and neither waits for the writer nor holds it up, so a page's
/// reads never queue behind other requests' statements and commits on the one connection.
/// Each statement runs on whichever connection is free (each opened on first use; a CLI
/// command that only writes opens none): a read session holds no transaction across its
/// statements, so nothing needs them on one connection.
final class SQLiteReaders: Sendable {
    private let connections: [SQLiteReadConnection]
    /// Checkpoints run on a connection of their own, through SQLiteNIO's thread pool: one can
    /// take a while (it copies log pages into the file and syncs it), and must not hold up a
    /// task's thread or a read connection that long.
    private let checkpointSlot: CheckpointSlot
    private let turn = Atomic<Int>(0)
    let logger: Logger
    let eventLoop: any EventLoop

    init(path: String, count: Int, logger: Logger) {
        connections = (0..<max(1, count)).map { _ in SQLiteReadConnection(path: path) }
        checkpointSlot = CheckpointSlot(path: path, logger: logger)
        self.logger = logger
        eventLoop = MultiThreadedEventLoopGroup.singleton.any()
    }

    /// A PASSIVE checkpoint: copies what no reader still needs and waits for no one.
    func checkpoint() async throws {
        try await checkpointSlot.checkpoint()
    }

    func read<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await Database.$holdsConnection.withValue(true) {
            try await body(SQLiteReadSession(readers: self, recorder: Database.planRecorder))
        }
    }

    /// Runs one statement on the first free connection, starting from the next in turn; when
    /// every one is busy, waits for the one in turn.
    func rows(of sql: String, _ binds: [SQLiteData]) throws -> [SQLiteReadRow] {
        let first = Int(turn.wrappingAdd(1, ordering: .relaxed).oldValue.magnitude % UInt(connections.count))
        for step in 0..<connections.count {
            if let result = connections[(first + step) % connections.count].runIfAvailable(sql, binds) { return try result.get() }
        }
        return try connections[first].run(sql, binds).get()
    }

    func close() async {
        for connection in connections { connection.close() }
        await checkpointSlot.close()
    }

    private final class CheckpointSlot: Sendable {
        let path: String
        let logger: Logger
        let gate = SerialGate()
        let connection = Mutex<SQLiteConnection?>(nil)

        init(path: String, logger: Logger) {
            self.path = path
            self.logger = logger
        }

        func checkpoint() async throws {
            await gate.acquire()
            do {
                let sql = try await open().sql(queryLogLevel: nil)
                try await sql.raw("PRAGMA wal_checkpoint(PASSIVE)").run()
                await gate.release()
            } catch {
                await gate.release()
                throw error
            }
        }

        /// Called with the gate held.
        private func open() async throws -> SQLiteConnection {
            if let existing = connection.withLock({ $0 }) { return existing }
            let opened = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            try await opened.sql(queryLogLevel: nil).raw("PRAGMA busy_timeout=10000").run()
            connection.withLock { $0 = opened }
            return opened
        }

        func close() async {
            await gate.acquire()
            let open = connection.withLock { connection in
                defer { connection = nil }
                return connection
            }
            try? await open?.close()
            await gate.release()
        }
    }
}

/// SQLKit's view of the read connections: each statement runs on a free one, on the calling
/// task (`SQLiteReadConnection`).
struct SQLiteReadSession: SQLDatabase {
    let readers: SQLiteReaders
    /// Query-plan tests only.
    var recorder: QueryPlanRecorder?

    var logger: Logger { readers.logger }
    var eventLoop: any EventLoop { readers.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { nil }
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        do {
            for row in try rows(of: query) { onRow(row) }
            return eventLoop.makeSucceededVoidFuture()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        if let recorder { try await recorder.explain(query, on: SQLiteReadSession(readers: readers), kind: .sqlite) }
        for row in try rows(of: query) { onRow(row) }
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    private func rows(of query: any SQLExpression) throws -> [SQLiteReadRow] {
        let (sql, binds) = serialize(query)
        let encoder = SQLiteDataEncoder()
        return try readers.rows(of: sql, binds.map { try encoder.encode($0) })
    }
}
