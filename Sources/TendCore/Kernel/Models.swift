public import Foundation

/// A tenant: a hospital department or a sponsored project. All data belongs to one.
public struct Program: Sendable, Equatable, Codable {
    public var id: String
    public var slug: String
    public var name: String
    public var createdAt: Date

    public init(id: String, slug: String, name: String, createdAt: Date) {
        self.id = id
        self.slug = slug
        self.name = name
        self.createdAt = createdAt
    }
}

public struct StaffUser: Sendable, Equatable, Codable {
    public var id: String
    public var email: String
    public var displayName: String
    public var locale: AppLocale?
    public var isPlatformAdmin: Bool
    public var disabled: Bool
    public var createdAt: Date

    public init(id: String, email: String, displayName: String, locale: AppLocale?, isPlatformAdmin: Bool, disabled: Bool, createdAt: Date) {
        self.id = id
        self.email = email
        self.displayName = displayName
        self.locale = locale
        self.isPlatformAdmin = isPlatformAdmin
        self.disabled = disabled
        self.createdAt = createdAt
    }
}

/// A staff member's place in one program.
public struct Membership: Sendable, Equatable {
    public var program: Program
    public var role: StaffRole

    public init(program: Program, role: StaffRole) {
        self.program = program
        self.role = role
    }
}

public struct ProgramMember: Sendable, Equatable {
    public var user: StaffUser
    public var role: StaffRole

    public init(user: StaffUser, role: StaffRole) {
        self.user = user
        self.role = role
    }
}

/// Who did something: a signed-in staff member, an API token, or the operator's CLI.
public enum ActorKind: String, Sendable, Codable {
    case staff
    case apiToken = "api_token"
    case cli
    case system
    /// A patient acting through a signed link or the portal.
    case patient
    /// A family member acting in the portal for a patient who named them (the id is their phone's blind index).
    case caregiver
    /// Whoever opened a record a patient shared (the id is the share's).
    case sharedLink = "shared_link"
}

public struct AuditEvent: Sendable, Equatable, Codable {
    public var id: String
    public var programID: String?
    public var actorID: String?
    public var actorKind: ActorKind
    public var action: String
    public var subjectType: String?
    public var subjectID: String?
    public var requestID: String?
    public var at: Date

    public init(id: String, programID: String?, actorID: String?, actorKind: ActorKind, action: String, subjectType: String?, subjectID: String?, requestID: String?, at: Date) {
        self.id = id
        self.programID = programID
        self.actorID = actorID
        self.actorKind = actorKind
        self.action = action
        self.subjectType = subjectType
        self.subjectID = subjectID
        self.requestID = requestID
        self.at = at
    }
}

extension Date {
    /// Milliseconds since the Unix epoch: how instants are stored. Never traps: instants
    /// that enter Tend are held to `Bounds.instantMilliseconds`, and anything past Int64 is
    /// clamped rather than converted.
    public var epochMilliseconds: Int64 { Int64(clamping: (timeIntervalSince1970 * 1000).rounded()) }

    public init(epochMilliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(epochMilliseconds) / 1000)
    }
}
