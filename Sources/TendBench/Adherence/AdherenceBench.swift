import ArgumentParser
import Foundation
import SQLKit
import TendCore
import TendStore

/// `tend-bench adherence`: PDC for every patient of a program, one set-based statement over
/// PATIENTS × FILLS dispenses, against a floor measured in the same run: one scan of the same
/// fills that only counts and sums them.
struct AdherenceBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adherence",
        abstract: "PDC of every patient from their dispenses, against a scan of the same rows / 计算全部患者的 PDC，并与同次扫描下限比较")

    @Option(help: "postgres://… or sqlite:PATH (a throw-away database: its tables are dropped) / 一次性数据库") var database: String
    @Option(help: "Patients / 患者数") var patients: Int = 100_000
    @Option(help: "Fills per patient / 每人取药次数") var fills: Int = 12
    @Option(help: "Runs of each measurement; the median is reported / 每项测量次数") var runs: Int = 3

    func validate() throws {
        guard patients >= 1, (1...100).contains(fills), runs >= 1 else { throw ValidationError("--patients ≥ 1, --fills 1…100, --runs ≥ 1") }
    }

    func run() async throws {
        try await runReporting {
            let scratch = try ScratchDatabase(database)
            let clock = TendClock.system
            try await scratch.withFresh(clock: clock) { database in
                try await measure(scratch.stores(database, clock: clock, ids: .uuidV7(clock: clock)), scratch: scratch)
            }
        }
    }

    private func measure(_ stores: Stores, scratch: ScratchDatabase) async throws {
        let program = try await stores.programs.create(slug: "bench", name: "Bench")
        let loadStart = ContinuousClock.now
        _ = try await BenchPatients.importAll(BenchPatients.importFile(rows: patients), rows: patients, into: program.id, stores: stores)
        let patientIDs = try await ObservationBench.patientIDs(stores, programID: program.id, count: patients)
        var generator = SplitMix(seed: 18)
        try await stores.database.bulkLoad {
            var batch: [Dispense] = []
            for (index, patient) in patientIDs.enumerated() {
                var day = LocalDate(year: 2026, month: 1, day: 1).adding(days: Int(generator.next() % 60))
                for fill in 0..<fills {
                    // Two drugs, one of them a statin switched halfway; refills early, on time or late.
                    let drug = fill % 2 == 0 ? "metformin" : (fill < fills / 2 ? "atorvastatin" : "rosuvastatin")
                    let supply = [28, 30, 30, 60][Int(generator.next() % 4)]
                    batch.append(Dispense(patientID: patient, fill: Fill(drug: drug, drugClass: drug == "metformin" ? nil : "statin", filledOn: day, daysSupply: supply),
                                          externalID: "rx-\(index)-\(fill)"))
                    if fill % 2 == 1 { day = day.adding(days: max(1, supply + Int(generator.next() % 30) - 12)) }
                }
                if batch.count >= 6000 {
                    _ = try await stores.dispenses.record(programID: program.id, batch, source: "bench", actor: BenchPatients.actor)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            _ = try await stores.dispenses.record(programID: program.id, batch, source: "bench", actor: BenchPatients.actor)
        }
        say(String(format: "bench: %d patients × %d fills loaded in %.1f s, database %@", patients, fills, Measure.seconds(ContinuousClock.now - loadStart), scratch.description))
        let start = LocalDate(year: 2026, month: 1, day: 1), end = LocalDate(year: 2026, month: 12, day: 31)
        var floors: [Double] = [], pdcs: [Double] = []
        for run in 1...runs {
            let floorStart = ContinuousClock.now
            let scanned = try await stores.database.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n, SUM(days_supply) AS d FROM dispenses WHERE program_id = \(bind: program.id) AND filled_on >= \(bind: start.dayNumber) AND filled_on <= \(bind: end.dayNumber)")
                    .first()?.decode(column: "n", as: Int.self) ?? 0
            }
            let floor = Measure.seconds(ContinuousClock.now - floorStart)
            let pdcStart = ContinuousClock.now
            let results = try await stores.dispenses.pdc(programID: program.id, start: start, end: end)
            let seconds = Measure.seconds(ContinuousClock.now - pdcStart)
            guard scanned > 0, results.count == patients * 2 else {
                throw BenchCheckFailed(en: "scanned \(scanned) fills and computed \(results.count) PDCs", zh: "扫描 \(scanned) 条，计算 \(results.count) 个 PDC")
            }
            let adherent = results.filter { ($0.pdc ?? 0) >= PDC.adherentFrom }.count
            floors.append(floor)
            pdcs.append(seconds)
            say(String(format: "run %d: scan floor %.2f s, PDC of %d patient-classes %.2f s (%.0f%% adherent)", run, floor, results.count, seconds,
                       Double(adherent) / Double(results.count) * 100))
        }
        let floor = Measure.median(floors), pdc = Measure.median(pdcs)
        say(String(format: "median: scan floor %.2f s, PDC %.2f s; PDC / floor %.1f×", floor, pdc, pdc / floor))
    }
}
