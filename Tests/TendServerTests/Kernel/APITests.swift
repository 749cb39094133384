import Foundation
import HTTPTypes
import Hummingbird
import Logging
import HummingbirdTesting
import Testing
import TendCore
import TendServer
import TendStore
import TendServerTestSupport
import TendTestSupport

/// Every API operation, with a concrete path for the demo data.
let concretePaths: [(method: HTTPRequest.Method, path: String)] = [
    (.get, "/api/v1/me"),
    (.get, "/api/v1/programs"),
    (.post, "/api/v1/programs"),
    (.get, "/api/v1/programs/gdm-camp"),
    (.get, "/api/v1/programs/gdm-camp/members"),
    (.post, "/api/v1/programs/gdm-camp/members"),
    (.delete, "/api/v1/programs/gdm-camp/members/someone"),
    (.get, "/api/v1/programs/gdm-camp/audit"),
    (.get, "/api/v1/tokens"),
    (.post, "/api/v1/tokens"),
    (.delete, "/api/v1/tokens/some-token"),
    (.get, "/api/v1/programs/gdm-camp/patients"),
    (.post, "/api/v1/programs/gdm-camp/patients"),
    (.post, "/api/v1/programs/gdm-camp/patients/search"),
    (.post, "/api/v1/programs/gdm-camp/patients/import"),
    (.get, "/api/v1/programs/gdm-camp/patients/p1"),
    (.patch, "/api/v1/programs/gdm-camp/patients/p1"),
    (.post, "/api/v1/programs/gdm-camp/patients/p1/tags"),
    (.post, "/api/v1/programs/gdm-camp/patients/p1/consents"),
    (.post, "/api/v1/programs/gdm-camp/patients/p1/consents/c1/withdraw"),
    (.get, "/api/v1/programs/gdm-camp/pathways"),
    (.post, "/api/v1/programs/gdm-camp/pathways"),
    (.get, "/api/v1/programs/gdm-camp/pathways/s1-revisit"),
    (.post, "/api/v1/programs/gdm-camp/enrolments"),
    (.get, "/api/v1/programs/gdm-camp/tasks"),
    (.post, "/api/v1/programs/gdm-camp/tasks/t1/claim"),
    (.post, "/api/v1/programs/gdm-camp/tasks/t1/complete"),
    (.post, "/api/v1/programs/gdm-camp/tasks/t1/reassign"),
    (.get, "/api/v1/programs/gdm-camp/channels"),
    (.put, "/api/v1/programs/gdm-camp/channels/webhook"),
    (.put, "/api/v1/programs/gdm-camp/channels/wecom"),
    (.put, "/api/v1/programs/gdm-camp/channels/sms"),
    (.put, "/api/v1/programs/gdm-camp/channels/voice"),
    (.post, "/api/v1/me/password"),
    (.post, "/api/v1/programs/gdm-camp/inbound"),
    (.get, "/api/v1/programs/gdm-camp/patients/p1/inbox"),
    (.post, "/api/v1/programs/gdm-camp/patients/p1/identities"),
    (.get, "/api/v1/programs/gdm-camp/groups"),
    (.post, "/api/v1/programs/gdm-camp/groups"),
    (.get, "/api/v1/programs/gdm-camp/inbox"),
    (.get, "/api/v1/programs/gdm-camp/messages/search"),
    (.post, "/api/v1/programs/gdm-camp/messages/m1/actions"),
    (.get, "/api/v1/programs/gdm-camp/triage/settings"),
    (.put, "/api/v1/programs/gdm-camp/triage/settings"),
    (.get, "/api/v1/programs/gdm-camp/patients/p1/enrolments"),
    (.get, "/api/v1/programs/gdm-camp/patients/p1/schedule"),
    (.post, "/api/v1/programs/gdm-camp/enrolments/e1/anchors"),
    (.post, "/api/v1/programs/gdm-camp/enrolments/e1/pause"),
    (.post, "/api/v1/programs/gdm-camp/enrolments/e1/resume"),
    (.post, "/api/v1/programs/gdm-camp/enrolments/e1/cancel"),
    (.post, "/api/v1/triage"),
    (.post, "/api/v1/programs/gdm-camp/observations"),
    (.get, "/api/v1/programs/gdm-camp/patients/p1/observations"),
    (.get, "/api/v1/programs/gdm-camp/alerts"),
    (.post, "/api/v1/programs/gdm-camp/alerts/a1/acknowledge"),
    (.post, "/api/v1/programs/gdm-camp/alerts/a1/resolve"),
    (.get, "/api/v1/programs/gdm-camp/questionnaires"),
    (.post, "/api/v1/programs/gdm-camp/questionnaires"),
    (.get, "/api/v1/programs/gdm-camp/questionnaires/phq-9"),
    (.post, "/api/v1/programs/gdm-camp/patients/p1/responses"),
    (.get, "/api/v1/programs/gdm-camp/patients/p1/responses"),
    (.get, "/api/v1/programs/gdm-camp/photos/ph1"),
    (.get, "/api/v1/programs/gdm-camp/alert-rules"),
    (.put, "/api/v1/programs/gdm-camp/alert-rules"),
    (.post, "/api/v1/programs/gdm-camp/dispenses"),
    (.get, "/api/v1/programs/gdm-camp/patients/p1/adherence"),
    (.post, "/api/v1/programs/gdm-camp/patients/p1/regimens"),
    (.get, "/api/v1/programs/gdm-camp/patients/p1/regimens"),
    (.post, "/api/v1/programs/gdm-camp/patients/p1/regimens/r1/stop"),
    (.get, "/api/v1/programs/gdm-camp/adherence/report"),
    (.get, "/api/v1/programs/gdm-camp/segments"),
    (.post, "/api/v1/programs/gdm-camp/segments"),
    (.post, "/api/v1/programs/gdm-camp/segments/preview"),
    (.get, "/api/v1/programs/gdm-camp/segments/s1"),
    (.get, "/api/v1/programs/gdm-camp/segments/s1/members"),
    (.get, "/api/v1/programs/gdm-camp/patients/p1/segments"),
]

@Suite struct APIAuthTests {
    @Test(arguments: TestBackend.available)
    func everyProtectedEndpointRejectsMissingAndInvalidCredentials(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            for (method, path) in concretePaths {
                try await client.execute(uri: path, method: method, headers: [.contentType: "application/json"], body: json("{}")) { response in
                    #expect(response.status == .unauthorized, "\(method) \(path) without credentials")
                    #expect(object(response)["error"] as? String == "unauthenticated")
                }
                for header in ["Bearer tend_nope_nope", "Bearer ", "Basic YWRtaW46eA==", "garbage"] {
                    try await client.execute(uri: path, method: method, headers: [.authorization: header], body: json("{}")) { response in
                        #expect(response.status == .unauthorized, "\(method) \(path) with \(header)")
                    }
                }
            }
            // A revoked token stops working.
            let token = try await app.token(for: "manager@tend.demo")
            try await client.execute(uri: "/api/v1/me", method: .get, headers: bearer(token)) { #expect($0.status == .ok) }
            let user = try await app.stores.staff.credentials(email: "manager@tend.demo")!.user
            let id = try await app.stores.tokens.list(userID: user.id).first!.id
            _ = try await app.stores.tokens.revoke(id: id, userID: user.id)
            try await client.execute(uri: "/api/v1/me", method: .get, headers: bearer(token)) { #expect($0.status == .unauthorized) }
        }
    }

    @Test(arguments: TestBackend.available)
    func programScopedEndpointsHideOtherProgramsAndEnforceRoles(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            // The pharmacist is only in gdm-camp; the doctor only in lung-followup.
            let pharmacist = try await app.token(for: "pharmacist@tend.demo")
            for path in ["/api/v1/programs/lung-followup", "/api/v1/programs/lung-followup/members", "/api/v1/programs/lung-followup/audit", "/api/v1/programs/no-such"] {
                try await client.execute(uri: path, method: .get, headers: bearer(pharmacist)) { response in
                    #expect(response.status == .notFound, "pharmacist reading \(path)")
                }
            }
            try await client.execute(uri: "/api/v1/programs/lung-followup/members", method: .post, headers: bearer(pharmacist),
                                     body: json(#"{"email":"x@y.org","role":"viewer"}"#)) { #expect($0.status == .notFound) }
            // In their own program, a pharmacist may read but not administer.
            try await client.execute(uri: "/api/v1/programs/gdm-camp", method: .get, headers: bearer(pharmacist)) { response in
                #expect(response.status == .ok)
                #expect(object(response)["role"] as? String == "pharmacist")
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/audit", method: .get, headers: bearer(pharmacist)) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/members", method: .post, headers: bearer(pharmacist),
                                     body: json(#"{"email":"x@y.org","role":"viewer"}"#)) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/members/anyone", method: .delete, headers: bearer(pharmacist)) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/api/v1/programs", method: .post, headers: bearer(pharmacist),
                                     body: json(#"{"slug":"new-one","name":"New"}"#)) { #expect($0.status == .forbidden) }
            // The program list shows only the caller's programs.
            try await client.execute(uri: "/api/v1/programs", method: .get, headers: bearer(pharmacist)) { response in
                let items = object(response)["items"] as? [[String: Any]] ?? []
                #expect(items.compactMap { $0["slug"] as? String } == ["gdm-camp"])
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func adminsManageMembersAndEveryChangeIsAudited(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            var newUserID = ""
            try await client.execute(uri: "/api/v1/programs/lung-followup/members", method: .post, headers: bearer(admin),
                                     body: json(#"{"email":"Nurse@Hospital.cn","role":"viewer","display_name":"护士 周","password":"long-enough-pw"}"#)) { response in
                #expect(response.status == .ok)
                let body = object(response)
                #expect(body["email"] as? String == "nurse@hospital.cn")
                #expect(body["role"] as? String == "viewer")
                newUserID = body["user_id"] as? String ?? ""
            }
            try await client.execute(uri: "/api/v1/programs/lung-followup/members", method: .post, headers: bearer(admin),
                                     body: json(#"{"email":"nurse@hospital.cn","role":"doctor","display_name":"ignored","password":"ignored-too"}"#)) { #expect($0.status == .ok) }
            #expect(try await app.stores.staff.role(userID: newUserID, programID: try await app.stores.programs.find(slug: "lung-followup")!.id) == .doctor)
            try await client.execute(uri: "/api/v1/programs/lung-followup/audit?subject=\(newUserID)", method: .get, headers: bearer(admin)) { response in
                let items = object(response)["items"] as? [[String: Any]] ?? []
                #expect(items.count == 2)
                #expect(items.allSatisfy { $0["action"] as? String == "membership.set" && $0["actor_kind"] as? String == "api_token" })
            }
            try await client.execute(uri: "/api/v1/programs/lung-followup/members/\(newUserID)", method: .delete, headers: bearer(admin)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/api/v1/programs/lung-followup/members/\(newUserID)", method: .delete, headers: bearer(admin)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/api/v1/programs", method: .post, headers: bearer(admin), body: json(#"{"slug":"asthma","name":"哮喘管理"}"#)) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/api/v1/programs", method: .post, headers: bearer(admin), body: json(#"{"slug":"asthma","name":"again"}"#)) { response in
                #expect(response.status == .conflict)
                #expect(object(response)["field"] as? String == "slug")
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func tokensAreCreatedListedAndRevokedThroughTheAPI(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            var secret = "", id = ""
            try await client.execute(uri: "/api/v1/tokens", method: .post, headers: bearer(manager), body: json(#"{"name":"his-sync"}"#)) { response in
                #expect(response.status == .created)
                let body = object(response)
                secret = body["secret"] as? String ?? ""
                id = (body["token"] as? [String: Any])?["id"] as? String ?? ""
            }
            try await client.execute(uri: "/api/v1/me", method: .get, headers: bearer(secret)) { response in
                #expect(response.status == .ok)
                #expect(((object(response)["programs"]) as? [Any])?.count == 2)
            }
            try await client.execute(uri: "/api/v1/tokens", method: .get, headers: bearer(secret)) { response in
                let items = object(response)["items"] as? [[String: Any]] ?? []
                #expect(items.count == 2)
                #expect(!String(buffer: response.body).contains(secret), "the list never shows secrets")
            }
            try await client.execute(uri: "/api/v1/tokens/\(id)", method: .delete, headers: bearer(manager)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/api/v1/me", method: .get, headers: bearer(secret)) { #expect($0.status == .unauthorized) }
        }
    }
}

@Suite struct APIInputTests {
    @Test(arguments: TestBackend.available)
    func badBodiesGetA400NamingTheFieldAndWriteNothing(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            let cases: [(path: String, body: String, code: String, field: String)] = [
                ("/api/v1/programs", "{not json", "malformed_json", "body"),
                ("/api/v1/programs", "", "malformed_json", "body"),
                ("/api/v1/programs", "[1,2]", "wrong_type", "body"),
                ("/api/v1/programs", #"{"name":"x"}"#, "missing_field", "slug"),
                ("/api/v1/programs", #"{"slug":42,"name":"x"}"#, "wrong_type", "slug"),
                ("/api/v1/programs", #"{"slug":"ok-slug","name":null}"#, "missing_field", "name"),
                ("/api/v1/programs", #"{"slug":"Not A Slug","name":"x"}"#, "bad_format", "slug"),
                ("/api/v1/programs", #"{"slug":"ok-slug","name":"   "}"#, "bad_format", "name"),
                ("/api/v1/programs/gdm-camp/members", #"{"email":"new@x.org","role":"boss"}"#, "invalid_field", "role"),
                ("/api/v1/programs/gdm-camp/members", #"{"email":"not-an-email","role":"viewer"}"#, "bad_format", "email"),
                ("/api/v1/programs/gdm-camp/members", #"{"email":"new@x.org","role":"viewer"}"#, "missing_field", "display_name"),
                ("/api/v1/programs/gdm-camp/members", #"{"email":"new@x.org","role":"viewer","display_name":"N","password":"short"}"#, "out_of_range", "password"),
                ("/api/v1/programs/gdm-camp/members", #"{"email":"new@x.org","role":true}"#, "wrong_type", "role"),
                ("/api/v1/tokens", #"{"name":""}"#, "out_of_range", "name"),
                ("/api/v1/tokens", #"{"name":"t","expires_in_days":0}"#, "out_of_range", "expires_in_days"),
                ("/api/v1/tokens", #"{"name":"t","expires_in_days":1.5}"#, "wrong_type", "expires_in_days"),
                ("/api/v1/tokens", #"{"name":"t","role_ceiling":"god"}"#, "invalid_field", "role_ceiling"),
                ("/api/v1/tokens", #"{"name":["a"]}"#, "wrong_type", "name"),
            ]
            for testCase in cases {
                try await client.execute(uri: testCase.path, method: .post, headers: bearer(admin), body: json(testCase.body)) { response in
                    #expect(response.status == .badRequest, "\(testCase.body)")
                    let body = object(response)
                    #expect(body["error"] as? String == testCase.code, "\(testCase.body)")
                    #expect(body["field"] as? String == testCase.field, "\(testCase.body)")
                    #expect((body["message"] as? String)?.isEmpty == false)
                }
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/audit?limit=abc", method: .get, headers: bearer(admin)) { response in
                #expect(response.status == .badRequest)
                #expect(object(response)["field"] as? String == "limit")
            }
            #expect(try await app.stores.programs.all().count == 2, "no bad request created a program")
            #expect(try await app.stores.staff.credentials(email: "new@x.org") == nil, "no bad request created an account")
        }
    }

    @Test(arguments: TestBackend.available)
    func errorMessagesFollowTheCallersLanguage(backend: TestBackend) async throws {
        try await withClient(backend) { _, client in
            try await client.execute(uri: "/api/v1/me", method: .get, headers: [.acceptLanguage: "en-US,en;q=0.9"]) { response in
                #expect(object(response)["message"] as? String == "Sign in or send a valid API token")
            }
            try await client.execute(uri: "/api/v1/me", method: .get, headers: [.acceptLanguage: "zh-CN"]) { response in
                #expect(object(response)["message"] as? String == "请登录或提供有效的 API 令牌")
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func unknownRoutesAre404JSON(backend: TestBackend) async throws {
        try await withClient(backend) { _, client in
            try await client.execute(uri: "/api/v1/nothing-here", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(object(response)["error"] as? String == "not_found")
            }
        }
    }
}

@Suite struct OpenAPITests {
    @Test func theDocumentListsEveryAPIRouteTheRouterHas() async throws {
        try await withClient(.sqlite) { app, client in
            let router = buildRouter(app.dependencies, renderer: try await PageRenderer.load())
            let routed = Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" }.filter { $0.contains(" /api/") })
            try await client.execute(uri: "/api/v1/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                let document = object(response)
                #expect(document["openapi"] as? String == "3.1.0")
                let paths = document["paths"] as? [String: [String: Any]] ?? [:]
                var documented = Set<String>()
                for (path, operations) in paths {
                    for (method, operation) in operations {
                        documented.insert("\(method.uppercased()) \(path)")
                        let responses = (operation as? [String: Any])?["responses"] as? [String: Any] ?? [:]
                        #expect(!responses.isEmpty, "\(method) \(path) documents no responses")
                    }
                }
                #expect(routed == documented)
                #expect(routed.count == concretePaths.count + 1)
                let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
                // Every $ref points at a schema that exists.
                let text = String(buffer: response.body)
                for match in text.matches(of: /#\/components\/schemas\/(\w+)/) {
                    #expect(schemas[String(match.1)] != nil, "dangling $ref \(match.1)")
                }
            }
        }
    }
}

@Suite struct OperationsEndpointsTests {
    @Test func healthAndMetricsAreServed() async throws {
        try await withClient(.sqlite) { _, client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(object(response)["status"] as? String == "ok")
            }
            try await client.execute(uri: "/api/v1/me", method: .get) { _ in }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains("tend_http_requests_total"))
                #expect(text.contains(#"status="4xx""#))
            }
        }
    }
}

/// Patterns are read code point by code point, as the OpenAPI document's JSON Schema reads them.
@Suite struct PatternSemanticsTests {
    @Test(arguments: TestBackend.available)
    func aCombiningMarkAfterASeparatorIsWhatTheDocumentSays(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            // "k=\u{301}v": valid for the document's pattern (a value may start with a combining mark).
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients?tags=k%3D%CC%81v", method: .get, headers: bearer(manager)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
            }
            // "k\u{301}=v": a combining mark in a key is not a key character, for either reader.
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients?tags=k%CC%81%3Dv", method: .get, headers: bearer(manager)) { response in
                #expect(response.status == .badRequest)
            }
        }
    }
}
