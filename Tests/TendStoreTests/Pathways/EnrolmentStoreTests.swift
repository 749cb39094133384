import Foundation
import SQLKit
import Testing
import TendCore
import TendStore
import TendTestSupport

/// A revisit pathway written in code (the shipped files are tested in TendFormatsTests).
let revisitPathway = Pathway(
    id: "revisit", version: 1, name: LocalizedText(en: "Revisit", zh: "复诊"), anchors: ["revisit"],
    steps: [
        PathwayStep(id: "book", anchor: "revisit", offset: CalendarOffset(days: -7), at: LocalTime(hour: 9, minute: 0), timing: .exact,
                    recurrence: nil, channels: [.sms], action: .message(LocalizedText(en: "Book", zh: "预约")), confirm: false,
                    questionnaire: nil, ifUnconfirmed: nil, onlyTags: [], channelsByAge: [], line: 1),
        PathwayStep(id: "confirm", anchor: "revisit", offset: CalendarOffset(days: -2), at: LocalTime(hour: 10, minute: 0), timing: .exact,
                    recurrence: nil, channels: [.sms], action: .message(LocalizedText(en: "Confirm", zh: "确认")), confirm: true,
                    questionnaire: nil, ifUnconfirmed: nil, onlyTags: [], channelsByAge: [], line: 2),
        PathwayStep(id: "call", anchor: "revisit", offset: CalendarOffset(days: -1), at: LocalTime(hour: 10, minute: 0), timing: .exact,
                    recurrence: nil, channels: [], action: .task(LocalizedText(en: "Call", zh: "致电"), priority: .high), confirm: false,
                    questionnaire: nil, ifUnconfirmed: "confirm", onlyTags: [], channelsByAge: [], line: 3),
        PathwayStep(id: "daily", anchor: "enrolment", offset: CalendarOffset(days: 0), at: LocalTime(hour: 7, minute: 30), timing: .exact,
                    recurrence: Recurrence(every: CalendarOffset(days: 1), limit: .count(5)), channels: [.inApp],
                    action: .message(LocalizedText(en: "Check in", zh: "打卡")), confirm: false,
                    questionnaire: nil, ifUnconfirmed: nil, onlyTags: [PatientTag(key: "camp", value: "yes")], channelsByAge: [], line: 4),
        PathwayStep(id: "senior", anchor: "revisit", offset: CalendarOffset(days: 1), at: LocalTime(hour: 12, minute: 0), timing: .exact,
                    recurrence: nil, channels: [.sms], action: .message(LocalizedText(en: "How was it?", zh: "复诊如何？")), confirm: false,
                    questionnaire: nil, ifUnconfirmed: nil, onlyTags: [],
                    channelsByAge: [PathwayStep.AgeRule(minimumAge: 65, channels: [.voice])], line: 5),
    ])

@Suite struct EnrolmentStoreTests {
    func setUp(_ stores: Stores, program: Program) async throws -> (StoredPathway, [Patient]) {
        let stored = try await stores.pathways.save(programID: program.id, pathway: revisitPathway, source: "(code)")
        var patients: [Patient] = []
        let specs: [(String, String, String?, [String])] = [
            ("A", "Asia/Shanghai", "1950-01-01", ["camp=yes"]),
            ("B", "America/New_York", "1990-01-01", []),
            ("C", "Asia/Shanghai", nil, ["camp=yes"]),
        ]
        for (external, zone, birth, tags) in specs {
            patients.append(try await stores.patients.create(
                programID: program.id,
                profile: PatientProfile(externalID: external, name: external, birthDate: birth, timeZone: zone, quietHours: DailyWindow(start: 1320, end: 420)),
                tags: try tags.map { try PatientTag.parse($0) }, actor: staffActor))
        }
        return (stored, patients)
    }

    @Test(arguments: TestBackend.available)
    func bulkEnrolmentPlansEveryPatientInTheirOwnZoneAndConditions(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, clock in
            let (stored, patients) = try await setUp(stores, program: program)
            // clock: 2026-12-01T00:00Z; revisit 2026-12-20
            let result = try await stores.enrolments.enrol(programID: program.id, pathway: stored, target: .tagged(TagFilter()), anchors: ["revisit": LocalDate("2026-12-20")!], actor: staffActor)
            #expect(result.enrolled == 3)
            // 4 revisit steps each; the camp step only for A and C (5 each).
            #expect(result.touchpoints == 4 * 3 + 5 * 2)
            let a = try await stores.enrolments.schedule(programID: program.id, patientID: patients[0].id)
            #expect(a.map { "\($0.stepID)#\($0.occurrence) \($0.localDue)" } == [
                "daily#1 2026-12-01 07:30", "daily#2 2026-12-02 07:30", "daily#3 2026-12-03 07:30", "daily#4 2026-12-04 07:30",
                "daily#5 2026-12-05 07:30", "book#1 2026-12-13 09:00", "confirm#1 2026-12-18 10:00", "call#1 2026-12-19 10:00",
                "senior#1 2026-12-21 12:00",
            ])
            // The first check-in (07:30 Shanghai = 23:30Z on Nov 30) was already past when planned.
            #expect(a.first?.status == .skipped && a.dropFirst().allSatisfy { $0.status == .scheduled })
            #expect(a.last?.channels == [.voice], "patient A is over 65")
            #expect(a.first { $0.stepID == "call" }?.isTask == true && a.first { $0.stepID == "call" }?.ifUnconfirmed == "confirm")
            let b = try await stores.enrolments.schedule(programID: program.id, patientID: patients[1].id)
            #expect(b.map(\.stepID) == ["book", "confirm", "call", "senior"])
            #expect(b.first?.dueAt == ISO8601DateFormatter().date(from: "2026-12-13T14:00:00Z"), "09:00 in New York")
            #expect(b.last?.channels == [.sms])
            // Enrolling again adds nobody.
            let again = try await stores.enrolments.enrol(programID: program.id, pathway: stored, target: .tagged(TagFilter()), anchors: ["revisit": LocalDate("2026-12-20")!], actor: staffActor)
            #expect(again.enrolled == 0 && again.touchpoints == 0)
            #expect(try await stores.audit.events(programID: program.id, subjectID: patients[0].id).contains { $0.action == "patient.enrol" })
        }
    }

    @Test(arguments: TestBackend.available)
    func movingTheRevisitReplansOnlyWhatHasNotBeenSent(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, clock in
            let (stored, patients) = try await setUp(stores, program: program)
            let patient = patients[1]
            let result = try await stores.enrolments.enrol(programID: program.id, pathway: stored, target: .patient(patient.id), anchors: ["revisit": LocalDate("2026-12-20")!], actor: staffActor)
            let enrolmentID = try #require(result.enrolmentIDs.first)
            // The booking reminder went out.
            clock.advance(by: 13 * 86400)
            let booking = Touchpoint.id(enrolmentID: enrolmentID, stepID: "book", occurrence: 1)
            try await stores.database.session { sql in
                try await sql.raw("UPDATE touchpoints SET status = 'sent', sent_at = 1 WHERE id = \(bind: booking)").run()
            }
            let moved = try await stores.enrolments.moveAnchor(programID: program.id, enrolmentID: enrolmentID, anchor: "revisit", to: LocalDate("2026-12-30")!, pathway: stored, actor: staffActor)
            #expect(moved?.anchors["revisit"] == LocalDate("2026-12-30"))
            let schedule = try await stores.enrolments.schedule(programID: program.id, patientID: patient.id)
            #expect(schedule.map { "\($0.stepID) \($0.localDue) \($0.status.rawValue)" } == [
                "book 2026-12-13 09:00 sent",
                "confirm 2026-12-28 10:00 scheduled",
                "call 2026-12-29 10:00 scheduled",
                "senior 2026-12-31 12:00 scheduled",
            ])
            #expect(schedule.first?.id == booking, "the sent touchpoint keeps its id and history")
        }
    }

    @Test(arguments: TestBackend.available)
    func withdrawalKeepsHistoryAndCancelsTheFuture(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, clock in
            let (stored, patients) = try await setUp(stores, program: program)
            let patient = patients[0]
            _ = try await stores.enrolments.enrol(programID: program.id, pathway: stored, target: .patient(patient.id), anchors: ["revisit": LocalDate("2026-12-20")!], actor: staffActor)
            clock.advance(by: 3 * 86400)
            try await stores.database.session { sql in
                try await sql.raw("UPDATE touchpoints SET status = 'sent' WHERE patient_id = \(bind: patient.id) AND step_id = 'daily' AND occurrence IN (2, 3)").run()
            }
            var profile = patient.profile
            profile.status = .withdrawn
            _ = try await stores.patients.update(programID: program.id, patientID: patient.id, profile: profile, actor: staffActor)
            let schedule = try await stores.enrolments.schedule(programID: program.id, patientID: patient.id)
            #expect(schedule.filter { $0.status == .sent }.count == 2, "history is kept")
            #expect(schedule.filter { $0.status == .scheduled || $0.status == .paused }.isEmpty, "nothing is left to send")
            #expect(schedule.filter { $0.status == .cancelled }.count == schedule.count - 3)
            #expect(try await stores.enrolments.enrolments(programID: program.id, patientID: patient.id).allSatisfy { $0.status == .cancelled })
            // A withdrawn patient is not enrolled again by a bulk enrolment.
            let again = try await stores.enrolments.enrol(programID: program.id, pathway: stored, target: .tagged(TagFilter()), anchors: ["revisit": LocalDate("2026-12-20")!], actor: staffActor)
            #expect(again.enrolled == 2)
        }
    }

    @Test(arguments: TestBackend.available)
    func pauseHoldsAndResumeReplansSkippingWhatFellDue(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, clock in
            let (stored, patients) = try await setUp(stores, program: program)
            let patient = patients[2]
            let result = try await stores.enrolments.enrol(programID: program.id, pathway: stored, target: .patient(patient.id), anchors: ["revisit": LocalDate("2026-12-20")!], actor: staffActor)
            let enrolmentID = try #require(result.enrolmentIDs.first)
            #expect(try await stores.enrolments.pause(programID: program.id, enrolmentID: enrolmentID, actor: staffActor))
            #expect(try await stores.enrolments.pause(programID: program.id, enrolmentID: enrolmentID, actor: staffActor) == false)
            #expect(try await stores.enrolments.schedule(programID: program.id, patientID: patient.id).allSatisfy { $0.status == .paused || $0.status == .skipped })
            clock.advance(by: 3 * 86400)  // 2026-12-04T00:00Z = 08:00 in Shanghai
            #expect(try await stores.enrolments.resume(programID: program.id, enrolmentID: enrolmentID, pathway: stored, actor: staffActor))
            let schedule = try await stores.enrolments.schedule(programID: program.id, patientID: patient.id)
            let daily = schedule.filter { $0.stepID == "daily" }
            #expect(daily.map(\.status) == [.skipped, .skipped, .skipped, .skipped, .scheduled])
            #expect(try await stores.enrolments.cancel(programID: program.id, enrolmentID: enrolmentID, actor: staffActor))
            #expect(try await stores.enrolments.schedule(programID: program.id, patientID: patient.id).allSatisfy { $0.status != .scheduled })
            await #expect(throws: TendError.self) {
                _ = try await stores.enrolments.moveAnchor(programID: program.id, enrolmentID: enrolmentID, anchor: "revisit", to: LocalDate("2027-01-05")!, pathway: stored, actor: staffActor)
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func missingOrUnknownAnchorsAreRefused(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            let (stored, patients) = try await setUp(stores, program: program)
            do {
                _ = try await stores.enrolments.enrol(programID: program.id, pathway: stored, target: .patient(patients[0].id), anchors: [:], actor: staffActor)
                Issue.record("enrolled without the revisit date")
            } catch let error as TendError {
                #expect(error.field == "anchors.revisit")
            }
            await #expect(throws: TendError.self) {
                _ = try await stores.enrolments.enrol(programID: program.id, pathway: stored, target: .patient(patients[0].id),
                                                      anchors: ["revisit": LocalDate("2026-12-20")!, "surgery": LocalDate("2026-12-01")!], actor: staffActor)
            }
            #expect(try await stores.enrolments.enrolments(programID: program.id, patientID: patients[0].id).isEmpty)
        }
    }

    @Test(arguments: TestBackend.available)
    func pathwayVersionsAreImmutable(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            let first = try await stores.pathways.save(programID: program.id, pathway: revisitPathway, source: "a")
            #expect(try await stores.pathways.save(programID: program.id, pathway: revisitPathway, source: "a").id == first.id)
            var changed = revisitPathway
            changed.steps.removeLast()
            await #expect(throws: TendError.self) { _ = try await stores.pathways.save(programID: program.id, pathway: changed, source: "b") }
            changed.version = 2
            _ = try await stores.pathways.save(programID: program.id, pathway: changed, source: "b")
            #expect(try await stores.pathways.find(programID: program.id, slug: "revisit")?.pathway.version == 2)
            #expect(try await stores.pathways.latest(programID: program.id).count == 1)
        }
    }
}
