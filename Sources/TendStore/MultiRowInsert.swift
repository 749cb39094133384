import SQLKit
import SQLiteKit

/// Many rows written with as few statements as the backends allow: SQLite caps one statement
/// at 32,766 bound values and PostgreSQL at 65,535, so rows are cut into statements of at most
/// `maxBinds` values. Each statement costs a round trip; each row in one costs almost nothing.
public struct MultiRowInsert: Sendable {
    public static let maxBinds = 30_000

    /// "INSERT INTO table (a, b, c)"; the VALUES lists follow it.
    let head: String
    /// What follows the VALUES lists: an ON CONFLICT clause, a RETURNING list.
    let tail: String

    public init(_ head: String, tail: String = "") {
        self.head = head
        self.tail = tail
    }

    /// SQLite, inside a transaction: `INSERT OR FAIL`, which stops at a violated constraint
    /// without undoing the statement's earlier rows — the transaction's rollback undoes them.
    /// Unlike the default (undo the statement, keep the transaction), it needs no statement
    /// journal, a copy of every page the statement changes: for bulk inserts into indexed
    /// tables, a third of SQLite's time. (Foreign keys must be deferred for this to hold.)
    private var headFailingWithoutUndo: String {
        head.hasPrefix("INSERT INTO ") ? "INSERT OR FAIL INTO " + head.dropFirst("INSERT INTO ".count) : head
    }

    public func run(_ sql: any SQLDatabase, rows: [[any Encodable & Sendable]]) async throws {
        _ = try await execute(sql, rows: rows, returning: false)
    }

    /// Runs the statements and returns what their RETURNING clause gave, in statement order.
    public func returning(_ sql: any SQLDatabase, rows: [[any Encodable & Sendable]]) async throws -> [any SQLRow] {
        try await execute(sql, rows: rows, returning: true)
    }

    private func execute(_ sql: any SQLDatabase, rows: [[any Encodable & Sendable]], returning: Bool) async throws -> [any SQLRow] {
        var result: [any SQLRow] = []
        if let session = sql as? SQLiteSession {
            let decoder = SQLiteDataDecoder()
            let head = session.isInTransaction ? self.headFailingWithoutUndo : self.head
            for chunk in chunks(rows) {
                let tuple = "(" + Array(repeating: "?", count: chunk[chunk.startIndex].count).joined(separator: ",") + ")"
                let text = "\(head) VALUES " + Array(repeating: tuple, count: chunk.count).joined(separator: ",") + (tail.isEmpty ? "" : " \(tail)")
                var binds: [SQLiteData] = []
                binds.reserveCapacity(chunk.count * chunk[chunk.startIndex].count)
                for row in chunk {
                    for value in row { binds.append(try Self.sqliteData(value)) }
                }
                let rows = try await session.connection.query(text, binds)
                if returning { result += rows.map { $0.sql(decoder: decoder) } }
            }
            return result
        }
        for statement in statements(rows) {
            if returning { result += try await sql.raw(statement).all() } else { try await sql.raw(statement).run() }
        }
        return result
    }

    /// The common column types by concrete cast, which is cheap; anything else (and nil) the
    /// way SQLiteKit encodes it.
    static func sqliteData(_ value: any Encodable & Sendable) throws -> SQLiteData {
        if let text = value as? String { return .text(text) }
        if let number = value as? Int64 { return .integer(Int(number)) }
        if let number = value as? Int { return .integer(number) }
        if let text = value as? String?, text == nil { return .null }
        return try SQLiteDataEncoder().encode(value)
    }

    func statements(_ rows: [[any Encodable & Sendable]]) -> [SQLQueryString] {
        chunks(rows).map { chunk in
            var query = SQLQueryString("\(unsafeRaw: head) VALUES ")
            for (position, row) in chunk.enumerated() {
                query.appendLiteral(position == 0 ? "(" : ", (")
                query.appendInterpolation(binds: row)
                query.appendLiteral(")")
            }
            if !tail.isEmpty { query.appendInterpolation(unsafeRaw: " \(tail)") }
            return query
        }
    }

    /// Consecutive rows, as many to a statement as the bind limit allows.
    private func chunks(_ rows: [[any Encodable & Sendable]]) -> [ArraySlice<[any Encodable & Sendable]>] {
        guard let width = rows.first?.count, width > 0 else { return [] }
        let perStatement = max(1, Self.maxBinds / width)
        return stride(from: 0, to: rows.count, by: perStatement).map { rows[$0..<min($0 + perStatement, rows.count)] }
    }
}
