import Foundation
import Testing
import TendCore
@testable import TendStore
import TendTestSupport
import SQLKit

/// PDC of a program's fills streamed out of the database, and the set-based statement a segment
/// clause runs, against TendCore's PDC on the same generated fills: the same figure for every
/// patient and class, on both backends.
@Suite struct DispenseStoreTests {
    @Test(arguments: TestBackend.available)
    func theDatabasesPDCIsTendCoresForEveryPatient(backend: TestBackend) async throws {
        try await TestDatabase.withDatabase(backend) { database in
            let clock = TendClock.fixed(Date(timeIntervalSince1970: 1_796_000_000))
            let stores = try Stores(database: database, clock: clock, ids: .uuidV7(clock: clock), keys: KeyRing.parse(TestKeys.ring, source: "test"))
            let program = try await stores.programs.create(slug: "pdc", name: "PDC")
            var generator = SplitMix(seed: 18)
            var byPatient: [String: [Fill]] = [:]
            var dispenses: [Dispense] = []
            for index in 0..<120 {
                let patient = try await stores.patients.create(programID: program.id, profile: PatientProfile(name: "依从\(index)"), actor: .cli)
                var day = LocalDate(year: 2026, month: 1, day: 1).adding(days: Int(generator.next() % 200))
                for _ in 0..<Int(generator.next() % 14) {
                    let drug = ["metformin", "atorvastatin", "rosuvastatin", "losartan"][Int(generator.next() % 4)]
                    let drugClass: String? = drug.hasSuffix("statin") ? "statin" : nil
                    let supply = [7, 14, 28, 30, 30, 90][Int(generator.next() % 6)]
                    let fill = Fill(drug: drug, drugClass: drugClass, filledOn: day, daysSupply: supply)
                    byPatient[patient.id, default: []].append(fill)
                    dispenses.append(Dispense(patientID: patient.id, fill: fill, externalID: "rx-\(dispenses.count)"))
                    // Early, on time, late or the same day again.
                    day = day.adding(days: max(0, supply + Int(generator.next() % 40) - 20))
                }
            }
            #expect(try await stores.dispenses.record(programID: program.id, dispenses, source: "his", actor: .cli) == dispenses.count)
            #expect(try await stores.dispenses.record(programID: program.id, Array(dispenses.prefix(10)), source: "his", actor: .cli) == 0, "resent adds nothing")
            let start = LocalDate(year: 2026, month: 1, day: 1), end = LocalDate(year: 2026, month: 12, day: 31)
            let computed = try await stores.dispenses.pdc(programID: program.id, start: start, end: end)
            var expected: [String: PDCResult] = [:]
            for (patient, fills) in byPatient {
                for (drugClass, ofClass) in Dictionary(grouping: fills, by: { $0.drugClass ?? $0.drug }) {
                    let result = PDC.compute(ofClass, start: start, end: end)
                    if result.treatmentDays > 0 { expected["\(patient)|\(drugClass)"] = result }
                }
            }
            #expect(computed.count == expected.count)
            for row in computed {
                let want = try #require(expected["\(row.patientID)|\(row.drugClass)"])
                #expect(row.coveredDays == want.coveredDays && row.treatmentDays == want.treatmentDays && row.pdc == want.pdc,
                        "\(row) vs \(want) for \(byPatient[row.patientID] ?? [])")
            }
            let statement = try await database.read { sql in
                try await sql.raw(DispenseStore.pdcQuery(programID: program.id, patientID: nil, start: start, end: end, dialect: database.dialect)).all()
            }
            #expect(statement.count == expected.count)
            for row in statement {
                let key = "\(try row.decode(column: "patient_id", as: String.self))|\(try row.decode(column: "cls", as: String.self))"
                let want = try #require(expected[key])
                #expect(try row.decode(column: "covered_days", as: Int.self) == want.coveredDays, "\(key)")
                #expect(try row.decode(column: "treatment_days", as: Int.self) == want.treatmentDays, "\(key)")
            }
            // A report's filter: one class's fills only, each patient's in one piece.
            let statins = try await stores.dispenses.foldPatients(programID: program.id, from: start, through: end, filter: .init(drugOrClass: "statin"),
                                                                  into: [String: [Fill]]()) { all, patient, fills in all[patient] = fills }
            let wantStatins = byPatient.mapValues { $0.filter { $0.drugClass == "statin" && $0.filledOn >= start && $0.filledOn <= end } }.filter { !$0.value.isEmpty }
            #expect(Set(statins.keys) == Set(wantStatins.keys))
            for (patient, fills) in statins {
                #expect(fills.sorted { ($0.filledOn, $0.drug, $0.daysSupply) < ($1.filledOn, $1.drug, $1.daysSupply) }
                        == (wantStatins[patient] ?? []).sorted { ($0.filledOn, $0.drug, $0.daysSupply) < ($1.filledOn, $1.drug, $1.daysSupply) })
            }
        }
    }

    @Test func theAggregatedListsRoundTripEveryFillIncludingDaysBefore1970AndClasslessDrugs() {
        let fills = [Fill(drug: "阿托伐他汀, 20 mg", drugClass: "statin", filledOn: LocalDate(year: 1969, month: 12, day: 31), daysSupply: 1000),
                     Fill(drug: "metformin", drugClass: nil, filledOn: LocalDate(year: 2026, month: 12, day: 1), daysSupply: 1)]
        let drugs = fills.map(\.drug).joined(separator: "\u{1E}"), classes = fills.map { $0.drugClass ?? "" }.joined(separator: "\u{1E}")
        let days = fills.map { String($0.filledOn.dayNumber * DispenseStore.supplyBase + $0.daysSupply) }.joined(separator: ",")
        #expect(DispenseStore.fills(drugs: drugs, classes: classes, days: days) == fills)
        #expect(DispenseStore.fills(drugs: drugs, classes: "statin", days: days).isEmpty, "lists that do not line up give nothing")
    }
}
