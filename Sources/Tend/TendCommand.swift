import ArgumentParser
import Foundation
import Logging
import TendCore
import TendServer
import TendStore
import Hummingbird
import TendEngine

@main
struct Tend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tend",
        abstract: "Tend: active out-of-hospital patient management / 主动式院外患者管理",
        subcommands: [Serve.self, Demo.self, Migrate.self, ProgramCommand.self, UserCommand.self, TokenCommand.self, ImportCommand.self, KeysCommand.self, PathwayCommand.self, QuestionnaireCommand.self, AdherenceCommand.self, SegmentCommand.self, EnrolCommand.self, DispatchCommand.self, WorkerCommand.self, ChannelCommand.self, TriageCommand.self, BackupCommand.self, RestoreCommand.self])
}

/// Options every command that touches the database shares. Each is optional so the
/// environment and the config file can supply it (flags > environment > file > defaults).
struct StorageOptions: ParsableArguments {
    @Option(help: "postgres://user:pass@host:port/db or sqlite:PATH (env TEND_DATABASE)")
    var database: String?

    @Option(name: .customLong("key-file"), help: "File with the master key(s) (env TEND_KEY_FILE; or TEND_MASTER_KEY)")
    var keyFile: String?

    @Option(help: "A JSON config file, e.g. {\"tend\": {\"port\": 8080}}")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Folder for the default SQLite file and key file")
    var dataDirectory: String = "tend-data"

    var flags: [String: String] {
        var flags: [String: String] = [:]
        flags[AppConfig.Key.database] = database
        flags[AppConfig.Key.keyFile] = keyFile
        return flags
    }
}

/// Runs a command body and turns any failure into one line on stderr and exit status 1.
func runReporting(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as TendError {
        FileHandle.standardError.write(Data("tend: \(error.message.en) / \(error.message.zh)\n".utf8))
        throw ExitCode.failure
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("tend: \(String(describing: error).split(separator: "\n").first ?? "")\n".utf8))
        throw ExitCode.failure
    }
}

/// The instant a `--now` option gives (an RFC 3339 instant with an offset), or the wall clock
/// without one: the one place a command reads it.
func instant(fromNowOption now: String?) throws(TendError) -> Date {
    guard let now else { return Date() }
    guard let parsed = InstantText.parse(now) else {
        throw TendError.invalid("now", .init(en: "must be an RFC 3339 instant with an offset, e.g. 2026-12-01T08:00:00+08:00",
                                             zh: "必须是带时区的 RFC 3339 时刻，例如 2026-12-01T08:00:00+08:00"))
    }
    return try Validate.instant(parsed, field: "now")
}

/// Writes a line to stdout unbuffered, so it appears in order with the server's banner.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

func loadConfig(_ storage: StorageOptions, extraFlags: [String: String] = [:]) async throws -> AppConfig {
    let reader = try await AppConfig.reader(
        flags: storage.flags.merging(extraFlags) { _, new in new },
        environment: ProcessInfo.processInfo.environment, configFile: storage.config)
    return try AppConfig.load(from: reader, defaultDataDirectory: storage.dataDirectory)
}

/// Opens the stores for a one-shot command, runs the body, and closes the database.
func withStores(_ config: AppConfig, migrate: Bool = false, clock: TendClock = .system, _ body: (Stores, AppDependencies) async throws -> Void) async throws {
    let logger = Logger(label: "tend")
    let ids = IDGenerator.uuidV7(clock: clock)
    let stores = try await openStores(config: config, clock: clock, ids: ids, logger: logger, migrate: migrate)
    do {
        try await body(stores, AppDependencies(config: config, stores: stores, clock: clock, ids: ids, logger: logger))
    } catch {
        await stores.database.close()
        throw error
    }
    await stores.database.close()
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server / 启动服务")

    @OptionGroup var storage: StorageOptions
    @Option(help: "Address to listen on (env TEND_HOST)") var host: String?
    @Option(help: "Port to listen on (env TEND_PORT)") var port: Int?
    @Option(name: .customLong("public-url"), help: "The URL people use, e.g. https://tend.example.org (env TEND_PUBLIC_URL)") var publicURL: String?
    @Flag(help: "Apply pending migrations before starting") var migrate = false

    func run() async throws {
        try await runReporting {
            var flags: [String: String] = [:]
            flags[AppConfig.Key.host] = host
            flags[AppConfig.Key.port] = port.map(String.init)
            flags[AppConfig.Key.publicURL] = publicURL
            let config = try await loadConfig(storage, extraFlags: flags)
            bootstrapLogging(level: config.logLevel)
            try await serve(config, migrate: migrate, banner: { url in "Tend is running at \(url) / Tend 已启动：\(url)" })
        }
    }
}

func serve(_ config: AppConfig, migrate: Bool, banner: @escaping @Sendable (String) -> String) async throws {
    let logger = Logger(label: "tend")
    let clock = TendClock.system
    let ids = IDGenerator.uuidV7(clock: clock)
    let stores = try await openStores(config: config, clock: clock, ids: ids, logger: logger, migrate: migrate)
    logger.info("starting", metadata: ["config": "\(config.redactedSummary)"])
    let dependencies = AppDependencies(config: config, stores: stores, clock: clock, ids: ids, logger: logger)
    let dispatcher = config.dispatchInServer ? dependencies.makeDispatcher() : nil
    let checkpointer = LogCheckpointer(database: stores.database, logger: logger)
    let app = try await buildApplication(dependencies, services: [checkpointer] + (dispatcher.map { [$0] } ?? [])) { port in
        let url = config.publicURL ?? "http://\(config.host == "0.0.0.0" ? "127.0.0.1" : config.host):\(port ?? config.port)"
        say(banner(url))
    }
    do {
        try await app.runService()
    } catch {
        await stores.database.close()
        throw error
    }
    await stores.database.close()
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a demo server with seeded programs on an embedded SQLite database / 启动演示服务")

    @Option(name: .customLong("data-dir"), help: "Where the demo keeps its database and master key") var dataDirectory: String = "tend-data"
    @Option(help: "Address to listen on") var host: String = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one)") var port: Int = 8080

    func run() async throws {
        try await runReporting {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            let config = AppConfig(
                database: .sqlite(path: "\(dataDirectory)/tend.sqlite"), host: host, port: port,
                keySource: .file(path: "\(dataDirectory)/master.key", create: true), logLevel: .notice,
                // A demo may send to a local SMS gateway or webhook receiver the operator allows.
                outbound: OutboundPolicy(allowList: ProcessInfo.processInfo.environment["TEND_OUTBOUND_ALLOW"] ?? ""))
            bootstrapLogging(level: config.logLevel)
            try await withStores(config, migrate: true) { stores, dependencies in
                let created = try await DemoSeed.seed(stores: stores, passwords: dependencies.passwords, messages: dependencies.actions.messages, now: dependencies.clock.now())
                say(created ? "Seeded the demo programs in \(dataDirectory) / 已创建演示数据" : "Reusing the demo data in \(dataDirectory) / 沿用已有演示数据")
            }
            let logins = DemoSeed.logins.map { "  \($0.email)  (\($0.role))" }.joined(separator: "\n")
            try await serve(config, migrate: false, banner: { url in
                """
                Tend demo is running at \(url) / Tend 演示已启动：\(url)
                Demo logins (password \(DemoSeed.password)) / 演示账号（密码 \(DemoSeed.password)）:
                \(logins)
                Press Ctrl-C to stop / 按 Ctrl-C 停止
                """
            })
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply schema migrations / 执行数据库迁移")
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        try await runReporting {
            let config = try await loadConfig(storage)
            let database = try await Database.open(config.database, logger: Logger(label: "tend"))
            do {
                let migrator = Migrator(database: database, clock: .system)
                let applied = try await migrator.migrate()
                say(applied.isEmpty
                      ? "Schema is up to date (version \(migrator.knownVersion)) / 数据库结构已是最新"
                      : "Applied migrations \(applied.map(String.init).joined(separator: ", ")) / 已执行迁移")
                // With the master key at hand, stored data is upgraded too; otherwise the first
                // server start does it.
                if let keys = try? config.loadKeyRing() {
                    let stores = Stores(database: database, clock: .system, ids: .uuidV7(clock: .system), keys: keys)
                    try await CryptoUpgrade(stores: stores, logger: Logger(label: "tend")).run()
                }
            } catch {
                await database.close()
                throw error
            }
            await database.close()
        }
    }
}

struct ProgramCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "program", abstract: "Manage programs / 管理项目", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a program / 创建项目")
        @OptionGroup var storage: StorageOptions
        @Option(help: "URL name, e.g. lung-followup") var slug: String
        @Option(help: "Display name") var name: String

        func run() async throws {
            try await runReporting {
                try await withStores(try await loadConfig(storage)) { _, dependencies in
                    let program = try await dependencies.actions.programs.create(slug: slug, name: name, by: .cli)
                    say("Created program \(program.slug) / 已创建项目 \(program.name)")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List programs / 列出项目")
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            try await runReporting {
                try await withStores(try await loadConfig(storage)) { stores, _ in
                    for program in try await stores.programs.all() {
                        say("\(program.slug)\t\(program.name)")
                    }
                }
            }
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage staff accounts / 管理员工账号", subcommands: [Add.self, Password.self, Disable.self])

    /// Sets a new password; every session and token of the account ends.
    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Set a staff account's password; its sessions and tokens end / 重设密码")
        @OptionGroup var storage: StorageOptions
        @Option(help: "Sign-in email") var email: String
        @Option(help: "The new password (at least 10 characters)") var password: String

        func run() async throws {
            try await runReporting {
                try await withStores(try await loadConfig(storage)) { stores, dependencies in
                    guard let user = try await stores.staff.credentials(email: email)?.user else { throw TendError.notFound("user \(email)") }
                    try await dependencies.actions.access.setPassword(userID: user.id, password: try Validate.password(password, field: "--password"), by: .cli)
                    say("Password changed; \(user.email) is signed out everywhere / 密码已更新，该账号已在所有设备退出")
                }
            }
        }
    }

    /// Disables (or with --enable, re-enables) an account; disabling ends its sessions and tokens.
    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a staff account (its sessions and tokens end) / 停用账号")
        @OptionGroup var storage: StorageOptions
        @Option(help: "Sign-in email") var email: String
        @Flag(help: "Enable the account again instead") var enable = false

        func run() async throws {
            try await runReporting {
                try await withStores(try await loadConfig(storage)) { stores, dependencies in
                    guard let user = try await stores.staff.credentials(email: email)?.user else { throw TendError.notFound("user \(email)") }
                    try await dependencies.actions.access.setDisabled(userID: user.id, disabled: !enable, by: .cli)
                    say(enable ? "\(user.email) is enabled / 账号已启用" : "\(user.email) is disabled and signed out / 账号已停用")
                }
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a staff account, or add an existing one to a program / 添加员工账号")
        @OptionGroup var storage: StorageOptions
        @Option(help: "Sign-in email") var email: String
        @Option(help: "Password (at least 10 characters); only for a new account") var password: String?
        @Option(help: "Display name; defaults to the part of the email before @") var name: String?
        @Option(help: "Program slug to add the user to") var program: String?
        @Option(help: "Role in that program: admin, manager, pharmacist, doctor, viewer") var role: String?
        @Flag(name: .customLong("platform-admin"), help: "May create programs and manage any program's team") var platformAdmin = false

        func run() async throws {
            try await runReporting {
                try await withStores(try await loadConfig(storage)) { stores, dependencies in
                    let email = try Validate.email(email)
                    let role = try role.map { try Validate.role($0) }
                    if program != nil, role == nil { throw TendError.missing("--role") }
                    if role != nil, program == nil { throw TendError.missing("--program") }
                    let target = try await program.asyncMap { slug in
                        guard let found = try await stores.programs.find(slug: slug) else { throw TendError.notFound("program \(slug)") }
                        return found
                    }
                    let user: StaffUser
                    if let existing = try await stores.staff.credentials(email: email)?.user {
                        user = existing
                        if password != nil {
                            throw TendError.invalid("--password", .init(en: "is only for a new account; use tend user passwd to change one", zh: "仅用于新账号；修改密码请用 tend user passwd"))
                        }
                    } else {
                        guard let password else { throw TendError.missing("--password") }
                        user = try await dependencies.actions.access.createAccount(
                            email: email, displayName: name ?? String(email.split(separator: "@")[0]), password: password, platformAdmin: platformAdmin, by: .cli)
                    }
                    if let target, let role {
                        try await dependencies.actions.programs.setRole(programID: target.id, userID: user.id, role: role, by: .cli)
                        say("\(user.email) is \(role.rawValue) in \(target.slug) / 已设为项目成员")
                    } else {
                        say("Account \(user.email) is ready / 账号已就绪")
                    }
                }
            }
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage API tokens / 管理 API 令牌", subcommands: [Create.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API token for a staff account; prints it once / 创建 API 令牌")
        @OptionGroup var storage: StorageOptions
        @Option(help: "The account's email") var user: String
        @Option(help: "What the token is for, e.g. his-import") var name: String = "cli"

        func run() async throws {
            try await runReporting {
                try await withStores(try await loadConfig(storage)) { stores, dependencies in
                    guard let account = try await stores.staff.credentials(email: user)?.user else { throw TendError.notFound("user \(user)") }
                    let (_, secret) = try await dependencies.actions.access.createToken(userID: account.id, name: name, expiresInDays: nil, roleCeiling: nil,
                                                                                       now: dependencies.clock.now(), by: .cli)
                    say(secret)
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API token / 吊销 API 令牌")
        @OptionGroup var storage: StorageOptions
        @Option(help: "The account's email") var user: String
        @Option(help: "The token id") var id: String

        func run() async throws {
            try await runReporting {
                try await withStores(try await loadConfig(storage)) { stores, _ in
                    guard let account = try await stores.staff.credentials(email: user)?.user else { throw TendError.notFound("user \(user)") }
                    guard try await stores.tokens.revoke(id: id, userID: account.id) else { throw TendError.notFound("token \(id)") }
                    say("Revoked / 已吊销")
                }
            }
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
