import Foundation
import Testing
import TendCore
import TendEngine
import TendStore
import TendTestSupport
import SQLKit

/// Observations as integrations, devices and imports send them, on both backends.
@Suite struct ObservationActionsTests {
    struct Fixture {
        let stores: Stores
        let program: Program
        let patient: Patient
        let other: Patient
        var actions: ObservationActions { ObservationActions(stores: stores) }
    }

    static func with(_ backend: TestBackend, _ body: (Fixture) async throws -> Void) async throws {
        try await TestDatabase.withDatabase(backend) { database in
            let clock = TendClock.fixed(Date(timeIntervalSince1970: 1_796_000_000))
            let stores = try Stores(database: database, clock: clock, ids: .uuidV7(clock: clock), keys: KeyRing.parse(TestKeys.ring, source: "test"))
            let program = try await stores.programs.create(slug: "camp", name: "Camp")
            let elsewhere = try await stores.programs.create(slug: "elsewhere", name: "Elsewhere")
            let patient = try await stores.patients.create(programID: program.id, profile: PatientProfile(externalID: "P-1", name: "王芳"), actor: .cli)
            let other = try await stores.patients.create(programID: elsewhere.id, profile: PatientProfile(name: "李伟"), actor: .cli)
            try await body(Fixture(stores: stores, program: program, patient: patient, other: other))
        }
    }

    static func reading(_ code: String, _ value: ObservationInput.Value, unit: String? = nil, at time: String = "2026-12-03T07:42:00+08:00",
                        id: String? = nil) -> ObservationInput {
        ObservationInput(code: code, value: value, unit: unit, effectiveAt: time, externalID: id)
    }

    static func events(_ stores: Stores, _ action: String) async throws -> Int {
        try await stores.database.session { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM audit_events WHERE action = \(bind: action)").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    @Test(arguments: TestBackend.available)
    func readingsAreStoredInTheirCodesUnitAndAResentOneAddsNothing(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            let batch = [
                ObservationSubmission(patientID: fixture.patient.id, input: Self.reading("glucose-fasting", .number(48), unit: "mg/dL", id: "meter-1")),
                ObservationSubmission(patientID: fixture.patient.id, input: Self.reading("body-temperature", .text("101.5 °F"), at: "2026-12-03T20:00:00+08:00", id: "thermo-1")),
                ObservationSubmission(patientID: fixture.patient.id, input: Self.reading("program:mood", .text("good"))),
            ]
            let first = try await fixture.actions.record(programID: fixture.program.id, batch, source: .device, by: .cli)
            #expect(first.recorded.count == 3 && first.duplicates == 0)
            #expect(try await Self.events(fixture.stores, "observation.record") == 1)

            let again = try await fixture.actions.record(programID: fixture.program.id, Array(batch.prefix(2)), source: .device, by: .cli)
            #expect(again.recorded.isEmpty && again.duplicates == 2)
            // The same external id from another source is another reading.
            let manual = try await fixture.actions.record(programID: fixture.program.id, Array(batch.prefix(1)), source: .staff, by: .cli)
            #expect(manual.recorded.count == 1)

            let stored = try #require(try await fixture.actions.list(programID: fixture.program.id, patientID: fixture.patient.id, by: .cli))
            #expect(stored.count == 4)
            #expect(stored.first?.observation.reading.code == .loinc("8310-5"), "newest first")
            guard case .quantity(let celsius, let unit) = stored.first?.observation.reading.value else { Issue.record("not a quantity"); return }
            #expect(abs(celsius - 38.6) < 0.05 && unit == "Cel")
            let glucose = try #require(try await fixture.actions.list(programID: fixture.program.id, patientID: fixture.patient.id, code: "glucose-fasting", by: .cli))
            #expect(glucose.count == 2)
            guard case .quantity(let mmol, _) = glucose.first?.observation.reading.value else { Issue.record("not a quantity"); return }
            #expect(abs(mmol - 2.66) < 0.05)
            #expect(stored.contains { $0.observation.reading.value == .coded("good") })
            #expect(try await Self.events(fixture.stores, "observations.read") == 2)
        }
    }

    @Test(arguments: TestBackend.available)
    func impossibleValuesAndOtherProgramsPatientsAreRefusedNamingTheField(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            func refusal(_ submissions: [ObservationSubmission]) async -> TendError? {
                do {
                    _ = try await fixture.actions.record(programID: fixture.program.id, submissions, source: .device, by: .cli)
                    return nil
                } catch let error as TendError {
                    return error
                } catch {
                    return nil
                }
            }
            let fine = ObservationSubmission(patientID: fixture.patient.id, input: Self.reading("glucose-fasting", .number(5.6), unit: "mmol/L"))
            let typo = ObservationSubmission(patientID: fixture.patient.id, input: Self.reading("glucose-fasting", .number(300), unit: "mmol/L"))
            #expect(await refusal([fine, typo])?.field == "observations[1].value")
            let foreign = ObservationSubmission(patientID: fixture.other.id, input: Self.reading("glucose-fasting", .number(5.6)))
            #expect(await refusal([foreign])?.field == "observations[0].patient_id")
            let badTime = ObservationSubmission(patientID: fixture.patient.id, input: Self.reading("glucose-fasting", .number(5.6), at: "yesterday"))
            #expect(await refusal([badTime])?.field == "observations[0].effective_at")
            // Nothing of a refused batch was stored.
            let stored = try await fixture.actions.list(programID: fixture.program.id, patientID: fixture.patient.id, by: .cli)
            #expect(stored?.isEmpty == true)
            // Another program's patient is not found through this program.
            let foreignList = try await fixture.actions.list(programID: fixture.program.id, patientID: fixture.other.id, by: .cli)
            #expect(foreignList == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func anImportRefusesBadRowsOnTheirOwnAndIsIdempotent(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            let csv = """
                patient_external_id,code,value,unit,effective_at,external_id
                P-1,glucose-fasting,5.6,mmol/L,2026-12-01T07:30:00+08:00,r1
                P-1,glucose-post-meal,140,mg/dL,2026-12-01T09:30:00+08:00,r2
                P-1,glucose-fasting,300,mmol/L,2026-12-02T07:30:00+08:00,r3
                P-404,glucose-fasting,5.1,mmol/L,2026-12-02T07:30:00+08:00,r4
                P-1,,5.1,mmol/L,2026-12-02T07:30:00+08:00,r5
                """
            let rows = try ObservationFile.rows(bytes: Array(csv.utf8), format: .csv)
            var rejected: [PatientImport.Reject] = []
            let summary = try await fixture.actions.importRows(rows, programID: fixture.program.id, source: .import, by: .cli) { rejected.append($0) }
            #expect(summary == .init(recorded: 2, duplicates: 0, rejected: 3))
            #expect(rejected.map(\.line).sorted() == [4, 5, 6])
            #expect(rejected.first { $0.line == 4 }?.field == "value")
            #expect(rejected.first { $0.line == 5 }?.field == "patient_external_id")
            #expect(rejected.first { $0.line == 6 }?.field == "code")
            let again = try await fixture.actions.importRows(rows, programID: fixture.program.id, source: .import, by: .cli) { _ in }
            #expect(again == .init(recorded: 0, duplicates: 2, rejected: 3))

            let ndjson = #"{"patient_id": "\#(fixture.patient.id)", "code": "spo2", "value": 97, "effective_at": "2026-12-02T08:00:00Z", "external_id": "o1"}"#
                + "\n" + #"{"patient_id": "\#(fixture.patient.id)", "code": "program:took-dose", "value": true, "effective_at": "2026-12-02T08:00:00Z"}"# + "\nnot json\n"
            var ndjsonRejects = 0
            let lines = try await fixture.actions.importRows(try ObservationFile.rows(bytes: Array(ndjson.utf8), format: .ndjson),
                                                             programID: fixture.program.id, source: .device, by: .cli) { _ in ndjsonRejects += 1 }
            #expect(lines.recorded == 2 && ndjsonRejects == 1)
        }
    }
}

/// A program's own alert rules: sustained (n of the last m) and change over a window, on both backends.
@Suite struct ProgramAlertRuleTests {
    static let document = """
        rules:
          - id: post-meal-high-sustained
            code: glucose-post-meal
            sustained: {at_least: 10, count: 3, of: 5}
            level: high
            title: {zh: 餐后血糖连续偏高, en: Post-meal glucose high in 3 of the last 5}
          - id: weight-gain
            code: body-weight
            change: {rise: 2, within: 3d}
            level: high
            title: {zh: 3天内体重增加2公斤以上, en: Weight up 2 kg or more in 3 days}
        """

    @Test(arguments: TestBackend.available)
    func sustainedAndChangeRulesReadThePatientsEarlierReadings(backend: TestBackend) async throws {
        try await ObservationActionsTests.with(backend) { fixture in
            let rules = try await fixture.actions.saveAlertRules(programID: fixture.program.id, source: Self.document, by: .cli)
            #expect(rules.map(\.id) == ["post-meal-high-sustained", "weight-gain"])
            func record(_ code: String, _ value: Double, _ unit: String, day: Int) async throws -> [String] {
                let input = ObservationActionsTests.reading(code, .number(value), unit: unit, at: String(format: "2026-12-%02dT09:30:00+08:00", day))
                return try await fixture.actions.recordWithAlerts(programID: fixture.program.id, [ObservationSubmission(patientID: fixture.patient.id, input: input)],
                                                                  source: .device, by: .cli).alerts.map(\.ruleID)
            }
            // High post-meal readings on days 1, 3 and 5 of five: the third opens the alert, not before.
            for (day, value) in [(1, 11.0), (2, 8.0), (3, 12.0), (4, 7.5)] {
                #expect(try await record("glucose-post-meal", value, "mmol/L", day: day).isEmpty, "day \(day)")
            }
            #expect(try await record("glucose-post-meal", 10.5, "mmol/L", day: 5) == ["post-meal-high-sustained"])
            // Weight: +1.5 kg in 3 days is nothing; +2.2 kg over the lowest of the last 3 days alerts.
            #expect(try await record("body-weight", 70, "kg", day: 10).isEmpty)
            #expect(try await record("body-weight", 71.5, "kg", day: 12).isEmpty)
            #expect(try await record("body-weight", 72.2, "kg", day: 13) == ["weight-gain"])
            // 4 days after the low reading, the window no longer holds it.
            #expect(try await record("body-weight", 70.5, "kg", day: 20).isEmpty)
            #expect(try await record("body-weight", 72.4, "kg", day: 25).isEmpty)
        }
    }

    @Test func aBrokenDocumentIsRefusedWithItsLine() async throws {
        try await ObservationActionsTests.with(.sqlite) { fixture in
            let broken = Self.document.replacingOccurrences(of: "count: 3, of: 5", with: "count: 6, of: 5")
            do {
                _ = try await fixture.actions.saveAlertRules(programID: fixture.program.id, source: broken, by: .cli)
                Issue.record("accepted count > of")
            } catch let error as TendError {
                #expect(error.code == "invalid_alert_rules" && error.message.en.contains("line 4"), "\(error.message.en)")
            }
        }
    }
}
