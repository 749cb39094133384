import Foundation
public import SQLKit
public import TendCore

/// Regimens: what each patient is prescribed. Writes are audited in their transaction.
public struct RegimenStore: ContextualStore {
    let context: StoreContext

    static let columns = "id, patient_id, drug, drug_class, strength, dose, frequency, start_on, stop_on, prescriber"

    /// Stores a checked regimen (its id is given here) with its `regimen.start` event.
    public func start(programID: String, _ regimen: Regimen, actor: AuditActor, in joined: (any SQLDatabase)? = nil) async throws -> Regimen {
        var stored = regimen
        stored.id = ids.next()
        let now = clock.now().epochMilliseconds, row = stored
        try await database.transaction(joining: joined) { sql in
            try await sql.raw("""
                INSERT INTO regimens (id, program_id, patient_id, drug, drug_class, strength, dose, frequency, start_on, stop_on, prescriber, created_at, updated_at)
                VALUES (\(bind: row.id), \(bind: programID), \(bind: row.patientID), \(bind: row.drug), \(bind: row.drugClass), \(bind: row.strength), \(bind: row.dose),
                        \(bind: row.frequency.rawValue), \(bind: Int64(row.startOn.dayNumber)), \(bind: row.stopOn.map { Int64($0.dayNumber) }), \(bind: row.prescriber),
                        \(bind: now), \(bind: now))
                """).run()
            try await audit.record(.regimenStart, by: actor, program: programID, patient: row.patientID, in: sql)
        }
        return stored
    }

    /// Sets the last day of one of the patient's regimens; nil when there is no such regimen.
    public func stop(programID: String, patientID: String, regimenID: String, on day: LocalDate, actor: AuditActor,
                     in joined: (any SQLDatabase)? = nil) async throws -> Regimen? {
        let now = clock.now().epochMilliseconds
        return try await database.transaction(joining: joined) { sql in
            let rows = try await sql.raw("""
                UPDATE regimens SET stop_on = \(bind: Int64(day.dayNumber)), updated_at = \(bind: now)
                WHERE id = \(bind: regimenID) AND patient_id = \(bind: patientID) AND program_id = \(bind: programID)
                RETURNING \(unsafeRaw: Self.columns)
                """).all()
            guard let row = rows.first else { return nil }
            try await audit.record(.regimenStop, by: actor, program: programID, patient: patientID, in: sql)
            return try Self.regimen(from: row)
        }
    }

    /// The patient's regimens, newest start first. Unaudited: the use case audits the read.
    public func list(programID: String, patientID: String, in joined: (any SQLDatabase)? = nil) async throws -> [Regimen] {
        let query: SQLQueryString = """
            SELECT \(unsafeRaw: Self.columns) FROM regimens WHERE patient_id = \(bind: patientID)
            AND \(unsafeRaw: database.dialect.unindexed("program_id")) = \(bind: programID) ORDER BY start_on DESC, id DESC LIMIT 1000
            """
        let rows = if let joined { try await joined.raw(query).all() } else { try await database.read { sql in try await sql.raw(query).all() } }
        return try rows.map(Self.regimen(from:))
    }

    static func regimen(from row: any SQLRow) throws -> Regimen {
        let frequencyText = try row.decode(column: "frequency", as: String.self)
        guard let frequency = DoseFrequency(rawValue: frequencyText) else { throw StoreCorruption(what: "a regimen has frequency \(frequencyText)") }
        return Regimen(id: try row.decode(column: "id", as: String.self), patientID: try row.decode(column: "patient_id", as: String.self),
                       drug: try row.decode(column: "drug", as: String.self), drugClass: try row.decode(column: "drug_class", as: String?.self),
                       strength: try row.decode(column: "strength", as: String?.self), dose: try row.decode(column: "dose", as: String.self),
                       frequency: frequency, startOn: LocalDate(dayNumber: try row.decode(column: "start_on", as: Int.self)),
                       stopOn: try row.decode(column: "stop_on", as: Int?.self).map(LocalDate.init(dayNumber:)),
                       prescriber: try row.decode(column: "prescriber", as: String?.self))
    }
}
