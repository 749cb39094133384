import Foundation
import Testing
import TendCore
import TendEngine
import TendFormats
import TendStore
import TendTestSupport
import SQLKit

/// Segments on both backends: membership that follows the readings within the request, the
/// sweep for sliding windows, the actions on entering and leaving, and the same members on
/// SQLite and PostgreSQL as an independent evaluation of a generated population.
@Suite struct SegmentActionsTests {
    struct Fixture {
        let stores: Stores
        let program: Program
        let clock: TestClock
        var segments: SegmentActions { SegmentActions(stores: stores) }
        var observations: ObservationActions { ObservationActions(stores: stores) }
        var patients: PatientActions { PatientActions(stores: stores) }
    }

    static func with(_ backend: TestBackend, _ body: (Fixture) async throws -> Void) async throws {
        try await TestDatabase.withDatabase(backend) { database in
            let clock = TestClock()
            let stores = try Stores(database: database, clock: clock.clock, ids: .uuidV7(clock: clock.clock), keys: KeyRing.parse(TestKeys.ring, source: "test"))
            let program = try await stores.programs.create(slug: "t2dm", name: "T2DM")
            try await body(Fixture(stores: stores, program: program, clock: clock))
        }
    }

    static let intensive = """
        pathway: intensive
        version: 1
        name: {zh: 强化随访, en: Intensive follow-up}
        anchors: [start]
        steps:
          - id: call
            anchor: start
            offset: 3d
            at: "09:00"
            channels: [sms]
            message: {zh: "{{patient.name}}您好，今天请测空腹血糖。", en: "Hello {{patient.name}}, please check your fasting glucose today."}
        """

    static let poorlyControlled = """
        slug: poorly-controlled
        name: {zh: 血糖控制不佳, en: Poorly controlled glucose}
        rule: |
          disease = T2DM and last(glucose-fasting, 14d) >= 7.0
        on_enter:
          - enrol: intensive
          - tag: control=poor
        on_leave:
          - end: intensive
          - untag: control=poor
        """

    static func events(_ stores: Stores, _ action: String) async throws -> Int {
        try await stores.database.session { db in
            try await db.raw("SELECT COUNT(*) AS n FROM audit_events WHERE action = \(bind: action)").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    func reading(_ fixture: Fixture, _ patientID: String, _ value: Double, hoursAgo: Double = 1) async throws {
        let at = Self.iso(fixture.clock.now.addingTimeInterval(-hoursAgo * 3600))
        _ = try await fixture.observations.record(programID: fixture.program.id, [
            ObservationSubmission(patientID: patientID, input: ObservationInput(code: "glucose-fasting", value: .number(value), unit: "mmol/L", effectiveAt: at)),
        ], source: .device, by: .cli)
    }

    @Test(arguments: TestBackend.available)
    func aHighReadingEntersWithinItsRequestAndTheSweepTakesThePatientOutWhenTheWindowPasses(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            let pathway = try PathwayFile.parse(Self.intensive)
            _ = try await fixture.stores.pathways.save(programID: fixture.program.id, pathway: pathway, source: Self.intensive)
            let patient = try await fixture.patients.create(programID: fixture.program.id, profile: PatientProfile(name: "王芳"),
                                                            tags: [PatientTag(key: "disease", value: "T2DM")], by: .cli)
            let other = try await fixture.patients.create(programID: fixture.program.id, profile: PatientProfile(name: "李伟"),
                                                          tags: [PatientTag(key: "disease", value: "GDM")], by: .cli)
            let saved = try await fixture.segments.save(programID: fixture.program.id, source: Self.poorlyControlled, by: .cli)
            #expect(saved.change == SegmentChange(), "nobody has readings yet")

            try await reading(fixture, patient.id, 6.1, hoursAgo: 30)
            try await reading(fixture, other.id, 9.0)
            #expect(try await fixture.segments.segment(programID: fixture.program.id, id: "poorly-controlled").members == 0,
                    "6.1 is under the line, and the other patient is not T2DM")

            // The reading that crosses the line moves the patient in, its actions with it, in the same request.
            try await reading(fixture, patient.id, 8.2)
            #expect(try await fixture.segments.segment(programID: fixture.program.id, id: "poorly-controlled").members == 1)
            let enrolments = try await fixture.stores.enrolments.enrolments(programID: fixture.program.id, patientID: patient.id)
            #expect(enrolments.count == 1 && enrolments.first?.status == .active)
            let tagged = try #require(try await fixture.stores.patients.fetch(programID: fixture.program.id, ids: [patient.id]).first)
            #expect(tagged.tags.contains { $0.tag == PatientTag(key: "control", value: "poor") && $0.source == "segment" })
            #expect(try await Self.events(fixture.stores, "segment.enter") == 1)

            // Why: each clause, whether it holds and the value behind it.
            let why = try #require(try await fixture.segments.explain(programID: fixture.program.id, patientID: patient.id, by: .cli).first)
            #expect(why.member?.leftAt == nil && why.member != nil)
            #expect(why.clauses.map(\.text) == ["disease = T2DM", "last(glucose-fasting, 14d) >= 7.0"])
            #expect(why.clauses.allSatisfy { $0.holds })
            #expect(why.clauses[1].evidence?.value == "8.2 mmol/L")

            // Another high reading changes nothing: entering is idempotent.
            try await reading(fixture, patient.id, 9.4)
            #expect(try await fixture.stores.enrolments.enrolments(programID: fixture.program.id, patientID: patient.id).count == 1)

            // Fifteen days without a reading: the window no longer holds, and only the sweep can notice.
            fixture.clock.advance(by: 15 * 86_400)
            let swept = try await fixture.segments.sweep()
            #expect(swept == SegmentChange(entered: 0, left: 1))
            #expect(try await fixture.segments.segment(programID: fixture.program.id, id: "poorly-controlled").members == 0)
            let ended = try await fixture.stores.enrolments.enrolments(programID: fixture.program.id, patientID: patient.id)
            #expect(ended.first?.status == .cancelled, "on_leave ends the enrolment")
            let schedule = try await fixture.stores.enrolments.schedule(programID: fixture.program.id, patientID: patient.id)
            #expect(schedule.allSatisfy { $0.status != .scheduled })
            let untagged = try #require(try await fixture.stores.patients.fetch(programID: fixture.program.id, ids: [patient.id]).first)
            #expect(!untagged.tags.contains { $0.tag.key == "control" })
            let history = try await fixture.stores.segments.memberships(programID: fixture.program.id, patientID: patient.id)
            #expect(history.count == 1 && history.first?.leftAt != nil, "the membership is kept with when it ended")
            #expect(try await fixture.segments.sweep() == SegmentChange(), "a second sweep finds nothing to do")

            // A good reading now keeps them out; a high one brings them back, into a new enrolment.
            try await reading(fixture, patient.id, 5.5)
            #expect(try await fixture.segments.segment(programID: fixture.program.id, id: "poorly-controlled").members == 0)
            try await reading(fixture, patient.id, 7.5)
            let again = try await fixture.stores.enrolments.enrolments(programID: fixture.program.id, patientID: patient.id)
            #expect(again.filter { $0.status == .active }.count == 1 && again.count == 2)
            // And a reading back under the line takes them out within the request.
            try await reading(fixture, patient.id, 6.0)
            #expect(try await fixture.segments.segment(programID: fixture.program.id, id: "poorly-controlled").members == 0)
            #expect(try await fixture.stores.segments.memberships(programID: fixture.program.id, patientID: patient.id).count == 2)

            // Losing the tag that qualified them also counts, within the tag change.
            try await reading(fixture, patient.id, 8.8)
            _ = try await fixture.patients.retag(programID: fixture.program.id, patientID: patient.id, add: [], remove: [PatientTag(key: "disease", value: "T2DM")], by: .cli)
            #expect(try await fixture.segments.segment(programID: fixture.program.id, id: "poorly-controlled").members == 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func aPDCUnderTheLineEntersWithTheDispenseThatShowsItAndARefillTakesThePatientOut(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            let patient = try await fixture.patients.create(programID: fixture.program.id, profile: PatientProfile(name: "赵敏"), tags: [], by: .cli)
            let saved = try await fixture.segments.save(programID: fixture.program.id, source: """
                slug: low-adherence
                name: {zh: 他汀依从性差, en: Low statin adherence}
                rule: pdc(statin, 180d) < 0.8
                on_enter:
                  - tag: adherence=low
                on_leave:
                  - untag: adherence=low
                """, by: .cli)
            #expect(saved.change == SegmentChange() && saved.segment.definition.rule.slides)
            let adherence = AdherenceActions(stores: fixture.stores)
            // Today is 2026-12-01: 60 days covered of 123 since the first fill.
            _ = try await adherence.record(programID: fixture.program.id, [
                DispenseSubmission(patientID: patient.id, drug: "atorvastatin", drugClass: "statin", filledOn: "2026-08-01", daysSupply: 30),
                DispenseSubmission(patientID: patient.id, drug: "atorvastatin", drugClass: "statin", filledOn: "2026-09-15", daysSupply: 30),
            ], source: "pharmacy", by: .cli)
            #expect(try await fixture.segments.segment(programID: fixture.program.id, id: "low-adherence").members == 1)
            let why = try #require(try await fixture.segments.explain(programID: fixture.program.id, patientID: patient.id, by: .cli).first)
            #expect(why.clauses.first?.holds == true && why.clauses.first?.evidence?.value == "0.49 (60/123 days)", "\(String(describing: why.clauses.first?.evidence))")
            // A 60-day refill brings the period to 108 of 123 days (0.88).
            _ = try await adherence.record(programID: fixture.program.id, [
                DispenseSubmission(patientID: patient.id, drug: "atorvastatin", drugClass: "statin", filledOn: "2026-10-01", daysSupply: 60),
            ], source: "pharmacy", by: .cli)
            #expect(try await fixture.segments.segment(programID: fixture.program.id, id: "low-adherence").members == 0)
            let tags = try #require(try await fixture.stores.patients.fetch(programID: fixture.program.id, ids: [patient.id]).first).tags
            #expect(!tags.contains { $0.tag.key == "adherence" })
        }
    }

    @Test(arguments: TestBackend.available)
    func aTagChangeMovesThePatientIntoAndOutOfTheSegmentsGroup(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            let patient = try await fixture.patients.create(programID: fixture.program.id, profile: PatientProfile(name: "钱进"), tags: [], by: .cli)
            let group = try await fixture.stores.messages.createGroup(programID: fixture.program.id, name: "强化群", channel: .wecom, binding: "wr-seg",
                                                                      patientIDs: [], staffIDs: [])
            _ = try await fixture.segments.save(programID: fixture.program.id, source: """
                slug: insulin-class
                name: {zh: 胰岛素课堂, en: Insulin class}
                rule: tag(insulin = "true") and not status = paused
                on_enter:
                  - group: \(group.id)
                on_leave:
                  - leave_group: \(group.id)
                """, by: .cli)
            func members() async throws -> Int {
                try await fixture.stores.database.session { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM chat_group_members WHERE group_id = \(bind: group.id) AND member_kind = 'patient'")
                        .first()?.decode(column: "n", as: Int.self) ?? 0
                }
            }
            let insulin = PatientTag(key: "insulin", value: "true")
            _ = try await fixture.patients.retag(programID: fixture.program.id, patientID: patient.id, add: [insulin], remove: [], by: .cli)
            #expect(try await members() == 1)
            #expect(try await Self.events(fixture.stores, "group.join") == 1)
            // Pausing the patient is a profile change: they leave, and the group with them.
            _ = try await fixture.patients.update(programID: fixture.program.id, patientID: patient.id, by: .cli) { profile in
                var paused = profile
                paused.status = .paused
                return paused
            }
            #expect(try await members() == 0)
            #expect(try await Self.events(fixture.stores, "group.leave") == 1)
            #expect(try await fixture.segments.segment(programID: fixture.program.id, id: "insulin-class").members == 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func enrollingPausingAndCancellingMoveThePatientWithinTheirRequest(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            _ = try await fixture.stores.pathways.save(programID: fixture.program.id, pathway: try PathwayFile.parse(Self.intensive), source: Self.intensive)
            let patient = try await fixture.patients.create(programID: fixture.program.id, profile: PatientProfile(name: "孙丽"), tags: [], by: .cli)
            _ = try await fixture.segments.save(programID: fixture.program.id, source: """
                slug: in-intensive
                name: {zh: 强化随访中, en: In intensive follow-up}
                rule: enrolled(intensive, active)
                on_enter:
                  - tag: track=intensive
                on_leave:
                  - untag: track=intensive
                """, by: .cli)
            let enrolments = EnrolmentActions(stores: fixture.stores)
            let enrolled = try await enrolments.enrol(programID: fixture.program.id, pathway: "intensive", target: .patient(patient.id),
                                                      anchors: ["start": LocalDate(year: 2026, month: 12, day: 1)], by: .cli)
            func count() async throws -> Int { try await fixture.segments.segment(programID: fixture.program.id, id: "in-intensive").members }
            #expect(try await count() == 1)
            let enrolmentID = try #require(enrolled.enrolmentIDs.first)
            _ = try await enrolments.change(programID: fixture.program.id, enrolmentID: enrolmentID, .pause, by: .cli)
            #expect(try await count() == 0, "paused is not active")
            _ = try await enrolments.change(programID: fixture.program.id, enrolmentID: enrolmentID, .resume, by: .cli)
            #expect(try await count() == 1)
            _ = try await enrolments.change(programID: fixture.program.id, enrolmentID: enrolmentID, .cancel, by: .cli)
            #expect(try await count() == 0)
            let tags = try #require(try await fixture.stores.patients.fetch(programID: fixture.program.id, ids: [patient.id]).first).tags
            #expect(!tags.contains { $0.tag.key == "track" })
        }
    }

    @Test(arguments: TestBackend.available)
    func aDefinitionNamingWhatTheProgramLacksIsRefused(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            for (source, message) in [
                (Self.poorlyControlled, "pathway intensive"),
                ("slug: seg-x\nname: {zh: 甲, en: A}\nrule: score(no-such-scale) >= 3\n", "questionnaire no-such-scale"),
                ("slug: seg-x\nname: {zh: 甲, en: A}\nrule: tag(x)\non_enter:\n  - group: nope\n", "group nope"),
                ("slug: seg-x\nname: {zh: 甲, en: A}\nrule: last(glucose-fasting, 14) > 7\n", "line 3: column 29"),
            ] {
                do {
                    _ = try await fixture.segments.save(programID: fixture.program.id, source: source, by: .cli)
                    Issue.record("accepted: \(source)")
                } catch let error as TendError {
                    #expect(error.kind == .invalidInput && error.message.en.contains(message), "\(error.message.en)")
                }
            }
        }
    }

    // MARK: Contract over a generated population

    struct Person {
        var sex: Sex
        var birth: LocalDate?
        var status: PatientStatus
        var disease: String?
        var stage: String?
        /// Fasting glucose readings: hours before now, value.
        var glucose: [(hours: Double, value: Double)]
    }

    static func population(_ count: Int) -> [Person] {
        var random = SplitMix(seed: 20261202)
        return (0..<count).map { _ in
            let readings = (0..<Int.random(in: 0...5, using: &random)).map { _ in
                (hours: Double(Int.random(in: 1...(40 * 24), using: &random)) + 0.25, value: Double(Int.random(in: 40...120, using: &random)) / 10)
            }
            return Person(
                sex: [Sex.female, .male, .unknown].randomElement(using: &random)!,
                birth: Bool.random(using: &random) ? nil : LocalDate(year: Int.random(in: 1930...2010, using: &random), month: Int.random(in: 1...12, using: &random),
                                                                      day: Int.random(in: 1...28, using: &random)),
                status: [PatientStatus.active, .active, .active, .paused, .withdrawn].randomElement(using: &random)!,
                disease: ["T2DM", "GDM", nil].randomElement(using: &random)!,
                stage: ["1", "2", nil].randomElement(using: &random)!,
                glucose: readings)
        }
    }

    /// The rules, and what each means computed straight from the generated people.
    static func rules(today: LocalDate) -> [(rule: String, holds: (Person) -> Bool)] {
        func age(_ person: Person) -> Int? {
            guard let born = person.birth else { return nil }
            return today.year - born.year - ((today.month, today.day) < (born.month, born.day) ? 1 : 0)
        }
        func within(_ person: Person, days: Double) -> [Double] { person.glucose.filter { $0.hours <= days * 24 }.map(\.value) }
        func last(_ person: Person, days: Double) -> Double? { person.glucose.filter { $0.hours <= days * 24 }.min { $0.hours < $1.hours }?.value }
        return [
            ("disease = T2DM and last(glucose-fasting, 14d) >= 7.0", { $0.disease == "T2DM" && (last($0, days: 14) ?? 0) >= 7.0 }),
            ("not tag(stage) or age >= 65", { $0.stage == nil || (age($0) ?? 0) >= 65 }),
            ("max(glucose-fasting, 30d) > 9 and count(glucose-fasting, 14d) < 2", { (within($0, days: 30).max() ?? 0) > 9 && within($0, days: 14).count < 2 }),
            ("(sex = female or stage in (2)) and not mean(glucose-fasting, 7d) <= 6.5", { person in
                let week = within(person, days: 7)
                let meanAtMost = !week.isEmpty && week.reduce(0, +) / Double(week.count) <= 6.5
                return (person.sex == .female || person.stage == "2") && !meanAtMost
            }),
            ("count(glucose-fasting, 7d) = 0 and status = paused", { within($0, days: 7).isEmpty && $0.status == .paused }),
            ("age < 40 or (age >= 50 and age <= 60) or disease != GDM", { person in
                guard let years = age(person) else { return person.disease != "GDM" }
                return years < 40 || (years >= 50 && years <= 60) || person.disease != "GDM"
            }),
            ("min(glucose-fasting) >= 5 and last(glucose-fasting) > 10.5", { person in
                (person.glucose.map(\.value).min() ?? 0) >= 5 && (last(person, days: 1000) ?? 0) > 10.5
            }),
        ]
    }

    @Test(arguments: TestBackend.available)
    func aGeneratedPopulationHasTheMembersAnIndependentEvaluationGives(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            let people = Self.population(160)
            var ids: [String] = []
            var readings: [ObservationSubmission] = []
            for (index, person) in people.enumerated() {
                let tags = [person.disease.map { PatientTag(key: "disease", value: $0) }, person.stage.map { PatientTag(key: "stage", value: $0) }].compactMap { $0 }
                let patient = try await fixture.stores.patients.create(
                    programID: fixture.program.id, profile: PatientProfile(name: "患者\(index)", sex: person.sex, birthDate: person.birth?.description, status: person.status),
                    tags: tags, actor: .cli)
                ids.append(patient.id)
                for reading in person.glucose {
                    readings.append(ObservationSubmission(patientID: patient.id, input: ObservationInput(
                        code: "glucose-fasting", value: .number(reading.value), unit: "mmol/L",
                        effectiveAt: Self.iso(fixture.clock.now.addingTimeInterval(-reading.hours * 3600)))))
                }
            }
            _ = try await fixture.observations.record(programID: fixture.program.id, readings, source: .device, by: .cli)
            let today = LocalDate(instant: fixture.clock.now, in: .utc)
            for (index, rule) in Self.rules(today: today).enumerated() {
                let source = "slug: rule-\(index)\nname: {zh: 规则\(index), en: Rule \(index)}\nrule: \"\(rule.rule)\"\n"
                _ = try await fixture.segments.save(programID: fixture.program.id, source: source, by: .cli)
                let expected = Set(zip(people, ids).filter { person, _ in person.status != .withdrawn && rule.holds(person) }.map(\.1))
                let segment = try await fixture.segments.segment(programID: fixture.program.id, id: "rule-\(index)")
                let members = Set(try await fixture.stores.segments.members(segment.segment, limit: 500).map(\.patientID))
                #expect(members == expected, "\(rule.rule): \(members.count) members, expected \(expected.count)")
                #expect(!expected.isEmpty && expected.count < ids.count, "\(rule.rule) separates the population (\(expected.count))")
                // One patient at a time, the same rule agrees with the whole-program evaluation.
                for id in ids.prefix(60) {
                    let change = try await fixture.stores.database.transaction { sql in
                        try await fixture.stores.segments.evaluate(segment.segment, patientID: id, actor: .cli, in: sql)
                    }
                    #expect(change == SegmentChange(), "\(rule.rule): patient \(id) moved when evaluated alone")
                }
                // The preview counts the same patients before anything is saved.
                let preview = try await fixture.segments.preview(programID: fixture.program.id, rule: rule.rule, limit: 5, by: .cli)
                #expect(preview.count == expected.count && preview.patients.count == min(5, expected.count))
            }
        }
    }
}
