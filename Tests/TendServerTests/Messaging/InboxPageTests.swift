import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TendCore
import TendServer
import TendServerTestSupport
import TendTestSupport
import NIOFoundationEssentialsCompat
import TendStore

/// The inbox and Today rows are written by the server, not the template engine: what patients
/// typed is escaped there, and every label comes from the strings of both languages.
@Suite struct InboxPageTests {
    @Test(arguments: TestBackend.available)
    func rowsEscapeWhatWasTypedAndNameEveryLabel(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            try await client.execute(uri: "/api/v1/programs/gdm-camp/groups", method: .post, headers: bearer(manager),
                                     body: json(#"{"name": "控糖营 <b>一</b> 群", "channel": "wecom", "binding": "wr-escape"}"#)) { #expect($0.status == .created) }
            let typed = #"<script>alert("x")</script> 胸口痛，喘不上气 & 出冷汗"#
            let body: [String: Any] = ["channel": "wecom", "group_binding": "wr-escape", "sender_name": "<i>周梅</i>", "text": typed]
            try await client.execute(uri: "/api/v1/programs/gdm-camp/inbound", method: .post, headers: bearer(manager),
                                     body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: body))) { #expect($0.status == .created) }
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "manager@tend.demo")
            for language in ["en", "zh-CN"] {
                for page in ["inbox", "today"] {
                    let response = try await client.execute(uri: "/p/gdm-camp/\(page)", method: .get,
                                                            headers: merged(jar.header, [.accept: "text/html", .acceptLanguage: language]))
                    #expect(response.status == .ok)
                    let html = String(buffer: response.body)
                    #expect(!html.contains("<script>alert"), "\(page): typed markup is escaped")
                    #expect(!html.contains("<i>周梅</i>") && !html.contains("<b>一</b>"))
                    if page == "inbox" {
                        #expect(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"))
                        #expect(html.contains("&lt;i&gt;周梅&lt;/i&gt;") && html.contains("控糖营 &lt;b&gt;一&lt;/b&gt; 群"))
                        #expect(html.contains("<mark>"), "the matched phrases are highlighted")
                    }
                    #expect(html.contains("data-task=") || page == "inbox")
                    // A label missing from the strings would show its key.
                    let keys = html.matches(of: />\s*((?:inbox|task|queue|level|flag)_[a-z_]+)\s*</).map { String($0.1) }
                    #expect(keys.isEmpty, "\(page) (\(language)) shows keys: \(keys)")
                }
            }
        }
    }

    /// The patient list's rows are written by the server too: names and tags escaped, one row per
    /// patient the API lists, each linking to the patient's page.
    @Test(arguments: TestBackend.available)
    func patientListRowsEscapeNamesAndTags(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let created: String = try await client.execute(uri: "/api/v1/programs/gdm-camp/patients", method: .post, headers: bearer(manager),
                                                           body: json(#"{"name": "<b>王</b>芳 & co", "phone": "13912345678", "tags": ["note=<i>x</i>"]}"#)) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                return object(response)["id"] as? String ?? ""
            }
            let listed: Int = try await client.execute(uri: "/api/v1/programs/gdm-camp/patients?limit=500", method: .get, headers: bearer(manager)) { response in
                (object(response)["items"] as? [[String: Any]] ?? []).count
            }
            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "manager@tend.demo")
            let page = try await client.execute(uri: "/p/gdm-camp/patients?tags=note", method: .get, headers: merged(jar.header, [.accept: "text/html", .acceptLanguage: "en"]))
            let html = String(buffer: page.body)
            #expect(page.status == .ok)
            #expect(!html.contains("<b>王</b>") && !html.contains("<i>x</i>"))
            #expect(html.contains("&lt;b&gt;王&lt;/b&gt;芳 &amp; co") && html.contains("note=&lt;i&gt;x&lt;/i&gt;"))
            #expect(html.contains("href=\"/p/gdm-camp/patients/\(created)\" class=\"patient-link\""))
            let all = String(buffer: try await client.execute(uri: "/p/gdm-camp/patients", method: .get, headers: merged(jar.header, [.accept: "text/html"])).body)
            #expect(all.matches(of: /class="patient-link"/).count == min(listed, PatientQuery().limit))
        }
    }
}
