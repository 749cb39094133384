import ArgumentParser
import Foundation
import SQLKit
import TendCore
import TendEngine
import TendStore

/// `tend-bench enrol`: one enrolment call into a ten-step pathway against a raw INSERT … SELECT
/// of the same rows measured in the same run.
struct EnrolBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enrol",
        abstract: "Enrol generated patients into a 10-step pathway and compare with a raw INSERT … SELECT of the same rows / 将生成的患者纳入 10 步路径，并与同样行数的 INSERT … SELECT 比较")

    @Option(help: "postgres://… or sqlite:PATH (a throw-away database: its tables are dropped) / 一次性数据库（其中的表会被删除）") var database: String
    @Option(help: "How many patients / 患者数") var rows: Int = 100_000
    @Option(help: "Runs of each measurement; the median is reported / 每项测量的次数，报告中位数") var runs: Int = 1

    func validate() throws {
        guard rows >= 1, runs >= 1 else { throw ValidationError("--rows and --runs must be at least 1 / --rows 与 --runs 至少为 1") }
    }

    static let steps = 10

    /// Ten steps around a revisit, in the shape of S1 plus reminders: 10 touchpoints each.
    static let pathway = Pathway(
        id: "bench-ten", version: 1, name: LocalizedText(en: "Bench", zh: "基准"), anchors: ["revisit"],
        steps: (0..<steps).map { index in
            PathwayStep(
                id: "step-\(index)", anchor: "revisit", offset: CalendarOffset(days: index * 3 - 14), at: LocalTime(hour: 8 + index % 10, minute: 0),
                timing: index % 3 == 0 ? .preferred : .exact, recurrence: nil, channels: [.sms], action: .message(LocalizedText(en: "Hello", zh: "你好")),
                confirm: index == 4, questionnaire: nil, ifUnconfirmed: index == 5 ? "step-4" : nil, onlyTags: [], channelsByAge: [], line: index + 1)
        })

    func run() async throws {
        try await runReporting {
            let scratch = try ScratchDatabase(database)
            let clock = TendClock.system
            let ids = IDGenerator.uuidV7(clock: clock)
            let cohort = BenchPatients.cohortFile(rows: rows, channel: .sms)
            let expected = rows * Self.steps
            say("bench enrol: \(rows) patients × \(Self.steps) steps, database \(scratch.description)")
            var floorRates: [Double] = [], enrolRates: [Double] = []
            for run in 1...runs {
                // The floor and the enrolment each write into an empty touchpoints table.
                let floor = try await scratch.withFresh(clock: clock) { database in
                    let stores = scratch.stores(database, clock: clock, ids: ids)
                    let program = try await stores.programs.create(slug: "bench", name: "Bench")
                    try await BenchPatients.importAll(cohort, rows: rows, into: program.id, stores: stores)
                    return try await EnrolmentFloor.measure(database, programID: program.id)
                }

                let database = try await scratch.fresh(clock: clock)
                let stores = scratch.stores(database, clock: clock, ids: ids)
                let program = try await stores.programs.create(slug: "bench", name: "Bench")
                try await BenchPatients.importAll(cohort, rows: rows, into: program.id, stores: stores)
                _ = try await stores.pathways.save(programID: program.id, pathway: Self.pathway, source: "(bench)")
                let start = ContinuousClock.now
                let result = try await EnrolmentActions(stores: stores).enrol(
                    programID: program.id, pathway: Self.pathway.id, target: .tagged(TagFilter(all: [PatientTag(key: "disease", value: "T2DM")])),
                    anchors: ["revisit": LocalDate(instant: clock.now(), in: TimeZone.shanghai).adding(days: 30)],
                    by: BenchPatients.actor)
                let seconds = Measure.seconds(ContinuousClock.now - start)
                await database.close()
                guard result.touchpoints == expected, result.enrolled == rows else {
                    throw BenchCheckFailed(en: "enrolled \(result.enrolled) patients with \(result.touchpoints) touchpoints", zh: "仅纳入 \(result.enrolled) 名患者、\(result.touchpoints) 个触点")
                }
                floorRates.append(Double(expected) / floor)
                enrolRates.append(Double(result.touchpoints) / seconds)
                say(String(format: "run %d: raw INSERT…SELECT floor %.0f rows/s (%.1f s), enrolment %.0f touchpoints/s (%.1f s for %d touchpoints)",
                           run, Double(expected) / floor, floor, Double(result.touchpoints) / seconds, seconds, result.touchpoints))
            }
            let floorMedian = Measure.median(floorRates), enrolMedian = Measure.median(enrolRates)
            say(String(format: "median: floor %.0f rows/s, enrolment %.0f touchpoints/s (%.1f s per 10 M), floor/enrolment %.2f×",
                       floorMedian, enrolMedian, 10_000_000 / enrolMedian, floorMedian / enrolMedian))
        }
    }
}

/// The least an enrolment must write: as many touchpoints, into the real touchpoints table
/// (its schema and indexes on this backend), by one raw INSERT … SELECT from the program's
/// patients crossed with a ten-row step table of constant values — no planning, no grouping,
/// no enrolment or audit rows. Ids are shaped as the store makes them.
enum EnrolmentFloor {
    static let stepTable = "bench_floor_steps"

    static func measure(_ database: Database, programID: String) async throws -> Double {
        try await database.session { sql in
            try await sql.raw("CREATE TABLE \(ident: stepTable) (step_id TEXT NOT NULL, offset_ms BIGINT NOT NULL)").run()
            for index in 0..<EnrolBench.steps {
                try await sql.raw("INSERT INTO \(ident: stepTable) (step_id, offset_ms) VALUES (\(bind: "step-\(index)"), \(bind: Int64(index) * 86_400_000))").run()
            }
        }
        // A 12-character prefix and the patient's 8-digit number, as an enrolment call writes them.
        let number = database.dialect.zeroPadded("ROW_NUMBER() OVER (ORDER BY p.id)", width: 8)
        let start = ContinuousClock.now
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO touchpoints (id, program_id, enrolment_id, patient_id, step_id, occurrence, due_at, local_due, channels, kind, confirm, if_unconfirmed, status, attempts, updated_at)
                SELECT e.enrolment_id || '.' || s.step_id || '.1', e.program_id, e.enrolment_id, e.id, s.step_id, 1,
                       1800000000000 + s.offset_ms, '2027-01-01 08:00', 'sms', 'message', 0, NULL, 'scheduled', 0, 0
                FROM (SELECT p.id, p.program_id, 'e00000000000' || \(unsafeRaw: number) AS enrolment_id FROM patients p WHERE p.program_id = \(bind: programID)) e
                CROSS JOIN \(ident: stepTable) s
                """).run()
        }
        return Measure.seconds(ContinuousClock.now - start)
    }
}
