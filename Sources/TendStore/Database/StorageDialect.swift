import SQLKit
import TendCore
import Foundation

/// Every difference between the SQL Tend writes for SQLite and for PostgreSQL, in one place.
/// Stores ask it and never branch on the backend themselves (migrations, which create the two
/// schemas, are the other place that may).
public struct StorageDialect: Sendable, Equatable {
    public let kind: DatabaseKind

    public init(_ kind: DatabaseKind) {
        self.kind = kind
    }

    /// The dialect of a connection a store was handed.
    static func of(_ sql: any SQLDatabase) -> StorageDialect {
        StorageDialect(sql is SQLiteSession || sql is SQLiteReadSession ? .sqlite : .postgres)
    }

    var isSQLite: Bool { kind == .sqlite }

    /// Whether the database can write a consistent copy of itself while in use (`VACUUM INTO`);
    /// PostgreSQL is copied with pg_dump instead.
    var copiesItselfOnline: Bool { isSQLite }

    /// Opens a write transaction. SQLite takes the write lock at once, so two writers never
    /// both read and then deadlock upgrading.
    var beginWrite: String { isSQLite ? "BEGIN IMMEDIATE" : "BEGIN" }

    /// A column in a condition the planner must not pick an index for: SQLite, which has no
    /// statistics, otherwise prefers an index on a leading `program_id = ?` over a selective
    /// `IN (…)` list and walks a whole program. `+column` hides the index on SQLite only.
    func unindexed(_ column: String) -> String { isSQLite ? "+\(column)" : column }

    /// A text column in a condition no index may serve on either backend: a patient's rows are
    /// found by the patient's key, and the program's own check rides along (PostgreSQL, without
    /// statistics for a new table, took an index that leads with `program_id` and read every
    /// row of the program's window for one patient).
    func neverIndexed(_ column: String) -> String { isSQLite ? "+\(column)" : "(\(column) || '')" }

    /// A text literal, quoted as SQL quotes it.
    static func literal(_ text: String) -> String { "'\(text.replacingOccurrences(of: "'", with: "''"))'" }

    /// A number rounded to `decimals` places (PostgreSQL rounds to places only as numeric).
    func rounded(_ expression: String, decimals: Int) -> String {
        isSQLite ? "ROUND(\(expression), \(decimals))" : "ROUND(CAST(\(expression) AS NUMERIC), \(decimals))"
    }

    /// String concatenation (`||` on both).
    func concat(_ parts: [String]) -> String { parts.joined(separator: " || ") }

    /// An integer expression as text zero-padded to `width` digits, so ids sort as written.
    public func zeroPadded(_ expression: String, width: Int) -> String {
        isSQLite ? "printf('%0\(width)d', \(expression))" : "lpad(CAST(\(expression) AS TEXT), \(width), '0')"
    }

    /// Joins every row of two tables. SQLite keeps the written order of a CROSS JOIN, which
    /// lets a set-based insert walk its outer table in key order.
    var orderedJoin: String { isSQLite ? "CROSS JOIN" : "JOIN" }

    /// What a claim adds so that concurrent claimers skip each other's rows (PostgreSQL); SQLite
    /// has one writer, so a claim in its write transaction is already exclusive.
    var skipLocked: String { isSQLite ? "" : " FOR UPDATE SKIP LOCKED" }

    /// What a read adds to hold the rows it returns until its transaction ends (PostgreSQL);
    /// SQLite's write transaction already keeps every other writer out.
    var lockingRead: String { isSQLite ? "" : " FOR UPDATE" }

    /// The character of this code point as an SQL expression.
    func character(_ code: Int) -> String { isSQLite ? "char(\(code))" : "chr(\(code))" }

    /// Concatenates the texts of a group.
    func stringAggregate(_ expression: String, separator: String = "''") -> String {
        isSQLite ? "group_concat(\(expression), \(separator))" : "string_agg(\(expression), \(separator))"
    }

    /// The touchpoints of these enrolments: on SQLite the key range of each enrolment's id prefix
    /// (ids are `enrolment.step.occurrence` and '/' follows '.'), on PostgreSQL, whose text ranges
    /// follow the collation, the enrolment index.
    func appendTouchpoints(of enrolmentIDs: [String], to query: inout SQLQueryString) {
        guard !enrolmentIDs.isEmpty else {
            query.appendLiteral("1 = 0")
            return
        }
        guard isSQLite else {
            query.appendLiteral("enrolment_id IN (")
            query.appendInterpolation(binds: enrolmentIDs)
            query.appendLiteral(")")
            return
        }
        query.appendLiteral("(")
        for (index, id) in enrolmentIDs.enumerated() {
            if index > 0 { query.appendLiteral(" OR ") }
            query.appendLiteral("(id >= ")
            query.appendInterpolation(bind: id + ".")
            query.appendLiteral(" AND id < ")
            query.appendInterpolation(bind: id + "/")
            query.appendLiteral(")")
        }
        query.appendLiteral(")")
    }

    /// Bulk rows bind as SQLite's own values (no SQLKit encoding per value) on SQLite.
    var bindsNativeValues: Bool { isSQLite }
}
