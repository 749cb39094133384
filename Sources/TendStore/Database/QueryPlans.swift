import Foundation
import SQLKit
import Logging
import NIOCore
import Synchronization

/// Collects the plan of every SELECT run while it is installed (`Database.$planRecorder`):
/// `EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL, each run just before the statement
/// on the same connection with the same bound values. Query-plan tests use it to see the plans
/// of what a use case really runs; nothing installs one in a server.
public final class QueryPlanRecorder: Sendable {
    public struct Plan: Sendable, CustomStringConvertible {
        public var sql: String
        /// SQLite's `detail` lines or PostgreSQL's plan lines, in order.
        public var lines: [String]
        public var description: String { ([sql] + lines.map { "  " + $0 }).joined(separator: "\n") }
    }

    /// PostgreSQL only: plan as if sequential scans and sorts were to be avoided, so a small
    /// test table shows which index (and which index order) a query can use: on a table of a
    /// few pages the planner rightly scans and sorts.
    public let avoidSequentialScans: Bool
    private let plans = Mutex<[Plan]>([])

    public init(avoidSequentialScans: Bool = true) {
        self.avoidSequentialScans = avoidSequentialScans
    }

    public var recorded: [Plan] { plans.withLock { $0 } }

    public func reset() { plans.withLock { $0.removeAll() } }

    func explain(_ query: any SQLExpression, on base: any SQLDatabase, kind: DatabaseKind) async throws {
        var serializer = SQLSerializer(database: base)
        query.serialize(to: &serializer)
        let text = serializer.sql.trimmingCharacters(in: .whitespacesAndNewlines)
        let head = text.prefix(6).uppercased()
        guard head == "SELECT" || head.hasPrefix("WITH") else { return }
        let lines = Mutex<[String]>([])
        switch kind {
        case .sqlite:
            try await base.execute(sql: Prefixed(prefix: "EXPLAIN QUERY PLAN ", query: query)) { row in
                if let detail = try? row.decode(column: "detail", as: String.self) { lines.withLock { $0.append(detail) } }
            }
        case .postgres:
            let settings = avoidSequentialScans ? ["enable_seqscan", "enable_sort"] : []
            for setting in settings { try await base.execute(sql: SQLRaw("SET \(setting) = off")) { _ in } }
            try await base.execute(sql: Prefixed(prefix: "EXPLAIN ", query: query)) { row in
                if let line = try? row.decode(column: "QUERY PLAN", as: String.self) { lines.withLock { $0.append(line) } }
            }
            for setting in settings { try await base.execute(sql: SQLRaw("RESET \(setting)")) { _ in } }
        }
        let plan = Plan(sql: text, lines: lines.withLock { $0 })
        plans.withLock { $0.append(plan) }
    }

    private struct Prefixed: SQLExpression {
        var prefix: String
        var query: any SQLExpression
        func serialize(to serializer: inout SQLSerializer) {
            serializer.write(prefix)
            query.serialize(to: &serializer)
        }
    }
}

/// A PostgreSQL connection that explains each SELECT to the installed recorder first.
struct ExplainingSession: SQLDatabaseWrapper {
    let base: any SQLDatabase
    let recorder: QueryPlanRecorder

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        try await recorder.explain(query, on: base, kind: .postgres)
        try await base.execute(sql: query, onRow)
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }
}

/// A session over another database that forwards all but its async `execute`, where the
/// wrapper adds what it is for.
protocol SQLDatabaseWrapper: SQLDatabase {
    var base: any SQLDatabase { get }
}

extension SQLDatabaseWrapper {
    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { base.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        base.execute(sql: query, onRow)
    }
}
