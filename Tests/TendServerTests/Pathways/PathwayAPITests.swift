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

@Suite struct PathwayAPITests {
    @Test(arguments: TestBackend.available)
    func enrolSeeTheScheduleAndMoveTheRevisit(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let patient = try await createPatient(client, token: manager, program: "lung-followup", body: #"{"name": "周新", "time_zone": "America/New_York", "quiet_hours": "22:00-07:00", "contact_window": "12:00-13:30"}"#)
            let patientID = patient["id"] as? String ?? ""
            var enrolmentID = ""
            try await client.execute(uri: "/api/v1/programs/lung-followup/enrolments", method: .post, headers: bearer(manager),
                                     body: json("{\"pathway\": \"s1-revisit\", \"patient_id\": \"\(patientID)\", \"anchors\": {\"revisit\": \"2026-12-20\"}}")) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                let body = object(response)
                #expect(body["enrolled"] as? Int == 1 && body["touchpoints"] as? Int == 5)
                enrolmentID = (body["enrolment_ids"] as? [String])?.first ?? ""
            }
            func schedule() async throws -> [String] {
                try await client.execute(uri: "/api/v1/programs/lung-followup/patients/\(patientID)/schedule", method: .get, headers: bearer(manager)) { response in
                    (object(response)["items"] as? [[String: Any]] ?? []).map { "\($0["step_id"] ?? "") \($0["local_due"] ?? "") \($0["status"] ?? "")" }
                }
            }
            #expect(try await schedule() == [
                "book-reminder 2026-12-13 09:00 scheduled", "confirm 2026-12-18 12:00 scheduled", "call-unconfirmed 2026-12-19 10:00 scheduled",
                "day-of-voice 2026-12-20 07:30 scheduled", "attended-check 2026-12-21 12:00 scheduled",
            ])
            try await client.execute(uri: "/api/v1/programs/lung-followup/enrolments/\(enrolmentID)/anchors", method: .post, headers: bearer(manager),
                                     body: json(#"{"anchor": "revisit", "date": "2027-01-08"}"#)) { response in
                #expect(response.status == .ok)
                #expect((object(response)["anchors"] as? [String: String])?["revisit"] == "2027-01-08")
            }
            #expect(try await schedule().first == "book-reminder 2027-01-01 09:00 scheduled")
            // Bad input names the field.
            // An anchor the pathway does not have names something that does not exist: 404, naming it.
            for (body, field, status) in [(#"{"anchor": "revisit", "date": "soon"}"#, "date", HTTPResponse.Status.badRequest), (#"{"anchor": "surgery", "date": "2027-01-01"}"#, "anchor", .notFound),
                                          (#"{"date": "2027-01-01"}"#, "anchor", .badRequest)] {
                try await client.execute(uri: "/api/v1/programs/lung-followup/enrolments/\(enrolmentID)/anchors", method: .post, headers: bearer(manager), body: json(body)) { response in
                    #expect(response.status == status)
                    #expect(object(response)["field"] as? String == field)
                }
            }
            try await client.execute(uri: "/api/v1/programs/lung-followup/enrolments", method: .post, headers: bearer(manager),
                                     body: json("{\"pathway\": \"s1-revisit\", \"patient_id\": \"\(patientID)\"}")) { response in
                #expect(response.status == .badRequest)
                #expect(object(response)["field"] as? String == "anchors.revisit")
            }
            try await client.execute(uri: "/api/v1/programs/lung-followup/enrolments/\(enrolmentID)/pause", method: .post, headers: bearer(manager)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/v1/programs/lung-followup/enrolments/\(enrolmentID)/pause", method: .post, headers: bearer(manager)) { #expect($0.status == .conflict) }
            try await client.execute(uri: "/api/v1/programs/lung-followup/enrolments/\(enrolmentID)/cancel", method: .post, headers: bearer(manager)) { response in
                #expect(object(response)["status"] as? String == "cancelled")
            }
            // Another program's staff cannot see or touch it.
            let pharmacist = try await app.token(for: "pharmacist@tend.demo")
            try await client.execute(uri: "/api/v1/programs/gdm-camp/enrolments/\(enrolmentID)/resume", method: .post, headers: bearer(pharmacist)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(patientID)/schedule", method: .get, headers: bearer(pharmacist)) { #expect($0.status == .notFound) }
        }
    }

    @Test(arguments: TestBackend.available)
    func pathwayFilesAreValidatedWithLinesOnUpload(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            var headers = bearer(admin)
            headers[.contentType] = "application/yaml"
            let broken = "pathway: x1\nname: {zh: 甲, en: A}\nsteps:\n  - id: a\n    anchor: nowhere\n    at: \"09:00\"\n    message: {zh: 你好}\n"
            try await client.execute(uri: "/api/v1/programs/gdm-camp/pathways", method: .post, headers: headers, body: json(broken)) { response in
                #expect(response.status == .badRequest)
                let message = object(response)["message"] as? String ?? ""
                #expect(message.contains("line 5: unknown anchor") && message.contains("line 7: missing locale en"), "\(message)")
            }
            let source = try DemoPathways.source("s3-gdm-camp").replacingOccurrences(of: "version: 1", with: "version: 2")
            try await client.execute(uri: "/api/v1/programs/gdm-camp/pathways", method: .post, headers: headers, body: json(source)) { response in
                #expect(response.status == .created)
                #expect(object(response)["version"] as? Int == 2)
            }
            let manager = try await app.token(for: "manager@tend.demo")
            try await client.execute(uri: "/api/v1/programs/gdm-camp/pathways", method: .post, headers: bearer(manager), body: json(source)) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/pathways", method: .get, headers: bearer(manager)) { response in
                let ids = (object(response)["items"] as? [[String: Any]] ?? []).compactMap { $0["pathway"] as? String }
                #expect(ids == ["s1-revisit", "s3-gdm-camp"])
            }
        }
    }
}

@Suite struct TriageAPITests {
    @Test func gradesAMessageWithReasons() async throws {
        try await withClient(.sqlite) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            try await client.execute(uri: "/api/v1/triage", method: .post, headers: bearer(manager), body: json(#"{"text": "刚测血糖2.7,手抖心慌", "locale": "zh"}"#)) { response in
                #expect(response.status == .ok)
                #expect(object(response)["level"] as? String == "urgent")
                #expect((object(response)["reasons"] as? [[String: Any]])?.isEmpty == false)
            }
            try await client.execute(uri: "/api/v1/triage", method: .post, headers: bearer(manager), body: json(#"{"text": "hi", "locale": "fr"}"#)) { response in
                #expect(response.status == .badRequest && object(response)["field"] as? String == "locale")
            }
        }
    }
}
