import Crypto
import Foundation
import Logging
import SQLKit
import Testing
import TendCore
@testable import TendStore
import TendTestSupport

/// Data at rest that cannot be moved or linked, and backups that restore what was there.
@Suite struct DataProtectionTests {
    @Test(arguments: TestBackend.available)
    func aCiphertextMovedToAnotherPatientsRowFailsToOpenWithAClearError(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            let alice = try await stores.patients.create(programID: program.id, profile: PatientProfile(externalID: "A", name: "李华", phone: "13700000001"), actor: staffActor)
            let bob = try await stores.patients.create(programID: program.id, profile: PatientProfile(externalID: "B", name: "王芳", phone: "13700000002"), actor: staffActor)
            try await stores.database.session { sql in
                try await sql.raw("""
                    UPDATE patients SET phone_enc = (SELECT phone_enc FROM patients WHERE id = \(bind: alice.id)) WHERE id = \(bind: bob.id)
                    """).run()
            }
            do {
                _ = try await stores.patients.fetch(programID: program.id, ids: [bob.id])
                Issue.record("a moved ciphertext opened")
            } catch let error as FieldCipherError {
                #expect(error.description.contains("phone_enc") && error.description.contains(bob.id) && error.description.contains("moved"), "\(error)")
            }
            #expect(try await stores.patients.fetch(programID: program.id, ids: [alice.id]).first?.profile.phone == "13700000001", "the original still opens")
        }
    }

    @Test(arguments: TestBackend.available)
    func onePhoneInTwoProgramsGivesUnrelatedIndexes(backend: TestBackend) async throws {
        try await withPatientStores(backend) { stores, program, _ in
            let other = try await stores.programs.create(slug: "other", name: "Other")
            for id in [program.id, other.id] {
                _ = try await stores.patients.create(programID: id, profile: PatientProfile(externalID: "X", name: "同一人", phone: "13800138000"), actor: staffActor)
            }
            let indexes = try await stores.database.session { sql in
                try await sql.raw("SELECT phone_bidx, name_bidx FROM patients ORDER BY program_id").all().map {
                    [try $0.decode(column: "phone_bidx", as: String.self), try $0.decode(column: "name_bidx", as: String.self)]
                }
            }
            #expect(indexes.count == 2 && indexes[0][0] != indexes[1][0] && indexes[0][1] != indexes[1][1])
            for id in [program.id, other.id] {
                #expect(try await stores.patients.search(programID: id, phone: "13800138000", idNumber: nil, name: nil, actor: staffActor).count == 1)
            }
        }
    }

    /// What version 13 wrote: fields sealed without a row, ring-wide blind indexes. The upgrade
    /// binds every field to its row and keys every index per program, once.
    @Test(arguments: TestBackend.available)
    func dataWrittenBeforeTheCryptoUpgradeIsFoundAndBoundAfterIt(backend: TestBackend) async throws {
        let clock = TestClock()
        try await TestDatabase.withDatabase(backend, migrate: false, clock: clock.clock) { database in
            try await Migrator(database: database, clock: clock.clock, migrations: Schema.migrations.filter { $0.version <= 13 }).migrate()
            let ring = try KeyRing.parse(TestKeys.ring, source: "test")
            let stores = Stores(database: database, clock: clock.clock, ids: .uuidV7(clock: clock.clock), keys: ring)
            let program = try await stores.programs.create(slug: "old", name: "Old")
            @Sendable func legacySeal(_ text: String) throws -> String {
                let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: ring.active.material, info: Data("tend-field-encryption-v1".utf8), outputByteCount: 32)
                return "\(ring.active.id):" + (try AES.GCM.seal(Data(text.utf8), using: key).combined ?? Data()).base64EncodedString()
            }
            let indexer = stores.blindIndex
            let caregivers = String(decoding: try JSONEncoder().encode([Caregiver(name: "王六", relation: "女儿", phone: "13900139000")]), as: UTF8.self)
            try await database.session { sql in
                try await sql.raw("""
                    INSERT INTO patients (\(unsafeRaw: PatientStore.columnList)) VALUES (
                      'old-1', \(bind: program.id), 'OLD-1', \(bind: try legacySeal("王五")), \(bind: indexer.index("王五", purpose: "name")), 'male', NULL,
                      \(bind: try legacySeal("13800138000")), \(bind: indexer.index("13800138000", purpose: "phone")), NULL, NULL, NULL,
                      'zh-Hans', 'Asia/Shanghai', NULL, NULL, 'in_app', \(bind: try legacySeal(caregivers)), 'active', 0, 0)
                    """).run()
                try await sql.raw("""
                    INSERT INTO sender_identities (program_id, kind, key_bidx, patient_id, relation)
                    VALUES (\(bind: program.id), 'caregiver_phone', \(bind: indexer.index("13900139000", purpose: "phone")), 'old-1', '女儿')
                    """).run()
            }
            try await Migrator(database: database, clock: clock.clock).migrate()
            try await CryptoUpgrade(stores: stores, logger: TestDatabase.logger).run()
            try await CryptoUpgrade(stores: stores, logger: TestDatabase.logger).run()  // a second start changes nothing
            #expect(try await stores.patients.search(programID: program.id, phone: "13800138000", idNumber: nil, name: nil, actor: staffActor).map(\.id) == ["old-1"])
            #expect(try await stores.patients.search(programID: program.id, phone: nil, idNumber: nil, name: "王五", actor: staffActor).map(\.id) == ["old-1"])
            #expect(try await stores.patients.matchSender(programID: program.id, phone: "13900139000", channel: nil, userID: nil)?.relation == "女儿")
            let patient = try #require(try await stores.patients.fetch(programID: program.id, ids: ["old-1"]).first)
            #expect(patient.profile.name == "王五" && patient.profile.caregivers.first?.name == "王六")
            let stored = try await database.session { sql in
                try await sql.raw("SELECT name_enc FROM patients WHERE id = 'old-1'").first()!.decode(column: "name_enc", as: String.self)
            }
            #expect(stored.hasPrefix("k2;a:"))
            #expect(try await stores.patients.countNotUnderActiveKey() == 0)
        }
    }

    @Test func aBackupTakenDuringAnImportOf100000PatientsRestoresToTheDatabaseAtThatMoment() async throws {
        try await withPatientStores(.sqlite) { stores, program, _ in
            let rows = 100_000
            var csv = "external_id,name,phone,tags\n"
            csv.reserveCapacity(rows * 40)
            for index in 0..<rows { csv += "E\(index),患者\(index),13\(String(format: "%09d", index)),cohort=a\n" }
            let reader = try ImportRowReader(bytes: Array(csv.utf8), format: .csv)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tend-backup-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let backup = folder.appendingPathComponent("backup.sqlite").path
            let importing = Task {
                let session = PatientImporter.Session()
                try await PatientImporter(store: stores.patients).run(reader, programID: program.id, actor: staffActor, session: session, reject: { _ in })
                return session.summary.created
            }
            // Wait until the import is under way, then back up between two of its transactions.
            var patientsSoFar = 0
            while patientsSoFar == 0 {
                try await Task.sleep(for: .milliseconds(50))
                patientsSoFar = try await stores.database.session { try await $0.raw("SELECT COUNT(*) AS n FROM patients").first()!.decode(column: "n", as: Int.self) }
            }
            let manifest = try await DatabaseBackup.backup(stores.database, to: backup, manifest: true)
            #expect(try await importing.value == rows)
            let atBackup = try #require(manifest["patients"]).rows
            #expect(atBackup > 0 && atBackup < rows, "the backup caught the import half-way (\(atBackup))")
            let restored = folder.appendingPathComponent("restored.sqlite").path
            try await DatabaseBackup.restore(backup, over: restored, force: false, logger: TestDatabase.logger)
            #expect(try await DatabaseBackup.digests(ofFile: restored, logger: TestDatabase.logger) == manifest)
            #expect(manifest.keys.contains("audit_events") && manifest.keys.contains("patient_tags"))
        }
    }

    @Test func restoreRefusesADatabaseInUseAndAnExistingOneWithoutForce() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tend-restore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let live = folder.appendingPathComponent("live.sqlite").path, copy = folder.appendingPathComponent("copy.sqlite").path
        let database = try await Database.open(.sqlite(path: live), logger: TestDatabase.logger)
        try await Migrator(database: database, clock: .system).migrate()
        try await DatabaseBackup.backup(database, to: copy)
        await #expect(throws: BackupError.self, "the live database is in use") {
            try await DatabaseBackup.restore(copy, over: live, force: true, logger: TestDatabase.logger)
        }
        await database.close()
        await #expect(throws: BackupError.self, "it exists") { try await DatabaseBackup.restore(copy, over: live, force: false, logger: TestDatabase.logger) }
        try await DatabaseBackup.restore(copy, over: live, force: true, logger: TestDatabase.logger)
        let garbage = folder.appendingPathComponent("garbage.sqlite").path
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: garbage))
        await #expect(throws: BackupError.self) { try await DatabaseBackup.restore(garbage, over: live, force: true, logger: TestDatabase.logger) }
    }

    @Test func importsReadUTF8WithOrWithoutABOMAndGB18030AndRefuseTheRest() throws {
        let text = "external_id,name\nA1,张三\n"
        let utf8 = Array(text.utf8)
        #expect(try TextEncoding.utf8(utf8).text == utf8)
        #expect(try TextEncoding.utf8([0xEF, 0xBB, 0xBF] + utf8).text == utf8)
        // 张三 in GB18030 is D5 C5 C8 FD.
        let gb: [UInt8] = Array("external_id,name\nA1,".utf8) + [0xD5, 0xC5, 0xC8, 0xFD] + [0x0A]
        let decoded = try TextEncoding.utf8(gb)
        #expect(decoded.encoding == .gb18030 && decoded.text == utf8)
        #expect(try TextEncoding.utf8(gb, declared: .gb18030).text == utf8)
        do {
            _ = try TextEncoding.utf8(gb, declared: .utf8)
            Issue.record("GB18030 read as UTF-8")
        } catch {
            #expect(error.message.en.contains("UTF-8") && error.message.en.contains("line 2"), "\(error.message.en)")
        }
        #expect(throws: TendError.self) { try TextEncoding.utf8([0xFF, 0xFE, 0x41, 0x00]) }
        #expect(throws: TendError.self, "bytes that are neither") { try TextEncoding.utf8(Array("a\nb\n".utf8) + [0x81, 0x20, 0xFF]) }
        let reader = try ImportRowReader(bytes: gb, format: .csv)
        #expect(Array(reader).count == 1)
    }
}
