import Foundation
import Logging
import SQLiteKit
import SQLKit
import Synchronization

/// Read-only connections to the SQLite file beside its one writer. In WAL mode a reader sees
/// the last committed state and neither waits for the writer nor holds it up, so a page's
/// reads no longer queue behind other requests' statements and commits on the one connection.
/// Each connection is opened on first use (a CLI command that only writes opens none) and runs
/// one session at a time; sessions are spread over them in turn.
final class SQLiteReaders: Sendable {
    private let slots: [Slot]
    /// Checkpoints run on a connection of their own: one can take a while (it copies log pages
    /// into the file and syncs it), and reads routed to its connection would wait that long.
    private let checkpointSlot: Slot
    private let turn = Atomic<Int>(0)

    init(path: String, count: Int, logger: Logger) {
        slots = (0..<max(1, count)).map { _ in Slot(path: path, logger: logger) }
        checkpointSlot = Slot(path: path, logger: logger)
    }

    /// A PASSIVE checkpoint: copies what no reader still needs and waits for no one.
    func checkpoint() async throws {
        try await checkpointSlot.read { sql in try await sql.raw("PRAGMA wal_checkpoint(PASSIVE)").run() }
    }

    func read<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let index = Int(turn.wrappingAdd(1, ordering: .relaxed).oldValue.magnitude % UInt(slots.count))
        return try await slots[index].read(body)
    }

    func close() async {
        for slot in slots + [checkpointSlot] { await slot.close() }
    }

    private final class Slot: Sendable {
        let path: String
        let logger: Logger
        let gate = SerialGate()
        let connection = Mutex<SQLiteConnection?>(nil)

        init(path: String, logger: Logger) {
            self.path = path
            self.logger = logger
        }

        func read<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
            await gate.acquire()
            do {
                let reader = try await open()
                let result = try await Database.$holdsConnection.withValue(true) {
                    try await body(SQLiteSession(base: reader.sql(queryLogLevel: nil), connection: reader, recorder: Database.planRecorder))
                }
                await gate.release()
                return result
            } catch {
                await gate.release()
                throw error
            }
        }

        /// Called with the gate held.
        private func open() async throws -> SQLiteConnection {
            if let existing = connection.withLock({ $0 }) { return existing }
            let opened = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            let sql = opened.sql(queryLogLevel: nil)
            for pragma in ["PRAGMA query_only=1", "PRAGMA busy_timeout=10000", "PRAGMA cache_size=-\(Database.readerCacheKiB)", "PRAGMA temp_store=MEMORY"] {
                try await sql.raw(SQLQueryString(pragma)).run()
            }
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
