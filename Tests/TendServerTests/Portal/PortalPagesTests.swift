import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TendCore
import TendEngine
import TendServer
import TendStore
import TendServerTestSupport
import TendTestSupport

/// The portal through the real router: signing in with a code from the SMS channel, and what a
/// portal session can reach — its own patient's pages, no other patient's and no staff route.
@Suite struct PortalPagesTests {
    static let html: HTTPFields = [.accept: "text/html"]

    struct Setup {
        let program: Program
        let patient: Patient
        let mother: Patient
    }

    static func setUp(_ app: TestApp) async throws -> Setup {
        let program = try #require(try await app.stores.programs.find(slug: "lung-followup"))
        try await app.stores.channels.set(programID: program.id, ChannelConfig(channel: .sms, url: "http://127.0.0.1:9/sms"), policy: .testReceivers)
        let patients = app.dependencies.actions.patients
        let patient = try await patients.create(programID: program.id, profile: PatientProfile(name: "门户测试", phone: "13812340001"), tags: [], by: .cli)
        let mother = try await patients.create(programID: program.id, profile: PatientProfile(
            name: "门户母亲", phone: "13812340002", timeZone: "Europe/London", caregivers: [Caregiver(name: "门户测试", relation: "女儿", phone: "13812340001")]), tags: [], by: .cli)
        return Setup(program: program, patient: patient, mother: mother)
    }

    /// Signs in through the pages: asks for a code, reads it from the SMS channel, enters it.
    static func portalSignIn(_ app: TestApp, _ client: any TestClientProtocol, jar: CookieJar, phone: String) async throws -> HTTPResponse.Status {
        let page = try await client.execute(uri: "/portal/p/lung-followup", method: .get, headers: merged(jar.header, html))
        jar.absorb(page)
        let csrf = try #require(hiddenField("csrf", in: String(buffer: page.body)))
        let asked = try await client.execute(uri: "/portal/p/lung-followup/code", method: .post, headers: merged(jar.header, formHeaders),
                                             body: form(["csrf": csrf, "phone": phone]))
        #expect(asked.status == .ok)
        #expect(String(buffer: asked.body).contains("portal-code"))
        let text = try #require(app.channels.sent.last?.text)
        let code = try #require(text.split(whereSeparator: { !$0.isNumber }).first { $0.count == 6 })
        let signedIn = try await client.execute(uri: "/portal/p/lung-followup/sign-in", method: .post, headers: merged(jar.header, formHeaders),
                                                body: form(["csrf": csrf, "phone": phone, "code": String(code)]))
        jar.absorb(signedIn)
        return signedIn.status
    }

    @Test(arguments: TestBackend.available)
    func aPortalSessionReachesItsOwnPagesAndNoStaffRouteOrOtherPatient(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let setup = try await Self.setUp(app)
            let jar = CookieJar()
            #expect(try await Self.portalSignIn(app, client, jar: jar, phone: "13812340001") == .seeOther)
            let base = "/portal/p/lung-followup"
            // The phone is the patient's own and a daughter's: both patients are offered.
            let choose = try await client.execute(uri: base, method: .get, headers: merged(jar.header, Self.html))
            #expect(choose.status == .ok)
            let chooser = String(buffer: choose.body)
            #expect(chooser.contains(setup.patient.id) && chooser.contains(setup.mother.id) && chooser.contains("女儿"))
            for patient in [setup.patient.id, setup.mother.id] {
                for page in ["", "/schedule", "/inbox", "/record", "/consent", "/share"] {
                    let response = try await client.execute(uri: "\(base)/\(patient)\(page)", method: .get, headers: merged(jar.header, Self.html))
                    #expect(response.status == .ok, "\(page) for an own patient")
                }
            }
            // Any other patient of the program looks like no patient at all.
            let others = try await app.stores.patients.list(programID: setup.program.id, query: PatientQuery(limit: 3), actor: .system).patients.map(\.id)
                .filter { $0 != setup.patient.id && $0 != setup.mother.id }
            #expect(!others.isEmpty)
            let home = try await client.execute(uri: "\(base)/\(setup.patient.id)", method: .get, headers: merged(jar.header, Self.html))
            let csrf = try #require(hiddenField("csrf", in: String(buffer: home.body)))
            for other in others {
                for page in ["", "/schedule", "/inbox", "/record", "/consent", "/share"] {
                    let response = try await client.execute(uri: "\(base)/\(other)\(page)", method: .get, headers: merged(jar.header, Self.html))
                    #expect(response.status == .notFound, "\(page) of another patient")
                }
                for (action, fields) in [("/share", ["hours": "24"]), ("/inbox", ["text": "hello"]), ("/withdraw", ["confirm": "yes"])] {
                    var body = fields
                    body["csrf"] = csrf
                    let response = try await client.execute(uri: "\(base)/\(other)\(action)", method: .post, headers: merged(jar.header, formHeaders), body: form(body))
                    #expect(response.status == .notFound, "POST \(action) for another patient")
                }
            }
            #expect(try await app.stores.patients.fetch(programID: setup.program.id, ids: others).allSatisfy { $0.profile.status != .withdrawn })
            // No staff page or API answers to the portal cookie.
            for path in ["/", "/p/lung-followup", "/p/lung-followup/today", "/p/lung-followup/inbox", "/p/lung-followup/patients",
                         "/p/lung-followup/patients/\(setup.patient.id)", "/p/lung-followup/alerts", "/p/lung-followup/segments"] {
                let response = try await client.execute(uri: path, method: .get, headers: merged(jar.header, Self.html))
                #expect(response.status == .seeOther || response.status == .found || response.status == .unauthorized, "staff page \(path)")
                #expect(response.headers[.location]?.hasPrefix("/login") ?? true, "staff page \(path)")
            }
            for path in ["/api/v1/programs/lung-followup/patients", "/api/v1/programs/lung-followup/patients/\(setup.patient.id)", "/api/v1/programs",
                         "/api/v1/programs/lung-followup/tasks"] {
                let response = try await client.execute(uri: path, method: .get, headers: jar.header)
                #expect(response.status == .unauthorized, "API \(path)")
            }
            // A write without the session's token is refused.
            let forged = try await client.execute(uri: "\(base)/\(setup.patient.id)/share", method: .post, headers: merged(jar.header, formHeaders),
                                                  body: form(["hours": "24"]))
            #expect(forged.status == .forbidden)
            // Another program's portal does not know this session.
            let elsewhere = try await client.execute(uri: "/portal/p/gdm-camp/\(setup.patient.id)", method: .get, headers: merged(jar.header, Self.html))
            #expect(elsewhere.status == .seeOther && elsewhere.headers[.location] == "/portal/p/gdm-camp")
            // Signed out, the pages send to sign-in.
            let out = try await client.execute(uri: "\(base)/sign-out", method: .post, headers: merged(jar.header, formHeaders), body: form(["csrf": csrf]))
            jar.absorb(out)
            let after = try await client.execute(uri: "\(base)/\(setup.patient.id)", method: .get, headers: merged(jar.header, Self.html))
            #expect(after.status == .seeOther && after.headers[.location] == base)
        }
    }

    @Test(arguments: TestBackend.available)
    func aReplyGoesThroughTriageAndAShareIsShownAsALinkAndQRCode(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let setup = try await Self.setUp(app)
            let jar = CookieJar()
            _ = try await Self.portalSignIn(app, client, jar: jar, phone: "13812340001")
            let base = "/portal/p/lung-followup/\(setup.mother.id)"
            let home = try await client.execute(uri: base, method: .get, headers: merged(jar.header, Self.html))
            let csrf = try #require(hiddenField("csrf", in: String(buffer: home.body)))
            let sent = try await client.execute(uri: "\(base)/inbox", method: .post, headers: merged(jar.header, formHeaders),
                                                body: form(["csrf": csrf, "text": "我妈妈突然胸口剧痛，喘不上气"]))
            #expect(sent.status == .seeOther)
            let thread = try await app.stores.messages.thread(programID: setup.program.id, patientID: setup.mother.id)
            let message = try #require(thread.last)
            #expect(message.level == .urgent && message.taskID != nil)
            #expect(message.senderName?.contains("女儿") == true)
            let events = try await app.stores.audit.events(programID: setup.program.id, subjectID: setup.mother.id)
            #expect(events.contains { $0.action == "message.receive" && $0.actorKind == .caregiver })
            let shared = try await client.execute(uri: "\(base)/share", method: .post, headers: merged(jar.header, formHeaders),
                                                  body: form(["csrf": csrf, "hours": "72", "passcode": "4321"]))
            #expect(shared.status == .created)
            let page = String(buffer: shared.body)
            #expect(page.contains("<svg") && page.contains("/portal/s/"))
            // Shown on the patient's clock (London), not the console's (Shanghai).
            let expires = app.clock.now.addingTimeInterval(72 * 3600)
            let london = LocalDateTime(instant: expires, in: try #require(TimeZone(identifier: "Europe/London"))).description
            let shanghai = LocalDateTime(instant: expires, in: .shanghai).description
            #expect(page.contains(london) && !page.contains(shanghai), "the share's expiry should read \(london)")
            #expect(!page.contains(setup.mother.id + "/portal/s"))
            let tooLong = try await client.execute(uri: "\(base)/share", method: .post, headers: merged(jar.header, formHeaders),
                                                   body: form(["csrf": csrf, "hours": "721"]))
            #expect(tooLong.status == .unprocessableContent)
            // Staff see the portal activity on the patient page.
            let staff = CookieJar()
            _ = try await signIn(client, jar: staff, email: "manager@tend.demo")
            let patientPage = try await client.execute(uri: "/p/lung-followup/patients/\(setup.mother.id)", method: .get, headers: merged(staff.header, Self.html))
            let staffView = String(buffer: patientPage.body)
            #expect(staffView.contains("portal-activity") && staffView.contains("share.create") && staffView.contains("portal.sign_in"))
        }
    }
}
