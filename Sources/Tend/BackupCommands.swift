import ArgumentParser
import Foundation
import Logging
import TendCore
import TendServer
import TendStore

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Copy the SQLite database while servers keep running / 在线备份 SQLite 数据库",
        discussion: """
        The copy is the database at one moment (SQLite's VACUUM INTO). It holds patients' personal data only encrypted:
        keep the master key file apart from it, and safe — without the key a backup restores to unreadable fields.
        For PostgreSQL use pg_dump and pg_restore (docs/operations.md).
        """)

    @OptionGroup var storage: StorageOptions
    @Option(help: "The new backup file") var to: String

    func run() async throws {
        try await runReporting {
            let config = try await loadConfig(storage)
            let database = try await Database.open(config.database, logger: Logger(label: "tend"))
            do {
                try await DatabaseBackup.backup(database, to: to)
            } catch {
                await database.close()
                throw error
            }
            await database.close()
            say("Backed up to \(to) / 已备份到 \(to)")
        }
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Replace the SQLite database with a backup / 用备份替换 SQLite 数据库",
        discussion: "Refuses while a server or worker has the database open, and asks for --force to replace an existing one.")

    @OptionGroup var storage: StorageOptions
    @Argument(help: "The backup file") var file: String
    @Flag(help: "Replace an existing database") var force = false

    func run() async throws {
        try await runReporting {
            let config = try await loadConfig(storage)
            guard case .sqlite(let path) = config.database else {
                throw TendError.invalid("--database", .init(en: "must be an SQLite database; restore PostgreSQL with pg_restore", zh: "只能恢复 SQLite 数据库；PostgreSQL 请用 pg_restore"))
            }
            try await DatabaseBackup.restore(file, over: path, force: force, logger: Logger(label: "tend"))
            say("Restored \(file) to \(path); run tend migrate if this tend is newer than the backup / 已恢复")
        }
    }
}
