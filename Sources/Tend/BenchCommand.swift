import ArgumentParser
import Foundation
import SQLKit
import TendCore
import TendServer
import TendStore

/// Benchmarks that need the real stack; their figures go to bench/README.md.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure throughput (see bench/README.md) / 性能测试", subcommands: [ImportPatients.self, Enrol.self, Dispatch.self, Triage.self])

    struct ImportPatients: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-patients",
            abstract: "Import generated patients and compare with the raw multi-row INSERT floor measured in the same run")

        @Option(help: "postgres://… or sqlite:PATH (a throw-away database: tables are created in it)") var database: String
        @Option(help: "How many patients") var rows: Int = 100_000
        @Option(help: "Runs of each measurement; the median is reported") var runs: Int = 3

        func run() async throws {
            try await runReporting {
                let location = try DatabaseLocation.parse(database)
                let clock = TendClock.system
                let ids = IDGenerator.uuidV7(clock: clock)
                let keys = try KeyRing.parse(KeyRing.generateKeyLine(id: "k1"), source: "bench")
                let csv = Self.generateCSV(rows: rows)
                say("bench: \(rows) rows, CSV \(csv.count / 1_000_000) MB, database \(location.redactedDescription)")
                var floorRates: [Double] = []
                var schemaFloorRates: [Double] = []
                var importRates: [Double] = []
                for run in 1...runs {
                    // Each measurement starts from empty tables, so none writes into B-trees
                    // another one has grown.
                    let database = try await Database.open(location, logger: .init(label: "bench"))
                    try await Self.reset(database)
                    let floor = try await Self.rawFloor(database, rows: rows)
                    floorRates.append(Double(rows) / floor)
                    try await Self.reset(database)
                    try await Migrator(database: database, clock: clock).migrate()
                    let schemaFloor = try await Self.schemaFloor(database, rows: rows, ids: ids)
                    schemaFloorRates.append(Double(rows) / schemaFloor)

                    try await Self.reset(database)
                    try await Migrator(database: database, clock: clock).migrate()
                    let stores = Stores(database: database, clock: clock, ids: ids, keys: keys)
                    let program = try await stores.programs.create(slug: "bench", name: "Bench")
                    let start = ContinuousClock.now
                    let summary = try await importRows(
                        try ImportRowReader(bytes: csv, format: .csv), into: program, stores: stores, rejectsPath: "/dev/null")
                    let seconds = Self.seconds(ContinuousClock.now - start)
                    guard summary.created == rows else { throw ValidationError("imported \(summary.created) of \(rows)") }
                    importRates.append(Double(rows) / seconds)
                    say(String(format: "run %d: narrow floor %.0f rows/s, schema floor %.0f patients/s, import %.0f patients/s (%.1f s)",
                               run, Double(rows) / floor, Double(rows) / schemaFloor, Double(rows) / seconds, seconds))
                    await database.close()
                }
                let floorMedian = Self.median(floorRates), schemaMedian = Self.median(schemaFloorRates), importMedian = Self.median(importRates)
                say(String(format: "median: narrow floor %.0f rows/s, schema floor %.0f patients/s, import %.0f patients/s; schema floor / import %.2f×",
                           floorMedian, schemaMedian, importMedian, schemaMedian / importMedian))
            }
        }

        static func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }

        static func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }

        static func generateCSV(rows: Int) -> [UInt8] {
            var text = "external_id,name,sex,birth_date,phone,id_number,address,time_zone,quiet_hours,tags\n"
            text.reserveCapacity(rows * 160)
            let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵"], given = ["芳", "伟", "敏", "强", "静", "磊", "丽", "军"]
            for index in 0..<rows {
                text += "B\(index),\(surnames[index % 8])\(given[(index / 8) % 8])\(index % 100),\(index % 2 == 0 ? "女" : "男"),19\(50 + index % 50)-0\(1 + index % 9)-1\(index % 10),"
                text += "1\(String(format: "%010d", 3_000_000_000 + index)),ID\(String(format: "%012d", index)),示例市示例路\(index)号,Asia/Shanghai,22:00-07:00,"
                text += "disease=T2DM;cohort=\(index % 7)\n"
            }
            return Array(text.utf8)
        }

        static func reset(_ database: Database) async throws {
            let tables = [
                "bench_floor", "bench_touchpoints", "bench_steps", "sender_identities", "messages", "chat_group_members", "chat_groups", "triage_settings", "staff_tasks", "portal_messages", "channel_configs", "touchpoints", "enrolments", "pathways", "patient_consents", "patient_tags",
                "patients", "audit_events", "api_tokens", "web_sessions", "memberships", "staff_users", "programs", "schema_migrations",
            ]
            for table in tables {
                try await database.session { sql in try await sql.raw("DROP TABLE IF EXISTS \(ident: table)").run() }
            }
        }

        /// The rows an import of `rows` patients ends with — a patients row (with ciphertext-
        /// and index-sized values; blind indexes as random as real HMACs), two tag rows and one
        /// audit row each — written by raw multi-row INSERTs into the real tables, in the
        /// importer's transactions, with nothing parsed, validated or encrypted. Only the
        /// database time is counted.
        static func schemaFloor(_ database: Database, rows: Int, ids: IDGenerator) async throws -> Double {
            let programID = "floor-program"
            try await database.session { sql in
                try await sql.raw("INSERT INTO programs (id, slug, name, created_at) VALUES (\(bind: programID), 'floor', 'Floor', 0)").run()
            }
            let sealed = "k1:" + String(repeating: "A", count: 40)
            var random = SplitMix(seed: 7)
            func blindIndex() -> String { Hex.encode(random.next(), width: BlindIndexer.length) }
            let patientInsert = MultiRowInsert("INSERT INTO patients (\(PatientStoreColumns.list))")
            let tagInsert = MultiRowInsert("INSERT INTO patient_tags (program_id, patient_id, tag_key, tag_value, set_by, source, set_at)")
            let auditInsert = MultiRowInsert("INSERT INTO audit_events (id, program_id, actor_id, actor_kind, action, subject_type, subject_id, request_id, at)")
            let batch = PatientImporter.defaultBatchSize
            var building = Duration.zero
            let start = ContinuousClock.now
            try await database.bulkLoad {
                for offset in stride(from: 0, to: rows, by: batch) {
                    let buildStart = ContinuousClock.now
                    var patients: [[any Encodable & Sendable]] = [], tags: [[any Encodable & Sendable]] = [], audit: [[any Encodable & Sendable]] = []
                    for index in offset..<min(offset + batch, rows) {
                        let id = ids.next()
                        patients.append([
                            id, programID, "F\(index)", sealed, blindIndex(), "female", "1990-01-01", sealed, blindIndex(),
                            sealed, blindIndex(), sealed, "zh-Hans", "Asia/Shanghai", nil as String?, "22:00-07:00", "in_app", nil as String?,
                            "active", Int64(0), Int64(0),
                        ])
                        tags.append([programID, id, "disease", "T2DM", nil as String?, "import", Int64(0)])
                        tags.append([programID, id, "cohort", String(index % 7), nil as String?, "import", Int64(0)])
                        audit.append([ids.next(), programID, nil as String?, "cli", "patient.import.create", "patient", id, nil as String?, Int64(0)])
                    }
                    let (patientRows, tagRows, auditRows) = (patients, tags, audit)
                    building += ContinuousClock.now - buildStart
                    try await database.transaction { sql in
                        try await patientInsert.run(sql, rows: patientRows)
                        try await tagInsert.run(sql, rows: tagRows)
                        try await auditInsert.run(sql, rows: auditRows)
                    }
                }
            }
            return seconds(ContinuousClock.now - start - building)
        }

        /// The same number of rows, as wide as a patient row, written by multi-row INSERTs in
        /// the importer's batch size with no parsing, validation or encryption.
        static func rawFloor(_ database: Database, rows: Int) async throws -> Double {
            try await database.session { sql in
                try await sql.raw("CREATE TABLE bench_floor (id TEXT PRIMARY KEY, program_id TEXT, external_id TEXT, a TEXT, b TEXT, c TEXT, d TEXT, e TEXT, f TEXT, g TEXT, h TEXT, i TEXT, j TEXT, k TEXT, l TEXT, m TEXT, n TEXT, o TEXT, p TEXT, created_at BIGINT, updated_at BIGINT)").run()
            }
            let filler = String(repeating: "x", count: 44)
            let start = ContinuousClock.now
            let batch = 400
            for offset in stride(from: 0, to: rows, by: batch) {
                try await database.transaction { sql in
                    var query = SQLQueryString("INSERT INTO bench_floor VALUES ")
                    for index in offset..<min(offset + batch, rows) {
                        if index > offset { query.appendLiteral(", ") }
                        query.appendLiteral("(")
                        query.appendInterpolation(binds: ["f\(index)", "p", "B\(index)", filler, filler, "female", "1990-01-01", filler, filler, filler, filler, filler,
                                                          "zh-Hans", "Asia/Shanghai", "12:00-13:00", "22:00-07:00", "in_app", nil as String?, "active", Int64(index), Int64(index)])
                        query.appendLiteral(")")
                    }
                    try await sql.raw(query).run()
                }
            }
            return seconds(ContinuousClock.now - start)
        }
    }
}

extension BenchCommand {
    struct Enrol: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enrol",
            abstract: "Enrol generated patients into a 10-step pathway and compare with a raw INSERT … SELECT of the same rows")

        @Option(help: "postgres://… or sqlite:PATH (a throw-away database)") var database: String
        @Option(help: "How many patients") var rows: Int = 100_000
        @Option(help: "Runs of each measurement; the median is reported") var runs: Int = 1

        /// Ten steps around a revisit, in the shape of S1 plus reminders: 10 touchpoints each.
        static let pathway = Pathway(
            id: "bench-ten", version: 1, name: LocalizedText(en: "Bench", zh: "基准"), anchors: ["revisit"],
            steps: (0..<10).map { index in
                PathwayStep(
                    id: "step-\(index)", anchor: "revisit", offset: CalendarOffset(days: index * 3 - 14), at: LocalTime(hour: 8 + index % 10, minute: 0),
                    timing: index % 3 == 0 ? .preferred : .exact, recurrence: nil, channels: [.sms], action: .message(LocalizedText(en: "Hello", zh: "你好")),
                    confirm: index == 4, questionnaire: nil, ifUnconfirmed: index == 5 ? "step-4" : nil, onlyTags: [], channelsByAge: [], line: index + 1)
            })

        func run() async throws {
            try await runReporting {
                let location = try DatabaseLocation.parse(database)
                let clock = TendClock.system
                let ids = IDGenerator.uuidV7(clock: clock)
                let keys = try KeyRing.parse(KeyRing.generateKeyLine(id: "k1"), source: "bench")
                say("bench enrol: \(rows) patients × 10 steps, database \(location.redactedDescription)")
                var floorRates: [Double] = [], enrolRates: [Double] = []
                for run in 1...runs {
                    let database = try await Database.open(location, logger: .init(label: "bench"))
                    try await ImportPatients.reset(database)
                    try await Migrator(database: database, clock: clock).migrate()
                    let stores = Stores(database: database, clock: clock, ids: ids, keys: keys)
                    let program = try await stores.programs.create(slug: "bench", name: "Bench")
                    try await Self.generatePatients(database, programID: program.id, rows: rows, ids: ids)
                    let floor = try await Self.rawFloor(database, programID: program.id)
                    floorRates.append(Double(rows * 10) / floor)
                    let stored = try await stores.pathways.save(programID: program.id, pathway: Self.pathway, source: "(bench)")
                    let start = ContinuousClock.now
                    let result = try await stores.enrolments.enrol(
                        programID: program.id, pathway: stored, target: .tagged(TagFilter(all: [PatientTag(key: "disease", value: "T2DM")])),
                        anchors: ["revisit": LocalDate(instant: clock.now(), in: TimeZone.shanghai).adding(days: 30)],
                        actor: AuditActor(id: nil, kind: .cli))
                    let seconds = ImportPatients.seconds(ContinuousClock.now - start)
                    guard result.touchpoints == rows * 10, result.enrolled == rows else {
                        throw ValidationError("enrolled \(result.enrolled), \(result.touchpoints) touchpoints")
                    }
                    enrolRates.append(Double(result.touchpoints) / seconds)
                    say(String(format: "run %d: raw INSERT…SELECT floor %.0f rows/s (%.1f s), enrolment %.0f touchpoints/s (%.1f s for %d touchpoints)",
                               run, Double(rows * 10) / floor, floor, Double(result.touchpoints) / seconds, seconds, result.touchpoints))
                    await database.close()
                }
                let floorMedian = ImportPatients.median(floorRates), enrolMedian = ImportPatients.median(enrolRates)
                say(String(format: "median: floor %.0f rows/s, enrolment %.0f touchpoints/s (%.1f s per 10 M), floor/enrolment %.2f×",
                           floorMedian, enrolMedian, 10_000_000 / enrolMedian, floorMedian / enrolMedian))
            }
        }

        /// Patients written straight into the table (import is measured on its own): a few
        /// zones and windows, so planning sees several groups, as in a real program.
        /// `sealedName` is what every name column holds: a real ciphertext when the benchmark decrypts names.
        static func generatePatients(_ database: Database, programID: String, rows: Int, ids: IDGenerator,
                                     sealName: (_ patientID: String) throws -> String = { _ in "k1;a:x" }, channel: ContactChannel = .sms) async throws {
            let zones = ["Asia/Shanghai", "Asia/Shanghai", "Asia/Shanghai", "America/New_York", "Europe/London"]
            let windows: [String?] = [nil, "12:00-13:30", "18:30-21:00"]
            for offset in stride(from: 0, to: rows, by: 1000) {
                let range = offset..<min(offset + 1000, rows)
                let patientIDs = range.map { _ in ids.next() }
                var patients = SQLQueryString("INSERT INTO patients (\(unsafeRaw: PatientStoreColumns.list)) VALUES ")
                var tags = SQLQueryString("INSERT INTO patient_tags (program_id, patient_id, tag_key, tag_value, set_by, source, set_at) VALUES ")
                for (position, index) in range.enumerated() {
                    if position > 0 { patients.appendLiteral(", "); tags.appendLiteral(", ") }
                    patients.appendLiteral("(")
                    patients.appendInterpolation(binds: [
                        patientIDs[position], programID, "P\(index)", try sealName(patientIDs[position]), "n\(index)", "female", "1970-01-01", nil as String?, nil as String?,
                        nil as String?, nil as String?, nil as String?, index % 2 == 0 ? "zh-Hans" : "en", zones[index % zones.count], windows[index % windows.count],
                        "22:00-07:00", channel.rawValue, nil as String?, "active", Int64(0), Int64(0),
                    ])
                    patients.appendLiteral(")")
                    tags.appendLiteral("(")
                    tags.appendInterpolation(binds: [programID, patientIDs[position], "disease", "T2DM", nil as String?, "bench", Int64(0)])
                    tags.appendLiteral(")")
                }
                let (patientQuery, tagQuery) = (patients, tags)
                try await database.transaction { sql in
                    try await sql.raw(patientQuery).run()
                    try await sql.raw(tagQuery).run()
                }
            }
        }

        /// The same number of rows, of the same width and indexes as touchpoints, written by one
        /// raw INSERT … SELECT per table pair with constant values (no planning, no grouping).
        static func rawFloor(_ database: Database, programID: String) async throws -> Double {
            try await database.session { sql in
                try await sql.raw("""
                    CREATE TABLE bench_touchpoints (id TEXT PRIMARY KEY, program_id TEXT NOT NULL, enrolment_id TEXT NOT NULL, patient_id TEXT NOT NULL,
                    step_id TEXT NOT NULL, occurrence BIGINT NOT NULL, due_at BIGINT NOT NULL, local_due TEXT NOT NULL, channels TEXT NOT NULL,
                    kind TEXT NOT NULL, confirm BIGINT NOT NULL, if_unconfirmed TEXT, status TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,
                    lease_until BIGINT, sent_at BIGINT, confirmed_at BIGINT, updated_at BIGINT NOT NULL,
                    lease_owner TEXT, channel TEXT, last_error TEXT)\(unsafeRaw: database.kind == .sqlite ? " WITHOUT ROWID" : "")
                    """).run()
                // The same secondary indexes as the touchpoints table on this backend.
                try await sql.raw("CREATE INDEX bench_tp_due ON bench_touchpoints (status, due_at)").run()
                if database.kind == .postgres {
                    try await sql.raw("CREATE INDEX bench_tp_enrolment ON bench_touchpoints (enrolment_id)").run()
                }
                try await sql.raw("CREATE TABLE bench_steps (step_id TEXT NOT NULL, offset_ms BIGINT NOT NULL)").run()
                for index in 0..<10 {
                    try await sql.raw("INSERT INTO bench_steps VALUES (\(bind: "step-\(index)"), \(bind: Int64(index) * 86_400_000))").run()
                }
            }
            // Enrolment ids as the store makes them: a 12-character prefix and an 8-digit number.
            let number = database.kind == .sqlite ? "printf('%08d', p.rowid)" : "lpad(CAST(ROW_NUMBER() OVER (ORDER BY p.id) AS TEXT), 8, '0')"
            let start = ContinuousClock.now
            try await database.transaction { sql in
                try await sql.raw("""
                    INSERT INTO bench_touchpoints (id, program_id, enrolment_id, patient_id, step_id, occurrence, due_at, local_due, channels, kind, confirm, if_unconfirmed, status, attempts, updated_at)
                    SELECT e.enrolment_id || '.' || s.step_id || '.1', e.program_id, e.enrolment_id, e.id, s.step_id, 1,
                           1800000000000 + s.offset_ms, '2027-01-01 08:00', 'sms', 'message', 0, NULL, 'scheduled', 0, 0
                    FROM (SELECT p.id, p.program_id, 'e00000000000' || \(unsafeRaw: number) AS enrolment_id FROM patients p WHERE p.program_id = \(bind: programID)) e
                    CROSS JOIN bench_steps s
                    """).run()
            }
            return ImportPatients.seconds(ContinuousClock.now - start)
        }
    }
}
