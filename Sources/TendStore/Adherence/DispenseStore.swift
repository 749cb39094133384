import Foundation
public import SQLKit
import Synchronization
public import TendCore

/// A medication handed to a patient: what, how much, for how many days, when and where.
public struct Dispense: Sendable, Equatable {
    public var patientID: String
    public var fill: Fill
    public var quantity: Double?
    public var pharmacy: String?
    /// The pharmacy system's own id: a resent dispense adds nothing.
    public var externalID: String?

    public init(patientID: String, fill: Fill, quantity: Double? = nil, pharmacy: String? = nil, externalID: String? = nil) {
        self.patientID = patientID
        self.fill = fill
        self.quantity = quantity
        self.pharmacy = pharmacy
        self.externalID = externalID
    }
}

/// One patient's PDC for one class over a measurement period, as the database computed it.
public struct PatientPDC: Sendable, Equatable {
    public var patientID: String
    public var drugClass: String
    public var coveredDays: Int
    public var treatmentDays: Int

    public var measurable: Bool { treatmentDays >= PDC.minimumTreatmentDays }
    public var pdc: Double? { measurable ? (Double(coveredDays) / Double(treatmentDays) * 10_000).rounded() / 10_000 : nil }
}

/// Dispenses and refills, and adherence computed from them in the database: set-based, one
/// statement for a whole program, never a query per patient.
public struct DispenseStore: ContextualStore {
    let context: StoreContext

    static let insert = MultiRowInsert(
        "INSERT INTO dispenses (id, program_id, patient_id, drug, drug_class, filled_on, days_supply, quantity, pharmacy, source, external_id, created_at)",
        tail: "ON CONFLICT (program_id, source, external_id) DO NOTHING RETURNING id")

    /// Stores the dispenses with one `dispense.record` event per patient; returns how many were new.
    public func record(programID: String, _ dispenses: [Dispense], source: String, actor: AuditActor, in joined: (any SQLDatabase)? = nil) async throws -> Int {
        guard !dispenses.isEmpty else { return 0 }
        let now = clock.now()
        var patientOf: [String: String] = [:]
        let rows: [[SQLValue]] = dispenses.map { dispense in
            let id = ids.next()
            patientOf[id] = dispense.patientID
            return [
                .text(id), .text(programID), .text(dispense.patientID), .text(dispense.fill.drug), SQLValue(dispense.fill.drugClass),
                .integer(Int64(dispense.fill.filledOn.dayNumber)), .integer(Int64(dispense.fill.daysSupply)),
                dispense.quantity.map(SQLValue.real) ?? .nullNumber, SQLValue(dispense.pharmacy), .text(source), SQLValue(dispense.externalID),
                .integer(now.epochMilliseconds),
            ]
        }
        let finished = rows, owners = patientOf
        return try await database.transaction(joining: joined) { sql in
            let inserted = try await Self.insert.returning(sql, rows: BoundRows(finished, for: StorageDialect.of(sql).kind))
            let kept = try inserted.map { try $0.decode(column: "id", as: String.self) }
            try await audit.record(.dispenseRecord, by: actor, program: programID, patients: Set(kept.compactMap { owners[$0] }).sorted(),
                                   at: now.epochMilliseconds, in: sql)
            return kept.count
        }
    }

    /// A patient's fills, oldest first; inside `joined` when given (it sees the dispenses that
    /// transaction wrote). Unaudited: the use case audits the read.
    public func fills(programID: String, patientID: String, in joined: (any SQLDatabase)? = nil) async throws -> [Fill] {
        let query: SQLQueryString = """
            SELECT drug, drug_class, filled_on, days_supply FROM dispenses WHERE patient_id = \(bind: patientID)
            AND \(unsafeRaw: database.dialect.unindexed("program_id")) = \(bind: programID) ORDER BY filled_on LIMIT 10000
            """
        let rows = if let joined { try await joined.raw(query).all() } else { try await database.read { sql in try await sql.raw(query).all() } }
        return try rows.map { row in
            Fill(drug: try row.decode(column: "drug", as: String.self), drugClass: try row.decode(column: "drug_class", as: String?.self),
                 filledOn: LocalDate(dayNumber: try row.decode(column: "filled_on", as: Int.self)), daysSupply: try row.decode(column: "days_supply", as: Int.self))
        }
    }

    /// PDC of every patient of the program with fills in `start`…`end`, per class (a drug
    /// without one is its own), as TendCore's `PDC.compute` reckons it over one streamed pass
    /// (`foldPatients`): never a query per patient, and never a whole program's rows in memory.
    public func pdc(programID: String, start: LocalDate, end: LocalDate) async throws -> [PatientPDC] {
        try await foldPatients(programID: programID, from: start, through: end, into: [PatientPDC](), map: { patientID, fills in
            Dictionary(grouping: fills, by: { $0.drugClass ?? $0.drug }).map { drugClass, classFills in
                let result = PDC.compute(classFills, start: start, end: end)
                return PatientPDC(patientID: patientID, drugClass: drugClass, coveredDays: result.coveredDays, treatmentDays: result.treatmentDays)
            }
        }, combine: { results, patient in results.append(contentsOf: patient) })
        .sorted { ($0.patientID, $0.drugClass) < ($1.patientID, $1.drugClass) }
    }

    /// Which of a program's fills a report reads: handed over in `from`…`through`, of one drug or
    /// class when `drugOrClass` is set, of the current members of one segment when `segmentID` is.
    public struct FillFilter: Sendable {
        public var drugOrClass: String?
        public var segmentID: String?

        public init(drugOrClass: String? = nil, segmentID: String? = nil) {
            self.drugOrClass = drugOrClass
            self.segmentID = segmentID
        }
    }

    /// Folds every patient's fills handed over in `from`…`through` into `initial`, one patient
    /// at a time, in one statement that reads the `(program_id, patient_id, drug, filled_on)`
    /// index in order and hands each patient's fills over as three aligned lists: the drugs and
    /// the classes split by U+001E (no stored text holds a control character), and each fill's
    /// day and supply as one number, `filled_on × 1024 + days_supply` (supply ≤ 1000), split by
    /// commas. Three plain aggregates cost SQLite a third of one concatenated text per fill.
    /// Unaudited: the use case audits what it shows.
    public func foldPatients<State: Sendable>(programID: String, from: LocalDate, through: LocalDate, filter: FillFilter = FillFilter(), into initial: State,
                                              _ update: @escaping @Sendable (inout State, String, [Fill]) -> Void) async throws -> State {
        try await fold(foldQuery(programID: programID, from: from, through: through, filter: filter), into: initial,
                       map: { patientID, fills in (patientID, fills) }, combine: { state, patient in update(&state, patient.0, patient.1) })
    }

    private func foldQuery(programID: String, from: LocalDate, through: LocalDate, filter: FillFilter) -> SQLQueryString {
        let dialect = database.dialect
        let record = dialect.character(0x1E)
        var query: SQLQueryString = """
            SELECT patient_id, \(unsafeRaw: dialect.stringAggregate("drug", separator: record)) AS drugs,
                   \(unsafeRaw: dialect.stringAggregate("COALESCE(drug_class, '')", separator: record)) AS classes,
                   \(unsafeRaw: dialect.stringAggregate("CAST(filled_on * \(Self.supplyBase) + days_supply AS TEXT)", separator: "','")) AS days
            FROM dispenses WHERE program_id = \(bind: programID) AND filled_on >= \(bind: from.dayNumber) AND filled_on <= \(bind: through.dayNumber)
            """
        if let drugOrClass = filter.drugOrClass { query += " AND (drug = \(bind: drugOrClass) OR drug_class = \(bind: drugOrClass))" }
        if let segmentID = filter.segmentID {
            query += " AND patient_id IN (SELECT patient_id FROM segment_members WHERE segment_id = \(bind: segmentID) AND left_at IS NULL)"
        }
        query += " GROUP BY patient_id"
        return query
    }

    /// `foldPatients` where the work per patient (`map`) runs on other threads, batch by batch,
    /// while the database steps on: on two cores the statement and the reckoning overlap. Only
    /// `combine` runs one patient at a time, in no particular order.
    public func foldPatients<Partial: Sendable, State: Sendable>(programID: String, from: LocalDate, through: LocalDate, filter: FillFilter = FillFilter(),
                                                                 into initial: State, map: @escaping @Sendable (String, [Fill]) -> Partial,
                                                                 combine: @escaping @Sendable (inout State, Partial) -> Void) async throws -> State {
        try await fold(foldQuery(programID: programID, from: from, through: through, filter: filter), into: initial, map: map, combine: combine)
    }

    private final class Folding<State: Sendable, Row: Sendable>: Sendable {
        let state: Mutex<State>
        let pending = Mutex<[Row]>([])
        let group = DispatchGroup()
        init(_ initial: State) { state = Mutex(initial) }
    }

    static let foldBatch = 2_000

    private func fold<Partial: Sendable, State: Sendable>(_ query: SQLQueryString, into initial: State, map: @escaping @Sendable (String, [Fill]) -> Partial,
                                                          combine: @escaping @Sendable (inout State, Partial) -> Void) async throws -> State {
        typealias Row = (patientID: String, drugs: String, classes: String, days: String)
        let folding = Folding<State, Row>(initial)
        @Sendable func reckon(_ rows: [Row]) {
            folding.group.enter()
            DispatchQueue.global().async {
                let partials = rows.map { map($0.patientID, Self.fills(drugs: $0.drugs, classes: $0.classes, days: $0.days)) }
                folding.state.withLock { state in for partial in partials { combine(&state, partial) } }
                folding.group.leave()
            }
        }
        try await database.read { sql in
            try await sql.raw(query).run { row in
                guard let patientID = try? row.decode(column: "patient_id", as: String.self), let drugs = try? row.decode(column: "drugs", as: String.self),
                      let classes = try? row.decode(column: "classes", as: String.self), let days = try? row.decode(column: "days", as: String.self) else { return }
                let full: [Row]? = folding.pending.withLock { pending in
                    pending.append((patientID, drugs, classes, days))
                    guard pending.count >= Self.foldBatch else { return nil }
                    defer { pending.removeAll(keepingCapacity: true) }
                    return pending
                }
                if let full { reckon(full) }
            }
        }
        reckon(folding.pending.withLock { pending in
            defer { pending.removeAll() }
            return pending
        })
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in folding.group.notify(queue: .global()) { done.resume() } }
        return folding.state.withLock { $0 }
    }

    /// `filled_on × supplyBase + days_supply` packs a fill's day and supply in one number.
    static let supplyBase = 1024

    /// The fills of `foldPatients`'s three aligned lists.
    static func fills(drugs: String, classes: String, days: String) -> [Fill] {
        let drugList = drugs.utf8.split(separator: 0x1E, omittingEmptySubsequences: false)
        let classList = classes.utf8.split(separator: 0x1E, omittingEmptySubsequences: false)
        let dayList = days.utf8.split(separator: UInt8(ascii: ","))
        guard drugList.count == dayList.count, classList.count == dayList.count else { return [] }
        var fills: [Fill] = []
        fills.reserveCapacity(dayList.count)
        for index in dayList.indices {
            guard let packed = Int(Substring(dayList[index])) else { continue }
            var (day, supply) = packed.quotientAndRemainder(dividingBy: supplyBase)
            if supply < 0 { (day, supply) = (day - 1, supply + supplyBase) } // a day before 1970
            let drugClass = classList[index].isEmpty ? nil : String(decoding: classList[index], as: UTF8.self)
            fills.append(Fill(drug: String(decoding: drugList[index], as: UTF8.self), drugClass: drugClass, filledOn: LocalDate(dayNumber: day), daysSupply: supply))
        }
        return fills
    }

    /// The PDC statement (one row per patient and class: `patient_id`, `cls`, `covered_days`,
    /// `treatment_days`), for one patient or the whole program; also a segment clause's set.
    static func pdcQuery(programID: String, patientID: String?, start: LocalDate, end: LocalDate, dialect: StorageDialect) -> SQLQueryString {
        let least = dialect.isSQLite ? "MIN" : "LEAST", greatest = dialect.isSQLite ? "MAX" : "GREATEST"
        let endDay = end.dayNumber
        var patient: SQLQueryString = ""
        if let patientID { patient = " AND patient_id = \(bind: patientID)" }
        return """
            WITH fills AS (
                SELECT patient_id, drug, COALESCE(drug_class, drug) AS cls, filled_on, days_supply,
                       CAST(SUM(days_supply) OVER (PARTITION BY patient_id, drug ORDER BY filled_on ROWS UNBOUNDED PRECEDING) AS BIGINT) AS supplied
                FROM dispenses WHERE program_id = \(bind: programID)\(patient) AND filled_on >= \(bind: start.dayNumber) AND filled_on <= \(bind: endDay)
            ), shifted AS (
                SELECT patient_id, cls, days_supply,
                       MAX(filled_on - (supplied - days_supply)) OVER (PARTITION BY patient_id, drug ORDER BY filled_on ROWS UNBOUNDED PRECEDING)
                           + supplied - 1 AS last_day
                FROM fills
            ), intervals AS (
                SELECT patient_id, cls, last_day - days_supply + 1 AS first_day, \(unsafeRaw: least)(last_day, \(bind: endDay)) AS last_day
                FROM shifted WHERE last_day - days_supply + 1 <= \(bind: endDay)
            ), ordered AS (
                SELECT patient_id, cls, first_day, last_day,
                       MAX(last_day) OVER (PARTITION BY patient_id, cls ORDER BY first_day, last_day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_to
                FROM intervals
            )
            SELECT patient_id, cls,
                   CAST(SUM(CASE WHEN covered_to IS NULL THEN last_day - first_day + 1
                                 WHEN last_day > covered_to THEN last_day - \(unsafeRaw: greatest)(first_day, covered_to + 1) + 1
                                 ELSE 0 END) AS BIGINT) AS covered_days,
                   CAST(\(bind: endDay) - MIN(first_day) + 1 AS BIGINT) AS treatment_days
            FROM ordered GROUP BY patient_id, cls
            """
    }
}
