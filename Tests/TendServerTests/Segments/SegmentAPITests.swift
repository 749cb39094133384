import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TendCore
import TendServer
import TendServerTestSupport
import TendTestSupport

/// Segments through the API and the console, on both backends: save and evaluate, the members
/// with why, a patient's segments, the preview, and a refused rule naming line and column.
@Suite struct SegmentAPITests {
    static let document = """
        slug: high-fasting
        name: {zh: 空腹血糖偏高, en: High fasting glucose}
        rule: |
          tag(cohort = seg-test) and last(glucose-fasting, 14d) >= 7.0
        on_enter:
          - tag: control=poor
        on_leave:
          - untag: control=poor
        """

    @Test(arguments: TestBackend.available)
    func aSegmentSavedOverTheAPIFollowsReadingsAndSaysWhy(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            let base = "/api/v1/programs/gdm-camp"
            let patient = try await createPatient(client, token: admin, program: "gdm-camp",
                                                  body: #"{"name": "分群", "phone": "13912349300", "tags": ["cohort=seg-test"]}"#)
            let patientID = try #require(patient["id"] as? String)
            try await client.execute(uri: base + "/segments", method: .post, headers: merged(bearer(admin), [.contentType: "application/yaml"]),
                                     body: ByteBuffer(string: Self.document)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                #expect(object(response)["entered"] as? Int == 0)
            }
            let now = ISO8601DateFormatter().string(from: app.clock.now.addingTimeInterval(-600))
            let reading = #"{"observations": [{"patient_id": "\#(patientID)", "code": "glucose-fasting", "value": 8.4, "unit": "mmol/L", "effective_at": "\#(now)"}]}"#
            try await client.execute(uri: base + "/observations", method: .post, headers: bearer(admin), body: json(reading)) { #expect($0.status == .ok) }
            try await client.execute(uri: base + "/segments/high-fasting", method: .get, headers: bearer(admin)) { response in
                #expect(object(response)["members"] as? Int == 1, "\(String(buffer: response.body))")
                #expect(object(response)["slides"] as? Bool == true)
            }
            try await client.execute(uri: base + "/segments/high-fasting/members", method: .get, headers: bearer(admin)) { response in
                let items = object(response)["items"] as? [[String: Any]] ?? []
                let why = try #require(items.first?["why"] as? [String: Any])
                let clauses = why["clauses"] as? [[String: Any]] ?? []
                #expect(clauses.count == 2 && clauses.allSatisfy { $0["holds"] as? Bool == true })
                #expect(clauses.last?["value"] as? String == "8.4 mmol/L", "\(clauses)")
            }
            try await client.execute(uri: base + "/patients/\(patientID)/segments", method: .get, headers: bearer(admin)) { response in
                let items = object(response)["items"] as? [[String: Any]] ?? []
                #expect(items.first { $0["slug"] as? String == "high-fasting" }?["member"] as? Bool == true)
            }
            try await client.execute(uri: base + "/segments/preview", method: .post, headers: bearer(admin),
                                     body: json(#"{"rule": "tag(cohort = seg-test) and last(glucose-fasting) > 9", "limit": 5}"#)) { response in
                #expect(response.status == .ok && object(response)["count"] as? Int == 0, "\(String(buffer: response.body))")
            }
            try await client.execute(uri: base + "/segments/preview", method: .post, headers: bearer(admin),
                                     body: json(#"{"rule": "tag(cohort = seg-test) and\nlast(glucose-fasting, 14) > 9"}"#)) { response in
                #expect(response.status == .badRequest && object(response)["field"] as? String == "rule")
                let message = object(response)["message"] as? String ?? ""
                #expect(message.contains("line 2") || message.contains("第 2 行"), "\(message)")
            }
            let broken = Self.document.replacingOccurrences(of: "14d", with: "14")
            try await client.execute(uri: base + "/segments", method: .post, headers: merged(bearer(admin), [.contentType: "application/yaml"]),
                                     body: ByteBuffer(string: broken)) { response in
                #expect(response.status == .badRequest)
                let message = object(response)["message"] as? String ?? ""
                #expect((message.contains("line 4") || message.contains("第 4 行")) && (message.contains("column 52") || message.contains("第 52 列")), "\(message)")
            }
            // Managing segments is the manager's; a pharmacist reads none of it.
            let pharmacist = try await app.token(for: "pharmacist@tend.demo")
            try await client.execute(uri: base + "/segments", method: .post, headers: merged(bearer(pharmacist), [.contentType: "application/yaml"]),
                                     body: ByteBuffer(string: Self.document)) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/api/v1/programs/lung-followup/segments/high-fasting", method: .get, headers: bearer(admin)) {
                #expect($0.status == .notFound, "another program's segment is not found")
            }

            // The console: the list with its count, the member with why, the patient page, and a preview.
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "admin@tend.demo")
            let list = try await client.execute(uri: "/p/gdm-camp/segments", method: .get, headers: merged(jar.header, [.accept: "text/html"])) { String(buffer: $0.body) }
            #expect(list.contains("segment-high-fasting") && list.contains(#"<td class="count">1</td>"#))
            let detail = try await client.execute(uri: "/p/gdm-camp/segments/high-fasting", method: .get, headers: merged(jar.header, [.accept: "text/html"])) { String(buffer: $0.body) }
            #expect(detail.contains("member-\(patientID)") && detail.contains("8.4 mmol/L"))
            let page = try await client.execute(uri: "/p/gdm-camp/patients/\(patientID)", method: .get, headers: merged(jar.header, [.accept: "text/html"])) { String(buffer: $0.body) }
            #expect(page.contains("segments-section") && page.contains("high-fasting"))
            let csrf = try #require(list.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1)
            let previewed = try await client.execute(uri: "/p/gdm-camp/segments", method: .post, headers: merged(jar.header, formHeaders),
                                                     body: form(["csrf": String(csrf), "action": "preview", "source": Self.document])) { String(buffer: $0.body) }
            #expect(previewed.contains(#"<strong id="preview-count">1</strong>"#), "\(previewed.prefix(400))")
            let refused = try await client.execute(uri: "/p/gdm-camp/segments", method: .post, headers: merged(jar.header, formHeaders),
                                                   body: form(["csrf": String(csrf), "action": "preview", "source": broken])) { String(buffer: $0.body) }
            #expect(refused.contains("segment-error"))
        }
    }
}
