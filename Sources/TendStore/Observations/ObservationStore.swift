public import Foundation
public import SQLKit
import Synchronization
public import TendCore

/// An observation as stored: what was measured, with the id Tend gave it.
public struct StoredObservation: Sendable, Equatable {
    public var id: String
    public var observation: Observation
    public var createdAt: Date
}

/// A number a patient's chart plots: which code, the value in its canonical unit, when.
public struct ObservationPoint: Sendable, Equatable {
    public var code: ObservationCode
    public var value: Double
    public var unit: String?
    public var effectiveAt: Date

    public init(code: ObservationCode, value: Double, unit: String?, effectiveAt: Date) {
        self.code = code
        self.value = value
        self.unit = unit
        self.effectiveAt = effectiveAt
    }
}

/// What a batch of observations came to.
public struct ObservationBatchResult: Sendable, Equatable {
    /// Newly stored, in the order given.
    public var recorded: [StoredObservation]
    /// Already stored under the same source and external id (a device that resent): nothing added.
    public var duplicates: Int
}

/// Readings, answers and scores per patient. Numbers are stored in their code's canonical unit;
/// free text is sealed, since patients write what they like into it. A reading with a source and
/// an external id is stored once: sending it again adds nothing.
public struct ObservationStore: ContextualStore {
    let context: StoreContext

    static let insert = MultiRowInsert(
        "INSERT INTO observations (id, program_id, patient_id, code, value_kind, value_number, value_text_enc, unit, flags, effective_at, zone, source, external_id, recorded_by, produced_by, created_at)",
        tail: "ON CONFLICT (program_id, source, external_id) DO NOTHING RETURNING id")
    static let columns = "id, program_id, patient_id, code, value_kind, value_number, value_text_enc, unit, flags, effective_at, zone, source, external_id, recorded_by, produced_by, created_at"

    static func context(_ programID: String, _ id: String) -> SealContext {
        SealContext(program: programID, table: "observations", column: "value_text_enc", row: id)
    }

    /// Stores the batch with one `observation.record` event per patient, in the caller's
    /// transaction when given one. Every observation must be of this program.
    public func record(programID: String, _ observations: [Observation], actor: AuditActor, in sql: (any SQLDatabase)? = nil) async throws -> ObservationBatchResult {
        guard !observations.isEmpty else { return ObservationBatchResult(recorded: [], duplicates: 0) }
        let now = clock.now()
        var rows: [[SQLValue]] = []
        var pending: [String: StoredObservation] = [:]
        var order: [String] = []
        for observation in observations {
            guard observation.programID == programID else { throw TendError.notFound("patient") }
            let id = ids.next()
            rows.append(try row(id: id, observation, createdAt: now))
            pending[id] = StoredObservation(id: id, observation: observation, createdAt: now)
            order.append(id)
        }
        let finished = rows
        let patientOf = pending.mapValues(\.observation.patientID)
        let kept: Set<String> = try await database.transaction(joining: sql) { sql in
            let inserted = try await Self.insert.returning(sql, rows: BoundRows(finished, for: StorageDialect.of(sql).kind))
            let kept = Set(try inserted.map { try $0.decode(column: "id", as: String.self) })
            let touched = Set(kept.compactMap { patientOf[$0] }).sorted()
            try await audit.record(.observationRecord, by: actor, program: programID, patients: touched, at: now.epochMilliseconds, in: sql)
            return kept
        }
        let recorded = order.filter { kept.contains($0) }.compactMap { pending[$0] }
        return ObservationBatchResult(recorded: recorded, duplicates: observations.count - recorded.count)
    }

    private func row(id: String, _ observation: Observation, createdAt: Date) throws -> [SQLValue] {
        let kind: String, number: Double?, text: String?, unit: String?
        switch observation.reading.value {
        case .quantity(let value, let quantityUnit): (kind, number, text, unit) = ("quantity", value, nil, quantityUnit)
        case .score(let value): (kind, number, text, unit) = ("score", value, nil, nil)
        case .coded(let code): (kind, number, text, unit) = ("coded", nil, code, nil)
        case .boolean(let flag): (kind, number, text, unit) = ("boolean", flag ? 1 : 0, nil, nil)
        case .text(let value): (kind, number, text, unit) = ("text", nil, value, nil)
        }
        let sealed = try text.map { try cipher.seal($0, for: Self.context(observation.programID, id)) }
        return [
            .text(id), .text(observation.programID), .text(observation.patientID), .text(observation.reading.code.description), .text(kind),
            number.map(SQLValue.real) ?? .nullNumber, SQLValue(sealed), SQLValue(unit),
            .text(observation.reading.flags.map(\.rawValue).joined(separator: ",")),
            .integer(observation.effectiveAt.epochMilliseconds), .text(observation.zone), .text(observation.source.rawValue),
            SQLValue(observation.externalID), SQLValue(observation.recordedBy), SQLValue(observation.producedBy), .integer(createdAt.epochMilliseconds),
        ]
    }

    /// A patient's observations, newest first, optionally of one code and since an instant.
    /// Unaudited: the use case audits the read.
    public func list(programID: String, patientID: String, code: ObservationCode? = nil, since: Date? = nil, limit: Int = 500) async throws -> [StoredObservation] {
        var query = SQLQueryString("SELECT \(Self.columns) FROM observations WHERE patient_id = ")
        query.appendInterpolation(bind: patientID)
        query.appendInterpolation(unsafeRaw: " AND \(database.dialect.unindexed("program_id")) = ")
        query.appendInterpolation(bind: programID)
        if let code {
            query.appendLiteral(" AND code = ")
            query.appendInterpolation(bind: code.description)
        }
        if let since {
            query.appendLiteral(" AND effective_at >= ")
            query.appendInterpolation(bind: since.epochMilliseconds)
        }
        query.appendInterpolation(unsafeRaw: " ORDER BY effective_at DESC, id DESC LIMIT \(max(1, min(limit, 5000)))")
        let finished = query
        return try await database.read { sql in try await sql.raw(finished).all() }.map(observation(from:))
    }

    /// The patient's numbers of a code measured before `before`, newest first: the last
    /// `count`, or those since `since` (at most 500), in the caller's transaction. What
    /// sustained and change rules read.
    public func earlierNumbers(_ sql: any SQLDatabase, programID: String, patientID: String, code: ObservationCode, before: Date,
                               count: Int?, since: Date?) async throws -> [Double] {
        var query = SQLQueryString("SELECT value_number FROM observations WHERE patient_id = ")
        query.appendInterpolation(bind: patientID)
        query.appendLiteral(" AND code = ")
        query.appendInterpolation(bind: code.description)
        query.appendLiteral(" AND effective_at < ")
        query.appendInterpolation(bind: before.epochMilliseconds)
        if let since {
            query.appendLiteral(" AND effective_at >= ")
            query.appendInterpolation(bind: since.epochMilliseconds)
        }
        query.appendInterpolation(unsafeRaw: " AND \(database.dialect.unindexed("program_id")) = ")
        query.appendInterpolation(bind: programID)
        query.appendInterpolation(unsafeRaw: " AND value_number IS NOT NULL ORDER BY effective_at DESC LIMIT \(max(1, min(count ?? 500, 500)))")
        return try await sql.raw(query).all().map { try $0.decode(column: "value_number", as: Double.self) }
    }

    /// The patient's newest numeric readings (at most `limit`), four columns each: what the
    /// patient page charts. Unaudited: the use case audits the read.
    public func points(programID: String, patientID: String, limit: Int = 500) async throws -> [ObservationPoint] {
        var query = SQLQueryString("SELECT code, value_number, unit, effective_at FROM observations WHERE patient_id = ")
        query.appendInterpolation(bind: patientID)
        query.appendInterpolation(unsafeRaw: " AND \(database.dialect.unindexed("program_id")) = ")
        query.appendInterpolation(bind: programID)
        query.appendInterpolation(unsafeRaw: " AND value_number IS NOT NULL ORDER BY effective_at DESC, id DESC LIMIT \(max(1, min(limit, 5000)))")
        let finished = query
        let rows = try await database.read { sql in try await sql.raw(finished).all() }
        var codes: [String: ObservationCode] = [:]
        return try rows.map { row in
            let text = try row.decode(column: "code", as: String.self)
            let code: ObservationCode
            if let known = codes[text] { code = known } else {
                guard let parsed = try? ObservationCode.parse(text, field: "code") else { throw StoreCorruption(what: "an observation has code \(text)") }
                codes[text] = parsed
                code = parsed
            }
            return ObservationPoint(code: code, value: try row.decode(column: "value_number", as: Double.self), unit: try row.decode(column: "unit", as: String?.self),
                                    effectiveAt: Date(epochMilliseconds: try row.decode(column: "effective_at", as: Int64.self)))
        }
    }

    /// The latest number of one code per patient, among readings effective in `from`..<`until`,
    /// over the whole program in one statement on the `(program_id, code, effective_at)` index,
    /// each patient's readings arriving oldest first. Unaudited: the use case audits what it shows.
    public func latestNumbers(programID: String, code: ObservationCode, from: Date, until: Date) async throws -> [String: Double] {
        let query: SQLQueryString = """
            SELECT patient_id, value_number FROM observations WHERE program_id = \(bind: programID) AND code = \(bind: code.description)
            AND effective_at >= \(bind: from.epochMilliseconds) AND effective_at < \(bind: until.epochMilliseconds) AND value_number IS NOT NULL
            ORDER BY effective_at, id
            """
        let latest = Mutex<[String: Double]>([:])
        try await database.read { sql in
            try await sql.raw(query).run { row in
                guard let patientID = try? row.decode(column: "patient_id", as: String.self), let value = try? row.decode(column: "value_number", as: Double.self) else { return }
                latest.withLock { $0[patientID] = value }
            }
        }
        return latest.withLock { $0 }
    }

    func observation(from row: any SQLRow) throws -> StoredObservation {
        let id = try row.decode(column: "id", as: String.self), programID = try row.decode(column: "program_id", as: String.self)
        let kind = try row.decode(column: "value_kind", as: String.self)
        let number = try row.decode(column: "value_number", as: Double?.self)
        let text = try row.decode(column: "value_text_enc", as: String?.self).map { try cipher.open($0, for: Self.context(programID, id)) }
        let value: ObservationValue
        switch (kind, number, text) {
        case ("quantity", .some(let number), _): value = .quantity(number, unit: try row.decode(column: "unit", as: String?.self) ?? "")
        case ("score", .some(let number), _): value = .score(number)
        case ("boolean", .some(let number), _): value = .boolean(number != 0)
        case ("coded", _, .some(let text)): value = .coded(text)
        case ("text", _, .some(let text)): value = .text(text)
        default: throw StoreCorruption(what: "observation \(id) has a \(kind) value it cannot hold")
        }
        let codeText = try row.decode(column: "code", as: String.self)
        guard let code = try? ObservationCode.parse(codeText, field: "code") else { throw StoreCorruption(what: "observation \(id) has code \(codeText)") }
        guard let source = ObservationSource(rawValue: try row.decode(column: "source", as: String.self)) else {
            throw StoreCorruption(what: "observation \(id) has an unknown source")
        }
        let flags = try row.decode(column: "flags", as: String.self).split(separator: ",").compactMap { ObservationFlag(rawValue: String($0)) }
        let observation = try Observation(
            patientID: try row.decode(column: "patient_id", as: String.self), programID: programID,
            reading: ObservationReading(code: code, value: value, flags: flags),
            effectiveAt: Date(epochMilliseconds: try row.decode(column: "effective_at", as: Int64.self)),
            zone: try row.decode(column: "zone", as: String.self), source: source,
            recordedBy: try row.decode(column: "recorded_by", as: String?.self), producedBy: try row.decode(column: "produced_by", as: String?.self),
            externalID: try row.decode(column: "external_id", as: String?.self))
        return StoredObservation(id: id, observation: observation, createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }
}
