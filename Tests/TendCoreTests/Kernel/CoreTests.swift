import Foundation
import Testing
import TendCore

@Suite struct ValidationTests {
    @Test(arguments: ["gdm-camp", "lung2", "ab"])
    func acceptsGoodSlugs(slug: String) throws {
        #expect(try Validate.slug(slug) == slug)
    }

    @Test(arguments: ["", "a", "GDM", "gdm camp", "-gdm", "gdm-", "gdm--camp", "肺癌", String(repeating: "a", count: 49)])
    func rejectsBadSlugsNamingTheField(slug: String) {
        #expect(throws: TendError.self) { try Validate.slug(slug) }
        #expect((try? Validate.slug(slug)) == nil)
        do { _ = try Validate.slug(slug, field: "program") } catch { #expect(error.field == "program") }
    }

    @Test func emailsAreNormalisedAndChecked() throws {
        #expect(try Validate.email("  Li.Hua@Example.ORG ") == "li.hua@example.org")
        for bad in ["", "no-at", "a@b", "@b.org", "a@.org", "a b@c.org", "a@b.org."] {
            #expect(throws: TendError.self, "\(bad)") { try Validate.email(bad) }
        }
    }

    @Test func passwordsNeedTenCharactersAndFitBcrypt() throws {
        #expect(throws: TendError.self) { try Validate.password("short") }
        #expect(throws: TendError.self) { try Validate.password(String(repeating: "密", count: 73)) }
        // 72 characters of Chinese are 216 bytes: accepted (the hasher pre-hashes what bcrypt would cut).
        #expect(try Validate.password(String(repeating: "密", count: 72)).count == 72)
        #expect(try Validate.password("long-enough") == "long-enough")
    }

    @Test func rolesParseCaseInsensitively() throws {
        #expect(try Validate.role(" Manager ") == .manager)
        #expect(throws: TendError.self) { try Validate.role("boss") }
    }
}

@Suite struct RoleTests {
    @Test func onlyAdminsManageMembersAndReadAudit() {
        for role in StaffRole.allCases {
            #expect(role.allows(.manageMembers) == (role == .admin))
            #expect(role.allows(.readAudit) == (role == .admin))
            #expect(role.allows(.readProgram))
        }
        #expect(!StaffRole.viewer.allows(.writePatients))
        #expect(StaffRole.doctor.allows(.writePatients))
    }
}

@Suite struct LocaleTests {
    @Test(arguments: [
        ("en-US,en;q=0.9", AppLocale.en),
        ("zh-CN,zh;q=0.9,en;q=0.8", .zhHans),
        ("fr-FR,en;q=0.5", .en),
        ("en;q=0.3, zh-Hans;q=0.7", .zhHans),
        ("de", .zhHans),
        ("", .zhHans),
        ("en;q=0", .zhHans),
    ])
    func negotiatesAcceptLanguage(header: String, expected: AppLocale) {
        #expect(AppLocale.negotiate(acceptLanguage: header) == expected)
    }

    @Test func identifiersInEveryCommonSpelling() {
        #expect(AppLocale(identifier: "zh_CN") == .zhHans)
        #expect(AppLocale(identifier: "zh-Hans") == .zhHans)
        #expect(AppLocale(identifier: "EN-gb") == .en)
        #expect(AppLocale(identifier: "ja") == nil)
    }

    @Test func everyUIStringHasBothLanguages() {
        for (key, text) in UIStrings.table {
            #expect(!text.en.isEmpty && !text.zh.isEmpty, "\(key)")
        }
        for role in StaffRole.allCases {
            #expect(UIStrings.roleName(role, in: .zhHans) != role.rawValue)
        }
    }
}

@Suite struct ClockAndIDTests {
    @Test func uuidV7IdsAreOrderedByTheInjectedClock() {
        var generator = SystemRandomNumberGenerator()
        let earlier = IDGenerator.makeUUIDv7(milliseconds: 1_796_112_000_000, using: &generator)
        let later = IDGenerator.makeUUIDv7(milliseconds: 1_796_112_000_001, using: &generator)
        #expect(earlier.count == 32 && earlier < later)
        #expect(Array(earlier)[12] == "7", "version nibble")
        let fixed = TendClock.fixed(Date(timeIntervalSince1970: 1_796_112_000))
        let ids = IDGenerator.uuidV7(clock: fixed)
        #expect(ids.next().hasPrefix("01a2"))
        #expect(ids.next() != ids.next())
    }

    @Test func sequentialIdsAreDeterministic() {
        let ids = IDGenerator.sequential(prefix: "p")
        #expect(ids.next() == "p000000000001")
        #expect(ids.next() == "p000000000002")
    }

    @Test func instantsRoundTripThroughMilliseconds() {
        let instant = Date(timeIntervalSince1970: 1_796_112_000.123)
        #expect(Date(epochMilliseconds: instant.epochMilliseconds).epochMilliseconds == instant.epochMilliseconds)
    }
}

@Suite struct TextFoldingTests {
    @Test func containsFindsBytesAnywhere() {
        #expect(TextFolding.contains("今天空腹血糖6.1，谢谢", "血糖"))
        #expect(TextFolding.contains("abc", "abc"))
        #expect(TextFolding.contains("abc", ""))
        #expect(TextFolding.contains("xxabab", "abab"))
        #expect(!TextFolding.contains("ab", "abc"))
        #expect(!TextFolding.contains("", "a"))
        #expect(!TextFolding.contains("血压", "血糖"))
        #expect(TextFolding.contains(TextFolding.halfWidth("空腹ＡＢＣ").lowercased(), "abc"))
    }
}
