import Foundation
import Testing
import TendCore
import TendEngine
import TendFormats
import TendServer
import TendStore
import TendServerTestSupport
import TendTestSupport

/// S5 refills through the refill pathway, on both backends: a 30-day fill of the TCM regimen
/// gets its reminder five days before run-out; a new dispense cancels what is still unsent and
/// plans the next cycle; a refill that does not come turns into a pharmacist's task.
@Suite struct RefillTests {
    @Test(arguments: TestBackend.available)
    func aFillIsRemindedBeforeItRunsOutARefillCancelsTheNextReminderAndAMissedOneBecomesAPharmacistTask(backend: TestBackend) async throws {
        try await TestApp.withApp(backend, seedDemo: false) { app in
            let scenario = try await DispatchScenario(app, newProgram: "s5-refills", pathways: ["s5-tcm-refill"])
            let patient = try await scenario.patient("保髋患者")
            let other = try await scenario.patient("西药患者")
            let adherence = app.dependencies.actions.adherence
            func dispense(_ on: String, id: String, drug: String = "健骨生丸", drugClass: String? = "tcm-hip", for who: Patient? = nil) async throws -> Int {
                try await adherence.record(programID: scenario.program.id, [
                    DispenseSubmission(patientID: (who ?? patient).id, drug: drug, drugClass: drugClass, filledOn: on, daysSupply: 30, externalID: id),
                ], source: "his", by: scenario.actor).recorded
            }
            func touchpoints(_ step: String, _ who: Patient? = nil) async throws -> [Touchpoint] {
                try await app.stores.enrolments.schedule(programID: scenario.program.id, patientID: (who ?? patient).id).filter { $0.stepID == step }
            }

            try await scenario.dispatch(at: "2026-12-01 10:00")
            #expect(try await dispense("2026-12-01", id: "rx-1") == 1)
            #expect(try await dispense("2026-12-01", id: "rx-other", drug: "阿托伐他汀", drugClass: "statin", for: other) == 1)
            // Covered 12-01…12-30: runs out on 12-31, reminded on 12-26 at 09:00; the statin is followed by nothing.
            let first = try #require(try await touchpoints("refill-reminder").first)
            #expect(first.localDue.hasPrefix("2026-12-26") && first.localDue.contains("09:00") && first.status == .scheduled, "\(first)")
            #expect(try await touchpoints("missed-refill").first?.localDue.hasPrefix("2027-01-03") == true)
            #expect(try await touchpoints("refill-reminder", other).isEmpty)

            try await scenario.dispatch(at: "2026-12-25 09:05")
            #expect(try await touchpoints("refill-reminder").first?.status == .scheduled)
            try await scenario.dispatch(at: "2026-12-26 09:05")
            #expect(try await touchpoints("refill-reminder").first?.status == .delivered)
            let reminder = try #require(try await scenario.inbox(patient).first { $0.body.contains("续方") })
            #expect(reminder.body.contains("2026-12-31"), "\(reminder.body)")

            // Refilled early, on 12-28: the supply runs on to 01-29, so it runs out 01-30.
            #expect(try await dispense("2026-12-28", id: "rx-2") == 1)
            #expect(try await dispense("2026-12-28", id: "rx-2") == 0)
            var reminders = try await touchpoints("refill-reminder")
            #expect(reminders.map(\.status) == [.delivered, .scheduled], "\(reminders)")
            #expect(reminders.last?.localDue.hasPrefix("2027-01-25") == true)
            #expect(try await touchpoints("missed-refill").map(\.status) == [.cancelled, .scheduled])
            try await scenario.dispatch(at: "2027-01-03 10:05")
            #expect(try await scenario.tasks(patient).isEmpty)

            // Refilled again before the next reminder went out: that reminder is cancelled.
            #expect(try await dispense("2027-01-20", id: "rx-3") == 1)
            reminders = try await touchpoints("refill-reminder")
            #expect(reminders.map(\.status) == [.delivered, .cancelled, .scheduled], "\(reminders)")
            #expect(reminders.last?.localDue.hasPrefix("2027-02-24") == true, "\(reminders)")
            let enrolments = try await app.stores.enrolments.enrolments(programID: scenario.program.id, patientID: patient.id)
            #expect(enrolments.map(\.status) == [.cancelled, .cancelled, .active])
            #expect(enrolments.last?.anchors[Pathway.runOutAnchor] == LocalDate("2027-03-01"))

            // No refill after that: three days past the run-out the pharmacist gets the call.
            try await scenario.dispatch(at: "2027-02-24 09:05")
            try await scenario.dispatch(at: "2027-03-04 10:05")
            let tasks = try await scenario.tasks(patient)
            #expect(tasks.count == 1 && tasks.first?.priority == .high, "\(tasks)")
            #expect(tasks.first?.title.zh.contains("药师") == true && tasks.first?.title.zh.contains("2027-03-01") == true)
            #expect(try await scenario.tasks(other).isEmpty)
        }
    }

    @Test func aRefillPathwayNamesWhatItFollowsAndDeclaresTheRunOut() throws {
        let source = try DemoPathways.source("s5-tcm-refill")
        #expect(try PathwayFile.parse(source).refill == "tcm-hip")
        let withoutAnchor = source.replacingOccurrences(of: "anchors: [run_out]", with: "anchors: []")
        #expect(throws: PathwayProblems.self) { try PathwayFile.parse(withoutAnchor) }
    }
}
