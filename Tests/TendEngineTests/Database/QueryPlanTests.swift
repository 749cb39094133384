import Foundation
import Logging
import Testing
import TendCore
import TendEngine
import TendStore
import TendTestSupport
import SQLKit

/// The plans of every query a person waits for, over a populated database, with and without
/// planner statistics: none may walk a large table, or a whole program through an index on
/// `program_id` alone (what made a page of twenty patients take 1.5 s at a million).
@Suite struct QueryPlanTests {
    /// Tables that grow with the program; walking one is never what an interactive read means.
    static let largeTables = ["patients", "patient_tags", "patient_consents", "touchpoints", "enrolments", "staff_tasks", "messages",
                              "audit_events", "sender_identities", "portal_messages", "observations", "observation_alerts",
                              "questionnaire_responses", "photos", "dispenses", "missing_checkins", "segment_members"]

    struct Population {
        let stores: Stores
        let program: Program
        let patientID: String
        let clock: TendClock
    }

    /// Two programs (3,000 and 40 patients, tagged), ten weekly touchpoints for 2,000 of the first,
    /// and inbound messages, some urgent enough to raise tasks.
    static func populate(_ database: Database) async throws -> Population {
        let clock = TendClock.fixed(Date(timeIntervalSince1970: 1_796_000_000))
        let stores = try Stores(database: database, clock: clock, ids: .uuidV7(clock: clock), keys: KeyRing.parse(TestKeys.ring, source: "test"))
        let actor = AuditActor.cli
        let big = try await stores.programs.create(slug: "plans", name: "Plans")
        let small = try await stores.programs.create(slug: "other", name: "Other")
        for (program, rows) in [(big, 3_000), (small, 40)] {
            var csv = "external_id,name,phone,id_number,tags\n"
            for index in 0..<rows {
                csv += "\(program.slug)\(index),患者\(index),139\(String(format: "%08d", index)),ID\(program.slug)\(index),"
                csv += "disease=T2DM;cohort=\(index % 10)\(index % 100 == 7 ? ";risk=high" : "")\(index < 2_000 ? ";enrol=yes" : "")\n"
            }
            let summary = try await PatientActions(stores: stores).importRows(
                try ImportRowReader(bytes: Array(csv.utf8), format: .csv), programID: program.id, by: actor, reject: { _ in })
            #expect(summary.created == rows)
        }
        let pathway = Pathway(
            id: "weekly", version: 1, name: LocalizedText(en: "Weekly", zh: "每周"), anchors: ["start"],
            steps: (0..<10).map { index in
                PathwayStep(
                    id: "week-\(index)", anchor: "start", offset: CalendarOffset(days: 7 * index), at: LocalTime(hour: 9, minute: 0),
                    timing: .exact, recurrence: nil, channels: [.inApp], action: .message(LocalizedText(en: "Hello", zh: "您好")),
                    confirm: false, questionnaire: index == 0 ? "glucose-daily" : nil, ifUnconfirmed: nil, onlyTags: [], channelsByAge: [],
                    missingAlert: index == 0 ? PathwayStep.MissingAlert(afterDays: 2) : nil, line: index + 1)
            })
        _ = try await stores.pathways.save(programID: big.id, pathway: pathway, source: "(test)")
        _ = try await EnrolmentActions(stores: stores).enrol(
            programID: big.id, pathway: "weekly", target: .tagged(TagFilter(all: [PatientTag(key: "enrol", value: "yes")])),
            anchors: ["start": LocalDate(year: 2026, month: 12, day: 1)], by: actor)
        let page = try await stores.patients.list(programID: big.id, query: PatientQuery(limit: 500), actor: actor)
        // A month of tasks for 500 patients, most of them done.
        for (index, patient) in page.patients.enumerated() {
            for day in 0..<4 {
                let due = clock.now().addingTimeInterval(Double(day * 7 - 21) * 86_400)
                try await stores.tasks.create(StaffTask(
                    id: "task-\(index)-\(day)", programID: big.id, patientID: patient.id, touchpointID: nil, kind: .call,
                    title: LocalizedText(en: "Call", zh: "电话"), priority: .normal, dueAt: due, slaAt: due.addingTimeInterval(86_400),
                    status: day < 3 ? .done : .open, createdAt: due, completedAt: day < 3 ? due : nil))
            }
        }
        let messages = MessageActions(stores: stores, classifiers: ClassifierCache(), clock: clock, logger: Logger(label: "plans"))
        for (index, patient) in page.patients.prefix(60).enumerated() {
            let text = ["今天空腹血糖6.1，谢谢", "刚测血糖2.6，手抖出冷汗", "请问复诊要空腹吗"][index % 3]
            _ = try await messages.receive(programID: big.id, Arrival(channel: .inApp, patientID: patient.id, text: text), by: actor)
        }
        // A month of daily glucose for 500 patients.
        for (index, patient) in page.patients.enumerated() {
            let readings = (1...30).map { day in
                ObservationSubmission(patientID: patient.id, input: ObservationInput(
                    code: "glucose-fasting", value: .number(index % 5 == 0 && day == 1 ? 2.5 : 5 + Double(day % 7) / 2), unit: "mmol/L",
                    effectiveAt: "2026-11-\(String(format: "%02d", day))T07:30:00+08:00", externalID: "g-\(patient.id)-\(day)"))
            }
            _ = try await ObservationActions(stores: stores).record(programID: big.id, readings, source: .device, by: actor)
        }
        // Most alerts of a month are resolved.
        for (index, alert) in try await stores.alerts.list(programID: big.id).enumerated() where index % 5 != 0 {
            _ = try await stores.alerts.change(programID: big.id, id: alert.id, to: .resolved, staffID: nil, actor: actor)
        }
        // A segment over a tag and the readings, evaluated over the program on save.
        _ = try await SegmentActions(stores: stores).save(programID: big.id, source: """
            slug: high
            name: {zh: 偏高, en: High}
            rule: cohort = 3 and last(glucose-fasting, 14d) >= 6.0 and not tag(risk) and score(phq-9, 30d) < 10 or age >= 90
            """, by: actor)
        return Population(stores: stores, program: big, patientID: try #require(page.patients.dropFirst(30).first?.id), clock: clock)
    }

    /// Every interactive read, by name, as the API, console and portal call it.
    static func reads(_ population: Population) -> [(String, @Sendable () async throws -> Void)] {
        let stores = population.stores, program = population.program.id, patient = population.patientID
        let actor = AuditActor.cli
        let patients = PatientActions(stores: stores)
        let messages = MessageActions(stores: stores, classifiers: ClassifierCache(), clock: population.clock, logger: Logger(label: "plans"))
        return [
            ("patient by id", { _ = try await patients.read(programID: program, patientID: patient, by: actor) }),
            ("patient page", { _ = try await patients.record(programID: program, patientID: patient, by: actor) }),
            ("list", { _ = try await patients.list(programID: program, query: PatientQuery(limit: 20), by: actor) }),
            ("list, second page", {
                let first = try await patients.list(programID: program, query: PatientQuery(limit: 20), by: actor)
                _ = try await patients.list(programID: program, query: PatientQuery(after: first.nextAfter, limit: 20), by: actor)
            }),
            ("list by tag", { _ = try await patients.list(programID: program, query: PatientQuery(tags: TagFilter(all: [PatientTag(key: "cohort", value: "3")]), limit: 20), by: actor) }),
            ("list by rare tag", { _ = try await patients.list(programID: program, query: PatientQuery(tags: TagFilter(all: [PatientTag(key: "risk", value: "high")]), limit: 20), by: actor) }),
            ("list by status", { _ = try await patients.list(programID: program, query: PatientQuery(status: .active, limit: 20), by: actor) }),
            ("phone search", { _ = try await patients.search(programID: program, phone: "13900000123", idNumber: nil, name: nil, by: actor) }),
            ("ID number search", { _ = try await patients.search(programID: program, phone: nil, idNumber: "IDplans123", name: nil, by: actor) }),
            ("name search", { _ = try await patients.search(programID: program, phone: nil, idNumber: nil, name: "患者123", by: actor) }),
            ("console find", { _ = try await patients.find(programID: program, text: "13900000123", by: actor) }),
            ("schedule", { _ = try await ScheduleReads(stores: stores).schedule(programID: program, patientID: patient, by: actor) }),
            ("enrolments", { _ = try await ScheduleReads(stores: stores).enrolments(programID: program, patientID: patient, by: actor) }),
            ("portal inbox", { _ = try await ScheduleReads(stores: stores).portalInbox(programID: program, patientID: patient, by: actor) }),
            ("tasks (Today)", { _ = try await TaskActions(stores: stores).list(programID: program, filter: TaskFilter(mineOrPool: "nobody"), by: actor) }),
            ("Today page 2 with its counts", { _ = try await TaskActions(stores: stores).page(programID: program, filter: TaskFilter(mineOrPool: "nobody", offset: 50), by: actor) }),
            ("open tasks", { _ = try await TaskActions(stores: stores).list(programID: program, filter: TaskFilter(), by: actor) }),
            ("patient's tasks", { _ = try await TaskActions(stores: stores).list(programID: program, filter: TaskFilter(patientID: patient), by: actor) }),
            ("inbox", { _ = try await messages.inbox(programID: program, by: actor) }),
            ("inbox page 2 with its counts", { _ = try await messages.inboxPage(programID: program, offset: 50, by: actor) }),
            ("observations", { _ = try await ObservationActions(stores: stores).list(programID: program, patientID: patient, by: actor) }),
            ("glucose chart", { _ = try await ObservationActions(stores: stores).list(programID: program, patientID: patient, code: "glucose-fasting", by: actor) }),
            ("alerts", { _ = try await ObservationActions(stores: stores).alerts(programID: program, by: actor) }),
            ("patient's alerts", { _ = try await ObservationActions(stores: stores).alerts(programID: program, patientID: patient, by: actor) }),
            ("message search", { _ = try await messages.search(programID: program, words: "血糖", by: actor) }),
            ("responses", {
                _ = try await QuestionnaireActions(stores: stores, observations: ObservationActions(stores: stores)).responses(programID: program, patientID: patient, by: actor)
            }),
            ("alert rules", { _ = try await ObservationActions(stores: stores).alertRules(programID: program) }),
            // Not a page, but it runs after every dispatch pass over every questionnaire step.
            ("missing check-in sweep", {
                _ = try await MissingCheckInSweep(stores: stores, questionnaires: QuestionnaireActions(stores: stores, observations: ObservationActions(stores: stores)))
                    .run(now: population.clock.now().addingTimeInterval(10 * 86_400))
            }),
            ("patient's segments", { _ = try await SegmentActions(stores: stores).explain(programID: program, patientID: patient, by: actor) }),
            ("segment members", { _ = try await SegmentActions(stores: stores).members(programID: program, segmentID: "high", limit: 50, offset: 0, by: actor) }),
            ("segments", { _ = try await SegmentActions(stores: stores).list(programID: program) }),
            // Inside every request that records a reading, a response or a tag for the patient.
            ("a patient's segment re-evaluation", {
                guard let segment = try await stores.segments.find(programID: program, id: "high") else { return }
                _ = try await stores.database.transaction { sql in try await stores.segments.evaluate(segment, patientID: patient, actor: actor, in: sql) }
            }),
            ("adherence", {
                _ = try await AdherenceActions(stores: stores).patientAdherence(programID: program, patientID: patient, start: nil,
                                                                              end: LocalDate(year: 2026, month: 12, day: 31), by: actor)
            }),
        ]
    }

    /// What is wrong with a plan: a large table walked whole, or searched by program alone.
    static func problems(_ plan: QueryPlanRecorder.Plan, backend: TestBackend) -> [String] {
        let tables = largeTables.joined(separator: "|")
        var found: [String] = []
        switch backend {
        case .sqlite:
            // Reading an index in the query's order and stopping at its LIMIT is no walk.
            let boundedWalk = plan.sql.contains(" LIMIT ") && !plan.lines.contains { $0.contains("USE TEMP B-TREE") }
            for line in plan.lines {
                // "SCAN patients", "SCAN p" (an alias): SQLite names the table and then its alias.
                if line.range(of: #"^SCAN (\#(tables))\b"#, options: .regularExpression) != nil, !line.contains("COVERING INDEX") || line.contains("(program_id=?)") {
                    found.append(line)
                }
                if !boundedWalk, line.range(of: #"^SEARCH (\#(tables))\b.*\(program_id=\?\)$"#, options: .regularExpression) != nil { found.append(line) }
            }
        case .postgres:
            let boundedWalk = plan.lines.first?.hasPrefix("Limit") == true && !plan.lines.contains { $0.contains("Sort") }
            for (index, line) in plan.lines.enumerated() {
                if line.range(of: #"Seq Scan on (\#(tables))\b"#, options: .regularExpression) != nil { found.append(line) }
                let indexScan = line.range(of: #"Index (Only )?Scan using \w+ on (\#(tables))\b"#, options: .regularExpression) != nil
                let bitmapScan = line.contains("Bitmap Index Scan on ")
                if !boundedWalk, indexScan || bitmapScan,
                   let condition = plan.lines.dropFirst(index + 1).first(where: { $0.contains("Index Cond:") }),
                   condition.range(of: #"Index Cond: \(program_id = [^()]*\)$"#, options: .regularExpression) != nil {
                    found.append(line + " / " + condition.trimmingCharacters(in: .whitespaces))
                }
            }
        }
        return found
    }

    static func check(_ population: Population, backend: TestBackend, statistics: String) async throws {
        for (name, read) in reads(population) {
            let recorder = QueryPlanRecorder()
            try await Database.$planRecorder.withValue(recorder) { try await read() }
            #expect(!recorder.recorded.isEmpty, "\(name): no SELECT recorded")
            for plan in recorder.recorded {
                let problems = problems(plan, backend: backend)
                #expect(problems.isEmpty, "\(name) (\(statistics)) walks a large table:\n\(plan)")
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func interactiveReadsUseTheirIndexesWithAndWithoutStatistics(backend: TestBackend) async throws {
        try await TestDatabase.withDatabase(backend) { database in
            let population = try await Self.populate(database)
            // SQLite has no statistics until something analyses; PostgreSQL's autovacuum gathers
            // them soon after a bulk load, and with none it guesses from a tiny table's size.
            if backend == .sqlite {
                try await database.session { sql in try await sql.raw("DROP TABLE IF EXISTS sqlite_stat1").run() }
                try await Self.check(population, backend: backend, statistics: "no statistics")
            }
            try await database.session { sql in try await sql.raw("ANALYZE").run() }
            try await Self.check(population, backend: backend, statistics: "after ANALYZE")
        }
    }

    /// The check itself can fail: a list's fetch by program alone is caught on both backends.
    @Test(arguments: TestBackend.available)
    func aProgramWalkIsReported(backend: TestBackend) async throws {
        try await TestDatabase.withDatabase(backend) { database in
            let population = try await Self.populate(database)
            let recorder = QueryPlanRecorder()
            try await Database.$planRecorder.withValue(recorder) {
                try await database.session { sql in
                    _ = try await sql.raw("SELECT id FROM patients WHERE program_id = \(bind: population.program.id) AND name_bidx = 'x' || id").all()
                }
            }
            let plan = try #require(recorder.recorded.first)
            #expect(!Self.problems(plan, backend: backend).isEmpty, "\(plan)")
        }
    }
}
