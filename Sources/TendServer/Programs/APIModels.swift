import Foundation
import TendCore
import TendEngine
import TendStore

/// The JSON shapes of the REST API. Field names are snake_case on the wire.
struct ProgramBody: Encodable {
    let id: String
    let slug: String
    let name: String
    let created_at: Date
    let role: String?

    init(_ program: Program, role: StaffRole?) {
        id = program.id
        slug = program.slug
        name = program.name
        created_at = program.createdAt
        self.role = role?.rawValue
    }

    static let schema = Schema.object([
        "id": Schema.string, "slug": Schema.string, "name": Schema.string, "created_at": Schema.dateTime,
        "role": ["type": ["string", "null"], "enum": .array(StaffRole.allCases.map { .string($0.rawValue) } + [.string("null")])],
    ], required: ["id", "slug", "name", "created_at"])
}

struct UserBody: Encodable {
    let id: String
    let email: String
    let display_name: String
    let locale: String?
    let is_platform_admin: Bool

    init(_ user: StaffUser) {
        id = user.id
        email = user.email
        display_name = user.displayName
        locale = user.locale?.rawValue
        is_platform_admin = user.isPlatformAdmin
    }

    static let schema = Schema.object([
        "id": Schema.string, "email": Schema.string, "display_name": Schema.string,
        "locale": Schema.nullable("string"), "is_platform_admin": Schema.boolean,
    ], required: ["id", "email", "display_name", "is_platform_admin"])
}

struct MeBody: Encodable {
    let user: UserBody
    let programs: [ProgramBody]

    static let schema = Schema.object(["user": Schema.ref("User"), "programs": Schema.array(Schema.ref("Program"))], required: ["user", "programs"])
}

struct MemberBody: Encodable {
    let user_id: String
    let email: String
    let display_name: String
    let role: String

    init(_ member: ProgramMember) {
        user_id = member.user.id
        email = member.user.email
        display_name = member.user.displayName
        role = member.role.rawValue
    }

    static let schema = Schema.object([
        "user_id": Schema.string, "email": Schema.string, "display_name": Schema.string,
        "role": Schema.enumeration(StaffRole.allCases.map(\.rawValue)),
    ], required: ["user_id", "email", "display_name", "role"])
}

struct TokenBody: Encodable {
    let id: String
    let name: String
    let created_at: Date
    let last_used_at: Date?
    let revoked_at: Date?
    let expires_at: Date?
    let role_ceiling: String?

    init(_ token: APIToken) {
        id = token.id
        name = token.name
        created_at = token.createdAt
        last_used_at = token.lastUsedAt
        revoked_at = token.revokedAt
        expires_at = token.expiresAt
        role_ceiling = token.roleCeiling?.rawValue
    }

    static let schema = Schema.object([
        "id": Schema.string, "name": Schema.string, "created_at": Schema.dateTime,
        "last_used_at": Schema.nullable("string", format: "date-time"), "revoked_at": Schema.nullable("string", format: "date-time"),
        "expires_at": Schema.nullable("string", format: "date-time"), "role_ceiling": Schema.nullable("string"),
    ], required: ["id", "name", "created_at"])
}

struct CreatedTokenBody: Encodable {
    let token: TokenBody
    let secret: String

    static let schema = Schema.object(["token": Schema.ref("Token"), "secret": ["type": "string", "description": "Shown once; send as `Authorization: Bearer <secret>`"]], required: ["token", "secret"])
}

struct AuditEventBody: Encodable {
    let id: String
    let actor_id: String?
    let actor_kind: String
    let action: String
    let subject_type: String?
    let subject_id: String?
    let request_id: String?
    let at: Date

    init(_ event: AuditEvent) {
        id = event.id
        actor_id = event.actorID
        actor_kind = event.actorKind.rawValue
        action = event.action
        subject_type = event.subjectType
        subject_id = event.subjectID
        request_id = event.requestID
        at = event.at
    }

    static let schema = Schema.object([
        "id": Schema.string, "actor_id": Schema.nullable("string"), "actor_kind": Schema.string, "action": Schema.string,
        "subject_type": Schema.nullable("string"), "subject_id": Schema.nullable("string"), "request_id": Schema.nullable("string"),
        "at": Schema.dateTime,
    ], required: ["id", "actor_kind", "action", "at"])
}

struct ItemsBody<Item: Encodable>: Encodable {
    let items: [Item]
}

struct CreateProgramRequest: Decodable {
    let slug: String
    let name: String
    static let schema = InputSchema.object([
        .required("slug", .pattern(.slug, length: 2...48, description: "Lowercase letters, digits and single hyphens")),
        .required("name", .text()),
    ])
}

struct AddMemberRequest: Decodable {
    let email: String
    let role: String
    /// Used only when the email has no account yet, but always required, so that the answer
    /// does not tell whether an account exists outside the program.
    let display_name: String
    let password: String

    static let schema = InputSchema.object([
        .required("email", .pattern(.email, length: 3...254)),
        .required("role", .values(StaffRole.allCases.map(\.rawValue))),
        .required("display_name", .text(description: "The name of a new account; an existing account keeps its own")),
        .required("password", .password(description: "The password of a new account; an existing account keeps its own")),
    ])
}

struct CreateTokenRequest: Decodable {
    let name: String
    let expires_in_days: Int?
    let role_ceiling: String?

    static let schema = InputSchema.object([
        .required("name", .text(1...100)),
        .optional("expires_in_days", .nullable(.integer(1...3650, description: "The token stops working after this many days"))),
        .optional("role_ceiling", .nullable(.values(StaffRole.allCases.map(\.rawValue),
                                                   description: "The token acts with at most this role in every program, whatever the account's role"))),
    ])
}

struct ChangePasswordRequest: Decodable {
    let current_password: String
    let new_password: String

    static let schema = InputSchema.object([
        .required("current_password", .string(.init(length: 1...72))),
        .required("new_password", .password()),
    ])
}

enum APIComponents {
    static let all: [String: JSONValue] = [
        "Program": ProgramBody.schema,
        "User": UserBody.schema,
        "Me": MeBody.schema,
        "Member": MemberBody.schema,
        "Token": TokenBody.schema,
        "CreatedToken": CreatedTokenBody.schema,
        "AuditEvent": AuditEventBody.schema,
        "Patient": PatientBody.schema,
        "PatientPage": PatientPageBody.schema,
        "Consent": ConsentBody.schema,
        "ImportResult": ImportResultBody.schema,
        "Pathway": PathwayBody.schema,
        "TriageResult": TriageBody.schema,
        "Enrolment": EnrolmentBody.schema,
        "Touchpoint": TouchpointBody.schema,
        "EnrolResult": EnrolResultBody.schema,
        "Task": TaskBody.schema,
        "Channel": ChannelBody.schema,
        "InboundResult": InboundResultBody.schema,
        "Group": GroupBody.schema,
        "Message": MessageBody.schema,
        "PortalMessage": PortalMessageBody.schema,
        "Observation": ObservationBody.schema,
        "ObservationBatch": ObservationBatchBody.schema,
        "Alert": AlertBody.schema,
        "QuestionnaireSummary": QuestionnaireSummaryBody.schema,
        "AlertRule": AlertRuleBody.schema,
        "ClassAdherence": ClassAdherenceBody.schema,
        "Regimen": RegimenBody.schema,
        "Segment": SegmentBody.schema,
        "SegmentWhy": SegmentWhyBody.schema,
        "SegmentMember": SegmentMemberBody.schema,
        "AlertRules": AlertRulesBody.schema,
        "Response": ResponseBody.schema,
        "RecordedResponse": RecordedResponseBody.schema,
        "Health": Schema.object(["status": Schema.string, "database": Schema.string], required: ["status", "database"]),
    ]
}
