import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TendCore
import TendServer
import TendServerTestSupport
import TendTestSupport

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
                  {"patient_id": "\(patientID)", "code": "loinc:8310-5", "value": "101.5 °F", "effective_at": "2026-12-03T20:00:00+08:00", "external_id": "t-1"}
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
}
