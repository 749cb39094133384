import ArgumentParser
import Foundation
import SQLKit
import TendCore
import TendEngine
import TendStore

/// `tend-bench segments`: a segment with a tag clause and an observation clause over a program
/// of PATIENTS, evaluated over the whole program (the set-based query, and the evaluation that
/// also diffs the membership), against a floor measured in the same run: the two index range
/// scans the rule cannot do without. Then one patient's re-evaluation, as a reading's request
/// runs it, for a sample of patients.
struct SegmentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segments",
        abstract: "Evaluate a segment over a program and for one patient, against a scan floor / 分群全量计算与单人增量计算")

    @Option(help: "postgres://… or sqlite:PATH (a throw-away database: its tables are dropped) / 一次性数据库") var database: String
    @Option(help: "Patients / 患者数") var patients: Int = 1_000_000
    @Option(help: "Share of patients with fasting glucose readings / 有血糖读数的患者比例") var measured: Double = 0.3
    @Option(help: "Readings per measured patient, over the last 30 days / 每人读数") var readings: Int = 3
    @Option(help: "Runs of each measurement; the median is reported / 每项测量次数") var runs: Int = 3
    @Option(help: "Patients re-evaluated one at a time / 增量计算的患者数") var samples: Int = 1000

    func validate() throws {
        guard patients >= 100, (0.01...1).contains(measured), (1...50).contains(readings), runs >= 1, samples >= 1 else {
            throw ValidationError("--patients ≥ 100, --measured 0.01…1, --readings 1…50, --runs ≥ 1, --samples ≥ 1")
        }
    }

    static let now = Date(timeIntervalSince1970: 1_796_112_000)  // 2026-12-01T00:00:00Z
    static let rule = "cohort = 3 and last(glucose-fasting, 14d) >= 7.0"

    func run() async throws {
        try await runReporting {
            let scratch = try ScratchDatabase(database)
            let clock = TendClock.fixed(Self.now)
            try await scratch.withFresh(clock: clock) { database in
                try await measure(scratch.stores(database, clock: clock, ids: .uuidV7(clock: .system)), scratch: scratch)
            }
        }
    }

    private func measure(_ stores: Stores, scratch: ScratchDatabase) async throws {
        var generator = SplitMix(seed: 17)
        let (program, patientIDs) = try await load(stores, scratch: scratch, generator: &generator)
        let segment = try await measureOverProgram(stores, programID: program.id)
        try await measureOnePatient(stores, segment: segment, patientIDs: patientIDs, generator: &generator)
    }

    /// The program's patients and their fasting glucose readings over the last 30 days.
    private func load(_ stores: Stores, scratch: ScratchDatabase, generator: inout SplitMix) async throws -> (Program, [String]) {
        let loadStart = ContinuousClock.now
        let (program, patientIDs) = try await ObservationBench.program(stores, patients: patients)
        let formatter = ISO8601DateFormatter()
        var written = 0
        try await stores.database.bulkLoad {
            var batch: [Observation] = []
            for patient in patientIDs where Double(generator.next() % 10_000) / 10_000 < measured {
                for _ in 0..<readings {
                    let at = Self.now.addingTimeInterval(-Double(generator.next() % (30 * 86_400)) - 60)
                    let value = 4.0 + Double(generator.next() % 70) / 10
                    let input = ObservationInput(code: "glucose-fasting", value: .number(value), unit: "mmol/L", effectiveAt: formatter.string(from: at))
                    batch.append(try input.observation(patientID: patient, programID: program.id, zone: "Asia/Shanghai", source: .device, recordedBy: nil, field: "o"))
                }
                if batch.count >= 1000 {
                    written += try await stores.observations.record(programID: program.id, batch, actor: BenchPatients.actor).recorded.count
                    batch.removeAll(keepingCapacity: true)
                }
            }
            written += try await stores.observations.record(programID: program.id, batch, actor: BenchPatients.actor).recorded.count
        }
        say(String(format: "bench: %d patients, %d fasting glucose readings loaded in %.1f s, database %@", patients, written,
                   Measure.seconds(ContinuousClock.now - loadStart), scratch.description))
        return (program, patientIDs)
    }

    /// The save's first evaluation, then the rule over the program and the evaluation with its
    /// membership diff against the floor, `runs` times.
    private func measureOverProgram(_ stores: Stores, programID: String) async throws -> StoredSegment {
        let segments = SegmentActions(stores: stores)
        let document = "slug: bench\nname: {zh: 基准, en: Bench}\nrule: \"\(Self.rule)\"\non_enter:\n  - tag: control=poor\non_leave:\n  - untag: control=poor\n"
        let saveStart = ContinuousClock.now
        let saved = try await segments.save(programID: programID, source: document, by: BenchPatients.actor)
        say(String(format: "first evaluation on save: %d entered (tagged) in %.2f s", saved.change.entered, Measure.seconds(ContinuousClock.now - saveStart)))
        guard saved.change.entered > 0 else { throw BenchCheckFailed(en: "nobody entered the segment", zh: "分群无成员") }

        let since = Self.now.addingTimeInterval(-14 * 86_400).epochMilliseconds
        var floors: [Double] = [], queries: [Double] = [], evaluations: [Double] = []
        for run in 1...runs {
            let floorStart = ContinuousClock.now
            let scanned = try await stores.database.read { sql in
                let tagged = try await sql.raw("SELECT COUNT(*) AS n FROM patient_tags WHERE program_id = \(bind: programID) AND tag_key = 'cohort' AND tag_value = '3'")
                    .first()?.decode(column: "n", as: Int.self) ?? 0
                let read = try await sql.raw("""
                    SELECT COUNT(*) AS n FROM observations WHERE program_id = \(bind: programID) AND code = 'loinc:14770-2' AND effective_at >= \(bind: since)
                    """).first()?.decode(column: "n", as: Int.self) ?? 0
                return tagged + read
            }
            let floor = Measure.seconds(ContinuousClock.now - floorStart)
            let queryStart = ContinuousClock.now
            let preview = try await segments.preview(programID: programID, rule: Self.rule, limit: 0, by: BenchPatients.actor)
            let query = Measure.seconds(ContinuousClock.now - queryStart)
            let evaluationStart = ContinuousClock.now
            let change = try await segments.evaluate(programID: programID, segmentID: "bench", by: BenchPatients.actor)
            let evaluation = Measure.seconds(ContinuousClock.now - evaluationStart)
            guard scanned > 0, preview.count == saved.change.entered, change == SegmentChange() else {
                throw BenchCheckFailed(en: "the rule took in \(preview.count), the save \(saved.change.entered); re-evaluation moved \(change)",
                                       zh: "规则计数 \(preview.count)，保存时 \(saved.change.entered)；复算变动 \(change)")
            }
            floors.append(floor)
            queries.append(query)
            evaluations.append(evaluation)
            say(String(format: "run %d: scan floor %.2f s, rule over the program %.2f s (%d members), evaluation with membership diff %.2f s",
                       run, floor, query, preview.count, evaluation))
        }
        let floor = Measure.median(floors), query = Measure.median(queries), evaluation = Measure.median(evaluations)
        say(String(format: "median: scan floor %.2f s, rule %.2f s (%.1f× floor), evaluation %.2f s (%.1f× floor)", floor, query, query / floor, evaluation, evaluation / floor))
        guard let segment = try await stores.segments.find(programID: programID, id: "bench") else { throw BenchCheckFailed(en: "segment lost", zh: "分群丢失") }
        return segment
    }

    /// One patient's re-evaluation, as a reading's request runs it, for `samples` patients.
    private func measureOnePatient(_ stores: Stores, segment: StoredSegment, patientIDs: [String], generator: inout SplitMix) async throws {
        var latencies: [Double] = []
        var probeFloors: [Double] = []
        for _ in 0..<samples {
            let patientID = patientIDs[Int(generator.next() % UInt64(patientIDs.count))]
            let probeStart = ContinuousClock.now
            _ = try await stores.database.read { sql in
                try await sql.raw("SELECT 1 AS one FROM patients WHERE id = \(bind: patientID)").first()
            }
            probeFloors.append(Measure.seconds(ContinuousClock.now - probeStart) * 1000)
            let start = ContinuousClock.now
            _ = try await stores.database.transaction { sql in
                try await stores.segments.evaluate(segment, patientID: patientID, actor: BenchPatients.actor, in: sql)
            }
            latencies.append(Measure.seconds(ContinuousClock.now - start) * 1000)
        }
        latencies.sort()
        let p95 = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.95))]
        say(String(format: "one patient's re-evaluation (in its own write transaction), %d patients: median %.2f ms, p95 %.2f ms; a key lookup %.2f ms",
                   samples, Measure.median(latencies), p95, Measure.median(probeFloors)))
    }
}
