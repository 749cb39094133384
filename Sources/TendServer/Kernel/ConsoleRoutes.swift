import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

/// The staff console: sign-in, the program switcher and each program's home.
struct ConsoleRoutes: Sendable {
    let dependencies: AppDependencies
    let renderer: PageRenderer

    private var stores: Stores { dependencies.stores }

    struct LoginForm: Decodable {
        var email: String?
        var password: String?
        var csrf: String?
    }

    struct CSRFForm: Decodable {
        var csrf: String?
        var lang: String?
        var next: String?
    }

    /// The caller's view of one program, with what the page chrome needs.
    struct ProgramPage {
        var grant: ProgramAccess.Grant
        var chrome: PageRenderer.Chrome
        var locale: AppLocale
        var actor: AuditActor
        var canWrite: Bool { grant.role?.allows(.writePatients) ?? false }
        var showAudit: Bool { grant.role.map { $0 >= .manager } ?? false }
        var programView: ProgramView { ProgramView(name: grant.program.name, slug: grant.program.slug) }
    }

    func programPage(_ permission: Permission, _ request: Request, _ context: TendRequestContext) async throws -> ProgramPage {
        let identity = try context.requireIdentity()
        let grant = try await ProgramAccess(stores: stores).require(permission, slug: try context.parameters.require("program"), identity: identity)
        var programs = try await stores.staff.memberships(userID: identity.user.id).map(\.program)
        if !programs.contains(where: { $0.id == grant.program.id }) { programs.append(grant.program) }
        var chrome = chrome(identity, programs: programs, path: request.uri.path)
        chrome.currentProgramID = grant.program.id
        chrome.navProgram = grant.program.slug
        return ProgramPage(grant: grant, chrome: chrome, locale: context.locale,
                    actor: AuditActor(id: identity.user.id, kind: .staff, requestID: context.requestID))
    }

    func register(on router: Router<TendRequestContext>) {
        registerSignIn(on: router)
        registerSettings(on: router)
        registerAssets(on: router)
    }

    /// Home, signing in and out.
    private func registerSignIn(on router: Router<TendRequestContext>) {
        router.get("/") { _, context -> Response in
            guard let identity = context.identity else { return .redirect(to: "/login") }
            let memberships = try await stores.staff.memberships(userID: identity.user.id)
            guard let first = memberships.first else {
                return renderer.render("no_programs", view: StringsOnlyView(), chrome: chrome(identity, programs: [], path: "/"), locale: context.locale)
            }
            return .redirect(to: "/p/\(first.program.slug)")
        }

        router.get("/login") { request, context -> Response in
            if context.identity != nil { return .redirect(to: "/") }
            return loginPage(request: request, context: context, error: nil, email: "")
        }

        router.post("/login") { request, context -> Response in
            let form = try await decodeForm(LoginForm.self, request)
            guard let cookieToken = request.cookies[CookieName.loginCSRF]?.value, let presented = form.csrf,
                  Secrets.constantTimeEquals(cookieToken, presented) else {
                return loginPage(request: request, context: context, error: UIStrings.text("login_expired"), email: form.email ?? "", status: .forbidden)
            }
            let email = String((form.email ?? "").prefix(254))
            let outcome: AccessActions.SignInOutcome
            do {
                outcome = try await dependencies.actions.access.signIn(email: email, password: form.password ?? "", address: context.clientAddress,
                                                                      lifetime: dependencies.config.sessionLifetime)
            } catch let error as TendError where error.kind == .rateLimited {
                var page = loginPage(request: request, context: context, error: error.message, email: email, status: .tooManyRequests)
                page.headers[.retryAfter] = error.retryAfter.map(String.init) ?? "1"
                return page
            }
            guard case .signedIn(let secret, _) = outcome else {
                return loginPage(request: request, context: context, error: UIStrings.text("login_failed"), email: email, status: .unauthorized)
            }
            var response = Response.redirect(to: "/")
            response.setCookie(sessionCookie(secret, maxAge: Int(dependencies.config.sessionLifetime)))
            response.setCookie(expired(CookieName.loginCSRF))
            return response
        }

        router.post("/logout") { request, context -> Response in
            guard let identity = context.identity else { return .redirect(to: "/login") }
            let form = try await decodeForm(CSRFForm.self, request)
            try CSRF.verify(form.csrf, identity: identity)
            if let secret = request.cookies[CookieName.session]?.value {
                try await stores.sessions.delete(secret: secret)
            }
            var response = Response.redirect(to: "/login")
            response.setCookie(expired(CookieName.session))
            return response
        }
    }

    /// The language and program switchers, a program's home.
    private func registerSettings(on router: Router<TendRequestContext>) {
        router.post("/settings/language") { request, context -> Response in
            let form = try await decodeForm(CSRFForm.self, request)
            guard let locale = form.lang.flatMap(AppLocale.init(identifier:)) else {
                throw TendError.invalid("lang", .init(en: "must be zh-Hans or en", zh: "必须是 zh-Hans 或 en"))
            }
            if let identity = context.identity {
                try CSRF.verify(form.csrf, identity: identity)
                try await stores.staff.setLocale(userID: identity.user.id, locale: locale)
            }
            var response = Response.redirect(to: SafeRedirect.localPath(form.next))
            response.setCookie(Cookie(name: CookieName.language, value: locale.rawValue, maxAge: 365 * 86400, path: "/",
                                      secure: dependencies.config.secureCookies, httpOnly: true, sameSite: .lax))
            return response
        }

        router.get("/switch") { request, context -> Response in
            _ = try context.requireIdentity()
            guard let slug = request.query["program"] else { throw TendError.missing("program") }
            return .redirect(to: "/p/\(try Validate.slug(String(slug), field: "program"))")
        }

        router.get("/p/:program") { request, context -> Response in
            let page = try await programPage(.readProgram, request, context)
            let members = try await stores.staff.members(programID: page.grant.program.id)
            let view = ProgramHomeView(
                program: page.programView, roleName: page.grant.role.map { UIStrings.roleName($0, in: context.locale) } ?? "—",
                members: members.map { .init(displayName: $0.user.displayName, roleName: UIStrings.roleName($0.role, in: context.locale)) })
            return renderer.render("home", view: view, chrome: page.chrome, locale: context.locale)
        }

        PatientConsole(console: self).register(on: router)
        AdherenceConsole(console: self).register(on: router)
        AdherenceReportConsole(console: self).register(on: router)
        TaskConsole(console: self).register(on: router)
        AlertConsole(console: self).register(on: router)
        SegmentConsole(console: self).register(on: router)
        FormPages(console: self).register(on: router)
        PortalPages(console: self).register(on: router)
        ResponseConsole(console: self).register(on: router)
        InboxConsole(console: self).register(on: router)
    }

    /// The stylesheet and script.
    private func registerAssets(on router: Router<TendRequestContext>) {
        router.get("/static/tend.css") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=300"],
                     body: .init(byteBuffer: ByteBuffer(string: Self.stylesheet)))
        }
        router.get("/static/tend.js") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "public, max-age=300"],
                     body: .init(byteBuffer: ByteBuffer(string: Self.script)))
        }
    }

    static let stylesheet = asset("static/tend.css")
    static let script = asset("static/tend.js")

    private static func asset(_ path: String) -> String {
        (try? String(contentsOf: PageRenderer.assets.appendingPathComponent(path), encoding: .utf8)) ?? ""
    }

    private func loginPage(request: Request, context: TendRequestContext, error: LocalizedText?, email: String, status: HTTPResponse.Status = .ok) -> Response {
        let token = Secrets.random(bytes: 18)
        let view = LoginView(loginCSRF: token, email: email, error: error?.text(in: context.locale))
        var response = renderer.render("login", view: view, chrome: PageRenderer.Chrome(path: "/login"), locale: context.locale, status: status)
        response.setCookie(Cookie(name: CookieName.loginCSRF, value: token, maxAge: 3600, path: "/login",
                                  secure: dependencies.config.secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    func chrome(_ identity: Identity, programs: [Program], path: String) -> PageRenderer.Chrome {
        var csrf = ""
        if case .session(let session) = identity.credential { csrf = session.csrfToken }
        return PageRenderer.Chrome(user: identity.user, programs: programs, csrf: csrf, path: path)
    }

    private func sessionCookie(_ secret: String, maxAge: Int) -> Cookie {
        Cookie(name: CookieName.session, value: secret, maxAge: maxAge, path: "/",
               secure: dependencies.config.secureCookies, httpOnly: true, sameSite: .lax)
    }

    private func expired(_ name: String) -> Cookie {
        Cookie(name: name, value: "", maxAge: 0, path: name == CookieName.loginCSRF ? "/login" : "/",
               secure: dependencies.config.secureCookies, httpOnly: true, sameSite: .lax)
    }

    func decodeForm<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        let buffer = try await JSONIO.collect(request, upTo: 64 * 1024)
        do {
            return try URLEncodedFormDecoder().decode(T.self, from: String(buffer: buffer))
        } catch {
            throw TendError(kind: .invalidInput, code: "malformed_form", message: .init(en: "The form could not be read", zh: "无法读取表单"), field: "body")
        }
    }
}

/// A program's home: the caller's role and the team.
struct ProgramHomeView {
    var program: ProgramView
    var roleName: String
    var members: [Member]

    struct Member {
        var displayName: String
        var roleName: String
    }
}

/// The sign-in page: its own CSRF token (no session yet), the email typed, and why it failed.
struct LoginView {
    var loginCSRF: String
    var email: String
    var error: String?
}
