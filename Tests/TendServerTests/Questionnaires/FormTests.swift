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
import SQLKit

/// The form path of a link in a message body.
func formPath(in text: String) -> String? {
    guard let range = text.range(of: "/q/") else { return nil }
    return String(text[range.lowerBound...].prefix { !$0.isWhitespace })
}

func formBody(_ pairs: [(String, String)]) -> ByteBuffer {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let text = pairs.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
    return ByteBuffer(string: text)
}

let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

/// Questionnaires filled in from the links touchpoints carry: S3's daily check-in, S2's
/// side-effect check-in with its cycle day, S1's revisit form with a photo.
@Suite struct FormTests {
    /// S3: the 07:30 reminder carries a check-in link; 2.7 entered through it raises an urgent
    /// alert and task for the on-call member within that request and completes the touchpoint;
    /// 5.6 raises nothing; two days without a check-in raise the missing-data alert.
    @Test(arguments: TestBackend.available)
    func s3CheckInsFromTheReminderLink(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let scenario = try await DispatchScenario(app, program: "gdm-camp")
            let onCall = try #require(try await app.stores.staff.credentials(email: "pharmacist@tend.demo")?.user.id)
            var settings = try await app.stores.messages.settings(programID: scenario.program.id)
            settings.onCallStaffID = onCall
            try await app.stores.messages.saveSettings(programID: scenario.program.id, settings)
            let low = try await scenario.patient("晨检低")
            let fine = try await scenario.patient("晨检好")
            let silent = try await scenario.patient("不打卡")
            for patient in [low, fine, silent] {
                try await scenario.enrol(patient, in: "s3-gdm-camp", anchors: ["camp_start": LocalDate(year: 2026, month: 12, day: 2)])
            }
            try await scenario.dispatch(at: "2026-12-02 07:30")
            func link(_ patient: Patient) async throws -> String {
                let message = try #require(try await scenario.inbox(patient).first { $0.body.contains("/q/") })
                return try #require(formPath(in: message.body))
            }
            let lowLink = try await link(low)
            // Opening shows the form in the patient's language and records nothing.
            try await client.execute(uri: lowLink, method: .get) { response in
                #expect(response.status == .ok)
                let html = String(buffer: response.body)
                #expect(html.contains("空腹血糖") && html.contains(#"name="fasting""#) && html.contains("mg/dL"))
            }
            #expect(try await scenario.statuses(low)["daily-check-in#1"] == "delivered")
            // A missing required answer shows the form again with the item marked.
            try await client.execute(uri: lowLink, method: .post, headers: formHeaders, body: formBody([("post_meal", "6.1")])) { response in
                #expect(response.status == .unprocessableContent)
                #expect(String(buffer: response.body).contains("请回答此题"))
            }
            try await client.execute(uri: lowLink, method: .post, headers: formHeaders, body: formBody([("fasting", "2.7"), ("fasting__unit", "mmol/L")])) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let html = String(buffer: response.body)
                #expect(html.contains("form-done") && html.contains("form-urgent"))
            }
            #expect(try await scenario.statuses(low)["daily-check-in#1"] == "confirmed")
            let alerts = try await app.stores.alerts.list(programID: scenario.program.id, patientID: low.id)
            #expect(alerts.count == 1, "\(alerts.map(\.ruleID))")
            #expect(alerts.first?.priority == .urgent && alerts.first?.ruleID == "q.glucose-daily.hypoglycaemia")
            let tasks = try await scenario.tasks(low).filter { $0.kind == .observationAlert }
            #expect(tasks.count == 1 && tasks.first?.priority == .urgent && tasks.first?.assigneeID == onCall)
            let readings = try await app.stores.observations.list(programID: scenario.program.id, patientID: low.id)
            #expect(readings.count == 1 && readings.first?.observation.reading.number == 2.7 && readings.first?.observation.source == .checkIn)
            let responses = try await app.stores.responses.list(programID: scenario.program.id, patientID: low.id)
            #expect(responses.count == 1 && responses.first?.flags == ["hypoglycaemia"] && responses.first?.answers["fasting"] == .number(2.7))
            // The link, used, says so and records nothing more.
            try await client.execute(uri: lowLink, method: .post, headers: formHeaders, body: formBody([("fasting", "2.5")])) { response in
                #expect(String(buffer: response.body).contains("form-done") && !String(buffer: response.body).contains("晨检低"))
            }
            #expect(try await app.stores.responses.list(programID: scenario.program.id, patientID: low.id).count == 1)

            // 5.6 in mg/dL-free mmol/L raises nothing; 100.9 mg/dL is 5.6 mmol/L and raises nothing either.
            try await client.execute(uri: try await link(fine), method: .post, headers: formHeaders, body: formBody([("fasting", "5.6")])) { response in
                #expect(response.status == .ok)
                #expect(!String(buffer: response.body).contains("form-urgent"))
            }
            #expect(try await app.stores.alerts.list(programID: scenario.program.id, patientID: fine.id).isEmpty)

            // Day 2: the fine patient checks in in mg/dL; the silent one does not, again.
            try await scenario.dispatch(at: "2026-12-03 07:30")
            let day2 = try #require(try await scenario.inbox(fine).compactMap { formPath(in: $0.body) }.first { $0 != lowLink })
            try await client.execute(uri: day2, method: .post, headers: formHeaders, body: formBody([("fasting", "100.9"), ("fasting__unit", "mg/dL")])) { response in
                #expect(response.status == .ok)
            }
            let converted = try await app.stores.observations.list(programID: scenario.program.id, patientID: fine.id)
            #expect(converted.count == 2 && abs((converted.first?.observation.reading.number ?? 0) - 5.6) < 0.05)
            #expect(try await scenario.dispatch(at: "2026-12-03 20:00").missingAlerts == 0)
            // Two days after the first unanswered reminder, the silent patient (only) has a missing-data alert.
            // (The demo program's own campers, who never check in, are counted too.)
            let report = try await scenario.dispatch(at: "2026-12-04 07:31")
            #expect(report.missingAlerts >= 1, "\(report)")
            let missing = try await app.stores.alerts.list(programID: scenario.program.id, patientID: silent.id)
            #expect(missing.count == 1 && missing.first?.ruleID == "missing.glucose-daily" && missing.first?.priority == .high)
            #expect(try await scenario.tasks(silent).contains { $0.kind == .observationAlert && $0.priority == .high })
            #expect(try await app.stores.alerts.list(programID: scenario.program.id, patientID: fine.id).isEmpty)
            // The next pass counts the same touchpoint once only.
            #expect(try await scenario.dispatch(at: "2026-12-04 07:40").missingAlerts == 0)
            #expect(try await app.stores.alerts.list(programID: scenario.program.id, patientID: silent.id).first?.breaches == 1)
            // The patient page names the missed check-ins as such, by the questionnaire's name.
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "manager@tend.demo")
            let page = try await client.execute(uri: "/p/gdm-camp/patients/\(silent.id)", method: .get, headers: merged(jar.header, [.accept: "text/html"])) {
                String(buffer: $0.body)
            }
            #expect(page.contains("未填写次数") && page.contains("每日血糖打卡"), "the missing-data alert on the patient page")
        }
    }

    /// S2: 101.5 °F entered on day 8 of a cycle is stored as 38.6 °C and is urgent (the nadir window).
    @Test(arguments: TestBackend.available)
    func s2FeverInTheNadirWindowIsUrgent(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let scenario = try await DispatchScenario(app, program: "lung-followup")
            let patient = try await scenario.patient("周期发热")
            try await scenario.enrol(patient, in: "s2-chemo-cycles", anchors: ["cycle_start": LocalDate(year: 2026, month: 12, day: 3)])
            try await scenario.dispatch(at: "2026-12-09 19:00")
            let message = try #require(try await scenario.inbox(patient).first { $0.body.contains("/q/") })
            let path = try #require(formPath(in: message.body))
            // Day 8 of cycle 1 (the cycle started on 12-03).
            try await scenario.dispatch(at: "2026-12-10 09:00")
            let answers = [("temperature", "101.5"), ("temperature__unit", "[degF]"), ("chills", "yes"), ("nausea", "mild"), ("vomiting", "none"),
                           ("diarrhoea", "none"), ("mouth_sores", "no"), ("bleeding", "no")]
            try await client.execute(uri: path, method: .post, headers: formHeaders, body: formBody(answers)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                #expect(String(buffer: response.body).contains("form-urgent"))
            }
            let reading = try #require(try await app.stores.observations.list(programID: scenario.program.id, patientID: patient.id).first)
            #expect(reading.observation.reading.code == .loinc("8310-5"))
            if case .quantity(let value, let unit) = reading.observation.reading.value {
                #expect(abs(value - 38.6) < 0.05 && unit == "Cel")
            } else {
                Issue.record("temperature stored as \(reading.observation.reading.value)")
            }
            let alerts = try await app.stores.alerts.list(programID: scenario.program.id, patientID: patient.id)
            #expect(alerts.contains { $0.priority == .urgent && $0.ruleID.hasPrefix("q.chemo-side-effects.") }, "\(alerts.map(\.ruleID))")
            #expect(!alerts.contains { $0.ruleID == "fever" }, "the form's urgent flag covers the reading's lower fever alert")
        }
    }

    /// S1: the T+1 revisit form records attendance, two lab values and a photo; the photo is
    /// sealed at rest, staff of the program open it, nobody else does.
    @Test(arguments: TestBackend.available)
    func s1RevisitFormWithLabValuesAndAPhoto(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let scenario = try await DispatchScenario(app, program: "lung-followup")
            let patient = try await scenario.patient("复诊拍照")
            try await scenario.enrol(patient, in: "s1-revisit", anchors: ["revisit": LocalDate(year: 2026, month: 12, day: 10)])
            try await scenario.dispatch(at: "2026-12-11 12:00")
            let message = try #require(try await scenario.inbox(patient).first { $0.body.contains("/q/") })
            let path = try #require(formPath(in: message.body))
            try await client.execute(uri: path, method: .get) { response in
                #expect(String(buffer: response.body).contains(#"enctype="multipart/form-data""#))
            }
            let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: 0x42, count: 2000) + [0xFF, 0xD9]
            func multipart(_ photo: [UInt8], type: String = "image/jpeg") -> ByteBuffer {
                var buffer = ByteBuffer()
                for (name, value) in [("attended", "yes"), ("visit_date", "2026-12-10"), ("wbc", "3.1"), ("hemoglobin", "118")] {
                    buffer.writeString("--XyZ\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n")
                }
                buffer.writeString("--XyZ\r\nContent-Disposition: form-data; name=\"report_photo\"; filename=\"report.jpg\"\r\nContent-Type: \(type)\r\n\r\n")
                buffer.writeBytes(photo)
                buffer.writeString("\r\n--XyZ--\r\n")
                return buffer
            }
            let headers: HTTPFields = [.contentType: "multipart/form-data; boundary=XyZ"]
            // Not an image: refused, naming the item, nothing stored.
            try await client.execute(uri: path, method: .post, headers: headers, body: multipart(Array("<script>alert(1)</script>".utf8), type: "image/jpeg")) { response in
                #expect(response.status == .unprocessableContent)
                #expect(String(buffer: response.body).contains("JPEG"))
            }
            #expect(try await app.stores.responses.list(programID: scenario.program.id, patientID: patient.id).isEmpty)
            try await client.execute(uri: path, method: .post, headers: headers, body: multipart(jpeg)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                #expect(String(buffer: response.body).contains("form-done"))
            }
            #expect(try await scenario.statuses(patient)["attended-check#1"] == "confirmed")
            let response = try #require(try await app.stores.responses.list(programID: scenario.program.id, patientID: patient.id).first)
            #expect(response.answers["attended"] == .bool(true))
            guard case .string(let photoID)? = response.answers["report_photo"] else {
                Issue.record("no photo answer in \(response.answers)")
                return
            }
            let codes = Set(try await app.stores.observations.list(programID: scenario.program.id, patientID: patient.id).map(\.observation.reading.code.description))
            #expect(codes.isSuperset(of: ["program:revisit-attended", "loinc:6690-2", "loinc:718-7", "program:lab-report-photo"]), "\(codes)")
            // Sealed at rest: the stored column is not the bytes.
            let stored = try await app.stores.database.session { sql in
                try await sql.raw("SELECT data_enc FROM photos WHERE id = \(bind: photoID)").first()?.decode(column: "data_enc", as: String.self)
            }
            #expect(stored?.contains(Data(jpeg).base64EncodedString().prefix(40)) == false)
            let manager = try await app.token(for: "manager@tend.demo")
            try await client.execute(uri: "/api/v1/programs/lung-followup/photos/\(photoID)", method: .get, headers: bearer(manager)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/jpeg" && Array(buffer: response.body) == jpeg)
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/photos/\(photoID)", method: .get, headers: bearer(manager)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/api/v1/programs/lung-followup/photos/\(photoID)", method: .get) { #expect($0.status == .unauthorized) }
            // The patient page lists the response with every answer and a link to the photo.
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "manager@tend.demo")
            let html = try await client.execute(uri: "/p/lung-followup/patients/\(patient.id)", method: .get, headers: merged(jar.header, [.accept: "text/html"])) {
                String(buffer: $0.body)
            }
            #expect(html.contains("复诊情况登记") && html.contains("3.1") && html.contains("/p/lung-followup/photos/\(photoID)"))
            try await client.execute(uri: "/p/lung-followup/photos/\(photoID)", method: .get, headers: jar.header) { response in
                #expect(response.status == .ok && Array(buffer: response.body) == jpeg)
            }
        }
    }

    /// Staff record a PHQ-9 over the API: scored, banded, item 9 urgent; an incomplete one is
    /// refused naming the missing items, and its answered item 9 still raises the urgent alert.
    @Test(arguments: TestBackend.available)
    func staffRecordAndListResponses(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let base = "/api/v1/programs/lung-followup"
            let patient = try await createPatient(client, token: manager, program: "lung-followup", body: #"{"name": "量表", "phone": "13912349100"}"#)
            let patientID = try #require(patient["id"] as? String)
            try await client.execute(uri: base + "/questionnaires", method: .get, headers: bearer(manager)) { response in
                let ids = (object(response)["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                #expect(Set(ids).isSuperset(of: ["phq-9", "gad-7", "act", "glucose-daily"]))
            }
            let incomplete = #"{"questionnaire": "phq-9", "answers": {"1": 1, "9": 2}}"#
            try await client.execute(uri: base + "/patients/\(patientID)/responses", method: .post, headers: bearer(manager), body: json(incomplete)) { response in
                #expect(response.status == .badRequest, "\(String(buffer: response.body))")
                #expect(object(response)["field"] as? String == "answers.2")
            }
            let urgent = try await app.stores.alerts.list(programID: try #require(try await app.stores.programs.find(slug: "lung-followup")).id, patientID: patientID)
            #expect(urgent.count == 1 && urgent.first?.priority == .urgent, "\(urgent.map(\.ruleID))")
            let complete = #"{"questionnaire": "phq-9", "answers": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "7": 1, "8": 1, "9": 0}}"#
            try await client.execute(uri: base + "/patients/\(patientID)/responses", method: .post, headers: bearer(manager), body: json(complete)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                let body = object(response)
                let stored = body["response"] as? [String: Any] ?? [:]
                #expect(stored["total"] as? Double == 8 && stored["band"] as? String == "mild" && stored["source"] as? String == "api")
            }
            try await client.execute(uri: base + "/patients/\(patientID)/responses", method: .get, headers: bearer(manager)) { response in
                let items = object(response)["items"] as? [[String: Any]] ?? []
                #expect(items.count == 1 && (items.first?["answers"] as? [String: Any])?["9"] as? Double == 0)
            }
            try await client.execute(uri: base + "/questionnaires/phq-9", method: .get, headers: bearer(manager)) { response in
                #expect(object(response)["questionnaire"] as? String == "phq-9")
            }
        }
    }

    /// A pathway naming a questionnaire the program does not have is refused with the step's line.
    @Test(arguments: TestBackend.available)
    func aPathwayNamingAnUnknownQuestionnaireIsRefused(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            let yaml = """
                pathway: unknown-form
                version: 1
                name: {zh: 未知问卷, en: Unknown form}
                anchors: [start]
                steps:
                  - id: ask
                    anchor: start
                    at: "09:00"
                    questionnaire: no-such-form
                    message: {zh: 请填写, en: Please fill in}
                """
            try await client.execute(uri: "/api/v1/programs/gdm-camp/pathways", method: .post, headers: merged(bearer(admin), [.contentType: "application/yaml"]),
                                     body: ByteBuffer(string: yaml)) { response in
                #expect(response.status == .badRequest, "\(String(buffer: response.body))")
                let message = object(response)["message"] as? String ?? ""
                #expect(message.contains("no-such-form") && (message.contains("line 6") || message.contains("第 6 行")), "\(message)")
            }
        }
    }
}
