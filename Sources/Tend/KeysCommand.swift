import ArgumentParser
import Foundation
import TendCore
import TendServer
import TendStore

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage the master keys / 管理主密钥", subcommands: [Initialise.self, Rotate.self])

    struct Initialise: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init", abstract: "Create a master key file (mode 0600) / 创建主密钥文件",
            discussion: "Keep it outside the database's backups: a backup without its key is worth nothing, by design.")
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            try await runReporting {
                let path = storage.keyFile ?? ProcessInfo.processInfo.environment["TEND_KEY_FILE"] ?? "\(storage.dataDirectory)/master.key"
                guard !FileManager.default.fileExists(atPath: path) else {
                    throw TendError.invalid("--key-file", .init(en: "\(path) already exists; a second key would make the data it sealed unreadable", zh: "\(path) 已存在"))
                }
                let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                _ = try KeyRing.loadFile(at: path, create: true)
                say("Created \(path) (mode 0600); back it up apart from the database / 已创建主密钥文件，请与数据库分开备份")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new master key and re-encrypt all PII under it, while servers keep running / 轮换主密钥并重新加密",
            discussion: """
            Works on a key file (--key-file or TEND_KEY_FILE). Running servers that use the same key file pick up
            the new key within seconds; the command waits for that before re-encrypting, and re-checks at the end.
            With TEND_MASTER_KEY, add a new entry at the end of the variable yourself, restart, then run with --reencrypt-only.
            """)

        @OptionGroup var storage: StorageOptions
        @Flag(name: .customLong("reencrypt-only"), help: "Do not add a key; only re-encrypt under the active one") var reencryptOnly = false

        func run() async throws {
            try await runReporting {
                let config = try await loadConfig(storage)
                if !reencryptOnly {
                    guard case .file(let path, _) = config.keySource else {
                        throw TendError.invalid("--key-file", .init(en: "is needed to add a key (TEND_MASTER_KEY cannot be changed from here)", zh: "添加密钥需要密钥文件"))
                    }
                    let ring = try KeyRing.loadFile(at: path, create: false)
                    let numbers = ring.keys.compactMap { Int($0.id.drop(while: { !$0.isNumber })) }
                    let newID = "k\((numbers.max() ?? ring.keys.count) + 1)"
                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                    try handle.seekToEnd()
                    try handle.write(contentsOf: Data((KeyRing.generateKeyLine(id: newID) + "\n").utf8))
                    try handle.close()
                    say("Added key \(newID) to \(path); waiting for running servers to load it / 已添加密钥 \(newID)")
                    try await Task.sleep(for: .seconds(3))
                }
                try await withStores(config) { stores, _ in
                    let progress = ProgressLine(enabled: isatty(STDERR_FILENO) == 1)
                    var changed = try await stores.patients.reencryptAll { progress.update($0) }
                    changed += try await stores.patients.reencryptAll()
                    progress.finish(changed)
                    let left = try await stores.patients.countNotUnderActiveKey()
                    say("Re-encrypted \(changed) patients under \(stores.cipher.activeKeyID); \(left) left under older keys / 已重新加密 \(changed) 位患者")
                    if left > 0 { throw ExitCode.failure }
                }
            }
        }
    }
}
