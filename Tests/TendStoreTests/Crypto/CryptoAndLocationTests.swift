import Foundation
import Testing
import TendCore
import TendStore
import TendTestSupport
import Logging

@Suite struct KeyRingTests {
    static let here = SealContext(program: "p1", table: "patients", column: "name_enc", row: "patient-a")

    @Test func sealsUnderTheActiveKeyAndOpensUnderAnyKnownKey() throws {
        let old = FieldCipher(ring: try KeyRing.parse(TestKeys.single, source: "test"))
        let rotated = FieldCipher(ring: try KeyRing.parse(TestKeys.ring, source: "test"))
        let sealedOld = try old.seal("张三 13800138000", for: Self.here)
        #expect(FieldCipher.keyID(of: sealedOld) == "k1")
        #expect(!sealedOld.contains("13800138000"))
        #expect(try rotated.open(sealedOld, for: Self.here) == "张三 13800138000")
        let sealedNew = try rotated.seal("张三", for: Self.here)
        #expect(FieldCipher.keyID(of: sealedNew) == "k2")
        #expect(try rotated.seal("张三", for: Self.here) != sealedNew, "nonces must differ")
        #expect(throws: (any Error).self) { try old.open(sealedNew, for: Self.here) }
        let prefix = "k2;a:"
        var bytes = Data(base64Encoded: String(sealedNew.dropFirst(prefix.count)))!
        bytes[bytes.count - 20] ^= 0x01
        #expect(throws: (any Error).self) { try rotated.open(prefix + bytes.base64EncodedString(), for: Self.here) }
    }

    @Test func aCiphertextOpensOnlyWhereItWasSealed() throws {
        let cipher = FieldCipher(ring: try KeyRing.parse(TestKeys.ring, source: "test"))
        let sealed = try cipher.seal("13800138000", for: Self.here)
        for elsewhere in [SealContext(program: "p1", table: "patients", column: "name_enc", row: "patient-b"),
                          SealContext(program: "p2", table: "patients", column: "name_enc", row: "patient-a"),
                          SealContext(program: "p1", table: "patients", column: "phone_enc", row: "patient-a"),
                          SealContext(program: "p1", table: "messages", column: "name_enc", row: "patient-a")] {
            #expect(throws: FieldCipherError.self, "\(elsewhere)") { try cipher.open(sealed, for: elsewhere) }
        }
        do {
            _ = try cipher.open(sealed, for: SealContext(program: "p1", table: "patients", column: "name_enc", row: "patient-b"))
        } catch let error as FieldCipherError {
            #expect(error.description.contains("moved from another row"))
        }
        // A ciphertext without a row (the format before bound fields) is refused too.
        #expect(throws: FieldCipherError.self) { try cipher.open("k2:" + sealed.split(separator: ":")[1], for: Self.here) }
    }

    @Test func blindIndexesSurviveRotationAndDependOnPurposeAndProgram() throws {
        let one = BlindIndexer(ring: try KeyRing.parse(TestKeys.single, source: "test"))
        let two = BlindIndexer(ring: try KeyRing.parse(TestKeys.ring, source: "test"))
        #expect(one.index("13800138000", purpose: "phone", program: "p1") == two.index("13800138000", purpose: "phone", program: "p1"))
        #expect(one.index("13800138000", purpose: "phone", program: "p1") != one.index("13800138000", purpose: "id_number", program: "p1"))
        #expect(one.index("13800138000", purpose: "phone", program: "p1") != one.index("13800138000", purpose: "phone", program: "p2"),
                "one phone in two programs does not link them")
        #expect(one.index("13800138000", purpose: "phone", program: "p1").count == BlindIndexer.length)
        #expect(one.index("13800138000", purpose: "phone", program: "p1").allSatisfy { $0.isHexDigit })
    }

    @Test func rejectsMalformedKeyMaterial() {
        #expect(throws: KeyRingError.self) { try KeyRing.parse("", source: "t") }
        #expect(throws: KeyRingError.self) { try KeyRing.parse("k1:c2hvcnQ=", source: "t") }
        #expect(throws: KeyRingError.self) { try KeyRing.parse("no-colon", source: "t") }
        #expect(throws: KeyRingError.self) { try KeyRing.parse(TestKeys.single + "," + TestKeys.single, source: "t") }
    }

    @Test func createsAKeyFileReadableOnlyByItsOwner() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tend-key-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: KeyRingError.self) { try KeyRing.loadFile(at: path, create: false) }
        let ring = try KeyRing.loadFile(at: path, create: true)
        #expect(ring.active.id == "k1")
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        #expect(try KeyRing.loadFile(at: path, create: false).active.id == "k1")
    }
}

@Suite struct DatabaseLocationTests {
    @Test func parsesPostgresURLs() throws {
        let location = try DatabaseLocation.parse("postgres://tend:s%40cret@db.local:6543/tend_prod?sslmode=disable")
        guard case .postgres(let target) = location else { Issue.record("not postgres"); return }
        #expect(target.host == "db.local" && target.port == 6543 && target.username == "tend")
        #expect(target.password == "s@cret" && target.database == "tend_prod" && target.tls == .disable)
        #expect(!location.redactedDescription.contains("cret"))
    }

    @Test func parsesSQLiteForms() throws {
        #expect(try DatabaseLocation.parse("sqlite:///var/lib/tend.sqlite") == .sqlite(path: "/var/lib/tend.sqlite"))
        #expect(try DatabaseLocation.parse("sqlite:data/tend.sqlite") == .sqlite(path: "data/tend.sqlite"))
        #expect(try DatabaseLocation.parse("tend.sqlite") == .sqlite(path: "tend.sqlite"))
    }

    @Test func rejectsWhatItCannotUse() {
        #expect(throws: TendError.self) { try DatabaseLocation.parse("") }
        #expect(throws: TendError.self) { try DatabaseLocation.parse("mysql://x/y") }
        #expect(throws: TendError.self) { try DatabaseLocation.parse("postgres://h/db?sslmode=bogus") }
    }

    @Test func anUnreachablePostgresFailsFastWithOneLine() async throws {
        let location = try DatabaseLocation.parse("postgres://tend@127.0.0.1:1/tend?sslmode=disable")
        do {
            _ = try await Database.open(location, logger: .init(label: "test"))
            Issue.record("opened an unreachable database")
        } catch let error as DatabaseOpenError {
            #expect(error.description.contains("127.0.0.1:1"))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func aMissingSQLiteFolderIsReported() async throws {
        await #expect(throws: DatabaseOpenError.self) {
            _ = try await Database.open(.sqlite(path: "/nonexistent-\(UUID().uuidString)/tend.sqlite"), logger: .init(label: "test"))
        }
    }
}
