import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TendCore
import TendServer
import TendStore
import TendServerTestSupport
import TendTestSupport
import SQLKit
import TendEngine

/// Every read of patient data leaves exactly one event of its kind (one per patient for lists),
/// and nothing else; a write that fails leaves none.
@Suite struct AuditCompletenessTests {
    /// Events by action, for comparing before and after one request.
    private static func counts(_ app: TestApp) async throws -> [String: Int] {
        try await app.stores.database.session { sql in
            var counts: [String: Int] = [:]
            for row in try await sql.raw("SELECT action, COUNT(*) AS n FROM audit_events GROUP BY action").all() {
                counts[try row.decode(column: "action", as: String.self)] = try row.decode(column: "n", as: Int.self)
            }
            return counts
        }
    }

    /// What one request added, by action (actions it did not touch left out).
    private static func added(_ app: TestApp, by request: () async throws -> Void) async throws -> [String: Int] {
        let before = try await counts(app)
        try await request()
        let after = try await counts(app)
        var added: [String: Int] = [:]
        for (action, count) in after where count != before[action] ?? 0 { added[action] = count - (before[action] ?? 0) }
        return added
    }

    @Test(arguments: TestBackend.available)
    func eachReadLeavesExactlyOneEventOfItsKind(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let base = "/api/v1/programs/gdm-camp"
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "审计", "phone": "13912340000"}"#)
            let patientID = try #require(patient["id"] as? String)
            func get(_ path: String) async throws -> [String: Any] {
                try await client.execute(uri: base + path, method: .get, headers: bearer(manager)) { response in
                    #expect(response.status == .ok, "\(path): \(response.status)")
                    return object(response)
                }
            }
            var listed = 0
            let listRead = try await Self.added(app) { listed = (try await get("/patients?limit=7")["items"] as? [Any])?.count ?? 0 }
            #expect(listRead == ["patient.list": listed])
            #expect(listed == 7)
            let searchRead = try await Self.added(app) {
                try await client.execute(uri: base + "/patients/search", method: .post, headers: bearer(manager), body: json(#"{"phone": "13912340000"}"#)) {
                    #expect($0.status == .ok)
                }
            }
            #expect(searchRead == ["patient.search": 1])
            let patientRead = try await Self.added(app) { _ = try await get("/patients/\(patientID)") }
            #expect(patientRead == ["patient.read": 1])
            let scheduleRead = try await Self.added(app) { _ = try await get("/patients/\(patientID)/schedule") }
            #expect(scheduleRead == ["patient.schedule.read": 1])
            let enrolmentList = try await Self.added(app) { _ = try await get("/patients/\(patientID)/enrolments") }
            #expect(enrolmentList == ["patient.enrolments.read": 1])
            let portalInbox = try await Self.added(app) { _ = try await get("/patients/\(patientID)/inbox") }
            #expect(portalInbox == ["patient.inbox.read": 1])
            let taskList = try await Self.added(app) { _ = try await get("/tasks") }
            #expect(taskList == ["tasks.read": 1])
            let patientTasks = try await Self.added(app) { _ = try await get("/tasks?patient=\(patientID)") }
            #expect(patientTasks == ["tasks.read": 1])
            let inboxRead = try await Self.added(app) { _ = try await get("/inbox") }
            #expect(inboxRead == ["inbox.read": 1])
            let messageSearch = try await Self.added(app) { _ = try await get("/messages/search?q=%E8%A1%80%E7%B3%96") }
            #expect(messageSearch == ["messages.search": 1])

            // The console: the Today page and a patient's page (profile, schedule, thread) are one read each.
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "manager@tend.demo")
            func page(_ path: String) async throws {
                try await client.execute(uri: path, method: .get, headers: merged(jar.header, [.accept: "text/html"])) { #expect($0.status == .ok, "\(path)") }
            }
            let todayPage = try await Self.added(app) { try await page("/p/gdm-camp/today") }
            #expect(todayPage == ["tasks.read": 1])
            let patientPage = try await Self.added(app) { try await page("/p/gdm-camp/patients/\(patientID)") }
            #expect(patientPage == ["patient.read": 1])
            var shown = 0
            let consoleList = try await Self.added(app) {
                let html = try await client.execute(uri: "/p/gdm-camp/patients", method: .get, headers: merged(jar.header, [.accept: "text/html"])) { String(buffer: $0.body) }
                shown = html.matches(of: /href="\/p\/gdm-camp\/patients\/([^"\/#]+)"/).map(\.1).filter { $0 != "new" }.count
            }
            #expect(consoleList == ["patient.list": shown])
            #expect(shown > 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func aConfirmationPageShowingTheMessageIsOneReadByThePatient(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            // A touchpoint that asks for confirmation, as if it had just been sent.
            let touchpointID = try await app.stores.database.session { sql in
                let row = try #require(try await sql.raw("SELECT id FROM touchpoints WHERE confirm = 1 ORDER BY id LIMIT 1").first())
                let id = try row.decode(column: "id", as: String.self)
                try await sql.raw("UPDATE touchpoints SET status = 'sent' WHERE id = \(bind: id)").run()
                return id
            }
            let link = app.dependencies.actions.confirmations.links.token(touchpointID: touchpointID, expires: app.clock.now.addingTimeInterval(86_400))
            let asked = try await Self.added(app) {
                try await client.execute(uri: "/c/\(link)", method: .get, headers: [.accept: "text/html"]) { #expect($0.status == .ok) }
            }
            #expect(asked == ["confirmation.read": 1])
            let confirmed = try await Self.added(app) {
                try await client.execute(uri: "/c/\(link)", method: .post, headers: formHeaders, body: ByteBuffer()) { #expect($0.status == .ok) }
            }
            #expect(confirmed["confirmation.read"] == nil && confirmed["touchpoint.confirm.link"] == 1)
            // A used link shows nothing about anyone, and reads nothing.
            let usedLink = try await Self.added(app) {
                try await client.execute(uri: "/c/\(link)", method: .get, headers: [.accept: "text/html"]) { #expect($0.status == .ok) }
            }
            #expect(usedLink == [:])
            let events = try await app.stores.database.session { sql in
                try await sql.raw("SELECT actor_kind, subject_type FROM audit_events WHERE action = 'confirmation.read'").all()
                    .map { "\(try $0.decode(column: "actor_kind", as: String.self))/\(try $0.decode(column: "subject_type", as: String.self))" }
            }
            #expect(events == ["patient/patient"])
        }
    }

    @Test(arguments: TestBackend.available)
    func aFailedWriteLeavesNoEvent(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            _ = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "甲", "phone": "13912340001"}"#)
            func post(_ path: String, _ body: String, expect status: HTTPResponse.Status) async throws {
                try await client.execute(uri: "/api/v1/programs/gdm-camp" + path, method: .post, headers: bearer(manager), body: json(body)) {
                    #expect($0.status == status, "\(path): \(String(buffer: $0.body))")
                }
            }
            let duplicateCreate = try await Self.added(app) { try await post("/patients", #"{"name": "乙", "phone": "13912340001"}"#, expect: .conflict) }
            #expect(duplicateCreate == [:])
            let invalidCreate = try await Self.added(app) { try await post("/patients", #"{"name": "丙", "birth_date": "2301-01-01"}"#, expect: .badRequest) }
            #expect(invalidCreate == [:])
            let unknownPathway = try await Self.added(app) { try await post("/enrolments", #"{"pathway": "no-such-pathway", "patient_id": "nobody"}"#, expect: .notFound) }
            #expect(unknownPathway == [:])

            // A change that fails after its event was written inside the transaction takes the event with it.
            struct Refused: Error {}
            let program = try #require(try await app.stores.programs.find(slug: "gdm-camp"))
            let rolledBack = try await Self.added(app) {
                await #expect(throws: Refused.self) {
                    try await app.stores.database.transaction { sql in
                        try await app.stores.audit.record(.patientUpdate, by: AuditActor(id: nil, kind: .system), program: program.id,
                                                          subject: AuditSubject(type: "patient", id: "p-x"), in: sql)
                        throw Refused()
                    }
                }
            }
            #expect(rolledBack == [:])
            // The same write committed leaves its event.
            let committed = try await Self.added(app) {
                try await app.stores.database.transaction { sql in
                    try await app.stores.audit.record(.patientUpdate, by: AuditActor(id: nil, kind: .system), program: program.id,
                                                      subject: AuditSubject(type: "patient", id: "p-x"), in: sql)
                }
            }
            #expect(committed == ["patient.update": 1])
        }
    }

    /// Reads arriving together are committed together, and each still has its own event.
    @Test(arguments: TestBackend.available)
    func concurrentReadsEachLeaveTheirEvent(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "并发", "phone": "13912340002"}"#)
            let patientID = try #require(patient["id"] as? String)
            let reads = try await Self.added(app) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<40 {
                        group.addTask {
                            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(patientID)", method: .get, headers: bearer(manager)) {
                                #expect($0.status == .ok)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(reads == ["patient.read": 40])
        }
    }

    /// "Audited before answered": when the batch holding a read's event cannot commit, the
    /// request gets an error and none of the data it read.
    @Test(arguments: TestBackend.available)
    func aReadWhoseEventCannotBeWrittenAnswersWithAnErrorNotItsData(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "拒写审计", "phone": "13912340003"}"#)
            let patientID = try #require(patient["id"] as? String)
            try await app.stores.database.session { sql in
                switch backend {
                case .sqlite:
                    try await sql.raw("""
                        CREATE TRIGGER refuse_patient_reads BEFORE INSERT ON audit_events WHEN NEW.action = 'patient.read'
                        BEGIN SELECT RAISE(ABORT, 'audit refused'); END
                        """).run()
                case .postgres:
                    try await sql.raw("CREATE FUNCTION refuse_patient_reads() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$ LANGUAGE plpgsql").run()
                    try await sql.raw("""
                        CREATE TRIGGER refuse_patient_reads BEFORE INSERT ON audit_events FOR EACH ROW WHEN (NEW.action = 'patient.read')
                        EXECUTE FUNCTION refuse_patient_reads()
                        """).run()
                }
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(patientID)", method: .get, headers: bearer(manager)) { response in
                #expect(response.status.code >= 500)
                #expect(!String(buffer: response.body).contains("拒写审计"))
            }
            // Other reads are not held up by the refused one.
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients?limit=3", method: .get, headers: bearer(manager)) { #expect($0.status == .ok) }
        }
    }
}
