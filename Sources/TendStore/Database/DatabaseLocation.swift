import Foundation
public import TendCore

/// Where the data lives: one SQLite file (the default) or a PostgreSQL server.
public enum DatabaseLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresTarget)

    public struct PostgresTarget: Sendable, Equatable {
        public enum TLSMode: String, Sendable { case disable, prefer, require }
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        public var tls: TLSMode
        /// Extra connection parameters (the tests use `search_path` to isolate each test in a schema).
        public var searchPath: String?
        /// Connections this process may hold (`?pool_size=`, default 8).
        public var poolSize: Int = 8
    }

    /// Accepts `postgres://user:pass@host:port/db?sslmode=disable`, `sqlite:///abs/path`,
    /// `sqlite:relative/path` or a bare file path.
    public static func parse(_ text: String, field: String = "database") throws(TendError) -> DatabaseLocation {
        let trimmed = text.trimmed
        guard !trimmed.isEmpty else { throw TendError.missing(field) }
        if trimmed.hasPrefix("postgres://") || trimmed.hasPrefix("postgresql://") {
            guard let components = URLComponents(string: trimmed), let host = components.host, !host.isEmpty else {
                throw TendError.invalid(field, .init(en: "is not a valid postgres:// URL", zh: "不是有效的 postgres:// 地址"))
            }
            let database = String(components.path.drop(while: { $0 == "/" }))
            let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
            let tls: PostgresTarget.TLSMode
            switch query["sslmode"] ?? query["tlsmode"] ?? "prefer" {
            case "disable": tls = .disable
            case "require", "verify-ca", "verify-full": tls = .require
            case "prefer", "allow": tls = .prefer
            default:
                throw TendError.invalid(field, .init(en: "has an unknown sslmode (use disable, prefer or require)", zh: "的 sslmode 无效（可用 disable、prefer、require）"))
            }
            let username = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
            var poolSize = 8
            if let text = query["pool_size"] {
                guard let size = Int(text), (1...200).contains(size) else {
                    throw TendError.invalid(field, .init(en: "has a pool_size that is not 1 to 200", zh: "的 pool_size 必须为 1–200"))
                }
                poolSize = size
            }
            return .postgres(PostgresTarget(
                host: host, port: components.port ?? 5432, username: username,
                password: components.password.flatMap { $0.removingPercentEncoding },
                database: database.isEmpty ? username : database, tls: tls, searchPath: query["search_path"], poolSize: poolSize))
        }
        if trimmed.hasPrefix("sqlite://") {
            let path = String(trimmed.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw TendError.invalid(field, .init(en: "names no SQLite file", zh: "未指定 SQLite 文件")) }
            return .sqlite(path: path)
        }
        if trimmed.hasPrefix("sqlite:") {
            return .sqlite(path: String(trimmed.dropFirst("sqlite:".count)))
        }
        if trimmed.contains("://") {
            throw TendError.invalid(field, .init(en: "must start with postgres:// or sqlite:, or be a file path", zh: "必须以 postgres:// 或 sqlite: 开头，或是文件路径"))
        }
        return .sqlite(path: trimmed)
    }

    /// A description safe for logs: never the password.
    public var redactedDescription: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let target): "postgres://\(target.username)@\(target.host):\(target.port)/\(target.database)"
        }
    }
}
