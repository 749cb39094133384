import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TendCore
import TendServer
import TendServerTestSupport
import TendTestSupport
import TendStore

/// Regimens over the API and on the patient page, stopping one ends its refill follow-up, and
/// daily dose check-ins give a dose-level adherence next to PDC, on both backends.
@Suite struct RegimenTests {
    @Test(arguments: TestBackend.available)
    func aRegimenIsRecordedListedAndStoppedAndItsRefillRemindersEndWithIt(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let base = "/api/v1/programs/lung-followup"
            let patient = try await createPatient(client, token: manager, program: "lung-followup", body: #"{"name": "保髋方案", "phone": "13912349400"}"#)
            let patientID = try #require(patient["id"] as? String)
            let regimen = """
                {"drug": "健骨生丸", "class": "tcm-hip", "strength": "3 g", "dose": "1 丸", "frequency": "bid", "start_on": "2026-11-20", "prescriber": "陈医生"}
                """
            let regimenID = try await client.execute(uri: base + "/patients/\(patientID)/regimens", method: .post, headers: bearer(manager), body: json(regimen)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                #expect(object(response)["frequency"] as? String == "bid" && object(response)["stop_on"] == nil)
                return try #require(object(response)["id"] as? String)
            }
            let refusals: [(String, String, Int)] = [
                (#"{"drug": "x", "dose": "1", "frequency": "hourly", "start_on": "2026-11-20"}"#, "frequency", 400),
                (#"{"drug": "x", "dose": "1", "frequency": "qd", "start_on": "2026-11-31"}"#, "start_on", 400),
                (#"{"drug": "x", "dose": "1", "frequency": "qd", "start_on": "2026-11-20", "stop_on": "2026-11-01"}"#, "regimen.stop_on", 409),
                (#"{"drug": " ", "dose": "1", "frequency": "qd", "start_on": "2026-11-20"}"#, "drug", 400),
            ]
            for (body, field, status) in refusals {
                try await client.execute(uri: base + "/patients/\(patientID)/regimens", method: .post, headers: bearer(manager), body: json(body)) { response in
                    #expect(response.status.code == status && object(response)["field"] as? String == field, "\(body) → \(String(buffer: response.body))")
                }
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(patientID)/regimens", method: .post, headers: bearer(manager), body: json(regimen)) {
                #expect($0.status == .notFound, "another program's patient")
            }
            try await client.execute(uri: base + "/patients/nobody/regimens", method: .post, headers: bearer(manager),
                                     body: json(#"{"drug": "x", "dose": "1", "frequency": "qd", "start_on": "2026-11-20", "stop_on": "2026-11-01"}"#)) {
                #expect($0.status == .notFound, "a missing patient is a 404 before its fields conflict")
            }
            // A 30-day fill on 12-01 enrols the patient in the shipped TCM refill pathway (run-out 12-31).
            let fill = #"{"dispenses": [{"patient_id": "\#(patientID)", "drug": "健骨生丸", "class": "tcm-hip", "filled_on": "2026-12-01", "days_supply": 30}]}"#
            try await client.execute(uri: base + "/dispenses", method: .post, headers: bearer(manager), body: json(fill)) { #expect($0.status == .ok) }
            let program = try #require(try await app.stores.programs.find(slug: "lung-followup"))
            let before = try await app.stores.enrolments.enrolments(programID: program.id, patientID: patientID)
            #expect(before.filter { $0.status == .active }.count == 1)

            try await client.execute(uri: base + "/patients/\(patientID)/regimens/\(regimenID)/stop", method: .post, headers: bearer(manager),
                                     body: json(#"{"stop_on": "2026-11-19"}"#)) { response in
                #expect(response.status == .conflict && object(response)["field"] as? String == "stop_on", "before the start")
            }
            try await client.execute(uri: base + "/patients/\(patientID)/regimens/nope/stop", method: .post, headers: bearer(manager),
                                     body: json(#"{"stop_on": "2026-12-05"}"#)) { #expect($0.status == .notFound) }
            try await client.execute(uri: base + "/patients/\(patientID)/regimens/\(regimenID)/stop", method: .post, headers: bearer(manager),
                                     body: json(#"{"stop_on": "2026-12-05"}"#)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                #expect(object(response)["stop_on"] as? String == "2026-12-05")
            }
            let after = try await app.stores.enrolments.enrolments(programID: program.id, patientID: patientID)
            #expect(after.filter { $0.status == .active }.isEmpty, "stopped before the run-out: no refill reminder is due")
            try await client.execute(uri: base + "/patients/\(patientID)/regimens", method: .get, headers: bearer(manager)) { response in
                let items = object(response)["items"] as? [[String: Any]] ?? []
                #expect(items.count == 1 && items.first?["stop_on"] as? String == "2026-12-05" && items.first?["prescriber"] as? String == "陈医生")
            }
            let actions = try await app.stores.audit.events(programID: program.id, subjectID: patientID, limit: 100).map(\.action)
            #expect(actions.contains(AuditAction.regimenStart.rawValue) && actions.contains(AuditAction.regimenStop.rawValue))
        }
    }

    @Test(arguments: TestBackend.available)
    func thePatientPageShowsRegimensAndDoseCheckInsNextToPDC(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "打卡服药", "phone": "13912349401"}"#)
            let patientID = try #require(patient["id"] as? String)
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "pharmacist@tend.demo")
            let pageURI = "/p/gdm-camp/patients/\(patientID)"
            let csrf = try await client.execute(uri: pageURI, method: .get, headers: merged(jar.header, [.accept: "text/html"])) { response in
                #expect(response.status == .ok)
                return try #require(hiddenField("csrf", in: String(buffer: response.body)))
            }
            let fields = ["csrf": csrf, "drug": "二甲双胍", "class": "", "strength": "500 mg", "dose": "1 片", "frequency": "bid", "start_on": "2026-11-25",
                          "stop_on": "", "prescriber": "陈医生"]
            try await client.execute(uri: pageURI + "/regimens", method: .post, headers: merged(jar.header, formHeaders), body: form(fields)) { response in
                #expect(response.status == .seeOther || response.status == .found, "\(String(buffer: response.body))")
            }
            var bad = fields
            bad["frequency"] = "sometimes"
            try await client.execute(uri: pageURI + "/regimens", method: .post, headers: merged(jar.header, formHeaders), body: form(bad)) {
                #expect($0.status == .badRequest)
            }
            // Three days answered in the last 30 (the last answer of 11-29 says yes), two of them yes.
            let answers = [("2026-11-28T20:00:00+08:00", "false"), ("2026-11-29T08:00:00+08:00", "false"), ("2026-11-29T21:00:00+08:00", "true"),
                           ("2026-11-30T20:00:00+08:00", "true"), ("2026-10-01T20:00:00+08:00", "true")]
            let body = answers.map { #"{"patient_id": "\#(patientID)", "code": "program:dose-taken", "value": \#($0.1), "effective_at": "\#($0.0)"}"# }
                .joined(separator: ",")
            try await client.execute(uri: "/api/v1/programs/gdm-camp/observations", method: .post, headers: bearer(manager),
                                     body: json(#"{"source": "check-in", "observations": [\#(body)]}"#)) { response in
                #expect(response.status == .ok || response.status == .created, "\(String(buffer: response.body))")
            }
            let html = try await client.execute(uri: pageURI, method: .get, headers: merged(jar.header, [.accept: "text/html", .acceptLanguage: "en"])) { response in
                String(buffer: response.body)
            }
            #expect(html.contains("二甲双胍") && html.contains("500 mg") && html.contains("twice a day"), "the regimen row")
            #expect(html.contains(#"<p id="dose-adherence">"#) && html.contains("<strong>67 %</strong>"), "two of three answered days")
            #expect(html.contains("taken on 2 of 3 days answered; 7 days on a daily regimen"), "11-25 … 12-01")
        }
    }
}
