import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

struct APIEndpoint: Sendable {
    let operation: APIOperation
    let handler: @Sendable (Request, TendRequestContext) async throws -> Response
}

/// The REST API under /api/v1. Each endpoint is declared with its OpenAPI description.
struct APIRoutes: Sendable {
    let dependencies: AppDependencies

    private var stores: Stores { dependencies.stores }
    private var actions: Actions { dependencies.actions }
    private var access: ProgramAccess { ProgramAccess(stores: stores) }

    func endpoints(openAPI: @escaping @Sendable () -> JSONValue) -> [APIEndpoint] {
        coreEndpoints(openAPI: openAPI) + PatientRoutes(dependencies: dependencies).endpoints()
            + PathwayRoutes(dependencies: dependencies).endpoints() + TaskRoutes(dependencies: dependencies).endpoints()
            + InboxRoutes(dependencies: dependencies).endpoints() + ObservationRoutes(dependencies: dependencies).endpoints()
            + QuestionnaireRoutes(dependencies: dependencies).endpoints() + AdherenceRoutes(dependencies: dependencies).endpoints()
            + SegmentRoutes(dependencies: dependencies).endpoints()
            + [TriageRoutes.endpoint(classifier: TriageClassifier())]
    }

    private func coreEndpoints(openAPI: @escaping @Sendable () -> JSONValue) -> [APIEndpoint] {
        metaEndpoints(openAPI: openAPI) + programEndpoints() + auditEndpoints() + credentialEndpoints()
    }

    /// The document and who is calling.
    private func metaEndpoints(openAPI: @escaping @Sendable () -> JSONValue) -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/openapi.json", operationID: "getOpenAPI",
                summary: "This document", tag: "meta", requiresAuth: false,
                response: ["type": "object"])
            ) { _, _ in try JSONIO.response(openAPI()) },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/me", operationID: "getMe",
                summary: "The caller and the programs they belong to", tag: "auth",
                response: Schema.ref("Me"))
            ) { _, context in
                let identity = try context.requireIdentity()
                let memberships = try await stores.staff.memberships(userID: identity.user.id)
                return try JSONIO.response(MeBody(user: UserBody(identity.user), programs: memberships.map { ProgramBody($0.program, role: $0.role) }))
            },

        ]
    }

    /// Programs and their members.
    private func programEndpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs", operationID: "listPrograms",
                summary: "Programs the caller belongs to (all programs for a platform admin)", tag: "programs",
                response: Schema.list(of: "Program"))
            ) { _, context in
                let identity = try context.requireIdentity()
                let memberships = try await stores.staff.memberships(userID: identity.user.id)
                var bodies = memberships.map { ProgramBody($0.program, role: $0.role) }
                if identity.user.isPlatformAdmin {
                    let mine = Set(memberships.map(\.program.id))
                    bodies += try await stores.programs.all().filter { !mine.contains($0.id) }.map { ProgramBody($0, role: nil) }
                    bodies.sort { $0.slug < $1.slug }
                }
                return try JSONIO.response(ItemsBody(items: bodies))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs", operationID: "createProgram",
                summary: "Create a program (platform admins)", tag: "programs",
                body: .json(CreateProgramRequest.schema), successStatus: 201, response: Schema.ref("Program"), conflicts: true)
            ) { request, context in
                let identity = try context.requireIdentity()
                try verifyCSRF(request, identity: identity)
                guard identity.user.isPlatformAdmin else { throw TendError.forbidden }
                let body = try await JSONIO.decode(CreateProgramRequest.self, from: request)
                let program = try await actions.programs.create(slug: body.slug, name: body.name, by: context.actor)
                return try JSONIO.response(ProgramBody(program, role: nil), status: .created)
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}", operationID: "getProgram",
                summary: "One program", tag: "programs", response: Schema.ref("Program"), permission: .readProgram)
            ) { _, context in
                let grant = try context.requireGrant()
                return try JSONIO.response(ProgramBody(grant.program, role: grant.role))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/members", operationID: "listMembers",
                summary: "The program's staff and their roles", tag: "programs", response: Schema.list(of: "Member"), permission: .readProgram)
            ) { _, context in
                let grant = try context.requireGrant()
                let members = try await stores.staff.members(programID: grant.program.id)
                return try JSONIO.response(ItemsBody(items: members.map(MemberBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/members", operationID: "addMember",
                summary: "Add a staff member to the program, or change their role (admins); creates the account when the email is new",
                tag: "programs", body: .json(AddMemberRequest.schema), successStatus: 200, response: Schema.ref("Member"), conflicts: true, permission: .manageMembers)
            ) { request, context in
                let identity = try context.requireIdentity()
                let grant = try context.requireGrant()
                try verifyCSRF(request, identity: identity)
                let body = try await JSONIO.decode(AddMemberRequest.self, from: request)
                let member = try await actions.programs.setMember(
                    programID: grant.program.id, email: body.email, role: try Validate.role(body.role), newAccountName: body.display_name,
                    newAccountPassword: body.password, callerID: identity.user.id, callerIsMember: grant.role != nil, by: context.actor)
                return try JSONIO.response(MemberBody(member))
            },

            APIEndpoint(operation: APIOperation(
                method: .delete, path: "/api/v1/programs/{program}/members/{user}", operationID: "removeMember",
                summary: "Remove a staff member from the program (admins)", tag: "programs", successStatus: 204, conflicts: true, permission: .manageMembers)
            ) { request, context in
                let identity = try context.requireIdentity()
                let grant = try context.requireGrant()
                try verifyCSRF(request, identity: identity)
                let userID = try context.parameters.require("user")
                guard try await actions.programs.removeMember(programID: grant.program.id, userID: userID, by: context.actor) else {
                    throw TendError.notFound("member")
                }
                return Response(status: .noContent)
            },

        ]
    }

    /// The program's audit trail.
    private func auditEndpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/audit", operationID: "listAudit",
                summary: "The program's audit trail, newest first (admins)", tag: "audit",
                query: [
                    .init(name: "subject", schema: .identifier, description: "Only events about this subject id"),
                    .init(name: "patient", schema: .identifier, description: "Only events about this patient id (same as subject)"),
                    .init(name: "limit", schema: .integer(1...1000), description: "At most this many events (default 100)"),
                ],
                response: Schema.list(of: "AuditEvent"), permission: .readAudit)
            ) { request, context in
                let grant = try context.requireGrant()
                var limit = 100
                if let raw = request.query["limit"] {
                    guard let value = Int(String(raw)), (1...1000).contains(value) else {
                        throw TendError.invalid("limit", .init(en: "must be an integer from 1 to 1000", zh: "必须是 1–1000 的整数"))
                    }
                    limit = value
                }
                let subject = request.query["patient"] ?? request.query["subject"]
                let events = try await stores.audit.events(programID: grant.program.id, subjectID: subject, limit: limit)
                return try JSONIO.response(ItemsBody(items: events.map(AuditEventBody.init)))
            },

        ]
    }

    /// API tokens and passwords.
    private func credentialEndpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/tokens", operationID: "listTokens",
                summary: "The caller's API tokens", tag: "auth", response: Schema.list(of: "Token"))
            ) { _, context in
                let identity = try context.requireIdentity()
                return try JSONIO.response(ItemsBody(items: try await stores.tokens.list(userID: identity.user.id).map(TokenBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/tokens", operationID: "createToken",
                summary: "Create an API token for the caller; the secret is returned once", tag: "auth",
                body: .json(CreateTokenRequest.schema), successStatus: 201, response: Schema.ref("CreatedToken"))
            ) { request, context in
                let identity = try context.requireIdentity()
                try verifyCSRF(request, identity: identity)
                let body = try await JSONIO.decode(CreateTokenRequest.self, from: request)
                let ceiling = try body.role_ceiling.map { (text) throws(TendError) in try Validate.role(text, field: "role_ceiling") }
                let (token, secret) = try await actions.access.createToken(
                    userID: identity.user.id, name: body.name, expiresInDays: body.expires_in_days, roleCeiling: ceiling, now: dependencies.clock.now(), by: context.actor)
                return try JSONIO.response(CreatedTokenBody(token: TokenBody(token), secret: secret), status: .created)
            },

            APIEndpoint(operation: APIOperation(
                method: .delete, path: "/api/v1/tokens/{token}", operationID: "revokeToken",
                summary: "Revoke one of the caller's tokens", tag: "auth", successStatus: 204)
            ) { request, context in
                let identity = try context.requireIdentity()
                try verifyCSRF(request, identity: identity)
                let id = try context.parameters.require("token")
                guard try await actions.access.revokeToken(id: id, userID: identity.user.id, by: context.actor) else { throw TendError.notFound("token") }
                return Response(status: .noContent)
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/me/password", operationID: "changePassword",
                summary: "Change the caller's password; every session and token of the account ends", tag: "auth",
                body: .json(ChangePasswordRequest.schema), successStatus: 204)
            ) { request, context in
                let identity = try context.requireIdentity()
                try verifyCSRF(request, identity: identity)
                let body = try await JSONIO.decode(ChangePasswordRequest.self, from: request)
                try await actions.access.changePassword(user: identity.user, current: body.current_password, new: body.new_password, by: context.actor)
                return Response(status: .noContent)
            },
        ]
    }

    private func verifyCSRF(_ request: Request, identity: Identity) throws {
        try CSRF.verify(request, identity: identity)
    }
}
