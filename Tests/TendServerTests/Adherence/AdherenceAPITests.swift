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

/// Dispenses over the API and a patient's PDC per class, on both backends.
@Suite struct AdherenceAPITests {
    @Test(arguments: TestBackend.available)
    func dispensesInPDCOut(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let base = "/api/v1/programs/lung-followup"
            let patient = try await createPatient(client, token: manager, program: "lung-followup", body: #"{"name": "依从", "phone": "13912349200"}"#)
            let patientID = try #require(patient["id"] as? String)
            let other = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "别处", "phone": "13912349201"}"#)
            let batch = """
                {"source": "his", "dispenses": [
                  {"patient_id": "\(patientID)", "drug": "atorvastatin", "class": "statin", "filled_on": "2026-10-01", "days_supply": 30, "external_id": "rx-1", "pharmacy": "门诊药房"},
                  {"patient_id": "\(patientID)", "drug": "atorvastatin", "class": "statin", "filled_on": "2026-10-21", "days_supply": 30, "external_id": "rx-2"},
                  {"patient_id": "\(patientID)", "drug": "metformin", "filled_on": "2026-09-01", "days_supply": 90, "external_id": "rx-3", "quantity": 180}
                ]}
                """
            for (recorded, duplicates) in [(3, 0), (0, 3)] {
                try await client.execute(uri: base + "/dispenses", method: .post, headers: bearer(manager), body: json(batch)) { response in
                    #expect(response.status == .ok, "\(String(buffer: response.body))")
                    #expect(object(response)["recorded"] as? Int == recorded && object(response)["duplicates"] as? Int == duplicates)
                }
            }
            let refusals: [(String, String, Int)] = [
                (#"{"dispenses": [{"patient_id": "\#(patientID)", "drug": "x", "filled_on": "2026-02-30", "days_supply": 30}]}"#, "dispenses[0].filled_on", 400),
                (#"{"dispenses": [{"patient_id": "\#(patientID)", "drug": "x", "filled_on": "2026-02-01", "days_supply": 99999999999}]}"#, "dispenses[0].days_supply", 400),
                (#"{"dispenses": [{"patient_id": "\#(other["id"] as? String ?? "")", "drug": "x", "filled_on": "2026-02-01", "days_supply": 30}]}"#, "dispenses[0].patient_id", 404),
            ]
            for (body, field, status) in refusals {
                try await client.execute(uri: base + "/dispenses", method: .post, headers: bearer(manager), body: json(body)) { response in
                    #expect(response.status.code == status && object(response)["field"] as? String == field, "\(body) → \(String(buffer: response.body))")
                }
            }
            try await client.execute(uri: base + "/patients/\(patientID)/adherence?end=2026-12-31", method: .get, headers: bearer(manager)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let items = object(response)["items"] as? [[String: Any]] ?? []
                let statin = try #require(items.first { $0["class"] as? String == "statin" })
                #expect(statin["pdc"] as? Double == 0.6522 && statin["covered_days"] as? Int == 60 && statin["treatment_days"] as? Int == 92)
                #expect(statin["adherent"] as? Bool == false && (statin["gaps"] as? [[String]])?.first == ["2026-11-30", "2026-12-31"])
                let metformin = try #require(items.first { $0["class"] as? String == "metformin" })
                #expect(metformin["pdc"] as? Double == 0.7377 && metformin["measurable"] as? Bool == true)
            }
            try await client.execute(uri: base + "/patients/\(patientID)/adherence?end=2026-02-30", method: .get, headers: bearer(manager)) { #expect($0.status == .badRequest) }
            try await client.execute(uri: base + "/patients/\(patientID)/adherence", method: .get, headers: bearer(manager)) { #expect($0.status == .ok) }
            // Any period the document allows is answered: a century back, or one ending before it starts.
            for query in ["start=1900-01-01&end=2026-12-31", "start=2026-12-31&end=2026-01-01"] {
                try await client.execute(uri: base + "/patients/\(patientID)/adherence?\(query)", method: .get, headers: bearer(manager)) { #expect($0.status == .ok, "\(query)") }
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(patientID)/adherence?end=2026-12-31", method: .get, headers: bearer(manager)) {
                #expect($0.status == .notFound)
            }
        }
    }

    /// The pharmacist records a dispense on the patient's page and sees the PDC and the run-out.
    @Test(arguments: TestBackend.available)
    func thePharmacistRecordsADispenseOnThePatientsPage(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "药师登记", "phone": "13912349300"}"#)
            let patientID = try #require(patient["id"] as? String)
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "pharmacist@tend.demo")
            let pageURI = "/p/gdm-camp/patients/\(patientID)"
            func page() async throws -> String {
                try await client.execute(uri: pageURI, method: .get, headers: merged(jar.header, [.accept: "text/html"])) { response in
                    #expect(response.status == .ok)
                    return String(buffer: response.body)
                }
            }
            let empty = try await page()
            #expect(empty.contains("id=\"dispense-form\"") && empty.contains("暂无发药记录"))
            let csrf = try #require(hiddenField("csrf", in: empty))
            for (drug, filledOn, days) in [("二甲双胍", "2026-09-01", "90"), ("二甲双胍", "2026-11-30", "30"), ("阿托伐他汀", "2026-11-30", "28")] {
                try await client.execute(uri: pageURI + "/dispenses", method: .post, headers: merged(jar.header, formHeaders),
                                         body: form(["csrf": csrf, "drug": drug, "filled_on": filledOn, "days_supply": days, "pharmacy": "门诊药房"])) { response in
                    #expect(response.status == .seeOther || response.status == .found, "\(response.status) \(String(buffer: response.body))")
                }
            }
            for (fields, status) in [(["drug": "二甲双胍", "filled_on": "2026-02-30", "days_supply": "30"], 400),
                                     (["drug": "二甲双胍", "filled_on": "2026-11-01", "days_supply": "99999999999999999999"], 400),
                                     (["drug": "", "filled_on": "2026-11-01", "days_supply": "30"], 400)] {
                try await client.execute(uri: pageURI + "/dispenses", method: .post, headers: merged(jar.header, formHeaders),
                                         body: form(fields.merging(["csrf": csrf]) { a, _ in a })) { #expect($0.status.code == status, "\(fields)") }
            }
            let html = try await page()
            // 09-01 + 90 days covers to 11-29, the refill 11-30 onwards: 92 of 92 days by 12-01; it runs out 12-30.
            #expect(html.contains("data-class=\"二甲双胍\"") && html.contains("100 %"), "\(html)")
            // One run-out line naming each drug, soonest first (a section nested in itself once repeated it per drug).
            #expect(html.components(separatedBy: "id=\"runs-out\"").count == 2, "\(html)")
            let runsOut = try #require(html.range(of: "id=\"runs-out\"").map { String(html[$0.upperBound...].prefix(400)) })
            let statin = try #require(runsOut.range(of: "阿托伐他汀 2026-12-28")), metformin = try #require(runsOut.range(of: "二甲双胍 2026-12-30"))
            #expect(statin.lowerBound < metformin.lowerBound)
            let stored = try await app.stores.dispenses.fills(programID: try #require(try await app.stores.programs.find(slug: "gdm-camp")).id, patientID: patientID)
            #expect(stored.count == 3)
        }
    }
}
