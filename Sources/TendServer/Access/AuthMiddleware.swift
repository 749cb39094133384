import Foundation
import HTTPTypes
import Hummingbird
import TendCore
import TendEngine
import TendStore

enum CookieName {
    static let session = "tend_session"
    static let language = "tend_lang"
    static let loginCSRF = "tend_login_csrf"
}

/// Attaches the caller's identity (bearer token or session cookie) and language to the
/// context. It never rejects: routes decide whether they need an identity.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = TendRequestContext
    let stores: Stores
    let defaultLocale: AppLocale

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer",
                  let (token, _, user) = try await stores.tokens.authenticate(plaintext: String(parts[1])), !user.disabled else {
                throw TendError.unauthenticated
            }
            context.identity = Identity(user: user, credential: .token(token))
        } else if let secret = request.cookies[CookieName.session]?.value,
                  let (session, user) = try await stores.sessions.findWithUser(secret: secret) {
            context.identity = Identity(user: user, credential: .session(session))
        }
        context.locale = Self.locale(for: request, user: context.identity?.user, fallback: defaultLocale)
        return try await next(request, context)
    }

    /// The language to answer in: `?lang=`, then the user's setting, then the language
    /// cookie, then Accept-Language.
    static func locale(for request: Request, user: StaffUser?, fallback: AppLocale) -> AppLocale {
        if let explicit = request.query["lang"].flatMap({ AppLocale(identifier: String($0)) }) {
            return explicit
        }
        if let setting = user?.locale {
            return setting
        }
        if let cookie = request.cookies[CookieName.language].flatMap({ AppLocale(identifier: $0.value) }) {
            return cookie
        }
        return AppLocale.negotiate(acceptLanguage: request.headers[.acceptLanguage], fallback: fallback)
    }
}

/// Rejects state-changing requests made with a session cookie unless they carry the
/// session's CSRF token (form field `csrf` or header `X-CSRF-Token`). Bearer-token calls
/// are not exposed to CSRF and pass.
enum CSRF {
    static let header = HTTPField.Name("X-CSRF-Token")!

    /// For API calls: the token travels in the `X-CSRF-Token` header.
    static func verify(_ request: Request, identity: Identity) throws {
        try verify(request.headers[header], identity: identity)
    }

    static func verify(_ presented: String?, identity: Identity) throws {
        guard case .session(let session) = identity.credential else { return }
        guard let presented, Secrets.constantTimeEquals(presented, session.csrfToken) else {
            throw TendError(kind: .forbidden, code: "csrf_failed",
                            message: .init(en: "The form expired or came from another site; reload the page", zh: "表单已过期或来源不明，请刷新页面"))
        }
    }
}

/// Resolves `{program}` in a path to a program the caller may act in with the given
/// permission. An unknown program and one the caller is not in look the same (404), so
/// program slugs do not leak across tenants.
struct ProgramAccess: Sendable {
    let stores: Stores

    struct Grant: Sendable {
        var program: Program
        var role: StaffRole?
        var identity: Identity
    }

    func require(_ permission: Permission, slug: String, identity: Identity) async throws -> Grant {
        guard let found = try await stores.programs.find(slug: slug, roleOf: identity.user.id) else {
            throw TendError.notFound("program")
        }
        let program = found.program
        var role = found.role
        if case .token(let token) = identity.credential, let ceiling = token.roleCeiling, let granted = role {
            role = min(granted, ceiling)
        }
        if let role {
            guard role.allows(permission) else { throw TendError.forbidden }
            return Grant(program: program, role: role, identity: identity)
        }
        // Platform admins run programs' membership without seeing their patients.
        if identity.user.isPlatformAdmin, [.readProgram, .manageMembers].contains(permission) {
            return Grant(program: program, role: nil, identity: identity)
        }
        throw TendError.notFound("program")
    }

    /// For API routes under `/programs/{program}`: the caller's grant, with the CSRF header
    /// checked on state-changing requests made with a session cookie.
    func require(_ permission: Permission, for request: Request, context: TendRequestContext) async throws -> Grant {
        let identity = try context.requireIdentity()
        let grant = try await require(permission, slug: try context.parameters.require("program"), identity: identity)
        if request.method != .get { try CSRF.verify(request, identity: identity) }
        return grant
    }
}

extension ProgramAccess.Grant {
    func auditActor(requestID: String) -> AuditActor {
        AuditActor(id: identity.user.id, kind: identity.actorKind, requestID: requestID)
    }
}
