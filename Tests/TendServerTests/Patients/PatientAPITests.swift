import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SQLKit
import Testing
import TendCore
import TendServer
import TendStore
import TendServerTestSupport
import TendTestSupport

/// The PII the privacy test plants, and must never find at rest or in logs.
let plantedPII = ["张三", "13800138000", "110101199003071234", "John Smith", "2125550100", "E98765432", "北京市东城区幸福路1号"]

func createPatient(_ client: any TestClientProtocol, token: String, program: String, body: String) async throws -> [String: Any] {
    let response = try await client.execute(uri: "/api/v1/programs/\(program)/patients", method: .post, headers: bearer(token), body: json(body))
    #expect(response.status == .created, "\(String(buffer: response.body))")
    return object(response)
}

@Suite struct PatientPrivacyTests {
    @Test(arguments: TestBackend.available)
    func piiNeverReachesTheDatabaseFilesOrTheLogInPlainText(backend: TestBackend) async throws {
        let capture = LogCapture()
        try await withClient(backend, logger: capture.logger) { app, client in
            let token = try await app.token(for: "manager@tend.demo")
            let zhang = try await createPatient(client, token: token, program: "lung-followup", body: """
                {"external_id": "LC-Z1", "name": "张三", "phone": "13800138000", "id_number": "110101199003071234",
                 "address": "北京市东城区幸福路1号", "tags": ["stage=chemo"], "caregivers": [{"name": "张三", "relation": "本人", "phone": "13800138000"}]}
                """)
            let john = try await createPatient(client, token: token, program: "lung-followup", body: """
                {"external_id": "LC-J1", "name": "John Smith", "phone": "+1 (212) 555-0100", "id_number": "E98765432", "locale": "en", "time_zone": "America/New_York"}
                """)
            let zhangID = zhang["id"] as? String ?? ""
            // Reads, searches and edits all go through the same layers.
            try await client.execute(uri: "/api/v1/programs/lung-followup/patients/\(zhangID)", method: .get, headers: bearer(token)) { response in
                #expect(object(response)["phone"] as? String == "13800138000")
                #expect(object(response)["name"] as? String == "张三")
            }
            try await client.execute(uri: "/api/v1/programs/lung-followup/patients/search", method: .post, headers: bearer(token),
                                     body: json(#"{"phone": "138 0013 8000"}"#)) { response in
                #expect((object(response)["items"] as? [[String: Any]])?.first?["id"] as? String == zhangID)
            }
            try await client.execute(uri: "/api/v1/programs/lung-followup/patients/\(john["id"] as? String ?? "")", method: .patch, headers: bearer(token),
                                     body: json(#"{"name": "John Smith", "address": null}"#)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/v1/programs/lung-followup/patients?tags=stage%3Dchemo", method: .get, headers: bearer(token)) { #expect($0.status == .ok) }

            var haystacks: [(String, Data)] = [("log", Data(capture.text.utf8))]
            switch app.dependencies.config.database {
            case .sqlite(let path):
                for suffix in ["", "-wal", "-shm"] {
                    if let data = FileManager.default.contents(atPath: path + suffix) { haystacks.append(("sqlite\(suffix)", data)) }
                }
                #expect(haystacks.count >= 2)
            case .postgres(let target):
                let tables = try await app.stores.database.session { sql in
                    try await sql.raw("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()").all()
                        .map { try $0.decode(column: "table_name", as: String.self) }
                }
                #expect(tables.contains("patients"))
                for table in tables {
                    let text = try await app.stores.database.session { sql in
                        try await sql.raw("SELECT COALESCE(string_agg(t::text, E'\\n'), '') AS dump FROM \(ident: table) t").first()!.decode(column: "dump", as: String.self)
                    }
                    haystacks.append(("postgres \(table)", Data(text.utf8)))
                }
                if let dump = Self.pgDump(target) { haystacks.append(("pg_dump", dump)) }
            }
            for (name, data) in haystacks {
                for secret in plantedPII {
                    #expect(data.range(of: Data(secret.utf8)) == nil, "\(secret) found in \(name)")
                }
            }
            // The ciphertext is there: the test would notice if nothing had been written.
            let sealed = try await app.stores.database.session { sql in
                try await sql.raw("SELECT name_enc FROM patients WHERE external_id = 'LC-Z1'").first()!.decode(column: "name_enc", as: String.self)
            }
            #expect(sealed.hasPrefix("k2;a:"), "sealed under the active key, bound to its row")
        }
    }

    /// `pg_dump` of the test schema, when the client tools are installed.
    static func pgDump(_ target: DatabaseLocation.PostgresTarget) -> Data? {
        guard let tool = ["/usr/bin/pg_dump"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["-h", target.host, "-p", String(target.port), "-U", target.username, "-n", target.searchPath ?? "public", target.database]
        var environment = ProcessInfo.processInfo.environment
        if let password = target.password { environment["PGPASSWORD"] = password }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 && !data.isEmpty ? data : nil
    }
}

@Suite struct PatientIsolationTests {
    /// The pharmacist belongs to gdm-camp only; every patient endpoint of lung-followup,
    /// and every lung-followup patient reached through gdm-camp, must look absent.
    @Test(arguments: TestBackend.available)
    func staffOfOneProgramCannotReachAnotherProgramsPatients(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let lungProgram = try #require(try await app.stores.programs.find(slug: "lung-followup"))
            let lungPatient = try #require(try await app.stores.patients.list(programID: lungProgram.id, query: PatientQuery(limit: 1), actor: AuditActor(id: nil, kind: .system)).patients.first)
            let pharmacist = try await app.token(for: "pharmacist@tend.demo")
            let id = lungPatient.id
            let requests: [(HTTPRequest.Method, String, String)] = [
                (.get, "/api/v1/programs/lung-followup/patients", ""),
                (.post, "/api/v1/programs/lung-followup/patients", #"{"name":"x"}"#),
                (.post, "/api/v1/programs/lung-followup/patients/search", #"{"phone":"13700000000"}"#),
                (.post, "/api/v1/programs/lung-followup/patients/import", "external_id,name\nX,Y\n"),
                (.get, "/api/v1/programs/lung-followup/patients/\(id)", ""),
                (.patch, "/api/v1/programs/lung-followup/patients/\(id)", #"{"name":"x"}"#),
                (.post, "/api/v1/programs/lung-followup/patients/\(id)/tags", #"{"add":["a=b"]}"#),
                (.post, "/api/v1/programs/lung-followup/patients/\(id)/consents", #"{"kind":"x","version":"1"}"#),
                (.get, "/api/v1/programs/lung-followup/audit?patient=\(id)", ""),
                // Through the pharmacist's own program, the other program's patient does not exist.
                (.get, "/api/v1/programs/gdm-camp/patients/\(id)", ""),
                (.patch, "/api/v1/programs/gdm-camp/patients/\(id)", #"{"name":"x"}"#),
                (.post, "/api/v1/programs/gdm-camp/patients/\(id)/tags", #"{"add":["a=b"]}"#),
                (.post, "/api/v1/programs/gdm-camp/patients/\(id)/consents", #"{"kind":"x","version":"1"}"#),
            ]
            for (method, path, body) in requests {
                try await client.execute(uri: path, method: method, headers: bearer(pharmacist), body: body.isEmpty ? nil : json(body)) { response in
                    #expect(response.status == .notFound, "\(method) \(path) gave \(response.status)")
                }
            }
            // Searching the pharmacist's own program for the other program's patient finds nothing.
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/search", method: .post, headers: bearer(pharmacist),
                                     body: json("{\"phone\": \"\(lungPatient.profile.phone ?? "")\"}")) { response in
                #expect((object(response)["items"] as? [Any])?.isEmpty == true)
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients?limit=500", method: .get, headers: bearer(pharmacist)) { response in
                let ids = (object(response)["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                #expect(!ids.isEmpty && !ids.contains(id))
            }
            // The console says the same.
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "pharmacist@tend.demo")
            for path in ["/p/lung-followup/patients", "/p/lung-followup/patients/\(id)", "/p/gdm-camp/patients/\(id)", "/p/gdm-camp/patients/\(id)/edit"] {
                let response = try await client.execute(uri: path, method: .get, headers: merged(jar.header, [.accept: "text/html"]))
                #expect(response.status == .notFound, "console \(path)")
            }
            let unchanged = try await app.stores.patients.fetch(programID: lungProgram.id, ids: [id]).first
            #expect(unchanged?.profile == lungPatient.profile && unchanged?.tags.count == lungPatient.tags.count)
        }
    }

    @Test(arguments: TestBackend.available)
    func viewersReadButCannotWrite(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            try await client.execute(uri: "/api/v1/programs/gdm-camp/members", method: .post, headers: bearer(admin),
                                     body: json(#"{"email":"viewer@tend.demo","role":"viewer","display_name":"V","password":"viewer-password"}"#)) { #expect($0.status == .ok) }
            let viewer = try await app.token(for: "viewer@tend.demo")
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients", method: .get, headers: bearer(viewer)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients", method: .post, headers: bearer(viewer), body: json(#"{"name":"x"}"#)) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/import", method: .post, headers: bearer(viewer), body: json("external_id,name\nA,B\n")) { #expect($0.status == .forbidden) }
        }
    }
}

@Suite struct PatientAPITests {
    @Test(arguments: TestBackend.available)
    func createPatchTagConsentAndAudit(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let admin = try await app.token(for: "admin@tend.demo")
            let created = try await createPatient(client, token: manager, program: "gdm-camp", body: """
                {"external_id": "GDM-NEW", "name": "王芳", "sex": "female", "birth_date": "1995-05-20", "phone": "139 1234 5678",
                 "quiet_hours": "22:00-07:00", "contact_window": "12:00-13:30", "channels": ["in_app", "wecom"], "tags": ["trimester=2"]}
                """)
            let id = created["id"] as? String ?? ""
            #expect(created["phone"] as? String == "13912345678")
            #expect(created["quiet_hours"] as? String == "22:00-07:00")
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(id)", method: .patch, headers: bearer(manager),
                                     body: json(#"{"status": "paused", "contact_window": null}"#)) { response in
                #expect(response.status == .ok)
                let body = object(response)
                #expect(body["status"] as? String == "paused")
                #expect(body["contact_window"] == nil, "null clears the field")
                #expect(body["name"] as? String == "王芳", "fields left out are kept")
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(id)/tags", method: .post, headers: bearer(manager),
                                     body: json(#"{"add": ["insulin=true"], "remove": ["trimester=2"]}"#)) { response in
                let tags = (object(response)["tags"] as? [[String: Any]] ?? []).map { "\($0["key"] ?? "")=\($0["value"] ?? "")" }
                #expect(tags == ["insulin=true"])
            }
            var consentID = ""
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(id)/consents", method: .post, headers: bearer(manager),
                                     body: json(#"{"kind": "follow-up", "version": "1.0"}"#)) { response in
                #expect(response.status == .created)
                consentID = object(response)["id"] as? String ?? ""
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(id)/consents/\(consentID)/withdraw", method: .post, headers: bearer(manager)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients?tags=insulin%3Dtrue&status=paused", method: .get, headers: bearer(manager)) { response in
                let ids = (object(response)["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                #expect(ids == [id])
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/audit?patient=\(id)", method: .get, headers: bearer(admin)) { response in
                let actions = (object(response)["items"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
                for expected in ["patient.create", "patient.update", "patient.tag.add", "patient.tag.remove", "patient.consent.record", "patient.consent.withdraw", "patient.list"] {
                    #expect(actions.contains(expected), "\(expected) missing from \(actions)")
                }
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func badPatientInputNamesTheFieldAndWritesNothing(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let before = try await app.stores.database.session { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM patients").first()!.decode(column: "n", as: Int.self)
            }
            let cases: [(String, String, Int)] = [
                (#"{"phone": "13800000000"}"#, "name", 400),
                (#"{"name": "x", "phone": "abc"}"#, "phone", 400),
                (#"{"name": "x", "sex": "robot"}"#, "sex", 400),
                (#"{"name": "x", "birth_date": "2020-02-31"}"#, "birth_date", 400),
                (#"{"name": "x", "time_zone": "Moon/Base"}"#, "time_zone", 400),
                (#"{"name": "x", "quiet_hours": "late"}"#, "quiet_hours", 400),
                (#"{"name": "x", "channels": ["pigeon"]}"#, "channels[0]", 400),
                (#"{"name": "x", "caregivers": [{"name": "y"}]}"#, "caregivers[0].relation", 400),
                (#"{"name": "x", "tags": ["oops"]}"#, "tags[0]", 400),
                (#"{"name": "x", "birth_date": "1850-01-01"}"#, "birth_date", 400),
                (#"{"name": "x", "birth_date": "99999999999-01-01"}"#, "birth_date", 400),
                (#"{"name": "x", "caregivers": [\#(Array(repeating: #"{"name": "y", "relation": "z"}"#, count: 11).joined(separator: ","))]}"#, "caregivers", 400),
                (#"{"name": "\#(String(repeating: "长", count: 201))"}"#, "name", 400),
                (#"{"name": "x\u0000y"}"#, "name", 400),
                (#"{"name": 7}"#, "name", 400),
                (#"{"name": "x", "phone": "13700000001"}"#, "phone", 409),
            ]
            for (body, field, status) in cases {
                try await client.execute(uri: "/api/v1/programs/lung-followup/patients", method: .post, headers: bearer(manager), body: json(body)) { response in
                    #expect(response.status.code == status, "\(body) → \(response.status)")
                    #expect(object(response)["field"] as? String == field, "\(body) → \(object(response))")
                }
            }
            let after = try await app.stores.database.session { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM patients").first()!.decode(column: "n", as: Int.self)
            }
            #expect(before == after)
        }
    }

    @Test(arguments: TestBackend.available)
    func importOverTheAPIReportsRejectsAndIsIdempotent(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let csv = "患者编号,姓名,手机号,标签\nAPI-1,赵敏,13511112222,disease=GDM\nAPI-2,,13511113333,\nAPI-3,钱多多,13511114444,trimester=3\n"
            var headers = bearer(manager)
            headers[.contentType] = "text/csv"
            for round in 1...2 {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/import", method: .post, headers: headers, body: json(csv)) { response in
                    #expect(response.status == .ok)
                    let body = object(response)
                    #expect(body["created"] as? Int == (round == 1 ? 2 : 0))
                    #expect(body["updated"] as? Int == (round == 1 ? 0 : 2))
                    #expect(body["rejected"] as? Int == 1)
                    let reject = (body["rejects"] as? [[String: Any]])?.first
                    #expect(reject?["line"] as? Int == 3 && reject?["field"] as? String == "name")
                }
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/import", method: .post, headers: headers, body: json("who,what\n1,2\n")) { response in
                #expect(response.status == .badRequest)
                #expect(object(response)["field"] as? String == "header")
            }
        }
    }
}
