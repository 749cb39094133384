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

@Suite struct ConsoleTests {
    @Test(arguments: TestBackend.available)
    func signingInShowsTheProgramSwitcherWithBothDemoPrograms(backend: TestBackend) async throws {
        try await withClient(backend) { _, client in
            let jar = CookieJar()
            try await client.execute(uri: "/", method: .get, headers: [.accept: "text/html"]) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/login")
            }
            let result = try await signIn(client, jar: jar, email: "manager@tend.demo")
            #expect(result.status == .seeOther && result.location == "/")
            let root = try await client.execute(uri: "/", method: .get, headers: merged(jar.header, [.accept: "text/html"]))
            #expect(root.headers[.location] == "/p/gdm-camp")
            let home = try await client.execute(uri: "/p/gdm-camp", method: .get, headers: merged(jar.header, [.accept: "text/html", .acceptLanguage: "en"]))
            let html = String(buffer: home.body)
            #expect(home.status == .ok)
            #expect(html.contains(#"id="program-switcher""#))
            #expect(html.contains("妊娠期糖尿病控糖营 GDM Glucose Camp") && html.contains("肺癌随访项目 Lung Cancer Follow-up"))
            #expect(html.contains("Health manager"))
            #expect(html.contains("Nothing to do yet"))
        }
    }

    @Test(arguments: TestBackend.available)
    func wrongPasswordsAndForgedFormsAreRefused(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let jar = CookieJar()
            let wrong = try await signIn(client, jar: jar, email: "manager@tend.demo", password: "not-the-password")
            #expect(wrong.status == .unauthorized)
            let unknown = try await signIn(client, jar: jar, email: "nobody@tend.demo")
            #expect(unknown.status == .unauthorized)
            // A login form posted without the matching CSRF cookie (from another site).
            let forged = try await client.execute(uri: "/login", method: .post, headers: formHeaders,
                                                  body: form(["csrf": "guess", "email": "manager@tend.demo", "password": DemoSeed.password]))
            #expect(forged.status == .forbidden)
            #expect(forged.headers[.setCookie]?.contains("tend_session") != true)
            // Signed in, logout without the session's CSRF token is refused; with it, it works.
            _ = try await signIn(client, jar: jar, email: "manager@tend.demo")
            let home = try await client.execute(uri: "/p/gdm-camp", method: .get, headers: merged(jar.header, [.accept: "text/html"]))
            let token = hiddenField("csrf", in: String(buffer: home.body)) ?? ""
            #expect(!token.isEmpty)
            let noToken = try await client.execute(uri: "/logout", method: .post, headers: merged(jar.header, formHeaders), body: form(["csrf": "x"]))
            #expect(noToken.status == .forbidden)
            let out = try await client.execute(uri: "/logout", method: .post, headers: merged(jar.header, formHeaders), body: form(["csrf": token]))
            #expect(out.status == .seeOther && out.headers[.location] == "/login")
            jar.absorb(out)
            let after = try await client.execute(uri: "/p/gdm-camp", method: .get, headers: merged(jar.header, [.accept: "text/html"]))
            #expect(after.status == .seeOther && after.headers[.location] == "/login")
            let logins = try await app.stores.audit.events(programID: "", limit: 10)
            #expect(logins.isEmpty, "login events are not program events")
        }
    }

    @Test(arguments: TestBackend.available)
    func aSessionCookieCannotChangeDataThroughTheAPIWithoutTheCSRFHeader(backend: TestBackend) async throws {
        try await withClient(backend) { _, client in
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "admin@tend.demo")
            let me = try await client.execute(uri: "/api/v1/me", method: .get, headers: jar.header)
            #expect(me.status == .ok)
            let forged = try await client.execute(uri: "/api/v1/tokens", method: .post, headers: merged(jar.header, [.contentType: "application/json"]), body: ByteBuffer(string: #"{"name":"x"}"#))
            #expect(forged.status == .forbidden)
            #expect(object(forged)["error"] as? String == "csrf_failed")
        }
    }

    @Test(arguments: TestBackend.available)
    func otherProgramsPagesLookMissingAndLanguageFollowsTheUser(backend: TestBackend) async throws {
        try await withClient(backend) { _, client in
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "doctor@tend.demo")
            let other = try await client.execute(uri: "/p/gdm-camp", method: .get, headers: merged(jar.header, [.accept: "text/html"]))
            #expect(other.status == .notFound)
            let own = try await client.execute(uri: "/p/lung-followup", method: .get, headers: merged(jar.header, [.accept: "text/html"]))
            #expect(String(buffer: own.body).contains("暂无待办"), "Chinese is the default")
            let csrf = hiddenField("csrf", in: String(buffer: own.body)) ?? ""
            let switched = try await client.execute(uri: "/settings/language", method: .post, headers: merged(jar.header, formHeaders),
                                                    body: form(["csrf": csrf, "lang": "en", "next": "/p/lung-followup"]))
            #expect(switched.status == .seeOther && switched.headers[.location] == "/p/lung-followup")
            let english = try await client.execute(uri: "/p/lung-followup", method: .get, headers: merged(jar.header, [.accept: "text/html", .acceptLanguage: "zh-CN"]))
            #expect(String(buffer: english.body).contains("Nothing to do yet"), "the saved setting wins over Accept-Language")
            let offsite = try await client.execute(uri: "/settings/language", method: .post, headers: merged(jar.header, formHeaders),
                                                   body: form(["csrf": csrf, "lang": "zh", "next": "//evil.example"]))
            #expect(offsite.headers[.location] == "/")
        }
    }

    @Test func everyStringATemplateUsesExistsInBothLanguages() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../Sources/TendServer/Assets/templates").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".mustache") }
        #expect(files.count >= 5)
        var used = Set<String>()
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            used.formUnion(text.matches(of: /\{\{t\.(\w+)\}\}/).map { String($0.1) })
        }
        #expect(!used.isEmpty)
        for key in used.sorted() {
            let entry = UIStrings.table[key]
            #expect(entry != nil, "template uses t.\(key) which has no strings")
            #expect(entry?.en.isEmpty == false && entry?.zh.isEmpty == false, "t.\(key) lacks a language")
        }
    }
}
