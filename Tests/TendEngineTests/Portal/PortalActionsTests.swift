import Foundation
import Logging
import Testing
import TendCore
import TendEngine
import TendFormats
import TendStore
import TendTestSupport

/// The portal's sign-in codes and shared records on both backends: a code's lifetime, its
/// five tries and the throttles; a share's lifetime, revocation and passcode lockout; and what
/// a family member may reach.
@Suite struct PortalActionsTests {
    struct Fixture {
        let stores: Stores
        let program: Program
        let clock: TestClock
        let sms: RecordingChannels
        let portal: PortalActions
        let patient: Patient
        let mother: Patient
        let stranger: Patient

        /// The code in the newest text message sent.
        var lastCode: String? {
            sms.sent.last.flatMap { message in message.text.split(whereSeparator: { !$0.isNumber }).first { $0.count == 6 }.map(String.init) }
        }
    }

    static let phone = "13800000001", daughterPhone = "13900000002"

    static func with(_ backend: TestBackend, smsChannel: Bool = true, _ body: (Fixture) async throws -> Void) async throws {
        try await TestDatabase.withDatabase(backend) { database in
            let clock = TestClock()
            let stores = try Stores(database: database, clock: clock.clock, ids: .uuidV7(clock: clock.clock), keys: KeyRing.parse(TestKeys.ring, source: "test"))
            let program = try await stores.programs.create(slug: "onc", name: "Oncology")
            if smsChannel {
                try await stores.channels.set(programID: program.id, ChannelConfig(channel: .sms, url: "http://127.0.0.1:9/sms"), policy: .testReceivers)
            }
            let patients = PatientActions(stores: stores)
            let patient = try await patients.create(programID: program.id, profile: PatientProfile(name: "王芳", phone: phone), tags: [], by: .cli)
            let mother = try await patients.create(programID: program.id, profile: PatientProfile(
                name: "李秀英", phone: "13700000003", caregivers: [Caregiver(name: "王芳", relation: "女儿", phone: daughterPhone)]), tags: [], by: .cli)
            let stranger = try await patients.create(programID: program.id, profile: PatientProfile(name: "赵强", phone: "13600000004"), tags: [], by: .cli)
            let sms = RecordingChannels()
            let links = ConfirmationLinks(signer: stores.blindIndex, publicURL: "http://tend.test")
            let messages = MessageActions(stores: stores, classifiers: ClassifierCache(), clock: clock.clock, logger: Logger(label: "test"))
            let portal = PortalActions(stores: stores, channels: sms, links: links, messages: messages, patients: patients)
            try await body(Fixture(stores: stores, program: program, clock: clock, sms: sms, portal: portal, patient: patient, mother: mother, stranger: stranger))
        }
    }

    static func signIn(_ fixture: Fixture, phone: String = phone) async throws -> PortalVisitor {
        #expect(try await fixture.portal.requestCode(programSlug: "onc", phone: phone, address: "10.0.0.1") == .sent)
        let code = try #require(fixture.lastCode)
        guard case .signedIn(_, let visitor) = try await fixture.portal.signIn(programSlug: "onc", phone: phone, code: code, requestID: nil) else {
            Issue.record("the code from the text did not sign in")
            throw CancellationError()
        }
        return visitor
    }

    @Test(arguments: TestBackend.available)
    func aCodeSignsInOnceAndOnlyWithinTenMinutes(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            _ = try await fixture.portal.requestCode(programSlug: "onc", phone: Self.phone, address: "10.0.0.1")
            let message = try #require(fixture.sms.sent.last)
            #expect(message.phone == Self.phone)
            let code = try #require(fixture.lastCode)
            guard case .signedIn(_, let visitor) = try await fixture.portal.signIn(programSlug: "onc", phone: Self.phone, code: code, requestID: nil) else {
                Issue.record("a fresh code did not sign in"); return
            }
            #expect(visitor.people == [PortalPerson(patientID: fixture.patient.id, relation: nil)])
            // Used once: the same code again finds nothing waiting.
            guard case .refused(.none) = try await fixture.portal.signIn(programSlug: "onc", phone: Self.phone, code: code, requestID: nil) else {
                Issue.record("a used code signed in again"); return
            }
            fixture.clock.advance(by: 16 * 60)
            _ = try await fixture.portal.requestCode(programSlug: "onc", phone: Self.phone, address: "10.0.0.1")
            let late = try #require(fixture.lastCode)
            fixture.clock.advance(by: PortalPolicy.codeLifetime + 1)
            guard case .refused(.expired) = try await fixture.portal.signIn(programSlug: "onc", phone: Self.phone, code: late, requestID: nil) else {
                Issue.record("an expired code was not refused as expired"); return
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func fiveWrongTriesSpendTheCode(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            _ = try await fixture.portal.requestCode(programSlug: "onc", phone: Self.phone, address: "10.0.0.1")
            let code = try #require(fixture.lastCode)
            let wrong = code == "000000" ? "111111" : "000000"
            var remaining: [Int] = []
            for _ in 0..<5 {
                switch try await fixture.portal.signIn(programSlug: "onc", phone: Self.phone, code: wrong, requestID: nil) {
                case .refused(.wrong(let left)): remaining.append(left)
                case .refused(.spent): remaining.append(0)
                default: Issue.record("a wrong code was not refused")
                }
            }
            #expect(remaining == [4, 3, 2, 1, 0])
            guard case .refused(.spent) = try await fixture.portal.signIn(programSlug: "onc", phone: Self.phone, code: code, requestID: nil) else {
                Issue.record("the right code still worked after five wrong tries"); return
            }
            #expect(throws: TendError.self) { try PortalPolicy.code("12345") }
            #expect(try PortalPolicy.code("１２３ ４５６") == "123456")
        }
    }

    @Test(arguments: TestBackend.available)
    func codesAreThrottledPerPhoneAndPerAddressAndSayNothingAboutWhoIsRegistered(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            for _ in 0..<PortalPolicy.codesPerPhone {
                #expect(try await fixture.portal.requestCode(programSlug: "onc", phone: Self.phone, address: "10.0.0.1") == .sent)
            }
            #expect(try await fixture.portal.requestCode(programSlug: "onc", phone: Self.phone, address: "10.0.0.2") == .throttled)
            #expect(fixture.sms.sent.count == PortalPolicy.codesPerPhone)
            // An unknown number is answered the same way, and nothing is sent.
            #expect(try await fixture.portal.requestCode(programSlug: "onc", phone: "13512345678", address: "10.0.0.3") == .sent)
            #expect(fixture.sms.sent.count == PortalPolicy.codesPerPhone)
            // One address asking for many numbers is stopped too.
            var answers: [PortalActions.CodeRequest] = []
            for index in 0..<(PortalPolicy.codesPerAddress + 2) {
                answers.append(try await fixture.portal.requestCode(programSlug: "onc", phone: "135000000\(10 + index)", address: "10.9.9.9"))
            }
            #expect(answers.prefix(PortalPolicy.codesPerAddress).allSatisfy { $0 == .sent })
            #expect(answers.suffix(2).allSatisfy { $0 == .throttled })
            fixture.clock.advance(by: PortalPolicy.phoneWindow + 1)
            #expect(try await fixture.portal.requestCode(programSlug: "onc", phone: Self.phone, address: "10.0.0.1") == .sent)
        }
    }

    @Test(arguments: TestBackend.available)
    func withoutAnSMSChannelThePageSaysSo(backend: TestBackend) async throws {
        try await Self.with(backend, smsChannel: false) { fixture in
            let answer = try await fixture.portal.requestCode(programSlug: "onc", phone: Self.phone, address: "10.0.0.1")
            #expect(answer == .noChannel)
            #expect(fixture.sms.sent.isEmpty)
        }
    }

    @Test(arguments: TestBackend.available)
    func aFamilyMemberReachesOnlyThePatientsWhoNamedThem(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            let daughter = try await Self.signIn(fixture, phone: Self.daughterPhone)
            #expect(daughter.people == [PortalPerson(patientID: fixture.mother.id, relation: "女儿")])
            _ = try await fixture.portal.home(daughter, patientID: fixture.mother.id, requestID: nil)
            await #expect(throws: TendError.self) { _ = try await fixture.portal.home(daughter, patientID: fixture.stranger.id, requestID: nil) }
            await #expect(throws: TendError.self) { _ = try await fixture.portal.record(daughter, patientID: fixture.patient.id, requestID: nil) }
            // The daughter's reads are audited with her as the actor, about her mother.
            let kinds = try await fixture.stores.audit.events(programID: fixture.program.id, subjectID: fixture.mother.id).filter { $0.action == "portal.home.read" }.map(\.actorKind)
            #expect(kinds == [.caregiver])
            // Taken off the profile, she loses access at her next request.
            _ = try await PatientActions(stores: fixture.stores).update(programID: fixture.program.id, patientID: fixture.mother.id, by: .cli) { profile in
                var profile = profile
                profile.caregivers = []
                return profile
            }
            let secretless = try await fixture.stores.portal.people(programID: fixture.program.id, phoneKey: try #require(daughter.session.phoneKey))
            #expect(secretless.isEmpty)
        }
    }

    @Test(arguments: TestBackend.available)
    func aShareOpensUntilItExpiresOrIsRevokedAndLocksAfterFiveWrongPasscodes(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            let visitor = try await Self.signIn(fixture)
            let id = fixture.patient.id
            await #expect(throws: TendError.self) {
                _ = try await fixture.portal.share(visitor, patientID: id, lifetime: 31 * 86400, passcode: nil, requestID: nil)
            }
            // Open without a passcode, then expired.
            let (plain, _) = try await fixture.portal.share(visitor, patientID: id, lifetime: 3600, passcode: nil, requestID: nil)
            let plainSecret = String(plain.dropFirst("/portal/s/".count))
            guard case .record(_, let record) = try await fixture.portal.openShare(secret: plainSecret, passcode: nil, requestID: nil) else {
                Issue.record("a live share did not open"); return
            }
            #expect(record.patient.id == id)
            #expect(try await fixture.portal.shares(visitor, patientID: id).first?.openedCount == 1)
            // Revoked: refused at once.
            let (revocable, revocableShare) = try await fixture.portal.share(visitor, patientID: id, lifetime: 86400, passcode: nil, requestID: nil)
            #expect(try await fixture.portal.revoke(visitor, patientID: id, shareID: revocableShare.id, requestID: nil))
            guard case .unavailable(.revoked) = try await fixture.portal.openShare(secret: String(revocable.dropFirst(10)), passcode: nil, requestID: nil) else {
                Issue.record("a revoked share still opened"); return
            }
            // Behind a passcode: asked for, then five wrong ones lock it for good.
            let (guarded, _) = try await fixture.portal.share(visitor, patientID: id, lifetime: 86400, passcode: "2468", requestID: nil)
            let guardedSecret = String(guarded.dropFirst(10))
            guard case .unavailable(.needsPasscode(wrong: false, _)) = try await fixture.portal.openShare(secret: guardedSecret, passcode: nil, requestID: nil) else {
                Issue.record("no passcode was asked for"); return
            }
            guard case .record = try await fixture.portal.openShare(secret: guardedSecret, passcode: "2468", requestID: nil) else {
                Issue.record("the right passcode did not open the share"); return
            }
            var outcomes: [ShareCheck] = []
            for _ in 0..<5 {
                if case .unavailable(let check) = try await fixture.portal.openShare(secret: guardedSecret, passcode: "1111", requestID: nil) { outcomes.append(check) }
            }
            #expect(outcomes == [.needsPasscode(wrong: true, remaining: 4), .needsPasscode(wrong: true, remaining: 3), .needsPasscode(wrong: true, remaining: 2),
                                 .needsPasscode(wrong: true, remaining: 1), .locked])
            guard case .unavailable(.locked) = try await fixture.portal.openShare(secret: guardedSecret, passcode: "2468", requestID: nil) else {
                Issue.record("a locked share opened with the right passcode"); return
            }
            fixture.clock.advance(by: 3601)
            guard case .unavailable(.expired) = try await fixture.portal.openShare(secret: plainSecret, passcode: nil, requestID: nil) else {
                Issue.record("an expired share still opened"); return
            }
            guard case .unavailable(.unknown) = try await fixture.portal.openShare(secret: "not-a-share", passcode: nil, requestID: nil) else {
                Issue.record("a made-up link opened"); return
            }
            // Openings are audited with the share as the actor.
            let opened = try await fixture.stores.audit.events(programID: fixture.program.id, subjectID: id).filter { $0.action == "share.open" }
            #expect(opened.count == 2 && opened.allSatisfy { $0.actorKind == .sharedLink })
        }
    }

    @Test(arguments: TestBackend.available)
    func withdrawingInThePortalCancelsWhatIsPlannedAndKeepsTheHistory(backend: TestBackend) async throws {
        try await Self.with(backend) { fixture in
            let visitor = try await Self.signIn(fixture)
            let source = """
                pathway: visits
                version: 1
                name: {zh: 复诊, en: Visits}
                anchors: [start]
                steps:
                  - id: soon
                    anchor: start
                    offset: 0d
                    at: "01:00"
                    channels: [sms]
                    message: {zh: "今天复诊。", en: "Visit today."}
                  - id: later
                    anchor: start
                    offset: 30d
                    at: "09:00"
                    channels: [sms]
                    message: {zh: "一个月复诊。", en: "Visit in a month."}
                """
            _ = try await fixture.stores.pathways.save(programID: fixture.program.id, pathway: try PathwayFile.parse(source), source: source)
            _ = try await EnrolmentActions(stores: fixture.stores).enrol(programID: fixture.program.id, pathway: "visits", target: .patient(fixture.patient.id),
                                                                        anchors: ["start": LocalDate(year: 2026, month: 12, day: 1)], by: .cli)
            fixture.clock.advance(by: 86400)
            _ = try await PatientActions(stores: fixture.stores).recordConsent(programID: fixture.program.id, patientID: fixture.patient.id, kind: "follow-up", version: "1", by: .cli)
            try await fixture.portal.withdraw(visitor, patientID: fixture.patient.id, requestID: nil)
            let after = try #require(try await fixture.stores.patients.fetch(programID: fixture.program.id, ids: [fixture.patient.id]).first)
            #expect(after.profile.status == .withdrawn)
            #expect(after.consents.count == 1 && after.consents.allSatisfy { $0.withdrawnAt != nil })
            let statuses = Dictionary(uniqueKeysWithValues: try await fixture.stores.enrolments.schedule(programID: fixture.program.id, patientID: fixture.patient.id)
                .map { ($0.stepID, $0.status) })
            #expect(statuses["later"] == .cancelled, "what is planned is cancelled")
            #expect(statuses["soon"] != nil, "the history is kept")
            let events = try await fixture.stores.audit.events(programID: fixture.program.id, subjectID: fixture.patient.id)
            #expect(events.contains { $0.action == "patient.consent.withdraw" && $0.actorKind == .patient })
        }
    }
}
