public import SQLKit
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
        _ = try await execute(sql, rows: try BoundRows(rows, for: StorageDialect.of(sql).kind), returning: false)
    }

    /// Runs the statements and returns what their RETURNING clause gave, in statement order.
    public func returning(_ sql: any SQLDatabase, rows: [[any Encodable & Sendable]]) async throws -> [any SQLRow] {
        try await execute(sql, rows: try BoundRows(rows, for: StorageDialect.of(sql).kind), returning: true)
    }

    /// Rows bound beforehand (see `BoundRows`), for the database they were bound for.
    public func run(_ sql: any SQLDatabase, rows: BoundRows) async throws {
        _ = try await execute(sql, rows: rows, returning: false)
    }

    public func returning(_ sql: any SQLDatabase, rows: BoundRows) async throws -> [any SQLRow] {
        try await execute(sql, rows: rows, returning: true)
    }

    private func execute(_ sql: any SQLDatabase, rows: BoundRows, returning: Bool) async throws -> [any SQLRow] {
        var result: [any SQLRow] = []
        switch rows.storage {
        case .sqlite(let values, let width):
            guard let session = sql as? SQLiteSession else { throw BoundRows.WrongDatabase() }
            guard width > 0 else { return [] }
            let decoder = SQLiteDataDecoder()
            let head = session.isInTransaction ? self.headFailingWithoutUndo : self.head
            let tuple = "(" + Array(repeating: "?", count: width).joined(separator: ",") + ")"
            let perStatement = max(1, Self.maxBinds / width) * width
            for start in stride(from: 0, to: values.count, by: perStatement) {
                let end = min(start + perStatement, values.count)
                let text = "\(head) VALUES " + Array(repeating: tuple, count: (end - start) / width).joined(separator: ",") + (tail.isEmpty ? "" : " \(tail)")
                let rows = try await session.connection.query(text, Array(values[start..<end]))
                if returning { result += rows.map { $0.sql(decoder: decoder) } }
            }
        case .encodable(let rows):
            guard !(sql is SQLiteSession) else { throw BoundRows.WrongDatabase() }
            for statement in statements(rows) {
                if returning { result += try await sql.raw(statement).all() } else { try await sql.raw(statement).run() }
            }
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

/// Rows with their values already in the form the database binds: on SQLite plain values,
/// converted when the rows are made — during an import, on the core that prepares the next
/// batch rather than while the database waits for this one.
public struct BoundRows: Sendable {
    enum Storage: Sendable {
        /// Row after row, `width` values each.
        case sqlite(values: [SQLiteData], width: Int)
        case encodable([[any Encodable & Sendable]])
    }

    struct WrongDatabase: Error, CustomStringConvertible {
        var description: String { "rows bound for one kind of database were written to another" }
    }

    var storage: Storage

    /// Rows of plain values, converted without a runtime cast per value.
    public init(_ rows: [[SQLValue]], for kind: DatabaseKind) {
        switch kind {
        case .sqlite: storage = Self.flattened(rows, \.sqliteData)
        case .postgres: storage = .encodable(rows.map { $0.map(\.encodable) })
        }
    }

    public init(_ rows: [[any Encodable & Sendable]], for kind: DatabaseKind) throws {
        switch kind {
        case .sqlite: storage = try Self.flattened(rows, MultiRowInsert.sqliteData)
        case .postgres: storage = .encodable(rows)
        }
    }

    private static func flattened<Value>(_ rows: [[Value]], _ convert: (Value) throws -> SQLiteData) rethrows -> Storage {
        let width = rows.first?.count ?? 0
        var values: [SQLiteData] = []
        values.reserveCapacity(rows.count * width)
        for row in rows {
            for value in row { values.append(try convert(value)) }
        }
        return .sqlite(values: values, width: width)
    }

    private init(storage: Storage) {
        self.storage = storage
    }

    /// The rows at these positions, in this order.
    public func rows(at positions: some Sequence<Int>) -> BoundRows {
        switch storage {
        case .sqlite(let values, let width):
            var picked: [SQLiteData] = []
            for position in positions { picked += values[position * width..<(position + 1) * width] }
            return BoundRows(storage: .sqlite(values: picked, width: width))
        case .encodable(let rows):
            return BoundRows(storage: .encodable(positions.map { rows[$0] }))
        }
    }
}

/// A column value of a row built for a bulk statement: text, an integer or NULL — what the
/// stores' bulk rows hold. Binding one needs no runtime type check, which for rows of
/// `any Encodable` costs more than SQLite's own work per value.
public enum SQLValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    case real(Double)
    case null
    /// A missing number: PostgreSQL will not take a text-typed NULL into a numeric column.
    case nullNumber

    public init(_ text: String?) {
        self = text.map(SQLValue.text) ?? .null
    }

    var sqliteData: SQLiteData {
        switch self {
        case .text(let text): .text(text)
        case .integer(let number): .integer(Int(number))
        case .real(let number): .float(number)
        case .null, .nullNumber: .null
        }
    }

    /// The value as SQLKit binds it elsewhere.
    public var encodable: any Encodable & Sendable {
        switch self {
        case .text(let text): text
        case .integer(let number): number
        case .real(let number): number
        case .null: String?.none
        case .nullNumber: Double?.none
        }
    }
}
