import Foundation
import SQLKit
import Testing
import TendCore
@testable import TendStore
import TendTestSupport

/// Stores over a fresh migrated database with one program, for patient tests.
func withPatientStores<R: Sendable>(_ backend: TestBackend, keys: String = TestKeys.ring, _ body: (Stores, Program, TestClock) async throws -> R) async throws -> R {
    let clock = TestClock()
    return try await TestDatabase.withDatabase(backend, clock: clock.clock) { database in
        let stores = Stores(database: database, clock: clock.clock, ids: .uuidV7(clock: clock.clock), keys: try KeyRing.parse(keys, source: "test"))
        let program = try await stores.programs.create(slug: "lung", name: "Lung")
        return try await body(stores, program, clock)
    }
}

let staffActor = AuditActor(id: "u1", kind: .staff, requestID: "req-1")

@Suite struct PatientStoreTests {
    @Test(arguments: TestBackend.available)
    func createReadUpdateAndAuditEveryStep(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, clock in
            let profile = PatientProfile(
                externalID: "LC-1", name: "张三", sex: .male, birthDate: "1990-03-07", phone: "13800138000",
                idNumber: "110101199003071234", address: "北京市朝阳区", quietHours: DailyWindow(start: 1320, end: 420),
                caregivers: [Caregiver(name: "李四", relation: "配偶", phone: "13900139000")])
            let created = try await stores.patients.create(programID: program.id, profile: profile, tags: [PatientTag(key: "stage", value: "chemo")], actor: staffActor)
            let read = try #require(try await stores.patients.get(programID: program.id, patientID: created.id, actor: staffActor))
            #expect(read.profile == created.profile)
            #expect(read.tags.map(\.tag) == [PatientTag(key: "stage", value: "chemo")])
            #expect(read.tags.first?.setBy == "u1")

            clock.advance(by: 60)
            var changed = read.profile
            changed.address = "上海市"
            changed.phone = "+86 139 0000 0000"
            let updated = try #require(try await stores.patients.update(programID: program.id, patientID: created.id, profile: changed, actor: staffActor))
            #expect(updated.profile.phone == "13900000000")
            #expect(updated.updatedAt == clock.now)
            #expect(try await stores.patients.search(programID: program.id, phone: "13900000000", idNumber: nil, name: nil, actor: staffActor).map(\.id) == [created.id])
            #expect(try await stores.patients.search(programID: program.id, phone: "13800138000", idNumber: nil, name: nil, actor: staffActor).isEmpty)
            #expect(try await stores.patients.search(programID: program.id, phone: nil, idNumber: "110101199003071234", name: nil, actor: staffActor).count == 1)
            #expect(try await stores.patients.search(programID: program.id, phone: nil, idNumber: nil, name: " 张三 ", actor: staffActor).count == 1)

            let actions = try await stores.audit.events(programID: program.id, subjectID: created.id).map(\.action)
            #expect(actions.sorted() == ["patient.create", "patient.read", "patient.search", "patient.search", "patient.search", "patient.update"].sorted())
            #expect(try await stores.audit.events(programID: program.id, subjectID: created.id).allSatisfy { $0.requestID == "req-1" && $0.actorID == "u1" })
        }
    }

    /// Migration 9 cuts stored blind indexes to their first 32 hex digits, which is what the
    /// indexer now computes: patients written before it are still found by phone, ID and name.
    /// Migration 10 (SQLite) moves tags and audit events into clustered tables: both survive.
    /// Migration 11 (SQLite) rebuilds patients and tags with deferred foreign keys: consents survive.
    /// Migration 12 cuts the blind indexes again, to 16 hex digits: still found.
    @Test(arguments: TestBackend.available)
    func patientsWrittenBeforeMigrations9To12AreStillFoundWithTagsConsentsAndAudit(backend: TestBackend) async throws {
        let clock = TestClock()
        try await TestDatabase.withDatabase(backend, migrate: false, clock: clock.clock) { database in
            try await Migrator(database: database, clock: clock.clock, migrations: Array(Schema.migrations.prefix(8))).migrate()
            let stores = Stores(database: database, clock: clock.clock, ids: .uuidV7(clock: clock.clock), keys: try KeyRing.parse(TestKeys.ring, source: "test"))
            let program = try await stores.programs.create(slug: "lung", name: "Lung")
            let created = try await stores.patients.create(
                programID: program.id, profile: PatientProfile(externalID: "OLD-1", name: "王五", phone: "13800138000", idNumber: "110101199003071234",
                                                               caregivers: [Caregiver(name: "王六", relation: "女儿", phone: "13900139000")]),
                tags: [PatientTag(key: "stage", value: "chemo")], actor: staffActor)
            _ = try await stores.patients.recordConsent(programID: program.id, patientID: created.id, kind: "follow-up", version: "1", actor: staffActor)
            // What version 8 stored: the whole 64-digit MAC, of which the new index is the prefix.
            try await database.session { sql in
                try await sql.raw("UPDATE patients SET name_bidx = name_bidx || 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', phone_bidx = phone_bidx || 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', id_number_bidx = id_number_bidx || 'cccccccccccccccccccccccccccccccc'").run()
                try await sql.raw("UPDATE sender_identities SET key_bidx = key_bidx || 'dddddddddddddddddddddddddddddddd'").run()
            }
            #expect(try await stores.patients.search(programID: program.id, phone: "13800138000", idNumber: nil, name: nil, actor: staffActor).isEmpty)

            try await Migrator(database: database, clock: clock.clock).migrate()
            for (phone, idNumber, name) in [("13800138000", nil, nil), (nil, "110101199003071234", nil), (nil, nil, "王五")] as [(String?, String?, String?)] {
                #expect(try await stores.patients.search(programID: program.id, phone: phone, idNumber: idNumber, name: name, actor: staffActor).map(\.id) == [created.id])
            }
            #expect(try await stores.patients.matchSender(programID: program.id, phone: "13900139000", channel: nil, userID: nil)?.relation == "女儿")
            #expect(try await stores.patients.get(programID: program.id, patientID: created.id, actor: staffActor)?.tags.map(\.tag) == [PatientTag(key: "stage", value: "chemo")])
            #expect(try await stores.audit.events(programID: program.id, subjectID: created.id).map(\.action).contains("patient.create"))
            // Migration 11 (SQLite) rebuilt the patients table under its consents.
            #expect(try await stores.patients.get(programID: program.id, patientID: created.id, actor: staffActor)?.consents.map(\.kind) == ["follow-up"])
        }
    }

    /// A table rebuild runs with foreign keys unenforced statement by statement, but a row
    /// left pointing nowhere still fails the rebuild's transaction, and nothing of it lands.
    @Test(arguments: TestBackend.available)
    func aRebuildThatLeavesOrphansIsRolledBack(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            let patient = try await stores.patients.create(programID: program.id, profile: PatientProfile(externalID: "P", name: "P"), actor: staffActor)
            await #expect(throws: (any Error).self) {
                try await stores.database.transactionCheckingForeignKeysAtEnd { sql in
                    try await sql.raw("INSERT INTO patient_tags (program_id, patient_id, tag_key, tag_value, source, set_at) VALUES (\(bind: program.id), \(bind: patient.id), 'kept', 'no', 'test', 0)").run()
                    try await sql.raw("INSERT INTO patient_tags (program_id, patient_id, tag_key, tag_value, source, set_at) VALUES (\(bind: program.id), 'no-such-patient', 'orphan', 'yes', 'test', 0)").run()
                }
            }
            let tags = try await stores.database.session { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM patient_tags").first()!.decode(column: "n", as: Int.self)
            }
            #expect(tags == 0)
            // Foreign keys are enforced again afterwards.
            await #expect(throws: (any Error).self) {
                try await stores.database.session { sql in
                    try await sql.raw("INSERT INTO patient_tags (program_id, patient_id, tag_key, tag_value, source, set_at) VALUES (\(bind: program.id), 'no-such-patient', 'orphan', 'yes', 'test', 0)").run()
                }
            }
        }
    }

    /// Foreign keys of patients and tags are checked at COMMIT on SQLite (migration 11) and
    /// per statement on PostgreSQL: either way a row pointing nowhere fails its whole transaction.
    @Test(arguments: TestBackend.available)
    func rowsPointingNowhereFailTheirWholeTransaction(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            let patient = try await stores.patients.create(programID: program.id, profile: PatientProfile(externalID: "P", name: "P"), actor: staffActor)
            let tags = MultiRowInsert("INSERT INTO patient_tags (program_id, patient_id, tag_key, tag_value, set_by, source, set_at)")
            await #expect(throws: (any Error).self) {
                try await stores.database.transaction { sql in
                    try await tags.run(sql, rows: [[program.id, patient.id, "kept", "no", nil as String?, "test", Int64(0)]])
                    try await tags.run(sql, rows: [[program.id, "no-such-patient", "orphan", "yes", nil as String?, "test", Int64(0)]])
                }
            }
            await #expect(throws: (any Error).self) {
                try await stores.database.transaction { sql in
                    try await sql.raw("""
                        INSERT INTO patients (id, program_id, name_enc, name_bidx, sex, locale, time_zone, channels, status, created_at, updated_at)
                        VALUES ('orphan', 'no-such-program', 'n', 'b', 'unknown', 'zh-CN', 'Asia/Shanghai', '', 'active', 0, 0)
                        """).run()
                }
            }
            let left = try await stores.database.session { sql in
                try await sql.raw("SELECT (SELECT COUNT(*) FROM patient_tags) + (SELECT COUNT(*) FROM patients WHERE id = 'orphan') AS n").first()!.decode(column: "n", as: Int.self)
            }
            #expect(left == 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func duplicatesByPhoneIDNumberOrExternalIDAreConflicts(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            _ = try await stores.patients.create(programID: program.id, profile: PatientProfile(externalID: "A", name: "One", phone: "13800138000", idNumber: "X1234567"), actor: staffActor)
            let attempts: [(PatientProfile, String)] = [
                (PatientProfile(externalID: "B", name: "Two", phone: "138-0013-8000"), "phone"),
                (PatientProfile(externalID: "C", name: "Three", idNumber: "x1234567"), "id_number"),
                (PatientProfile(externalID: "A", name: "Four"), "external_id"),
            ]
            for (profile, field) in attempts {
                do {
                    _ = try await stores.patients.create(programID: program.id, profile: profile, actor: staffActor)
                    Issue.record("duplicate \(field) accepted")
                } catch let error as TendError {
                    #expect(error.kind == .conflict && error.field == field)
                }
            }
            #expect(try await stores.patients.list(programID: program.id, query: PatientQuery(), actor: staffActor).patients.count == 1)
        }
    }

    @Test(arguments: TestBackend.available)
    func listsFilterByTagExpressionsAndPage(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            let specs: [(String, [String])] = [
                ("P1", ["disease=T2DM", "stage=early"]), ("P2", ["disease=T2DM", "stage=late"]),
                ("P3", ["disease=GDM"]), ("P4", []), ("P5", ["disease=T2DM", "insulin=true"]),
            ]
            // Statuses mixed, so lists over all of them merge one page per status in id order.
            let statuses: [String: PatientStatus] = ["P2": .paused, "P4": .withdrawn]
            for (external, tags) in specs {
                _ = try await stores.patients.create(programID: program.id, profile: PatientProfile(externalID: external, name: external, status: statuses[external] ?? .active),
                                                     tags: try tags.map { try PatientTag.parse($0) }, actor: staffActor)
            }
            #expect(try await names(TagFilter(), status: .active) == ["P1", "P3", "P5"])
            #expect(try await names(TagFilter(all: [PatientTag(key: "disease", value: "T2DM")]), status: .paused) == ["P2"])
            func names(_ filter: TagFilter, status: PatientStatus? = nil) async throws -> [String] {
                try await stores.patients.list(programID: program.id, query: PatientQuery(tags: filter, status: status), actor: staffActor)
                    .patients.compactMap(\.profile.externalID)
            }
            let t2dm = PatientTag(key: "disease", value: "T2DM")
            #expect(try await names(TagFilter(all: [t2dm])) == ["P1", "P2", "P5"])
            #expect(try await names(TagFilter(all: [t2dm], none: [PatientTag(key: "insulin", value: "*")])) == ["P1", "P2"])
            #expect(try await names(TagFilter(any: [PatientTag(key: "stage", value: "late"), PatientTag(key: "disease", value: "GDM")])) == ["P2", "P3"])
            #expect(try await names(TagFilter(none: [PatientTag(key: "disease", value: "*")])) == ["P4"])
            var seen: [String] = []
            var after: String?
            repeat {
                let page = try await stores.patients.list(programID: program.id, query: PatientQuery(after: after, limit: 2), actor: staffActor)
                seen += page.patients.compactMap(\.profile.externalID)
                after = page.nextAfter
            } while after != nil
            #expect(seen == ["P1", "P2", "P3", "P4", "P5"])
            let p1 = try await stores.patients.list(programID: program.id, query: PatientQuery(externalID: "P1"), actor: staffActor).patients[0]
            #expect(try await stores.patients.addTags(programID: program.id, patientID: p1.id, tags: [PatientTag(key: "insulin", value: "true")], actor: staffActor))
            #expect(try await stores.patients.removeTags(programID: program.id, patientID: p1.id, tags: [t2dm], actor: staffActor))
            #expect(try await names(TagFilter(all: [PatientTag(key: "insulin", value: "true")])) == ["P1", "P5"])
        }
    }

    @Test(arguments: TestBackend.available)
    func anotherProgramSeesNothing(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            let other = try await stores.programs.create(slug: "other", name: "Other")
            let patient = try await stores.patients.create(programID: program.id, profile: PatientProfile(externalID: "A", name: "Only here", phone: "13800138000"), actor: staffActor)
            #expect(try await stores.patients.get(programID: other.id, patientID: patient.id, actor: staffActor) == nil)
            #expect(try await stores.patients.list(programID: other.id, query: PatientQuery(), actor: staffActor).patients.isEmpty)
            #expect(try await stores.patients.search(programID: other.id, phone: "13800138000", idNumber: nil, name: nil, actor: staffActor).isEmpty)
            #expect(try await stores.patients.update(programID: other.id, patientID: patient.id, profile: PatientProfile(name: "Stolen"), actor: staffActor) == nil)
            #expect(try await stores.patients.addTags(programID: other.id, patientID: patient.id, tags: [PatientTag(key: "k", value: "v")], actor: staffActor) == false)
            // The same phone may exist in another program: programs do not share patients.
            _ = try await stores.patients.create(programID: other.id, profile: PatientProfile(externalID: "A", name: "Twin", phone: "13800138000"), actor: staffActor)
            #expect(try await stores.patients.get(programID: program.id, patientID: patient.id, actor: staffActor)?.profile.name == "Only here")
        }
    }

    @Test(arguments: TestBackend.available)
    func consentsAreRecordedAndWithdrawn(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, clock in
            let patient = try await stores.patients.create(programID: program.id, profile: PatientProfile(name: "C"), actor: staffActor)
            let consent = try #require(try await stores.patients.recordConsent(programID: program.id, patientID: patient.id, kind: "follow-up", version: "2.1", actor: staffActor))
            clock.advance(by: 3600)
            #expect(try await stores.patients.withdrawConsent(programID: program.id, patientID: patient.id, consentID: consent.id, actor: staffActor))
            #expect(try await stores.patients.withdrawConsent(programID: program.id, patientID: patient.id, consentID: consent.id, actor: staffActor) == false)
            let stored = try await stores.patients.get(programID: program.id, patientID: patient.id, actor: staffActor)?.consents
            #expect(stored?.count == 1 && stored?.first?.withdrawnAt == clock.now && stored?.first?.version == "2.1")
        }
    }

    @Test(arguments: TestBackend.available)
    func keyRotationLeavesNoCiphertextUnderTheOldKey(backend: TestBackend) async throws {
        let clock = TestClock()
        try await TestDatabase.withDatabase(backend, clock: clock.clock) { database in
            let old = Stores(database: database, clock: clock.clock, ids: .uuidV7(clock: clock.clock), keys: try KeyRing.parse(TestKeys.single, source: "t"))
            let program = try await old.programs.create(slug: "rot", name: "Rotation")
            for index in 0..<25 {
                _ = try await old.patients.create(programID: program.id, profile: PatientProfile(
                    externalID: "R\(index)", name: "患者\(index)", phone: "1380000\(String(format: "%04d", index))",
                    address: index % 2 == 0 ? "地址\(index)" : nil, caregivers: [Caregiver(name: "家属", relation: "配偶", phone: nil)]), actor: staffActor)
            }
            let rotated = Stores(database: database, clock: clock.clock, ids: .uuidV7(clock: clock.clock), keys: try KeyRing.parse(TestKeys.ring, source: "t"))
            #expect(try await rotated.patients.countNotUnderActiveKey() == 25)
            #expect(try await rotated.patients.reencryptAll(batchSize: 7) == 25)
            #expect(try await rotated.patients.countNotUnderActiveKey() == 0)
            let stillOld = try await database.session { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM patients WHERE name_enc LIKE 'k1:%' OR phone_enc LIKE 'k1:%' OR address_enc LIKE 'k1:%' OR caregivers_enc LIKE 'k1:%'").first()!.decode(column: "n", as: Int.self)
            }
            #expect(stillOld == 0)
            let all = try await rotated.patients.list(programID: program.id, query: PatientQuery(limit: 100), actor: staffActor).patients
            #expect(all.count == 25 && all.allSatisfy { $0.profile.name.hasPrefix("患者") && $0.profile.caregivers.count == 1 })
            // Blind indexes survive rotation: lookups by phone still work.
            #expect(try await rotated.patients.search(programID: program.id, phone: "13800000007", idNumber: nil, name: nil, actor: staffActor).count == 1)
        }
    }
}

@Suite struct PatientImportTests {
    /// A CSV of `count` rows where every hundredth row is invalid in a rotating way.
    static func csv(count: Int) -> (text: String, invalid: Int) {
        var lines = ["患者编号,姓名,性别,出生日期,手机号,身份证号,标签,时区"]
        var invalid = 0
        for index in 0..<count {
            var row = ["E\(index)", "患者\(index)", index % 2 == 0 ? "女" : "male", "1980-01-01",
                       "1380\(String(format: "%07d", index))", "ID\(String(format: "%08d", index))", "disease=T2DM;cohort=\(index % 3)", "Asia/Shanghai"]
            if index % 100 == 99 {
                invalid += 1
                switch (index / 100) % 4 {
                case 0: row[1] = ""
                case 1: row[4] = "12"
                case 2: row[3] = "1980-13-40"
                default: row[7] = "Mars/Base"
                }
            }
            lines.append(row.map(CSVReader.escape).joined(separator: ","))
        }
        return (lines.joined(separator: "\n") + "\n", invalid)
    }

    func run(_ stores: Stores, program: Program, bytes: [UInt8], format: ImportFormat = .csv) async throws -> (ImportSummary, [PatientImport.Reject]) {
        let importer = PatientImporter(store: stores.patients, batchSize: 97)
        let session = PatientImporter.Session()
        var rejects: [PatientImport.Reject] = []
        var batch: [Result<PatientImport.Candidate, PatientImport.Reject>] = []
        for row in try ImportRowReader(bytes: bytes, format: format) {
            batch.append(row)
            if batch.count == importer.batchSize {
                try await importer.importBatch(programID: program.id, rows: batch, actor: staffActor, session: session) { rejects.append($0) }
                batch.removeAll()
            }
        }
        try await importer.importBatch(programID: program.id, rows: batch, actor: staffActor, session: session) { rejects.append($0) }
        return (session.summary, rejects)
    }

    @Test(arguments: TestBackend.available)
    func importsValidRowsRejectsTheRestAndIsIdempotent(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            let (text, invalid) = Self.csv(count: 1000)
            let (first, rejects) = try await run(stores, program: program, bytes: Array(text.utf8))
            #expect(first.created == 1000 - invalid && first.updated == 0 && first.rejected == invalid)
            #expect(rejects.count == invalid)
            #expect(rejects.allSatisfy { $0.line >= 2 && !$0.reason.isEmpty && $0.field != nil })
            #expect(Set(rejects.compactMap(\.field)) == ["name", "phone", "birth_date", "time_zone"])
            #expect(rejects.first?.line == 101, "line numbers count the header")
            let (second, _) = try await run(stores, program: program, bytes: Array(text.utf8))
            #expect(second.created == 0 && second.updated == 1000 - invalid)
            let total = try await stores.database.session { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM patients").first()!.decode(column: "n", as: Int.self)
            }
            #expect(total == 1000 - invalid)
            let tagged = try await stores.patients.list(programID: program.id, query: PatientQuery(tags: TagFilter(all: [PatientTag(key: "cohort", value: "1")]), limit: 500), actor: staffActor)
            #expect(tagged.patients.count == 330 || tagged.patients.count == 333 - rejects.filter { Int($0.line) % 3 == 2 }.count)
        }
    }

    @Test(arguments: TestBackend.available)
    func duplicatesWithinTheFileOrAgainstTheDatabaseAreRejected(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            _ = try await stores.patients.create(programID: program.id, profile: PatientProfile(externalID: "OLD", name: "Existing", phone: "13800000001"), actor: staffActor)
            let text = """
            external_id,name,phone,id_number
            N1,New One,13800000001,
            N2,New Two,13800000002,ABC12345
            N3,New Three,13800000002,
            N2,Again,,
            N4,New Four,,abc12345
            OLD,Existing Renamed,13800000001,
            """
            let (summary, rejects) = try await run(stores, program: program, bytes: Array(text.utf8))
            #expect(summary.created == 1 && summary.updated == 1 && summary.rejected == 4)
            #expect(rejects.map(\.line).sorted() == [2, 4, 5, 6])
            #expect(try await stores.patients.list(programID: program.id, query: PatientQuery(externalID: "OLD"), actor: staffActor).patients.first?.profile.name == "Existing Renamed")
        }
    }

    /// The importer inserts rows whose external id the program did not have when the import
    /// began; one that someone else adds meanwhile turns that batch into an upsert, so the row
    /// updates their patient instead of failing the import or making a second one.
    @Test(arguments: TestBackend.available)
    func anExternalIDAddedDuringTheImportIsUpdatedNotDuplicated(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            _ = try await stores.patients.create(programID: program.id, profile: PatientProfile(externalID: "BEFORE", name: "Before"), actor: staffActor)
            let importer = PatientImporter(store: stores.patients)
            let session = PatientImporter.Session()
            func batch(_ text: String) throws -> [Result<PatientImport.Candidate, PatientImport.Reject>] {
                Array(try ImportRowReader(bytes: Array(("external_id,name,tags\n" + text).utf8), format: .csv))
            }
            try await importer.importBatch(programID: program.id, rows: try batch("A1,Ann,cohort=1\nBEFORE,Before Renamed,\n"), actor: staffActor, session: session) { _ in }
            #expect(session.summary.created == 1 && session.summary.updated == 1)

            let meanwhile = try await stores.patients.create(programID: program.id, profile: PatientProfile(externalID: "DURING", name: "During"), actor: staffActor)
            try await importer.importBatch(programID: program.id, rows: try batch("A2,Bob,cohort=2\nDURING,During Renamed,cohort=3\n"), actor: staffActor, session: session) { _ in }
            #expect(session.summary.created == 2 && session.summary.updated == 2 && session.summary.rejected == 0)

            let during = try await stores.patients.list(programID: program.id, query: PatientQuery(externalID: "DURING"), actor: staffActor).patients
            #expect(during.map(\.id) == [meanwhile.id] && during.first?.profile.name == "During Renamed")
            #expect(during.first?.tags.map(\.tag) == [PatientTag(key: "cohort", value: "3")])
            #expect(try await stores.patients.list(programID: program.id, query: PatientQuery(), actor: staffActor).patients.count == 4)
            let audited = try await stores.audit.events(programID: program.id, subjectID: meanwhile.id).map(\.action)
            #expect(audited.contains("patient.import.update") && !audited.contains("patient.import.create"))
        }
    }

    /// The program's external ids are read as one string of length-prefixed ids, so an id may
    /// hold any character, digits and colons included. (A misread id would only cost speed —
    /// its row is inserted, fails, and its batch is redone as an upsert — so it is checked here.)
    @Test func knownExternalIDsSurviveTheirEncoding() {
        let ids = ["12:3", "病历:9", "", "7", "a b,c"]
        let encoded = ids.map { "\($0.utf8.count):\($0)" }.joined()
        #expect(PatientImporter.KnownIdentities.lengthPrefixed(Array(encoded.utf8)) == Set(ids))
        #expect(PatientImporter.KnownIdentities.lengthPrefixed([]).isEmpty)
    }

    @Test(arguments: TestBackend.available)
    func importsNDJSON(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            let text = """
            {"external_id": "J1", "name": "Emma Li", "locale": "en", "time_zone": "America/New_York", "tags": ["disease=T2DM", "stage=early"]}
            {"external_id": "J2", "姓名": "王芳", "tags": {"disease": "GDM"}, "phone": 13800138000}

            not json
            {"external_id": "J3", "name": "X", "shoe_size": 42}
            """
            let (summary, rejects) = try await run(stores, program: program, bytes: Array(text.utf8), format: .ndjson)
            #expect(summary.created == 2 && summary.rejected == 2)
            #expect(rejects.map(\.line) == [4, 5])
            let emma = try #require(try await stores.patients.list(programID: program.id, query: PatientQuery(externalID: "J1"), actor: staffActor).patients.first)
            #expect(emma.profile.locale == .en && emma.profile.timeZone == "America/New_York" && emma.tags.count == 2)
        }
    }

    @Test func aBadHeaderStopsTheImportBeforeAnyRow() {
        #expect(throws: TendError.self) { try ImportRowReader(bytes: Array("id,name\n1,x\n".utf8), format: .csv) }
        #expect(throws: TendError.self) { try ImportRowReader(bytes: [], format: .csv) }
    }
}
