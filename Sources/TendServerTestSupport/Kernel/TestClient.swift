import Foundation
public import HTTPTypes
import Hummingbird
public import HummingbirdTesting
public import Logging
import Synchronization
public import NIOCore
public import TendServer
public import TendTestSupport
import NIOFoundationEssentialsCompat

/// Runs the body with a test client against the real router on a fresh seeded database.
public func withClient<R: Sendable>(_ backend: TestBackend, logger: Logger = Logger(label: "test"), _ body: @escaping @Sendable (TestApp, any TestClientProtocol) async throws -> R) async throws -> R {
    try await TestApp.withApp(backend, logger: logger) { app in
        let renderer = try await PageRenderer.load()
        let router = buildRouter(app.dependencies, renderer: renderer)
        let application = Application(router: router, logger: logger)
        return try await application.test(.router) { client in
            try await body(app, client)
        }
    }
}

public func bearer(_ token: String) -> HTTPFields {
    [.authorization: "Bearer \(token)", .contentType: "application/json"]
}

public func json(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

/// The response body as a JSON object, or empty when it is not one (the test then fails on its fields).
public func object(_ response: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
}

/// A browser's cookie jar, enough for the console's flows.
public final class CookieJar: Sendable {
    private let cookies = Mutex<[String: String]>([:])

    public init() {}

    public func absorb(_ response: TestResponse) {
        cookies.withLock { cookies in
            for field in response.headers where field.name == .setCookie {
                let pair = field.value.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                let name = String(pair[0]), value = pair.count > 1 ? String(pair[1]) : ""
                if value.isEmpty || field.value.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
            }
        }
    }

    public var header: HTTPFields {
        cookies.withLock { cookies in
            cookies.isEmpty ? [:] : [.cookie: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")]
        }
    }
}

public func hiddenField(_ name: String, in html: String) -> String? {
    html.matches(of: /name="(\w+)" value="([^"]*)"/).first { $0.1 == name && !$0.2.isEmpty }.map { String($0.2) }
}

public func form(_ fields: [String: String]) -> ByteBuffer {
    var allowed = CharacterSet.urlQueryAllowed
    allowed.remove(charactersIn: "&=+@")
    return ByteBuffer(string: fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&"))
}

public func merged(_ headers: HTTPFields, _ more: HTTPFields) -> HTTPFields {
    var all = headers
    all.append(contentsOf: more)
    return all
}

public let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .accept: "text/html"]

/// Signs in through the login form; returns the answer's status and where it redirects.
public func signIn(_ client: any TestClientProtocol, jar: CookieJar, email: String, password: String = DemoSeed.password) async throws -> (status: HTTPResponse.Status, location: String?) {
    let page = try await client.execute(uri: "/login", method: .get, headers: merged(jar.header, [.accept: "text/html"]))
    jar.absorb(page)
    let csrf = hiddenField("csrf", in: String(buffer: page.body)) ?? ""
    let response = try await client.execute(uri: "/login", method: .post, headers: merged(jar.header, formHeaders),
                                            body: form(["csrf": csrf, "email": email, "password": password]))
    jar.absorb(response)
    return (response.status, response.headers[.location])
}
