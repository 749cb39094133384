import Crypto
import Foundation
public import Logging
import SQLiteKit
public import SQLKit
import TendCore

public struct BackupError: Error, CustomStringConvertible {
    public var description: String
}

/// Backups of an SQLite database, taken while servers keep running, and their restore.
/// PostgreSQL has its own tools (pg_dump / pg_restore, docs/operations.md). A backup holds
/// PII only as ciphertext: without the master key file it restores to unreadable fields.
public enum DatabaseBackup {
    /// Writes a consistent copy of the open database to `path` (SQLite's `VACUUM INTO`: one
    /// read transaction, so writers carry on and the copy is the database at one moment).
    /// With `manifest`, also returns every table's row count and checksum at that moment,
    /// read on the same connection before anything else writes through it.
    @discardableResult
    public static func backup(_ database: Database, to path: String, manifest: Bool = false) async throws -> [String: TableDigest] {
        guard database.dialect.copiesItselfOnline else {
            throw BackupError(description: "tend backup copies SQLite databases; for PostgreSQL use pg_dump (docs/operations.md) / PostgreSQL 请使用 pg_dump")
        }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw BackupError(description: "\(path) already exists; choose a new file / 目标文件已存在")
        }
        return try await database.session { sql in
            try await sql.raw("VACUUM INTO \(bind: path)").run()
            return manifest ? try await digests(sql) : [:]
        }
    }

    /// A table's row count and an order-independent checksum of its rows.
    public struct TableDigest: Sendable, Equatable {
        public var rows: Int
        public var checksum: UInt64
    }

    /// Every table's digest, on an SQLite connection: each row's columns quoted by SQLite
    /// (so types and NULLs count), hashed, and the hashes summed.
    public static func digests(_ sql: any SQLDatabase) async throws -> [String: TableDigest] {
        let tables = try await sql.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all()
            .map { try $0.decode(column: "name", as: String.self) }
        var digests: [String: TableDigest] = [:]
        for table in tables {
            let columns = try await sql.raw("SELECT name FROM pragma_table_info(\(bind: table))").all().map { try $0.decode(column: "name", as: String.self) }
            let expression = columns.map { "quote(\"\($0)\")" }.joined(separator: " || '|' || ")
            var digest = TableDigest(rows: 0, checksum: 0)
            for row in try await sql.raw("SELECT \(unsafeRaw: expression) AS r FROM \"\(unsafeRaw: table)\"").all() {
                let text = try row.decode(column: "r", as: String.self)
                digest.rows += 1
                digest.checksum &+= SHA256.hash(data: Data(text.utf8)).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            }
            digests[table] = digest
        }
        return digests
    }

    /// The digests of an SQLite file, opened on its own.
    public static func digests(ofFile path: String, logger: Logger) async throws -> [String: TableDigest] {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        do {
            let result = try await digests(connection.sql())
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Replaces the SQLite database at `target` with the backup at `source`, after checking
    /// the backup is a sound Tend database this binary knows. Refuses while any process has
    /// the target open, and refuses to overwrite an existing database without `force`.
    public static func restore(_ source: String, over target: String, force: Bool, logger: Logger) async throws {
        let manager = FileManager.default
        guard manager.fileExists(atPath: source) else { throw BackupError(description: "backup \(source) does not exist / 备份文件不存在") }
        try await check(backup: source, logger: logger)
        let exists = manager.fileExists(atPath: target)
        if exists, !force {
            throw BackupError(description: "\(target) exists; pass --force to replace it / 目标数据库已存在，如需覆盖请加 --force")
        }
        let staging = target + ".restoring"
        try? manager.removeItem(atPath: staging)
        try manager.copyItem(atPath: source, toPath: staging)
        guard exists else {
            try manager.moveItem(atPath: staging, toPath: target)
            return
        }
        // Hold the target exclusively while it is replaced: in WAL mode this fails at once if
        // any other connection (a running tend serve) has the file open.
        let connection = try await SQLiteConnection.open(storage: .file(path: target), logger: logger)
        do {
            let sql = connection.sql()
            try await sql.raw("PRAGMA busy_timeout=0").run()
            try await sql.raw("PRAGMA locking_mode=EXCLUSIVE").run()
            do {
                try await sql.raw("BEGIN EXCLUSIVE").run()
                try await sql.raw("SELECT COUNT(*) FROM sqlite_master").run()
            } catch {
                throw BackupError(description: "\(target) is in use by another process; stop tend serve and workers first / 数据库正在使用中，请先停止 tend serve")
            }
            guard rename(staging, target) == 0 else {
                throw BackupError(description: "cannot replace \(target): \(String(cString: strerror(errno))) / 无法替换数据库文件")
            }
            try? manager.removeItem(atPath: target + "-wal")
            try? manager.removeItem(atPath: target + "-shm")
            try? await sql.raw("ROLLBACK").run()
        } catch {
            try? await connection.close()
            try? manager.removeItem(atPath: staging)
            throw error
        }
        try? await connection.close()
    }

    /// The backup must pass SQLite's integrity check and carry a schema this binary knows.
    static func check(backup path: String, logger: Logger) async throws {
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            throw BackupError(description: "\(path) is not an SQLite database / 不是 SQLite 数据库")
        }
        let sql = connection.sql()
        do {
            defer { _ = connection.close() }
            let integrity = try await sql.raw("PRAGMA integrity_check").first()?.decode(column: "integrity_check", as: String.self)
            guard integrity == "ok" else { throw BackupError(description: "\(path) fails SQLite's integrity check / 备份文件已损坏") }
            let version = try await sql.raw("SELECT MAX(version) AS v FROM schema_migrations").first()?.decode(column: "v", as: Int.self) ?? 0
            let known = Migrator.knownSchemaVersion
            guard version <= known else {
                throw BackupError(description: "\(path) has schema version \(version), newer than this tend (\(known)) / 备份的结构版本高于本程序")
            }
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError(description: "\(path) is not a Tend database / 不是 Tend 数据库")
        }
    }
}
