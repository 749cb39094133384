import ArgumentParser
import Foundation
import SQLKit
import TendCore
import TendEngine
import TendStore

/// `tend-bench observations`: batched ingest as the API does it (each reading checked, converted,
/// stored idempotently and held to the program's alert rules, alerts and tasks opened or joined,
/// audited) against two floors measured in the same run: the narrow floor (observation-wide rows
/// in the same batches by raw multi-row INSERTs into a table with only a primary key) and the
/// schema floor (the same readings, checked and converted beforehand, written by the store's own
/// statements into the real table with its indexes and audit events, no alert evaluation).
struct ObservationBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "observations",
        abstract: "Ingest batches of readings with alert evaluation, against a raw INSERT floor of the same run / 批量写入读数（含告警判断），并与同次运行的批量 INSERT 下限比较")

    @Option(help: "postgres://… or sqlite:PATH (a throw-away database: its tables are dropped) / 一次性数据库") var database: String
    @Option(help: "Readings to ingest / 读数条数") var readings: Int = 200_000
    @Option(help: "Patients they belong to / 患者数") var patients: Int = 5_000
    @Option(help: "Runs of each measurement; the median is reported / 每项测量次数，报告中位数") var runs: Int = 3

    func validate() throws {
        guard readings >= 1, patients >= 1, runs >= 1 else { throw ValidationError("--readings, --patients and --runs must be at least 1") }
    }

    func run() async throws {
        try await runReporting {
            let scratch = try ScratchDatabase(database)
            let clock = TendClock.system
            let ids = IDGenerator.uuidV7(clock: clock)
            let batch = Bounds.observationsPerRequest
            say("bench: \(readings) readings for \(patients) patients in batches of \(batch), database \(scratch.description)")
            var floorRates: [Double] = [], schemaRates: [Double] = [], ingestRates: [Double] = [], alertCounts: [Int] = []
            for run in 1...runs {
                let floor = try await scratch.withFresh(clock: clock) { try await ObservationFloor.measure($0, rows: readings, batch: batch) }
                let schemaFloor = try await scratch.withFresh(clock: clock) { database in
                    try await Self.schemaFloor(scratch.stores(database, clock: clock, ids: ids), readings: readings, patients: patients, batch: batch)
                }

                let database = try await scratch.fresh(clock: clock)
                let stores = scratch.stores(database, clock: clock, ids: ids)
                let (program, patientIDs) = try await Self.program(stores, patients: patients)
                let submissions = Self.submissions(readings, patients: patientIDs)
                let actions = ObservationActions(stores: stores)
                var alerts = Set<String>()
                let start = ContinuousClock.now
                for offset in stride(from: 0, to: submissions.count, by: batch) {
                    let recorded = try await actions.recordWithAlerts(
                        programID: program.id, Array(submissions[offset..<min(offset + batch, submissions.count)]), source: .device, by: BenchPatients.actor)
                    alerts.formUnion(recorded.alerts.map(\.id))
                }
                let seconds = Measure.seconds(ContinuousClock.now - start)
                let stored = try await database.session { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM observations").first()?.decode(column: "n", as: Int.self) ?? 0
                }
                await database.close()
                guard stored == readings else {
                    throw BenchCheckFailed(en: "ingest stored \(stored) of \(readings) readings", zh: "仅写入 \(stored)/\(readings) 条读数")
                }
                floorRates.append(Double(readings) / floor)
                schemaRates.append(Double(readings) / schemaFloor)
                ingestRates.append(Double(readings) / seconds)
                alertCounts.append(alerts.count)
                say(String(format: "run %d: narrow floor %.0f rows/s, schema floor %.0f readings/s, ingest %.0f readings/s (%.1f s), %d alerts opened or joined",
                           run, Double(readings) / floor, Double(readings) / schemaFloor, Double(readings) / seconds, seconds, alerts.count))
            }
            let floorMedian = Measure.median(floorRates), schemaMedian = Measure.median(schemaRates), ingestMedian = Measure.median(ingestRates)
            say(String(format: "median: narrow floor %.0f rows/s, schema floor %.0f readings/s, ingest %.0f readings/s; schema floor / ingest %.2f×, narrow floor / ingest %.2f×",
                       floorMedian, schemaMedian, ingestMedian, schemaMedian / ingestMedian, floorMedian / ingestMedian))
        }
    }

    static func program(_ stores: Stores, patients: Int) async throws -> (Program, [String]) {
        let program = try await stores.programs.create(slug: "bench", name: "Bench")
        _ = try await BenchPatients.importAll(BenchPatients.importFile(rows: patients), rows: patients, into: program.id, stores: stores)
        return (program, try await patientIDs(stores, programID: program.id, count: patients))
    }

    /// The store's writes alone: readings checked and converted beforehand (not counted), then
    /// written batch by batch with their audit events, without alert rules.
    static func schemaFloor(_ stores: Stores, readings: Int, patients: Int, batch: Int) async throws -> Double {
        let (program, patientIDs) = try await program(stores, patients: patients)
        let observations = try submissions(readings, patients: patientIDs).map { submission in
            try submission.input.observation(patientID: submission.patientID, programID: program.id, zone: "Asia/Shanghai", source: .device,
                                             recordedBy: nil, field: "observation")
        }
        let start = ContinuousClock.now
        for offset in stride(from: 0, to: observations.count, by: batch) {
            _ = try await stores.observations.record(programID: program.id, Array(observations[offset..<min(offset + batch, observations.count)]), actor: BenchPatients.actor)
        }
        return Measure.seconds(ContinuousClock.now - start)
    }

    static func patientIDs(_ stores: Stores, programID: String, count: Int) async throws -> [String] {
        var found: [String] = []
        for start in stride(from: 0, to: count, by: 1000) {
            let externals = (start..<min(start + 1000, count)).map { "B\($0)" }
            let byExternal = try await stores.patients.ids(programID: programID, externalIDs: externals)
            found += externals.compactMap { byExternal[$0] }
        }
        return found
    }

    /// A month-like mix: fasting and post-meal glucose (some in mg/dL), blood pressure and
    /// temperature, about one in fifty out of range (alerts to open and join), each with the
    /// device's own id.
    static func submissions(_ count: Int, patients: [String]) -> [ObservationSubmission] {
        var generator = SplitMix(seed: 42)
        return (0..<count).map { index in
            let patient = patients[index % patients.count]
            let day = index / patients.count
            let stamp = String(format: "2026-12-%02dT07:%02d:00+08:00", 1 + day % 28, index % 60)
            let low = generator.next() % 50 == 0
            let input: ObservationInput
            switch index % 5 {
            case 0, 1: input = ObservationInput(code: "glucose-fasting", value: .number(low ? 2.7 : 4.5 + Double(generator.next() % 20) / 10), unit: "mmol/L", effectiveAt: stamp)
            case 2: input = ObservationInput(code: "glucose-post-meal", value: .number(Double(100 + generator.next() % 60)), unit: "mg/dL", effectiveAt: stamp)
            case 3: input = ObservationInput(code: "bp-systolic", value: .number(Double(110 + generator.next() % 30)), unit: "mmHg", effectiveAt: stamp)
            default: input = ObservationInput(code: "body-temperature", value: .number(low ? 39.4 : 36.5), unit: "Cel", effectiveAt: stamp)
            }
            var withID = input
            withID.externalID = "dev-\(index)"
            return ObservationSubmission(patientID: patient, input: withID)
        }
    }
}

/// The ingest floor: observation-wide rows (16 columns) written by raw multi-row INSERTs in
/// the ingest's batches, one transaction each, into a table with only a primary key.
enum ObservationFloor {
    static let table = "bench_observation_floor"
    static let columns = ["id", "program_id", "patient_id", "code", "value_kind", "value_number", "value_text_enc", "unit", "flags",
                          "effective_at", "zone", "source", "external_id", "recorded_by", "produced_by", "created_at"]
    /// Rows per statement: within both backends' bind limits at 16 columns.
    static let rowsPerStatement = 500

    static func measure(_ database: Database, rows: Int, batch: Int) async throws -> Double {
        let definitions = ["id TEXT PRIMARY KEY", "program_id TEXT", "patient_id TEXT", "code TEXT", "value_kind TEXT", "value_number DOUBLE PRECISION",
                           "value_text_enc TEXT", "unit TEXT", "flags TEXT", "effective_at BIGINT", "zone TEXT", "source TEXT", "external_id TEXT",
                           "recorded_by TEXT", "produced_by TEXT", "created_at BIGINT"]
        try await database.session { sql in
            try await sql.raw("CREATE TABLE \(ident: table) (\(unsafeRaw: definitions.joined(separator: ", ")))").run()
        }
        let head = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        let start = ContinuousClock.now
        for batchStart in stride(from: 0, to: rows, by: batch) {
            let batchEnd = min(batchStart + batch, rows)
            var statements: [SQLQueryString] = []
            for offset in stride(from: batchStart, to: batchEnd, by: rowsPerStatement) {
                var query = SQLQueryString(head)
                for index in offset..<min(offset + rowsPerStatement, batchEnd) {
                    if index > offset { query.appendLiteral(", ") }
                    query.appendLiteral("(")
                    let values: [any Encodable & Sendable] = [
                        "o\(index)", "program-0001", "patient-\(index % 5000)", "loinc:14770-2", "quantity", 5.6, String?.none, "mmol/L", "",
                        Int64(1_764_547_200_000 + index), "Asia/Shanghai", "device", "dev-\(index)", String?.none, String?.none, Int64(index),
                    ]
                    query.appendInterpolation(binds: values)
                    query.appendLiteral(")")
                }
                statements.append(query)
            }
            let finished = statements
            try await database.transaction { sql in
                for statement in finished { try await sql.raw(statement).run() }
            }
        }
        return Measure.seconds(ContinuousClock.now - start)
    }
}
