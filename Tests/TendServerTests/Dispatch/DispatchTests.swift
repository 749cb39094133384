import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TendCore
import TendEngine
import TendFormats
import TendServer
import TendStore
import TendServerTestSupport
import TendTestSupport

/// Shared set-up for dispatch scenarios: a patient enrolled in a demo pathway, a dispatcher
/// on the test clock, and ways to read what happened.
struct DispatchScenario {
    let app: TestApp
    let program: Program
    let dispatcher: Dispatcher

    init(_ app: TestApp, program slug: String, settings: DispatchSettings = DispatchSettings()) async throws {
        self.app = app
        program = try #require(try await app.stores.programs.find(slug: slug))
        dispatcher = app.dependencies.makeDispatcher(clock: app.clock.clock, leaseClock: app.clock.clock, settings: settings, owner: "test-worker")
    }

    /// A program of its own with the given shipped pathways, so no demo patient shares its channels.
    init(_ app: TestApp, newProgram slug: String, pathways: [String], settings: DispatchSettings = DispatchSettings()) async throws {
        let program = try await app.stores.programs.create(slug: slug, name: "Test \(slug)")
        for name in pathways {
            _ = try await app.stores.pathways.save(programID: program.id, pathway: try PathwayFile.parse(try DemoPathways.source(name)), source: try DemoPathways.source(name))
        }
        try await self.init(app, program: slug, settings: settings)
    }

    var actor: AuditActor { AuditActor(id: nil, kind: .system) }

    func patient(_ name: String, phone: String? = nil, zone: String = "Asia/Shanghai", locale: AppLocale = .zhHans, channels: [ContactChannel] = [.inApp]) async throws -> Patient {
        try await app.stores.patients.create(programID: program.id, profile: PatientProfile(name: name, phone: phone, locale: locale, timeZone: zone, channels: channels), actor: actor)
    }

    func enrol(_ patient: Patient, in pathway: String, anchors: [String: LocalDate]) async throws {
        let stored = try #require(try await app.stores.pathways.find(programID: program.id, slug: pathway))
        _ = try await app.stores.enrolments.enrol(programID: program.id, pathway: stored, target: .patient(patient.id), anchors: anchors, actor: actor)
    }

    /// Moves the clock to a wall-clock time in Shanghai and runs one pass, as `tend dispatch --now` does.
    @discardableResult
    func dispatch(at local: String, zone: String = "Asia/Shanghai") async throws -> DispatchReport {
        let parts = local.split(separator: " ")
        let when = LocalDateTime(date: LocalDate(String(parts[0]))!, time: LocalTime(String(parts[1]))!).instant(in: TimeZone(identifier: zone)!)
        app.clock.advance(by: when.timeIntervalSince(app.clock.now))
        return try await dispatcher.runPass()
    }

    func statuses(_ patient: Patient) async throws -> [String: String] {
        var result: [String: String] = [:]
        for touchpoint in try await app.stores.enrolments.schedule(programID: program.id, patientID: patient.id) {
            result["\(touchpoint.stepID)#\(touchpoint.occurrence)"] = touchpoint.status.rawValue
        }
        return result
    }

    func tasks(_ patient: Patient) async throws -> [StaffTask] {
        try await app.stores.tasks.list(programID: program.id, filter: TaskFilter(statuses: TaskStatus.allCases, patientID: patient.id, limit: 1000))
    }

    func inbox(_ patient: Patient) async throws -> [PortalMessage] {
        try await app.stores.channels.inbox(programID: program.id, patientID: patient.id)
    }
}

/// The confirmation path of a link in a message body.
func confirmationPath(in text: String) -> String? {
    guard let range = text.range(of: "/c/") else { return nil }
    return String(text[range.lowerBound...].prefix { !$0.isWhitespace })
}

@Suite struct DispatchScenarioTests {
    @Test(arguments: TestBackend.available)
    func s1EscalatesOnlyForThePatientWhoDidNotConfirm(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let scenario = try await DispatchScenario(app, program: "lung-followup")
            let revisit = LocalDate(year: 2026, month: 12, day: 10)
            let confirming = try await scenario.patient("李华")
            let silent = try await scenario.patient("Wang Fang", locale: .en)
            for patient in [confirming, silent] {
                try await scenario.enrol(patient, in: "s1-revisit", anchors: ["revisit": revisit])
            }

            // T-7 09:00: the booking reminder reaches both portal inboxes, in each one's language.
            try await scenario.dispatch(at: "2026-12-03 09:00")
            #expect(try await scenario.statuses(confirming)["book-reminder#1"] == "delivered")
            #expect(try await scenario.inbox(confirming).first?.body.contains("李华您好，您的复诊日期是2026-12-10") == true)
            #expect(try await scenario.inbox(silent).first?.body.hasPrefix("Hello Wang Fang, your revisit is on 2026-12-10") == true)

            // T-2 10:00: the confirmation request carries a signed link.
            try await scenario.dispatch(at: "2026-12-08 10:00")
            let request = try #require(try await scenario.inbox(confirming).first)
            let path = try #require(confirmationPath(in: request.body))
            // Opening the link (as a chat app's preview does) shows the request and confirms nothing.
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .ok)
                let html = String(buffer: response.body)
                #expect(html.contains("confirm-submit") && html.contains("2026-12-10"))
            }
            #expect(try await scenario.statuses(confirming)["confirm#1"] == "delivered")
            try await client.execute(uri: path, method: .post) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("confirm-done"))
            }
            #expect(try await scenario.statuses(confirming)["confirm#1"] == "confirmed")
            // Used, the link shows that it was used and nothing about the patient.
            try await client.execute(uri: path, method: .get) { response in
                let html = String(buffer: response.body)
                #expect(html.contains("confirm-done") && !html.contains("李华") && !html.contains("2026-12-10"))
            }
            // Expired, it shows that and nothing about the patient either.
            let silentRequest = try #require(try await scenario.inbox(silent).first)
            let silentPath = try #require(confirmationPath(in: silentRequest.body))
            app.clock.advance(by: 30 * 86400)
            try await client.execute(uri: silentPath, method: .get) { response in
                let html = String(buffer: response.body)
                #expect(response.status == .gone && html.contains("confirm-expired") && !html.contains("Wang Fang") && !html.contains("2026-12-10"))
            }
            app.clock.advance(by: -30 * 86400)
            // A forged token shows nothing.
            try await client.execute(uri: String(path.dropLast(3)) + "abc", method: .post) { #expect($0.status == .notFound) }

            // T-1 10:00: a call task only for the patient who did not confirm.
            try await scenario.dispatch(at: "2026-12-09 10:00")
            #expect(try await scenario.tasks(confirming).isEmpty)
            let call = try #require(try await scenario.tasks(silent).first)
            #expect(call.kind == .call && call.priority == .high)
            #expect(call.title.en == "Call Wang Fang — revisit on 2026-12-10 not confirmed")
            #expect(try await scenario.statuses(silent)["confirm#1"] == "escalated")
            #expect(try await scenario.statuses(confirming)["call-unconfirmed#1"] == "cancelled")

            // T 07:30: the voice reminder runs for the unconfirmed patient (no voice provider: a call task).
            try await scenario.dispatch(at: "2026-12-10 07:30")
            #expect(try await scenario.statuses(silent)["day-of-voice#1"] == "sent")
            #expect(try await scenario.tasks(silent).map(\.kind).sorted { $0.rawValue < $1.rawValue } == [.call, .voiceCall])
            #expect(try await scenario.statuses(confirming)["day-of-voice#1"] == "cancelled")

            // T+1 12:00: the attended check goes to both.
            try await scenario.dispatch(at: "2026-12-11 12:00")
            for patient in [confirming, silent] {
                #expect(try await scenario.statuses(patient)["attended-check#1"] == "delivered")
            }
            #expect(try await app.stores.dispatch.leasedCount() == 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func aReachedCallStopsTheRestOfTheChainAndARepliedConfirmCounts(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let scenario = try await DispatchScenario(app, program: "lung-followup")
            let revisit = LocalDate(year: 2026, month: 12, day: 10)
            let called = try await scenario.patient("赵敏")
            let replying = try await scenario.patient("钱伟", phone: "13912345678")
            for patient in [called, replying] {
                try await scenario.enrol(patient, in: "s1-revisit", anchors: ["revisit": revisit])
            }
            try await scenario.dispatch(at: "2026-12-08 10:00")
            // A text reply of 确认 through the inbound API confirms the pending request.
            let manager = try await app.token(for: "manager@tend.demo")
            try await client.execute(uri: "/api/v1/programs/lung-followup/inbound", method: .post, headers: bearer(manager),
                                     body: json(#"{"channel": "sms", "phone": "139 1234 5678", "text": " 确认！"}"#)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                #expect(object(response)["confirmed_touchpoint"] as? String != nil)
                #expect(object(response)["cancelled_escalations"] as? Int == 2)
            }
            #expect(try await scenario.statuses(replying)["confirm#1"] == "confirmed")
            let replyEvents = try await app.stores.audit.events(programID: scenario.program.id, subjectID: replying.id)
            #expect(replyEvents.contains { $0.action == "touchpoint.confirm.reply" } && replyEvents.contains { $0.action == "message.receive" })

            try await scenario.dispatch(at: "2026-12-09 10:00")
            let call = try #require(try await scenario.tasks(called).first)
            try await client.execute(uri: "/api/v1/programs/lung-followup/tasks/\(call.id)/complete", method: .post, headers: bearer(manager),
                                     body: json(#"{"outcome": "reached", "note": "will come"}"#)) { response in
                #expect(response.status == .ok)
                #expect(object(response)["outcome"] as? String == "reached")
            }
            try await scenario.dispatch(at: "2026-12-10 07:30")
            #expect(try await scenario.statuses(called)["day-of-voice#1"] == "cancelled")
            #expect(try await scenario.statuses(called)["call-unconfirmed#1"] == "confirmed")
            #expect(try await scenario.statuses(replying)["day-of-voice#1"] == "cancelled")
        }
    }

    @Test(arguments: TestBackend.available)
    func s2AndS3RunTheirWholeLength(backend: TestBackend) async throws {
        try await TestApp.withApp(backend) { app in
            let lung = try await DispatchScenario(app, program: "lung-followup")
            let gdm = try await DispatchScenario(app, program: "gdm-camp")
            let chemo = try await lung.patient("孙丽")
            try await lung.enrol(chemo, in: "s2-chemo-cycles", anchors: ["cycle_start": LocalDate(year: 2026, month: 12, day: 3)])
            let camper = try await gdm.patient("Emily Chen", zone: "America/New_York", locale: .en)
            try await gdm.enrol(camper, in: "s3-gdm-camp", anchors: ["camp_start": LocalDate(year: 2026, month: 12, day: 2)])

            // A pass every day at 07:30 and 20:00 Shanghai time until every cycle is over.
            var day = LocalDate(year: 2026, month: 12, day: 2)
            while day <= LocalDate(year: 2027, month: 3, day: 31) {
                for time in ["07:30", "20:00"] { try await lung.dispatch(at: "\(day) \(time)") }
                day = day.adding(days: 1)
            }
            let chemoStatuses = try await lung.statuses(chemo)
            #expect(chemoStatuses.count == 12)
            #expect(chemoStatuses.values.allSatisfy { $0 == "delivered" }, "\(chemoStatuses)")
            let inbox = try await lung.inbox(chemo).map(\.body)
            #expect(inbox.contains { $0.contains("明天开始第6周期化疗") })
            let campStatuses = try await gdm.statuses(camper)
            #expect(campStatuses.count >= 28 && campStatuses.values.allSatisfy { $0 == "delivered" }, "\(campStatuses)")
            #expect(try await app.stores.dispatch.pendingCount(dueBy: app.clock.now) == 0)
        }
    }
}

@Suite struct HorizonTests {
    @Test(arguments: TestBackend.available)
    func openEndedRecurrencesAreExtendedAsTimeGoesOn(backend: TestBackend) async throws {
        try await TestApp.withApp(backend) { app in
            let scenario = try await DispatchScenario(app, program: "lung-followup")
            let patient = try await scenario.patient("欧阳锋")
            try await scenario.enrol(patient, in: "s5-osteonecrosis-imaging", anchors: [:])
            let enrolment = try #require(try await app.stores.enrolments.enrolments(programID: scenario.program.id, patientID: patient.id).first)
            let before = try await app.stores.enrolments.schedule(programID: scenario.program.id, patientID: patient.id)
            let lastBefore = try #require(before.map(\.dueAt).max())
            // A pass soon after enrolment extends nothing.
            try await scenario.dispatcher.runPass()
            #expect(try await app.stores.enrolments.enrolment(programID: scenario.program.id, id: enrolment.id)?.plannedUntil == enrolment.plannedUntil)
            // Two hundred days on, the horizon moves and the next imaging reminders appear, once.
            app.clock.advance(by: 200 * 86400)
            try await scenario.dispatcher.runPass()
            let extended = try #require(try await app.stores.enrolments.enrolment(programID: scenario.program.id, id: enrolment.id))
            #expect(extended.plannedUntil > enrolment.plannedUntil.adding(days: 199))
            let after = try await app.stores.enrolments.schedule(programID: scenario.program.id, patientID: patient.id)
            #expect(after.count > before.count && after.map(\.dueAt).max()! > lastBefore)
            #expect(Set(after.map(\.id)).count == after.count)
            // What was planned before is untouched (sent or not).
            #expect(after.filter { $0.dueAt <= lastBefore }.count == before.count)
            try await scenario.dispatcher.runPass()
            #expect(try await app.stores.enrolments.schedule(programID: scenario.program.id, patientID: patient.id).count == after.count)
        }
    }
}

/// A local webhook receiver whose answer the test sets.
actor Receiver {
    var status: HTTPResponse.Status = .ok
    private(set) var received: [(key: String, signature: String, timestamp: String, body: String)] = []

    func answer(_ status: HTTPResponse.Status) { self.status = status }

    func record(key: String, signature: String, timestamp: String, body: String) -> HTTPResponse.Status {
        received.append((key, signature, timestamp, body))
        return status
    }

    static func router(_ receiver: Receiver) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            let status = await receiver.record(
                key: request.headers[HTTPField.Name("Idempotency-Key")!] ?? "",
                signature: request.headers[HTTPField.Name(WebhookChannel.signatureHeader)!] ?? "",
                timestamp: request.headers[HTTPField.Name(WebhookChannel.timestampHeader)!] ?? "", body: body)
            return Response(status: status, body: .init(byteBuffer: ByteBuffer(string: "{\"errcode\":0}")))
        }
        return router
    }
}

@Suite struct DeliveryTests {
    static let secret = "a-webhook-secret-of-some-length"

    @Test(arguments: TestBackend.available)
    func outagesAreRetriedUntilDeliveredAndA4xxFailsWithATask(backend: TestBackend) async throws {
        let receiver = Receiver()
        let live = Application(router: Receiver.router(receiver), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await live.test(.live) { receiverClient in
            let port = try #require(receiverClient.port)
            try await TestApp.withApp(backend) { app in
                var settings = DispatchSettings()
                settings.retry = RetryPolicy(maxAttempts: 4, baseDelay: 60, maxDelay: 600, jitter: 0.2)
                settings.requestTimeout = 1
                let scenario = try await DispatchScenario(app, newProgram: "hook-test", pathways: ["s1-revisit"], settings: settings)
                let hook = ChannelConfig(channel: .webhook, url: "http://127.0.0.1:\(port)/hook", secret: Self.secret)
                try await app.stores.channels.set(programID: scenario.program.id, hook, policy: .testReceivers)
                let patient = try await scenario.patient("周强", channels: [.webhook])
                try await scenario.enrol(patient, in: "s1-revisit", anchors: ["revisit": LocalDate(year: 2026, month: 12, day: 10)])

                // 1. The receiver answers 503: a retry is planned, nothing failed.
                await receiver.answer(.serviceUnavailable)
                var report = try await scenario.dispatch(at: "2026-12-03 09:00")
                #expect(report.retrying >= 1 && report.failed == 0, "\(report)")
                var booking = try #require(try await app.stores.enrolments.schedule(programID: scenario.program.id, patientID: patient.id).first { $0.stepID == "book-reminder" })
                #expect(booking.status == .scheduled && booking.attempts == 1 && booking.lastError == "HTTP 503")
                // Before the back-off ends, nothing is tried again.
                try await scenario.dispatcher.runPass()
                let tries = await receiver.received.filter { $0.key == booking.id }.count
                #expect(tries == 1)

                // 2. Then the receiver is gone (connection refused): still retrying.
                try await app.stores.channels.set(programID: scenario.program.id, ChannelConfig(channel: .webhook, url: "http://127.0.0.1:1/hook", secret: Self.secret), policy: .testReceivers)
                app.clock.advance(by: 90)
                report = try await scenario.dispatcher.runPass()
                booking = try #require(try await app.stores.enrolments.schedule(programID: scenario.program.id, patientID: patient.id).first { $0.stepID == "book-reminder" })
                #expect(booking.status == .scheduled && booking.attempts == 2, "\(booking)")

                // 3. It recovers: the next attempt after the back-off delivers, once, signed, keyed by the touchpoint id.
                try await app.stores.channels.set(programID: scenario.program.id, hook, policy: .testReceivers)
                await receiver.answer(.ok)
                app.clock.advance(by: 200)
                report = try await scenario.dispatcher.runPass()
                booking = try #require(try await app.stores.enrolments.schedule(programID: scenario.program.id, patientID: patient.id).first { $0.stepID == "book-reminder" })
                #expect(booking.status == .sent && booking.channel == .webhook && booking.attempts == 3)
                let delivered = try #require(await receiver.received.last)
                #expect(delivered.key == booking.id)
                let stamp = try #require(Int64(delivered.timestamp))
                #expect(abs(Double(stamp) - app.clock.now.timeIntervalSince1970) < 60, "the signed timestamp is the lease clock's time of sending")
                #expect(delivered.signature == WebhookChannel.signature(body: Array(delivered.body.utf8), timestamp: stamp, secret: Self.secret))
                #expect(delivered.signature != WebhookChannel.signature(body: Array(delivered.body.utf8), timestamp: stamp - 600, secret: Self.secret))
                #expect(delivered.body.contains("\"touchpoint_id\":\"\(booking.id)\"") && delivered.body.contains("周强"))

                // 4. A permanent 4xx fails the touchpoint at once and asks staff to follow up.
                await receiver.answer(.unprocessableContent)
                try await scenario.dispatch(at: "2026-12-08 10:00")
                let confirm = try #require(try await app.stores.enrolments.schedule(programID: scenario.program.id, patientID: patient.id).first { $0.stepID == "confirm" })
                #expect(confirm.status == .failed && confirm.attempts == 1 && confirm.lastError?.hasPrefix("HTTP 422") == true)
                let followUp = try #require(try await scenario.tasks(patient).first { $0.kind == .deliveryFailed })
                #expect(followUp.priority == .high && followUp.touchpointID == confirm.id)

                // 5. Retries run out: after the last attempt the touchpoint fails with a task too.
                await receiver.answer(.internalServerError)
                try await scenario.dispatch(at: "2026-12-11 12:00")
                for _ in 0..<4 {
                    app.clock.advance(by: 3600)
                    try await scenario.dispatcher.runPass()
                }
                let check = try #require(try await app.stores.enrolments.schedule(programID: scenario.program.id, patientID: patient.id).first { $0.stepID == "attended-check" })
                #expect(check.status == .failed && check.attempts == 4, "\(check)")
                #expect(try await scenario.tasks(patient).contains { $0.touchpointID == check.id && $0.kind == .deliveryFailed })
                #expect(try await app.stores.dispatch.leasedCount() == 0)
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func weComRobotsGetTheirFormatAndTheRateLimitDefersTheRest(backend: TestBackend) async throws {
        let receiver = Receiver()
        let live = Application(router: Receiver.router(receiver), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await live.test(.live) { receiverClient in
            let port = try #require(receiverClient.port)
            try await TestApp.withApp(backend) { app in
                let scenario = try await DispatchScenario(app, newProgram: "robot-test", pathways: ["s1-revisit"])
                try await app.stores.channels.set(programID: scenario.program.id, ChannelConfig(channel: .wecom, url: "http://127.0.0.1:\(port)/hook"), policy: .testReceivers)
                var patients: [Patient] = []
                for index in 0..<25 {
                    let patient = try await scenario.patient("患者\(index)", phone: "1380000\(String(format: "%04d", index))", channels: [.wecom])
                    try await scenario.enrol(patient, in: "s1-revisit", anchors: ["revisit": LocalDate(year: 2026, month: 12, day: 20)])
                    patients.append(patient)
                }
                let ids = Set(try await patients.asyncMap { try await app.stores.enrolments.schedule(programID: scenario.program.id, patientID: $0.id).first!.id })
                var report = try await scenario.dispatch(at: "2026-12-13 09:00")
                #expect(report.sent == 20 && report.deferred == 5, "\(report)")
                var bodies = await receiver.received.filter { ids.contains($0.key) }
                try #require(bodies.count == 20)
                let first = try #require(try JSONSerialization.jsonObject(with: Data(bodies[0].body.utf8)) as? [String: Any])
                #expect(first["msgtype"] as? String == "text")
                let text = try #require(first["text"] as? [String: Any])
                #expect((text["mentioned_mobile_list"] as? [String])?.first?.hasPrefix("1380000") == true)
                app.clock.advance(by: 61)
                report = try await scenario.dispatcher.runPass()
                bodies = await receiver.received.filter { ids.contains($0.key) }
                #expect(Set(bodies.map(\.key)) == ids && bodies.count == 25)
            }
        }
    }
}

extension Array where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

@Suite struct TodayConsoleTests {
    @Test(arguments: TestBackend.available)
    func todayListsOverdueFirstAndCompletesACallWithAnOutcome(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "manager@tend.demo")
            app.clock.advance(by: 3 * 3600)
            let page = try await client.execute(uri: "/p/lung-followup/today", method: .get, headers: merged(jar.header, [.accept: "text/html", .acceptLanguage: "en"]))
            #expect(page.status == .ok)
            let html = String(buffer: page.body)
            let order = html.matches(of: /data-task="([^"]+)"/).map { String($0.1) }
            // Overdue first: the demo's urgent messages (urgent; how many the classifier grades
            // urgent: the fever on chemotherapy at least), then its overdue call (high).
            let urgentMessages = order.prefix { $0.hasPrefix("msg.") }.count
            #expect(urgentMessages >= 1)
            #expect(order.count == 4 + urgentMessages, "\(order)")
            #expect(order.dropFirst(urgentMessages).first == "demo-task-lung-followup-0")
            #expect(html.contains("task_overdue") || html.contains("Overdue"))
            let csrf = try #require(hiddenField("csrf", in: html))
            // No outcome: refused, nothing changes.
            let refused = try await client.execute(uri: "/p/lung-followup/tasks/demo-task-lung-followup-0/complete", method: .post,
                                                   headers: merged(jar.header, formHeaders), body: form(["csrf": csrf]))
            #expect(refused.status == .badRequest)
            let done = try await client.execute(uri: "/p/lung-followup/tasks/demo-task-lung-followup-0/complete", method: .post,
                                                headers: merged(jar.header, formHeaders), body: form(["csrf": csrf, "outcome": "no_answer", "note": "关机"]))
            #expect(done.status == .seeOther)
            let program = try #require(try await app.stores.programs.find(slug: "lung-followup"))
            let task = try #require(try await app.stores.tasks.find(programID: program.id, id: "demo-task-lung-followup-0"))
            #expect(task.status == .done && task.outcome == .noAnswer && task.note == "关机" && task.completedBy != nil)
            let taskEvents = try await app.stores.audit.events(programID: program.id, subjectID: try #require(task.patientID))
            #expect(taskEvents.contains { $0.action == "task.complete" && $0.subjectType == "patient" && $0.actorKind == .staff })
            // Completing twice is a conflict; other programs' staff do not see the task.
            let again = try await client.execute(uri: "/p/lung-followup/tasks/demo-task-lung-followup-0/complete", method: .post,
                                                 headers: merged(jar.header, formHeaders), body: form(["csrf": csrf, "outcome": "reached"]))
            #expect(again.status == .conflict)
            let pharmacist = try await app.token(for: "pharmacist@tend.demo")
            try await client.execute(uri: "/api/v1/programs/lung-followup/tasks", method: .get, headers: bearer(pharmacist)) { #expect($0.status == .notFound) }
            // Claim and reassign through the API.
            let manager = try await app.token(for: "manager@tend.demo")
            try await client.execute(uri: "/api/v1/programs/lung-followup/tasks/demo-task-lung-followup-2/claim", method: .post, headers: bearer(manager)) { response in
                #expect(object(response)["assignee_id"] as? String != nil)
            }
            try await client.execute(uri: "/api/v1/programs/lung-followup/tasks/demo-task-lung-followup-2/reassign", method: .post, headers: bearer(manager),
                                     body: json(#"{"assignee_id": "nobody"}"#)) { response in
                #expect(response.status == .notFound, "a staff id outside the program is not found")
            }
            try await client.execute(uri: "/api/v1/programs/lung-followup/tasks/demo-task-lung-followup-2/reassign", method: .post, headers: bearer(manager),
                                     body: json(#"{"assignee_id": null}"#)) { response in
                #expect(response.status == .ok && object(response)["assignee_id"] == nil)
            }
            try await client.execute(uri: "/api/v1/programs/lung-followup/tasks?mine=true", method: .get, headers: bearer(manager)) { response in
                let items = object(response)["items"] as? [[String: Any]] ?? []
                #expect(items.count == 3 + urgentMessages && items.allSatisfy { $0["status"] as? String == "open" })
            }
        }
    }

    /// A long Today list comes 50 at a time, with the whole list's counts and links between pages.
    @Test(arguments: TestBackend.available)
    func aLongTodayListComesInPagesOfFifty(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "manager@tend.demo")
            let program = try #require(try await app.stores.programs.find(slug: "lung-followup"))
            let now = app.clock.now
            for index in 0..<60 {
                try await app.stores.tasks.create(StaffTask(
                    id: "paging-\(index)", programID: program.id, patientID: nil, touchpointID: nil, kind: .call,
                    title: LocalizedText(en: "Call \(index)", zh: "电话 \(index)"), priority: .normal, dueAt: now.addingTimeInterval(86_400 + Double(index)),
                    slaAt: now.addingTimeInterval(2 * 86_400), status: .open, createdAt: now))
            }
            let total = try await app.stores.tasks.counts(programID: program.id, filter: TaskFilter(mineOrPool: "nobody")).total
            #expect(total >= 60)
            var seen: [String] = []
            for number in 1...3 {
                let page = try await client.execute(uri: "/p/lung-followup/today?page=\(number)", method: .get, headers: merged(jar.header, [.accept: "text/html", .acceptLanguage: "zh-CN"]))
                let html = String(buffer: page.body)
                let rows = html.matches(of: /data-task="([^"]+)"/).map { String($0.1) }
                #expect(rows.count == min(50, max(0, total - (number - 1) * 50)), "page \(number)")
                #expect(html.contains("id=\"today-summary\">\(total) "), "the count is the whole list's")
                #expect(html.contains("/p/lung-followup/today?page=\(number + 1)") == (number * 50 < total))
                #expect(html.contains("/p/lung-followup/today?page=\(number - 1)") == (number > 1))
                if number == 1 { #expect(html.contains("当前显示第 1–50 条，共 \(total) 条")) }
                seen += rows
            }
            #expect(Set(seen).count == total && seen.count == total)
        }
    }
}
