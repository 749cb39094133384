public import Configuration
public import Foundation
public import Logging
import SystemPackage
public import TendCore
public import TendEngine
public import TendStore

/// Everything `tend serve` needs, read once at start-up and validated, so a bad value stops
/// the process with one clear line instead of failing later.
public struct AppConfig: Sendable {
    public enum KeySource: Sendable, Equatable {
        /// `TEND_MASTER_KEY`: `id:base64` entries, the last one active.
        case inline(String)
        /// A key file; `create` makes one on first run (the demo does this).
        case file(path: String, create: Bool)
    }

    public var database: DatabaseLocation
    public var host: String
    public var port: Int
    public var keySource: KeySource
    /// The address people reach the console at; `https://` turns on Secure cookies.
    public var publicURL: String?
    public var logLevel: Logger.Level
    public var sessionLifetime: TimeInterval
    public var defaultLocale: AppLocale
    /// The bcrypt cost for new passwords; tests lower it to stay fast.
    public var passwordCost: UInt8
    /// Whether `tend serve` runs the dispatcher too (turn off when `tend worker` runs apart).
    public var dispatchInServer: Bool
    public var dispatch: DispatchSettings
    /// Hosts channels may reach although they are local (`TEND_OUTBOUND_ALLOW`).
    public var outbound: OutboundPolicy
    /// A session unused for this long ends.
    public var sessionIdle: TimeInterval

    public init(
        database: DatabaseLocation, host: String = "127.0.0.1", port: Int = 8080, keySource: KeySource,
        publicURL: String? = nil, logLevel: Logger.Level = .info, sessionLifetime: TimeInterval = 12 * 3600,
        defaultLocale: AppLocale = .zhHans, passwordCost: UInt8 = 11, dispatchInServer: Bool = true, dispatch: DispatchSettings = DispatchSettings(),
        outbound: OutboundPolicy = OutboundPolicy(), sessionIdle: TimeInterval = 2 * 3600
    ) {
        self.outbound = outbound
        self.sessionIdle = sessionIdle
        self.dispatchInServer = dispatchInServer
        self.dispatch = dispatch
        self.database = database
        self.host = host
        self.port = port
        self.keySource = keySource
        self.publicURL = publicURL
        self.logLevel = logLevel
        self.sessionLifetime = sessionLifetime
        self.defaultLocale = defaultLocale
        self.passwordCost = passwordCost
    }

    public var secureCookies: Bool { publicURL?.lowercased().hasPrefix("https://") ?? false }

    public var baseURL: String { publicURL ?? "http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(port)" }

    /// The configuration keys, each readable as a flag, an environment variable
    /// (`tend.port` → `TEND_PORT`) or a key in the JSON config file.
    public enum Key {
        public static let database = "tend.database"
        public static let host = "tend.host"
        public static let port = "tend.port"
        public static let masterKey = "tend.master.key"
        public static let keyFile = "tend.key.file"
        public static let publicURL = "tend.public.url"
        public static let logLevel = "tend.log.level"
        public static let sessionHours = "tend.session.hours"
        public static let defaultLocale = "tend.default.locale"
        public static let dispatchEnabled = "tend.dispatch.enabled"
        public static let dispatchLeaseSeconds = "tend.dispatch.lease.seconds"
        public static let dispatchBatchSize = "tend.dispatch.batch.size"
        public static let dispatchPollSeconds = "tend.dispatch.poll.seconds"
        public static let retryAttempts = "tend.retry.attempts"
        public static let retryBaseSeconds = "tend.retry.base.seconds"
        public static let retryMaxSeconds = "tend.retry.max.seconds"
        public static let outboundAllow = "tend.outbound.allow"
        public static let sessionIdleMinutes = "tend.session.idle.minutes"
    }

    /// Builds the provider chain: flags > environment > optional JSON file > defaults.
    public static func reader(flags: [String: String], environment: [String: String], configFile: String?) async throws -> ConfigReader {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in flags {
            values[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(.string(value), isSecret: key == Key.masterKey)
        }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: values),
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .specific(["TEND_MASTER_KEY", "TEND_DATABASE"])),
        ]
        if let configFile {
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(configFile)))
            } catch {
                throw ConfigError(field: "config", problem: "cannot read config file \(configFile): \(error) / 无法读取配置文件")
            }
        }
        return ConfigReader(providers: providers)
    }

    /// Reads and validates. `defaults` supplies the data folder's paths (the demo's, or `./tend-data`).
    public static func load(from reader: ConfigReader, defaultDataDirectory: String) throws(ConfigError) -> AppConfig {
        func text(_ key: String) -> String? {
            reader.string(forKey: ConfigKey(key), isSecret: key == Key.masterKey || key == Key.database)?
                .trimmingCharacters(in: .whitespaces)
                .nilIfEmpty
        }
        let database: DatabaseLocation
        do {
            database = try DatabaseLocation.parse(text(Key.database) ?? "sqlite:\(defaultDataDirectory)/tend.sqlite")
        } catch {
            throw ConfigError(field: "database (TEND_DATABASE)", problem: error.message.en + " / " + error.message.zh)
        }
        let host = text(Key.host) ?? "127.0.0.1"
        let portText = text(Key.port) ?? "8080"
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigError(field: "port (TEND_PORT)", problem: "must be a number from 0 to 65535, got \(portText) / 端口必须是 0–65535 的数字")
        }
        let keySource: KeySource
        if let inline = text(Key.masterKey) {
            keySource = .inline(inline)
        } else {
            keySource = .file(path: text(Key.keyFile) ?? "\(defaultDataDirectory)/master.key", create: false)
        }
        let publicURL = text(Key.publicURL)
        if let publicURL, URL(string: publicURL)?.scheme.map({ ["http", "https"].contains($0.lowercased()) }) != true {
            throw ConfigError(field: "public URL (TEND_PUBLIC_URL)", problem: "must start with http:// or https:// / 必须以 http:// 或 https:// 开头")
        }
        let levelText = text(Key.logLevel) ?? "info"
        guard let logLevel = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigError(field: "log level (TEND_LOG_LEVEL)", problem: "must be one of trace, debug, info, notice, warning, error, critical / 日志级别无效")
        }
        let hoursText = text(Key.sessionHours) ?? "12"
        guard let hours = Double(hoursText), hours > 0, hours <= 24 * 30 else {
            throw ConfigError(field: "session hours (TEND_SESSION_HOURS)", problem: "must be a number of hours between 0 and 720 / 会话时长须在 0–720 小时之间")
        }
        let localeText = text(Key.defaultLocale) ?? "zh-Hans"
        guard let locale = AppLocale(identifier: localeText) else {
            throw ConfigError(field: "default locale (TEND_DEFAULT_LOCALE)", problem: "must be zh-Hans or en / 必须是 zh-Hans 或 en")
        }
        func number(_ key: String, env: String, default fallback: Double, range: ClosedRange<Double>) throws(ConfigError) -> Double {
            let raw = text(key) ?? String(fallback)
            guard let value = Double(raw), range.contains(value) else {
                throw ConfigError(field: "\(key.split(separator: ".").dropFirst().joined(separator: " ")) (\(env))",
                                  problem: "must be a number from \(range.lowerBound) to \(range.upperBound), got \(raw) / 必须是 \(range.lowerBound)–\(range.upperBound) 之间的数字")
            }
            return value
        }
        let enabledText = (text(Key.dispatchEnabled) ?? "true").lowercased()
        guard ["true", "false", "1", "0", "yes", "no"].contains(enabledText) else {
            throw ConfigError(field: "dispatch enabled (TEND_DISPATCH_ENABLED)", problem: "must be true or false / 必须是 true 或 false")
        }
        let retry = RetryPolicy(
            maxAttempts: Int(try number(Key.retryAttempts, env: "TEND_RETRY_ATTEMPTS", default: 6, range: 1...50)),
            baseDelay: try number(Key.retryBaseSeconds, env: "TEND_RETRY_BASE_SECONDS", default: 30, range: 0...86400),
            maxDelay: try number(Key.retryMaxSeconds, env: "TEND_RETRY_MAX_SECONDS", default: 3600, range: 0...7 * 86400))
        let dispatch = DispatchSettings(
            batchSize: Int(try number(Key.dispatchBatchSize, env: "TEND_DISPATCH_BATCH_SIZE", default: 500, range: 1...5000)),
            lease: try number(Key.dispatchLeaseSeconds, env: "TEND_DISPATCH_LEASE_SECONDS", default: 60, range: 1...3600),
            retry: retry,
            pollInterval: try number(Key.dispatchPollSeconds, env: "TEND_DISPATCH_POLL_SECONDS", default: 2, range: 0.05...3600))
        let idleMinutes = try number(Key.sessionIdleMinutes, env: "TEND_SESSION_IDLE_MINUTES", default: 120, range: 1...43_200)
        return AppConfig(
            database: database, host: host, port: port, keySource: keySource, publicURL: publicURL,
            logLevel: logLevel, sessionLifetime: hours * 3600, defaultLocale: locale,
            dispatchInServer: ["true", "1", "yes"].contains(enabledText), dispatch: dispatch,
            outbound: OutboundPolicy(allowList: text(Key.outboundAllow) ?? ""), sessionIdle: idleMinutes * 60)
    }

    /// What is safe to log about this configuration: no key, no database password.
    public var redactedSummary: String {
        let key: String = switch keySource {
        case .inline: "TEND_MASTER_KEY (redacted)"
        case .file(let path, _): "key file \(path)"
        }
        return "database=\(database.redactedDescription) listen=\(host):\(port) key=\(key) log=\(logLevel)"
    }

    public func loadKeyRing() throws -> KeyRing {
        switch keySource {
        case .inline(let text): try KeyRing.parse(text, source: "TEND_MASTER_KEY")
        case .file(let path, let create): try KeyRing.loadFile(at: path, create: create)
        }
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public var field: String
    public var problem: String
    public var description: String { "configuration: \(field) \(problem)" }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
