import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TendCore
import TendEngine
import TendServer
import TendStore
import TendServerTestSupport
import TendTestSupport
import NIOFoundationEssentialsCompat

/// The requests that stopped or breached the server (issue 11), each answered with a 4xx
/// naming the field while the server keeps answering.
@Suite struct HostileInputTests {
    /// The server still answers after whatever came before.
    func stillAnswers(_ client: any TestClientProtocol) async throws {
        try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
    }

    func expect(_ response: TestResponse, _ status: HTTPResponse.Status, field: String?, _ comment: Comment? = nil) {
        #expect(response.status == status, comment)
        if let field { #expect(object(response)["field"] as? String == field, "\(String(buffer: response.body))") }
    }

    @Test(arguments: TestBackend.available)
    func farFutureDatesInEnrolmentsAndAnchorsAreRefused(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let pharmacist = try await app.token(for: "pharmacist@tend.demo")
            let patient = try await createPatient(client, token: pharmacist, program: "gdm-camp", body: #"{"name": "远未来"}"#)
            let patientID = patient["id"] as? String ?? ""
            for date in ["99999999999-01-01", "292277026596-12-04", "10000-01-01", "2201-01-01", "1899-12-31", "0000-01-01", "-2026-01-01", "2026-02-30", "2026-1-1"] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/enrolments", method: .post, headers: bearer(pharmacist),
                                         body: json(#"{"pathway": "s3-gdm-camp", "patient_id": "\#(patientID)", "anchors": {"camp_start": "\#(date)"}}"#)) { response in
                    expect(response, .badRequest, field: "anchors.camp_start", "enrol with \(date)")
                }
            }
            var enrolmentID = ""
            try await client.execute(uri: "/api/v1/programs/gdm-camp/enrolments", method: .post, headers: bearer(pharmacist),
                                     body: json(#"{"pathway": "s3-gdm-camp", "patient_id": "\#(patientID)", "anchors": {"camp_start": "2026-12-05"}}"#)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                enrolmentID = (object(response)["enrolment_ids"] as? [String])?.first ?? ""
            }
            for date in ["99999999999-01-01", "2201-01-01", "9999-12-31"] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/enrolments/\(enrolmentID)/anchors", method: .post, headers: bearer(pharmacist),
                                         body: json(#"{"anchor": "camp_start", "date": "\#(date)"}"#)) { response in
                    expect(response, .badRequest, field: "date", "move to \(date)")
                }
            }
            try await stillAnswers(client)
            // The dates Tend accepts, at both ends, plan without trapping.
            for date in ["2200-12-31", "1900-01-01"] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/enrolments/\(enrolmentID)/anchors", method: .post, headers: bearer(pharmacist),
                                         body: json(#"{"anchor": "camp_start", "date": "\#(date)"}"#)) { #expect($0.status == .ok, "move to \(date)") }
            }
        }
    }

    @Test func instantsNeverTrapWhenConvertedToMilliseconds() {
        for seconds in [Double.infinity, -.infinity, .nan, 1e300, -1e300, 9.3e15, Double(Int64.max)] {
            _ = Date(timeIntervalSince1970: seconds).epochMilliseconds
        }
        #expect(Date(timeIntervalSince1970: 1e300).epochMilliseconds == .max)
        #expect(Date(timeIntervalSince1970: .nan).epochMilliseconds == 0)
        #expect(throws: TendError.self) { try Validate.instant(Date(timeIntervalSince1970: 1e13), field: "t") }
        #expect(CalendarOffset("99999d") == nil && CalendarOffset("36600d") != nil && CalendarOffset("101y") == nil)
    }

    @Test(arguments: TestBackend.available)
    func deepAndAliasedDefinitionFilesAreRefusedWithoutRecursing(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            let laughs = (1...12).map { "l\($0): &l\($0) [" + Array(repeating: "*l\($0 - 1)", count: 9).joined(separator: ",") + "]" }
            let bodies: [(String, String)] = [
                ("deep brackets", String(repeating: "[", count: 200_000)),
                ("deep braces", String(repeating: "{a: ", count: 100_000)),
                ("deep indentation", (0..<1_000).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")),
                ("one-line lists", String(repeating: "- ", count: 100_000) + "x"),
                ("billion laughs", "l0: &l0 [lol]\n" + laughs.joined(separator: "\n")),
                ("an alias", "pathway: &p x\nversion: *p"),
            ]
            for (name, body) in bodies {
                try await client.execute(uri: "/api/v1/programs/lung-followup/pathways", method: .post,
                                         headers: [.authorization: "Bearer \(admin)", .contentType: "application/yaml"], body: ByteBuffer(string: body)) { response in
                    expect(response, .badRequest, field: "body", "\(name)")
                }
            }
            // JSON bodies: deep, wide, too large, numbers beyond any range.
            let jsonBodies: [(String, String, HTTPResponse.Status, String?)] = [
                ("deep JSON", String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), .badRequest, "body"),
                ("deep object", String(repeating: #"{"a":"#, count: 50_000) + "1" + String(repeating: "}", count: 50_000), .badRequest, "body"),
                ("wide list", #"{"name":"x","tags":["# + Array(repeating: #""a=b""#, count: 100_000).joined(separator: ",") + "]}", .badRequest, "tags"),
                ("huge body", #"{"name":""# + String(repeating: "x", count: 2 << 20) + #""}"#, .contentTooLarge, "body"),
                ("1e400", #"{"name":"x","caregivers":1e400}"#, .badRequest, "body"),
            ]
            let manager = try await app.token(for: "manager@tend.demo")
            for (name, body, status, field) in jsonBodies {
                try await client.execute(uri: "/api/v1/programs/lung-followup/patients", method: .post, headers: bearer(manager), body: json(body)) { response in
                    expect(response, status, field: field, "\(name)")
                }
            }
            try await stillAnswers(client)
        }
    }

    @Test(arguments: TestBackend.available)
    func idListsAreComparedAsSetsAndOtherProgramsIdsAreNotFound(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            let own = try await createPatient(client, token: admin, program: "gdm-camp", body: #"{"name": "本项目"}"#)["id"] as? String ?? ""
            let other = try await createPatient(client, token: admin, program: "lung-followup", body: #"{"name": "他项目"}"#)["id"] as? String ?? ""
            let lists = [[own, own, other], [own, other], [other], [other, other], [own, "no-such-patient"]]
            for ids in lists {
                let body = try JSONSerialization.data(withJSONObject: ["name": "群", "channel": "wecom", "binding": "chat-\(ids.count)", "patient_ids": ids])
                try await client.execute(uri: "/api/v1/programs/gdm-camp/groups", method: .post, headers: bearer(admin), body: ByteBuffer(data: body)) { response in
                    #expect(response.status == .notFound, "\(ids)")
                }
            }
            let body = try JSONSerialization.data(withJSONObject: ["name": "群", "channel": "wecom", "binding": "chat-ok", "patient_ids": [own, own]])
            try await client.execute(uri: "/api/v1/programs/gdm-camp/groups", method: .post, headers: bearer(admin), body: ByteBuffer(data: body)) { #expect($0.status == .created) }
            let groups = try await app.stores.messages.groups(programID: try #require(try await app.stores.programs.find(slug: "gdm-camp")).id)
            #expect(groups.filter { $0.name == "群" }.count == 1, "only the group with the program's own patient was made")
            // Ids of the other program in paths are not found, and nothing about them is told.
            for (method, path) in [(HTTPRequest.Method.get, "/api/v1/programs/gdm-camp/patients/\(other)"), (.get, "/api/v1/programs/gdm-camp/patients/\(other)/schedule"),
                                   (.get, "/api/v1/programs/gdm-camp/patients/\(other)/enrolments"), (.get, "/api/v1/programs/gdm-camp/patients/\(other)/inbox")] {
                try await client.execute(uri: path, method: method, headers: bearer(admin)) { #expect($0.status == .notFound, "\(path)") }
            }
            for (path, body) in [("/api/v1/programs/gdm-camp/patients/\(other)/tags", #"{"add": ["x=y"]}"#),
                                 ("/api/v1/programs/gdm-camp/patients/\(other)/consents", #"{"kind": "follow-up", "version": "1"}"#),
                                 ("/api/v1/programs/gdm-camp/inbound", #"{"channel": "in_app", "patient_id": "\#(other)", "text": "hi"}"#),
                                 ("/api/v1/programs/gdm-camp/enrolments", #"{"pathway": "s3-gdm-camp", "patient_id": "\#(other)"}"#)] {
                try await client.execute(uri: path, method: .post, headers: bearer(admin), body: json(body)) { #expect($0.status == .notFound, "\(path)") }
            }
            try await client.execute(uri: "/api/v1/programs/lung-followup/patients/\(other)", method: .get, headers: bearer(admin)) { response in
                #expect(response.status == .ok)
                #expect((object(response)["tags"] as? [Any])?.isEmpty == true, "no tag landed on the other program's patient")
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func twoConcurrentCreatesWithOnePhoneGiveOneCreatedAndOneConflict(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            for round in 0..<10 {
                let phone = "1390000\(String(format: "%04d", round))"
                async let first = client.execute(uri: "/api/v1/programs/lung-followup/patients", method: .post, headers: bearer(manager),
                                                 body: json(#"{"name": "甲", "phone": "\#(phone)"}"#))
                async let second = client.execute(uri: "/api/v1/programs/lung-followup/patients", method: .post, headers: bearer(manager),
                                                  body: json(#"{"name": "乙", "phone": "\#(phone)"}"#))
                let responses = try await [first, second]
                #expect(responses.map(\.status.code).sorted() == [201, 409], "round \(round)")
                #expect(responses.contains { object($0)["field"] as? String == "phone" })
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func theLastAdminCannotLeaveOrStepDown(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            let adminID = try #require(try await app.stores.staff.credentials(email: "admin@tend.demo")?.user.id)
            try await client.execute(uri: "/api/v1/programs/gdm-camp/members", method: .post, headers: bearer(admin),
                                     body: json(#"{"email": "admin@tend.demo", "role": "viewer", "display_name": "x", "password": "whatever-long"}"#)) { response in
                #expect(response.status == .conflict && object(response)["error"] as? String == "last_admin")
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/members/\(adminID)", method: .delete, headers: bearer(admin)) { #expect($0.status == .conflict) }
        }
    }

    @Test(arguments: TestBackend.available)
    func formsAndQueriesAreReadAsBrowsersWriteThem(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            // `+` in a query is a space, as form encoders write it.
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients?tags=camp_class+=+A&limit=5", method: .get, headers: bearer(manager)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/settings/language", method: .post, headers: formHeaders,
                                     body: ByteBuffer(string: "lang=en&next=/" + String(repeating: "a", count: 70_000))) { #expect($0.status == .contentTooLarge) }
            // Undeclared methods name the methods of the route the router picks.
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/import", method: .get, headers: bearer(manager)) { response in
                #expect(response.status == .methodNotAllowed && response.headers[.allow] == "POST")
            }
            let admin = try await app.token(for: "admin@tend.demo")
            let manyTags = (0..<50).map { "      - t\($0)=x" }.joined(separator: "\n")
            let pathway = "pathway: many-tags\nversion: 1\nname: {zh: 多, en: Many}\nsteps:\n  - id: a\n    at: \"09:00\"\n    message: {zh: 你好, en: Hi}\n    only_tags:\n" + manyTags
            try await client.execute(uri: "/api/v1/programs/gdm-camp/pathways", method: .post, headers: [.authorization: "Bearer \(admin)", .contentType: "application/yaml"],
                                     body: ByteBuffer(string: pathway)) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/pathways", method: .post, headers: [.authorization: "Bearer \(admin)", .contentType: "application/yaml"],
                                     body: ByteBuffer(bytes: Array("pathway: x\n".utf8) + [0xFF, 0xFE])) { response in
                #expect(response.status == .badRequest && object(response)["error"] as? String == "bad_encoding")
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func aPlatformAdminCannotMakeThemselvesAMember(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let staff = app.stores.staff
            let root = try await staff.createUser(email: "root@tend.test", displayName: "Root", passwordHash: PasswordHasher.decoyHash, isPlatformAdmin: true)
            let token = try await app.stores.tokens.create(userID: root.id, name: "t").plaintext
            let body = #"{"email": "root@tend.test", "role": "admin", "display_name": "Root", "password": "whatever-long"}"#
            try await client.execute(uri: "/api/v1/programs/gdm-camp/members", method: .post, headers: bearer(token), body: json(body)) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients", method: .get, headers: bearer(token)) { #expect($0.status == .notFound) }
            // Adding an outside account reveals nothing: the same fields are required whether it exists or not.
            for email in ["manager@tend.demo", "nobody-yet@tend.test"] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/members", method: .post, headers: bearer(token),
                                         body: json(#"{"email": "\#(email)", "role": "viewer"}"#)) { expect($0, .badRequest, field: "display_name", "\(email)") }
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func channelsMayNotPointInsideTheNetwork(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            for url in ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.2/", "http://[::1]/", "http://10.0.0.1/hook", "http://[fd00::1]/",
                        "http://localhost.localdomain.example.invalid:9000/x y", "http://0x7f000001/", "http://2130706433/", "http://[::ffff:169.254.169.254]/", "http://192.168.1.1/",
                        "ftp://example.org/", "http://user:pass@example.org/", "http://receiver/", "http://foo.localhost/"] {
                let body = try JSONSerialization.data(withJSONObject: ["url": url, "secret": "a-secret-of-sixteen+"])
                try await client.execute(uri: "/api/v1/programs/gdm-camp/channels/webhook", method: .put, headers: bearer(admin), body: ByteBuffer(data: body)) { response in
                    expect(response, .badRequest, field: "url", "\(url)")
                }
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/channels/webhook", method: .put, headers: bearer(admin),
                                     body: json(#"{"url": "https://hooks.example.org/tend", "secret": "a-secret-of-sixteen+"}"#)) { #expect($0.status == .ok) }
            // Allow-listed loopback receivers (this test configuration's) are fine.
            try await client.execute(uri: "/api/v1/programs/gdm-camp/channels/webhook", method: .put, headers: bearer(admin),
                                     body: json(#"{"url": "http://127.0.0.1:9/hook", "secret": "a-secret-of-sixteen+"}"#)) { #expect($0.status == .ok) }
        }
    }

    @Test func theOutboundPolicyKnowsEveryInternalRange() {
        let policy = OutboundPolicy()
        for host in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
                     "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "ff02::1", "localhost", "printer", "017700000001"] {
            #expect(!policy.permits(host: host), "\(host)")
        }
        for host in ["8.8.8.8", "172.32.0.1", "2001:4860:4860::8888", "qyapi.weixin.qq.com", "hooks.example.org"] {
            #expect(policy.permits(host: host), "\(host)")
        }
        #expect(!policy.permits(resolved: [10, 0, 0, 5], host: "rebinding.example.org"), "a name that resolves inside is refused at send time")
        #expect(OutboundPolicy(allowList: "127.0.0.1, sms.lan").permits(resolved: [127, 0, 0, 1], host: "127.0.0.1"))
    }

    @Test(arguments: TestBackend.available)
    func redirectsStayOnThisSiteAndUndeclaredMethodsGet405(backend: TestBackend) async throws {
        try await withClient(backend) { _, client in
            for next in ["/%09/evil.example", "//evil.example", "/\\evil.example", "https://evil.example", "/%2F/evil.example", "/\t/evil", " /x", "javascript:alert(1)"] {
                let response = try await client.execute(uri: "/settings/language", method: .post, headers: formHeaders, body: form(["lang": "en", "next": next]))
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/", "\(next) → \(response.headers[.location] ?? "")")
            }
            let kept = try await client.execute(uri: "/settings/language", method: .post, headers: formHeaders, body: form(["lang": "en", "next": "/p/gdm-camp/patients?tags=stage%3Dchemo"]))
            #expect(kept.headers[.location] == "/p/gdm-camp/patients?tags=stage%3Dchemo")
            for method in [HTTPRequest.Method.trace, .init("PROPFIND")!, .delete] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/patients", method: method) { response in
                    #expect(response.status == .methodNotAllowed, "\(method)")
                    #expect(response.headers[.allow] == "GET, POST")
                }
            }
            try await client.execute(uri: "/api/v1/no-such-thing", method: .trace) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/login", method: .get, headers: [.accept: "text/html"]) { response in
                #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
                #expect(!String(buffer: response.body).contains("onchange="), "no inline script for the CSP to block")
            }
        }
    }
}

@Suite struct SignInHardeningTests {
    @Test(arguments: TestBackend.available)
    func failedSignInsAreThrottledAndTheRightPasswordWorksAfterTheWait(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let jar = CookieJar()
            var statuses: [HTTPResponse.Status] = []
            func attempt(_ password: String) async throws -> TestResponse {
                let page = try await client.execute(uri: "/login", method: .get, headers: merged(jar.header, [.accept: "text/html"]))
                jar.absorb(page)
                let csrf = hiddenField("csrf", in: String(buffer: page.body)) ?? ""
                let response = try await client.execute(uri: "/login", method: .post, headers: merged(jar.header, formHeaders),
                                                        body: form(["csrf": csrf, "email": "manager@tend.demo", "password": password]))
                jar.absorb(response)
                return response
            }
            for _ in 0..<12 { statuses.append(try await attempt("wrong-password").status) }
            #expect(statuses.prefix(SignInThrottle.freeFailures).allSatisfy { $0 == .unauthorized }, "\(statuses)")
            #expect(statuses.contains(.tooManyRequests), "\(statuses)")
            // While throttled, even the right password waits, and is told how long.
            let refused = try await attempt(DemoSeed.password)
            #expect(refused.status == .tooManyRequests)
            let wait = try #require(refused.headers[.retryAfter].flatMap(Int.init))
            #expect((1...60).contains(wait))
            app.operations.advance(by: TimeInterval(wait))
            #expect(try await signIn(client, jar: jar, email: "manager@tend.demo").status == .seeOther)
        }
    }

    @Test func theThrottleLetsOneAttemptThroughAtATimeOnceOverTheFreeFailures() throws {
        let clock = TestClock()
        let throttle = SignInThrottle(clock: clock.clock)
        let keys = SignInThrottle.keys(email: "a@b.org", address: "10.0.0.9")
        for _ in 0..<SignInThrottle.freeFailures { try throttle.begin(keys) }
        #expect(throws: TendError.self) { try throttle.begin(keys) }
        for _ in 0..<SignInThrottle.freeFailures { throttle.end(keys, succeeded: false) }
        #expect(throws: TendError.self) { try throttle.begin(keys) }
        clock.advance(by: 1.5)
        try throttle.begin(keys)
        throttle.end(keys, succeeded: false)
        clock.advance(by: 1.5)
        #expect(throws: TendError.self, "the wait doubled") { try throttle.begin(keys) }
        clock.advance(by: 1)
        try throttle.begin(keys)
        throttle.end(keys, succeeded: true)
        // The address, past its free failures, lets one attempt through at a time; the account is clear.
        try throttle.begin(SignInThrottle.keys(email: "c@d.org", address: "10.0.0.9"))
        #expect(throws: TendError.self) { try throttle.begin(SignInThrottle.keys(email: "e@f.org", address: "10.0.0.9")) }
        try throttle.begin(SignInThrottle.keys(email: "a@b.org", address: "10.0.0.10"))
    }

    @Test(arguments: TestBackend.available)
    func aPasswordChangeEndsEverySessionAndToken(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let jar = CookieJar()
            #expect(try await signIn(client, jar: jar, email: "doctor@tend.demo").status == .seeOther)
            let token = try await app.token(for: "doctor@tend.demo")
            try await client.execute(uri: "/api/v1/me", method: .get, headers: bearer(token)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/v1/me/password", method: .post, headers: bearer(token),
                                     body: json(#"{"current_password": "not-it-at-all", "new_password": "a-new-password-2026"}"#)) { expect($0, field: "current_password") }
            try await client.execute(uri: "/api/v1/me/password", method: .post, headers: bearer(token),
                                     body: json(#"{"current_password": "\#(DemoSeed.password)", "new_password": "a-new-password-2026"}"#)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/api/v1/me", method: .get, headers: bearer(token)) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/p/lung-followup", method: .get, headers: merged(jar.header, [.accept: "text/html"])) { response in
                #expect(response.status == .seeOther && response.headers[.location] == "/login", "the session ended")
            }
            #expect(try await signIn(client, jar: CookieJar(), email: "doctor@tend.demo", password: "a-new-password-2026").status == .seeOther)
            // Disabling an account ends its sessions and tokens too.
            let user = try #require(try await app.stores.staff.credentials(email: "doctor@tend.demo")?.user)
            let second = try await app.token(for: "doctor@tend.demo")
            try await app.stores.staff.setDisabled(userID: user.id, disabled: true)
            try await app.stores.staff.setDisabled(userID: user.id, disabled: false)
            try await client.execute(uri: "/api/v1/me", method: .get, headers: bearer(second)) { #expect($0.status == .unauthorized, "re-enabling does not revive the token") }
        }
    }

    func expect(_ response: TestResponse, field: String) {
        #expect(response.status == .badRequest && object(response)["field"] as? String == field, "\(String(buffer: response.body))")
    }

    @Test(arguments: TestBackend.available)
    func tokensExpireAndActWithAtMostTheirCeiling(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            var limited = ""
            try await client.execute(uri: "/api/v1/tokens", method: .post, headers: bearer(admin),
                                     body: json(#"{"name": "read-only sync", "expires_in_days": 2, "role_ceiling": "viewer"}"#)) { response in
                #expect(response.status == .created)
                limited = object(response)["secret"] as? String ?? ""
                #expect((object(response)["token"] as? [String: Any])?["role_ceiling"] as? String == "viewer")
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients", method: .get, headers: bearer(limited)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/audit", method: .get, headers: bearer(limited)) { #expect($0.status == .forbidden, "admin's token capped at viewer") }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients", method: .post, headers: bearer(limited), body: json(#"{"name": "x"}"#)) { #expect($0.status == .forbidden) }
            app.clock.advance(by: 2 * 86400 + 1)
            try await client.execute(uri: "/api/v1/me", method: .get, headers: bearer(limited)) { #expect($0.status == .unauthorized, "expired") }
            try await client.execute(uri: "/api/v1/me", method: .get, headers: bearer(admin)) { #expect($0.status == .ok) }
        }
    }

    @Test(arguments: TestBackend.available)
    func idleSessionsEndAndBearerReadsDoNotWriteEachTime(backend: TestBackend) async throws {
        try await TestApp.withApp(backend) { app in
            let user = try #require(try await app.stores.staff.credentials(email: "manager@tend.demo")?.user)
            let sessions = Stores(try StoreContext.testing(app.stores.database, clock: app.clock.clock, ids: .sequential(prefix: "s")), sessionIdle: 600).sessions
            let (secret, _) = try await sessions.create(userID: user.id, lifetime: 12 * 3600)
            app.clock.advance(by: 500)
            #expect(try await sessions.find(secret: secret) != nil, "used within the idle limit")
            app.clock.advance(by: 500)
            #expect(try await sessions.find(secret: secret) != nil, "the last use counts, not the sign-in")
            app.clock.advance(by: 601)
            #expect(try await sessions.find(secret: secret) == nil, "idle too long")
            // last_used_at moves at most once a minute.
            let (token, plaintext) = try await app.stores.tokens.create(userID: user.id, name: "t")
            func lastUsed() async throws -> Date? { try await app.stores.tokens.list(userID: user.id).first { $0.id == token.id }?.lastUsedAt }
            _ = try await app.stores.tokens.authenticate(plaintext: plaintext)
            let first = try await lastUsed()
            app.clock.advance(by: 30)
            _ = try await app.stores.tokens.authenticate(plaintext: plaintext)
            #expect(try await lastUsed() == first)
            app.clock.advance(by: 31)
            _ = try await app.stores.tokens.authenticate(plaintext: plaintext)
            #expect(try await lastUsed() != first)
        }
    }

    @Test func longPasswordsCountInFull() async throws {
        let hasher = PasswordHasher(cost: 4)
        let long = String(repeating: "密", count: 30) + "一"
        let hash = try await hasher.hash(long)
        #expect(try await hasher.verify(long, hash: hash))
        #expect(try await !hasher.verify(String(repeating: "密", count: 30) + "二", hash: hash), "bcrypt alone would see only the first 72 bytes")
    }
}
