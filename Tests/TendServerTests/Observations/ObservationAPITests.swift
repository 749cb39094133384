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

/// `POST …/observations` and a patient's observations over the API, on both backends.
@Suite struct ObservationAPITests {
    @Test(arguments: TestBackend.available)
    func aDeviceBatchIsStoredOnceConvertedAndListed(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "读数", "phone": "13912349000"}"#)
            let patientID = try #require(patient["id"] as? String)
            let batch = """
                {"source": "device", "observations": [
                  {"patient_id": "\(patientID)", "code": "glucose-fasting", "value": 48, "unit": "mg/dL", "effective_at": "2026-12-03T07:30:00+08:00", "external_id": "m-1"},
                  {"patient_id": "\(patientID)", "code": "loinc:8310-5", "value": "101.5 °F", "effective_at": "2026-12-03T20:00:00.4788+08:00", "external_id": "t-1"}
                ]}
                """
            for expected in [(2, 0), (0, 2)] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/observations", method: .post, headers: bearer(manager), body: json(batch)) { response in
                    #expect(response.status == .ok, "\(String(buffer: response.body))")
                    let body = object(response)
                    #expect(body["recorded"] as? Int == expected.0 && body["duplicates"] as? Int == expected.1, "\(body)")
                }
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(patientID)/observations", method: .get, headers: bearer(manager)) { response in
                #expect(response.status == .ok)
                let items = object(response)["items"] as? [[String: Any]] ?? []
                #expect(items.count == 2)
                #expect(items.first?["code"] as? String == "loinc:8310-5" && items.first?["unit"] as? String == "Cel")
                #expect(abs((items.first?["value"] as? Double ?? 0) - 38.6) < 0.05)
                #expect(abs((items.last?["value"] as? Double ?? 0) - 2.7) < 0.06)
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(patientID)/observations?code=glucose-fasting", method: .get, headers: bearer(manager)) { response in
                #expect((object(response)["items"] as? [Any])?.count == 1)
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func refusalsNameTheField(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "拒收", "phone": "13912349001"}"#)
            let patientID = try #require(patient["id"] as? String)
            let other = try await createPatient(client, token: manager, program: "lung-followup", body: #"{"name": "别处", "phone": "13912349002"}"#)
            let otherID = try #require(other["id"] as? String)
            func one(_ fields: String) -> String { #"{"observations": [{"patient_id": "\#(patientID)", \#(fields)}]}"# }
            let cases: [(String, String, Int)] = [
                (one(#""code": "glucose-fasting", "value": 300, "unit": "mmol/L", "effective_at": "2026-12-03T07:30:00+08:00""#), "observations[0].value", 400),
                (one(#""code": "glucose-fasting", "value": 5.6, "unit": "furlongs", "effective_at": "2026-12-03T07:30:00+08:00""#), "observations[0].unit", 400),
                (one(#""code": "glucose-fasting", "value": [1], "effective_at": "2026-12-03T07:30:00+08:00""#), "observations[0].value", 400),
                (one(#""code": "glucose-fasting", "value": 5.6, "effective_at": "soon""#), "observations[0].effective_at", 400),
                (one(#""code": "glucose-fasting", "value": 1e300, "effective_at": "2026-12-03T07:30:00+08:00""#), "observations[0].value", 400),
                (one(#""code": "no such code", "value": 5.6, "effective_at": "2026-12-03T07:30:00+08:00""#), "observations[0].code", 400),
                (#"{"observations": []}"#, "observations", 400),
                (#"{"observations": [{"patient_id": "\#(otherID)", "code": "spo2", "value": 97, "effective_at": "2026-12-03T07:30:00+08:00"}]}"#, "observations[0].patient_id", 404),
            ]
            for (body, field, status) in cases {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/observations", method: .post, headers: bearer(manager), body: json(body)) { response in
                    #expect(response.status.code == status, "\(body) → \(response.status) \(String(buffer: response.body))")
                    #expect(object(response)["field"] as? String == field, "\(body) → \(object(response))")
                }
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(otherID)/observations", method: .get, headers: bearer(manager)) {
                #expect($0.status == .notFound)
            }
        }
    }

    /// S3: a fasting 2.7 raises an urgent alert and an urgent task for the on-call member within
    /// the request that recorded it; 5.6 raises nothing; another low reading joins the open alert;
    /// once resolved, the next low reading opens a new one.
    @Test(arguments: TestBackend.available)
    func aLowFastingGlucoseRaisesOneUrgentAlertForTheOnCallMember(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let base = "/api/v1/programs/gdm-camp"
            let members = try await client.execute(uri: base + "/members", method: .get, headers: bearer(manager)) { object($0)["items"] as? [[String: Any]] ?? [] }
            let onCall = try #require(members.first { ($0["role"] as? String) == "nurse" }?["user_id"] as? String ?? members.first?["user_id"] as? String)
            let admin = try await app.token(for: "admin@tend.demo")
            try await client.execute(uri: base + "/triage/settings", method: .put, headers: bearer(admin), body: json(#"{"on_call_staff_id": "\#(onCall)"}"#)) {
                #expect($0.status == .ok, "\(String(buffer: $0.body))")
            }
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "低血糖", "phone": "13912349003"}"#)
            let patientID = try #require(patient["id"] as? String)
            func post(_ value: Double, at time: String) async throws -> [[String: Any]] {
                let body = #"{"source": "check-in", "observations": [{"patient_id": "\#(patientID)", "code": "glucose-fasting", "value": \#(value), "unit": "mmol/L", "effective_at": "\#(time)"}]}"#
                return try await client.execute(uri: base + "/observations", method: .post, headers: bearer(manager), body: json(body)) { response in
                    #expect(response.status == .ok, "\(String(buffer: response.body))")
                    return object(response)["alerts"] as? [[String: Any]] ?? []
                }
            }
            func tasks() async throws -> [[String: Any]] {
                try await client.execute(uri: base + "/tasks?patient=\(patientID)&status=open", method: .get, headers: bearer(manager)) { object($0)["items"] as? [[String: Any]] ?? [] }
            }
            let low = try await post(2.7, at: "2026-12-03T07:30:00+08:00")
            #expect(low.count == 1 && low.first?["rule"] as? String == "glucose-low" && low.first?["priority"] as? String == "urgent")
            let opened = try await tasks()
            #expect(opened.count == 1)
            #expect(opened.first?["kind"] as? String == "observation_alert" && opened.first?["priority"] as? String == "urgent")
            #expect(opened.first?["assignee_id"] as? String == onCall)

            #expect(try await post(5.6, at: "2026-12-03T12:00:00+08:00").isEmpty)
            let again = try await post(2.5, at: "2026-12-04T07:30:00+08:00")
            #expect(again.first?["id"] as? String == low.first?["id"] as? String && again.first?["breaches"] as? Int == 2)
            #expect(try await tasks().count == 1, "a new breach joins the open alert")

            let alertID = try #require(low.first?["id"] as? String)
            try await client.execute(uri: base + "/alerts/\(alertID)/resolve", method: .post, headers: bearer(manager),
                                     body: json(#"{"note": "已电话联系，已进食糖果，复测 5.1"}"#)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                #expect(object(response)["status"] as? String == "resolved")
                #expect(object(response)["note"] as? String == "已电话联系，已进食糖果，复测 5.1")
            }
            // The note is sealed at rest.
            let storedNote = try await app.stores.database.session { sql in
                try await sql.raw("SELECT note_enc FROM observation_alerts WHERE id = \(bind: alertID)").first()?.decode(column: "note_enc", as: String?.self)
            }
            #expect(storedNote != nil && storedNote?.contains("电话") == false)
            #expect(try await tasks().isEmpty, "resolving completes the task")
            let open = try await client.execute(uri: base + "/alerts", method: .get, headers: bearer(manager)) { object($0)["items"] as? [[String: Any]] ?? [] }
            #expect(open.allSatisfy { $0["id"] as? String != alertID })
            let next = try await post(2.6, at: "2026-12-05T07:30:00+08:00")
            #expect(next.count == 1 && next.first?["id"] as? String != alertID)

            // The patient page charts the readings, the low ones marked, and lists the open alert.
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "manager@tend.demo")
            let html = try await client.execute(uri: "/p/gdm-camp/patients/\(patientID)", method: .get, headers: merged(jar.header, [.accept: "text/html"])) { response in
                #expect(response.status == .ok)
                return String(buffer: response.body)
            }
            #expect(html.contains(#"<svg class="chart""#) && html.matches(of: /class="breach"/).count == 3)
            #expect(html.contains(#"<rect class="target""#), "the band between the thresholds is shaded")
            #expect(html.contains("id=\"alerts\"") && html.contains("低血糖") || html.contains("Low glucose"))

            // The program's alerts page lists the open one; resolving it there empties the list.
            let openAlertID = try #require(next.first?["id"] as? String)
            let alertsPage = try await client.execute(uri: "/p/gdm-camp/alerts", method: .get, headers: merged(jar.header, [.accept: "text/html"])) { response in
                #expect(response.status == .ok)
                return String(buffer: response.body)
            }
            #expect(alertsPage.contains("id=\"alert-\(openAlertID)\""))
            let csrf = try #require(alertsPage.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1)
            try await client.execute(uri: "/p/gdm-camp/alerts/\(openAlertID)/resolve", method: .post,
                                     headers: merged(jar.header, [.contentType: "application/x-www-form-urlencoded"]), body: ByteBuffer(string: "csrf=\(csrf)")) { response in
                #expect(response.status == .seeOther || response.status == .found, "\(response.status)")
            }
            let after = try await client.execute(uri: "/p/gdm-camp/alerts", method: .get, headers: merged(jar.header, [.accept: "text/html"])) { String(buffer: $0.body) }
            #expect(!after.contains("id=\"alert-\(openAlertID)\""))
            try await client.execute(uri: base + "/alerts/\(alertID)/resolve", method: .post, headers: bearer(manager)) { #expect($0.status == .notFound) }
        }
    }

    /// Readings recorded at once for one patient open one alert and one task between them.
    @Test(arguments: TestBackend.available)
    func concurrentLowReadingsOpenOneAlert(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "并发预警", "phone": "13912349004"}"#)
            let patientID = try #require(patient["id"] as? String)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        let body = #"{"observations": [{"patient_id": "\#(patientID)", "code": "glucose-fasting", "value": 2.4, "unit": "mmol/L", "effective_at": "2026-12-03T07:\#(String(format: "%02d", index)):00+08:00"}]}"#
                        try await client.execute(uri: "/api/v1/programs/gdm-camp/observations", method: .post, headers: bearer(manager), body: json(body)) {
                            #expect($0.status == .ok, "\(String(buffer: $0.body))")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let alerts = try await client.execute(uri: "/api/v1/programs/gdm-camp/alerts?patient=\(patientID)", method: .get, headers: bearer(manager)) {
                object($0)["items"] as? [[String: Any]] ?? []
            }
            #expect(alerts.count == 1 && alerts.first?["breaches"] as? Int == 12, "\(alerts)")
            let tasks = try await client.execute(uri: "/api/v1/programs/gdm-camp/tasks?patient=\(patientID)", method: .get, headers: bearer(manager)) {
                object($0)["items"] as? [[String: Any]] ?? []
            }
            #expect(tasks.count == 1)
        }
    }

    /// A program's own rules over the API: a sustained rule and the unit its staff read glucose in.
    @Test(arguments: TestBackend.available)
    func programRulesAndDisplayUnits(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo"), manager = try await app.token(for: "manager@tend.demo")
            let base = "/api/v1/programs/gdm-camp"
            let document = """
                units: {glucose-fasting: mg/dL}
                rules:
                  - id: fasting-above-target-sustained
                    code: glucose-fasting
                    sustained: {at_least: 5.3, count: 2, of: 3}
                    level: normal
                    title: {zh: 空腹血糖连续高于目标, en: Fasting glucose above target twice in three}
                """
            let yaml: HTTPFields = [.contentType: "application/yaml"]
            try await client.execute(uri: base + "/alert-rules", method: .put, headers: merged(bearer(manager), yaml), body: ByteBuffer(string: document)) {
                #expect($0.status == .forbidden, "a manager does not set the program's rules")
            }
            try await client.execute(uri: base + "/alert-rules", method: .put, headers: merged(bearer(admin), yaml),
                                     body: ByteBuffer(string: document.replacingOccurrences(of: "mg/dL", with: "kg"))) { response in
                #expect(response.status == .badRequest && (object(response)["message"] as? String ?? "").contains("第 1 行"), "\(String(buffer: response.body))")
            }
            try await client.execute(uri: base + "/alert-rules", method: .put, headers: merged(bearer(admin), yaml), body: ByteBuffer(string: document)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let body = object(response)
                #expect((body["units"] as? [String: String])?["loinc:14770-2"] == "mg/dL")
                let ids = (body["rules"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                #expect(ids.contains("glucose-low") && ids.last == "fasting-above-target-sustained")
            }
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "目标", "phone": "13912349110"}"#)
            let patientID = try #require(patient["id"] as? String)
            var alerts: [[String: Any]] = []
            for (day, value) in [(3, 5.8), (4, 5.0), (5, 6.1)] {
                let body = #"{"observations": [{"patient_id": "\#(patientID)", "code": "glucose-fasting", "value": \#(value), "unit": "mmol/L", "effective_at": "2026-12-0\#(day)T07:30:00+08:00"}]}"#
                alerts = try await client.execute(uri: base + "/observations", method: .post, headers: bearer(manager), body: json(body)) { object($0)["alerts"] as? [[String: Any]] ?? [] }
            }
            #expect(alerts.first?["rule"] as? String == "fasting-above-target-sustained", "\(alerts)")
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "manager@tend.demo")
            let html = try await client.execute(uri: "/p/gdm-camp/patients/\(patientID)", method: .get, headers: merged(jar.header, [.accept: "text/html"])) { String(buffer: $0.body) }
            // 6.1 mmol/L is 109.9 mg/dL.
            #expect(html.contains("109.9 mg/dL"), "the chart is in the program's unit")
        }
    }
}
