import CTendSQLite
import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteKit
import SQLKit
import Synchronization
import VaporCSQLite

/// One read-only connection to the SQLite file, run on the calling task: each statement is
/// prepared once and kept, and its rows are read straight into values.
///
/// Why not SQLiteNIO for reads: it prepares every statement anew, runs it on a thread pool of
/// as many threads as cores (shared with the writer and checkpoints) and hands every row back to
/// an event loop as a future of its own, so a read of four short statements crossed threads a
/// dozen times; under load a quarter of the CPU was the scheduler. A read here is short (keyed
/// lookups, pages of at most a few hundred rows), so it runs where it is awaited. It uses the
/// same SQLite library as the writer (SQLiteNIO's, whose symbols are prefixed): two copies of
/// SQLite in one process do not see each other's file locks.
final class SQLiteReadConnection: Sendable {
    private let state: Mutex<State>
    let path: String

    /// Prepared statements kept per connection; past this many, all are dropped and prepared again.
    static let keptStatements = 256

    init(path: String) {
        self.path = path
        state = Mutex(State())
    }

    /// Runs one statement if no other task holds this connection; nil when it is busy.
    func runIfAvailable(_ sql: String, _ binds: [SQLiteData]) -> Result<[SQLiteReadRow], any Error>? {
        state.withLockIfAvailable { state in Self.run(sql, binds, in: &state, path: path) }
    }

    /// How often SQLite has prepared a kept statement again since it was first prepared (nil when
    /// it is not kept): the test that plans stay put across bindings reads it.
    func reprepares(of sql: String) -> Int32? {
        state.withLock { state in
            state.statements[sql].map { sqlite_nio_sqlite3_stmt_status($0.statement, Int32(SQLITE_STMTSTATUS_REPREPARE), 0) }
        }
    }

    /// Runs one statement, waiting for a task that holds this connection to finish its statement.
    func run(_ sql: String, _ binds: [SQLiteData]) -> Result<[SQLiteReadRow], any Error> {
        state.withLock { state in Self.run(sql, binds, in: &state, path: path) }
    }

    func close() {
        state.withLock { $0.close() }
    }

    private static func run(_ sql: String, _ binds: [SQLiteData], in state: inout State, path: String) -> Result<[SQLiteReadRow], any Error> {
        Result { try state.rows(of: sql, binds, path: path) }
    }

    private struct State: ~Copyable {
        var handle: OpaquePointer?
        var statements: [String: Prepared] = [:]

        struct Prepared {
            let statement: OpaquePointer
            let columns: SQLiteReadRow.Columns
        }

        mutating func rows(of sql: String, _ binds: [SQLiteData], path: String) throws -> [SQLiteReadRow] {
            let handle = try open(path)
            let prepared = try prepare(sql, on: handle)
            defer {
                sqlite_nio_sqlite3_reset(prepared.statement)
                sqlite_nio_sqlite3_clear_bindings(prepared.statement)
            }
            for (offset, bind) in binds.enumerated() {
                try check(Self.bind(bind, at: Int32(offset + 1), to: prepared.statement), on: handle)
            }
            var rows: [SQLiteReadRow] = []
            let width = Int32(prepared.columns.names.count)
            while true {
                let step = sqlite_nio_sqlite3_step(prepared.statement)
                if step == SQLITE_DONE { return rows }
                guard step == SQLITE_ROW else { throw SQLiteReadError(code: step, message: Self.message(handle)) }
                var values: [SQLiteData] = []
                values.reserveCapacity(Int(width))
                for column in 0..<width { values.append(Self.value(at: column, of: prepared.statement)) }
                rows.append(SQLiteReadRow(columns: prepared.columns, values: values))
            }
        }

        private mutating func open(_ path: String) throws -> OpaquePointer {
            if let handle { return handle }
            var opened: OpaquePointer?
            let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
            let code = sqlite_nio_sqlite3_open_v2(path, &opened, flags, nil)
            guard code == SQLITE_OK, let opened else {
                let message = opened.map(Self.message) ?? "cannot open"
                sqlite_nio_sqlite3_close_v2(opened)
                throw SQLiteReadError(code: code, message: "\(message) (\(path))")
            }
            // Plans that do not depend on bound values, so that kept statements stay prepared.
            let stable = ctend_sqlite_enable_stable_plans(UnsafeMutableRawPointer(opened))
            guard stable == SQLITE_OK else {
                sqlite_nio_sqlite3_close_v2(opened)
                throw SQLiteReadError(code: stable, message: "cannot enable stable query plans")
            }
            let pragmas = "PRAGMA query_only=1; PRAGMA busy_timeout=10000; PRAGMA cache_size=-\(Database.readerCacheKiB); PRAGMA temp_store=MEMORY;"
            let pragmaCode = sqlite_nio_sqlite3_exec(opened, pragmas, nil, nil, nil)
            guard pragmaCode == SQLITE_OK else {
                let message = Self.message(opened)
                sqlite_nio_sqlite3_close_v2(opened)
                throw SQLiteReadError(code: pragmaCode, message: message)
            }
            handle = opened
            return opened
        }

        private mutating func prepare(_ sql: String, on handle: OpaquePointer) throws -> Prepared {
            if let kept = statements[sql] { return kept }
            if statements.count >= SQLiteReadConnection.keptStatements { finalizeAll() }
            var statement: OpaquePointer?
            let code = sqlite_nio_sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
            guard code == SQLITE_OK, let statement else {
                throw SQLiteReadError(code: code, message: Self.message(handle))
            }
            let count = sqlite_nio_sqlite3_column_count(statement)
            let names = (0..<count).map { column in
                sqlite_nio_sqlite3_column_name(statement, column).map { String(cString: $0) } ?? ""
            }
            let prepared = Prepared(statement: statement, columns: SQLiteReadRow.Columns(names: names))
            statements[sql] = prepared
            return prepared
        }

        private func check(_ code: Int32, on handle: OpaquePointer) throws {
            guard code == SQLITE_OK else { throw SQLiteReadError(code: code, message: Self.message(handle)) }
        }

        private static func bind(_ value: SQLiteData, at index: Int32, to statement: OpaquePointer) -> Int32 {
            switch value {
            case .integer(let integer): sqlite_nio_sqlite3_bind_int64(statement, index, Int64(integer))
            case .float(let float): sqlite_nio_sqlite3_bind_double(statement, index, float)
            case .null: sqlite_nio_sqlite3_bind_null(statement, index)
            case .text(let text) where text.isEmpty:
                // An empty buffer may have no address, and a null address binds NULL, not ''.
                sqlite_nio_sqlite3_bind_text64(statement, index, "", 0, transient, UInt8(SQLITE_UTF8))
            case .text(var text):
                text.withUTF8 { bytes in
                    sqlite_nio_sqlite3_bind_text64(statement, index, bytes.baseAddress, UInt64(bytes.count), transient, UInt8(SQLITE_UTF8))
                }
            case .blob(let blob):
                blob.withUnsafeReadableBytes { bytes in
                    sqlite_nio_sqlite3_bind_blob64(statement, index, bytes.baseAddress, UInt64(bytes.count), transient)
                }
            }
        }

        private static func value(at column: Int32, of statement: OpaquePointer) -> SQLiteData {
            switch sqlite_nio_sqlite3_column_type(statement, column) {
            case SQLITE_INTEGER: return .integer(Int(sqlite_nio_sqlite3_column_int64(statement, column)))
            case SQLITE_FLOAT: return .float(sqlite_nio_sqlite3_column_double(statement, column))
            case SQLITE_TEXT:
                guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return .text("") }
                let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
                return .text(String(decoding: UnsafeBufferPointer(start: text, count: length), as: UTF8.self))
            case SQLITE_BLOB:
                let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
                var buffer = ByteBufferAllocator().buffer(capacity: length)
                if let bytes = sqlite_nio_sqlite3_column_blob(statement, column) {
                    buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: length))
                }
                return .blob(buffer)
            default: return .null
            }
        }

        private static func message(_ handle: OpaquePointer) -> String {
            sqlite_nio_sqlite3_errmsg(handle).map { String(cString: $0) } ?? "unknown SQLite error"
        }

        private mutating func finalizeAll() {
            for prepared in statements.values { sqlite_nio_sqlite3_finalize(prepared.statement) }
            statements.removeAll()
        }

        mutating func close() {
            finalizeAll()
            if let handle { sqlite_nio_sqlite3_close_v2(handle) }
            handle = nil
        }

        deinit {
            for prepared in statements.values { sqlite_nio_sqlite3_finalize(prepared.statement) }
            if let handle { sqlite_nio_sqlite3_close_v2(handle) }
        }
    }
}

/// SQLite copies a bound value before the bind call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A statement on a read connection failed; SQLite's own code and message.
struct SQLiteReadError: Error, CustomStringConvertible {
    let code: Int32
    let message: String
    var description: String { "SQLite error \(code): \(message)" }
}

/// One row read by `SQLiteReadConnection`, decoded as SQLiteKit decodes rows.
struct SQLiteReadRow: SQLRow {
    /// A statement's column names and where each is, shared by all its rows.
    final class Columns: Sendable {
        let names: [String]
        let offsets: [String: Int]

        init(names: [String]) {
            self.names = names
            offsets = Dictionary(names.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        }
    }

    let columns: Columns
    let values: [SQLiteData]

    struct MissingColumn: Error, CustomStringConvertible {
        let column: String
        var description: String { "no column \(column) in the row" }
    }

    var allColumns: [String] { columns.names }

    func contains(column: String) -> Bool { columns.offsets[column] != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let offset = columns.offsets[column] else { return true }
        return values[offset] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let offset = columns.offsets[column] else { throw MissingColumn(column: column) }
        let value = values[offset]
        if let direct = Self.direct(value, as: D.self) { return direct }
        return try SQLiteDataDecoder().decode(D.self, from: value)
    }

    /// Text, integers, reals and NULL read as the plain types (and their optionals) that stores ask
    /// for, without a decoder: SQLiteDataDecoder makes a JSONDecoder and a Decoder per value, which
    /// was a fifth of a page of 200 tasks. Anything else (blobs, JSON columns, enums) goes through it.
    static func direct<D>(_ value: SQLiteData, as type: D.Type) -> D? {
        switch value {
        case .text(let text):
            return D.self == String.self || D.self == String?.self ? text as? D : nil
        case .integer(let integer):
            if D.self == Int64.self || D.self == Int64?.self { return Int64(integer) as? D }
            if D.self == Int.self || D.self == Int?.self { return Int(integer) as? D }
            if D.self == Double.self || D.self == Double?.self { return Double(integer) as? D }
            return nil
        case .float(let real):
            return D.self == Double.self || D.self == Double?.self ? real as? D : nil
        case .null:
            guard let optional = D.self as? any ExpressibleByNilLiteral.Type else { return nil }
            return optional.init(nilLiteral: ()) as? D
        case .blob:
            return nil
        }
    }
}
