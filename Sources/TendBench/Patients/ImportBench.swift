import ArgumentParser
import Foundation
import SQLKit
import TendCore
import TendStore

/// `tend-bench import-patients`: the importer against two floors measured in the same run.
struct ImportPatientsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-patients",
        abstract: "Import generated patients and compare with raw multi-row INSERT floors measured in the same run / 导入生成的患者，并与同次运行测得的批量 INSERT 下限比较")

    @Option(help: "postgres://… or sqlite:PATH (a throw-away database: its tables are dropped) / 一次性数据库（其中的表会被删除）") var database: String
    @Option(help: "How many patients / 患者数") var rows: Int = 100_000
    @Option(help: "Runs of each measurement; the median is reported / 每项测量的次数，报告中位数") var runs: Int = 3

    func validate() throws {
        guard rows >= 1, runs >= 1 else { throw ValidationError("--rows and --runs must be at least 1 / --rows 与 --runs 至少为 1") }
    }

    func run() async throws {
        try await runReporting {
            let scratch = try ScratchDatabase(database)
            let clock = TendClock.system
            let ids = IDGenerator.uuidV7(clock: clock)
            let file = BenchPatients.importFile(rows: rows)
            say("bench: \(rows) rows, CSV \(file.count / 1_000_000) MB, database \(scratch.description)")
            var floorRates: [Double] = [], schemaFloorRates: [Double] = [], importRates: [Double] = []
            for run in 1...runs {
                // Each measurement starts from an empty database.
                let floor = try await scratch.withFresh(clock: clock) { try await NarrowFloor.measure($0, rows: rows) }
                let schemaFloor = try await scratch.withFresh(clock: clock) { database in
                    try await Self.schemaFloor(scratch.stores(database, clock: clock, ids: ids), file: file, rows: rows)
                }
                let seconds = try await scratch.withFresh(clock: clock) { database in
                    let stores = scratch.stores(database, clock: clock, ids: ids)
                    let program = try await stores.programs.create(slug: "bench", name: "Bench")
                    let start = ContinuousClock.now
                    try await BenchPatients.importAll(file, rows: rows, into: program.id, stores: stores)
                    return Measure.seconds(ContinuousClock.now - start)
                }

                floorRates.append(Double(rows) / floor)
                schemaFloorRates.append(Double(rows) / schemaFloor)
                importRates.append(Double(rows) / seconds)
                say(String(format: "run %d: narrow floor %.0f rows/s, schema floor %.0f patients/s, import %.0f patients/s (%.1f s)",
                           run, Double(rows) / floor, Double(rows) / schemaFloor, Double(rows) / seconds, seconds))
            }
            let floorMedian = Measure.median(floorRates), schemaMedian = Measure.median(schemaFloorRates), importMedian = Measure.median(importRates)
            say(String(format: "median: narrow floor %.0f rows/s, schema floor %.0f patients/s, import %.0f patients/s; schema floor / import %.2f×",
                       floorMedian, schemaMedian, importMedian, schemaMedian / importMedian))
        }
    }

    /// The importer's own writes alone: the same file, each batch checked, sealed and bound for
    /// the database first (not counted), then written by the importer's statements in its
    /// transactions and bulk-load settings. The import can approach this, never pass it.
    static func schemaFloor(_ stores: Stores, file: [UInt8], rows: Int) async throws -> Double {
        let program = try await stores.programs.create(slug: "floor", name: "Floor")
        let importer = PatientImporter(store: stores.patients)
        let session = PatientImporter.Session()
        var reader = try ImportRowReader(bytes: file, format: .csv)
        var preparing = Duration.zero
        let start = ContinuousClock.now
        try await stores.database.bulkLoad {
            while true {
                let prepareStart = ContinuousClock.now
                var batchRows: [Result<PatientImport.Candidate, PatientImport.Reject>] = []
                batchRows.reserveCapacity(importer.batchSize)
                while batchRows.count < importer.batchSize, let row = reader.next() { batchRows.append(row) }
                let batch = batchRows.isEmpty ? nil : try importer.prepare(programID: program.id, actor: BenchPatients.actor, rows: batchRows)
                preparing += ContinuousClock.now - prepareStart
                guard let batch else { break }
                try await importer.write(batch, programID: program.id, actor: BenchPatients.actor, session: session, reject: { _ in })
            }
        }
        let seconds = Measure.seconds(ContinuousClock.now - start - preparing)
        guard session.summary.created == rows else {
            throw BenchCheckFailed(en: "the schema floor wrote \(session.summary.created) of \(rows) patients", zh: "写入下限仅写入 \(session.summary.created)/\(rows) 名患者")
        }
        return seconds
    }
}

/// The narrow floor: as many rows as the import, each as wide as a patients row, written by
/// raw multi-row INSERTs into a scratch table with only a primary key — no parsing,
/// validation, encryption or other index.
enum NarrowFloor {
    static let table = "bench_narrow_floor"
    /// A patients row's width: an id, a program, an external id, sixteen text values and two times.
    static let textColumns = (1...16).map { "text_\($0)" }
    static let columns = ["id", "program_id", "external_id"] + textColumns + ["created_at", "updated_at"]
    static let rowsPerStatement = 400

    static func measure(_ database: Database, rows: Int) async throws -> Double {
        let definitions = ["id TEXT PRIMARY KEY", "program_id TEXT", "external_id TEXT"] + textColumns.map { "\($0) TEXT" } + ["created_at BIGINT", "updated_at BIGINT"]
        try await database.session { sql in
            try await sql.raw("CREATE TABLE \(ident: table) (\(unsafeRaw: definitions.joined(separator: ", ")))").run()
        }
        let filler = String(repeating: "x", count: 44)
        let texts: [String?] = [filler, filler, "female", "1990-01-01", filler, filler, filler, filler, filler,
                                "zh-Hans", "Asia/Shanghai", "12:00-13:00", "22:00-07:00", "in_app", nil, "active"]
        let head = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        let start = ContinuousClock.now
        for offset in stride(from: 0, to: rows, by: rowsPerStatement) {
            var query = SQLQueryString(head)
            for index in offset..<min(offset + rowsPerStatement, rows) {
                if index > offset { query.appendLiteral(", ") }
                query.appendLiteral("(")
                var values: [any Encodable & Sendable] = ["f\(index)", "p", "B\(index)"]
                values += texts.map { $0 as any Encodable & Sendable }
                values += [Int64(index), Int64(index)]
                query.appendInterpolation(binds: values)
                query.appendLiteral(")")
            }
            let statement = query
            try await database.transaction { sql in try await sql.raw(statement).run() }
        }
        return Measure.seconds(ContinuousClock.now - start)
    }
}
