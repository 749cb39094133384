import Foundation
public import SQLKit
public import TendCore

/// Staff accounts and their memberships in programs. Password hashing happens above this
/// layer; the store keeps only the hash.
public struct StaffStore: ContextualStore {
    let context: StoreContext

    private static let userColumns = "u.id, u.email, u.display_name, u.locale, u.is_platform_admin, u.disabled, u.created_at"
    /// The account's columns under `user_` names, for queries that join it to what names it.
    static let prefixedUserColumns = "u.id AS user_id, u.email AS user_email, u.display_name AS user_display_name, u.locale AS user_locale, "
        + "u.is_platform_admin AS user_is_platform_admin, u.disabled AS user_disabled, u.created_at AS user_created_at"

    public func createUser(email rawEmail: String, displayName rawName: String, passwordHash: String, locale: AppLocale? = nil, isPlatformAdmin: Bool = false, in sql: (any SQLDatabase)? = nil) async throws -> StaffUser {
        let user = StaffUser(
            id: ids.next(), email: try Validate.email(rawEmail), displayName: try Validate.name(rawName, field: "name"),
            locale: locale, isPlatformAdmin: isPlatformAdmin, disabled: false, createdAt: clock.now())
        do {
            try await database.on(sql) { sql in
                try await sql.raw("""
                    INSERT INTO staff_users (id, email, display_name, password_hash, locale, is_platform_admin, disabled, created_at)
                    VALUES (\(bind: user.id), \(bind: user.email), \(bind: user.displayName), \(bind: passwordHash),
                            \(bind: user.locale?.rawValue), \(bind: isPlatformAdmin ? 1 : 0), 0, \(bind: user.createdAt.epochMilliseconds))
                    """).run()
            }
        } catch where isUniqueViolation(error) {
            throw TendError.conflict("email", .init(en: "already belongs to a staff account", zh: "已被其他员工账号使用"))
        }
        return user
    }

    public func user(id: String) async throws -> StaffUser? {
        try await database.session { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.userColumns) FROM staff_users u WHERE u.id = \(bind: id)")
                .first().map { try Self.user(from: $0) }
        }
    }

    /// The account and its password hash, for signing in.
    public func credentials(email: String) async throws -> (user: StaffUser, passwordHash: String)? {
        let normalised = email.trimmed.lowercased()
        return try await database.session { sql in
            guard let row = try await sql.raw("SELECT \(unsafeRaw: Self.userColumns), u.password_hash FROM staff_users u WHERE u.email = \(bind: normalised)").first() else {
                return nil
            }
            return (try Self.user(from: row), try row.decode(column: "password_hash", as: String.self))
        }
    }

    /// Sets a new password and ends every session and token of the account, in one
    /// transaction: whoever knew the old password is signed out.
    public func updatePassword(userID: String, passwordHash: String, in sql: (any SQLDatabase)? = nil) async throws {
        let now = clock.now().epochMilliseconds
        try await database.transaction(joining: sql) { sql in
            try await sql.raw("UPDATE staff_users SET password_hash = \(bind: passwordHash) WHERE id = \(bind: userID)").run()
            try await Self.endCredentials(sql, userID: userID, at: now)
        }
    }

    /// Disables or re-enables an account; disabling ends its sessions and tokens.
    public func setDisabled(userID: String, disabled: Bool, in sql: (any SQLDatabase)? = nil) async throws {
        let now = clock.now().epochMilliseconds
        try await database.transaction(joining: sql) { sql in
            try await sql.raw("UPDATE staff_users SET disabled = \(bind: disabled ? 1 : 0) WHERE id = \(bind: userID)").run()
            if disabled { try await Self.endCredentials(sql, userID: userID, at: now) }
        }
    }

    static func endCredentials(_ sql: any SQLDatabase, userID: String, at now: Int64) async throws {
        try await sql.raw("DELETE FROM web_sessions WHERE user_id = \(bind: userID)").run()
        try await sql.raw("UPDATE api_tokens SET revoked_at = \(bind: now) WHERE user_id = \(bind: userID) AND revoked_at IS NULL").run()
    }

    public func setLocale(userID: String, locale: AppLocale?) async throws {
        try await database.session { sql in
            try await sql.raw("UPDATE staff_users SET locale = \(bind: locale?.rawValue) WHERE id = \(bind: userID)").run()
        }
    }

    /// Adds the user to the program or changes their role there.
    public func setMembership(userID: String, programID: String, role: StaffRole, in sql: (any SQLDatabase)? = nil) async throws {
        let now = clock.now().epochMilliseconds
        try await database.transaction(joining: sql) { sql in
            let existing = try await sql.raw("SELECT role FROM memberships WHERE program_id = \(bind: programID) AND user_id = \(bind: userID)").first()
            if existing == nil {
                try await sql.raw("""
                    INSERT INTO memberships (program_id, user_id, role, created_at)
                    VALUES (\(bind: programID), \(bind: userID), \(bind: role.rawValue), \(bind: now))
                    """).run()
            } else {
                try await sql.raw("UPDATE memberships SET role = \(bind: role.rawValue) WHERE program_id = \(bind: programID) AND user_id = \(bind: userID)").run()
            }
        }
    }

    /// Returns whether a membership was removed.
    @discardableResult
    public func removeMembership(userID: String, programID: String, in sql: (any SQLDatabase)? = nil) async throws -> Bool {
        try await database.on(sql) { sql in
            let rows = try await sql.raw("DELETE FROM memberships WHERE program_id = \(bind: programID) AND user_id = \(bind: userID) RETURNING user_id").all()
            return !rows.isEmpty
        }
    }

    public func memberships(userID: String) async throws -> [Membership] {
        try await database.session { sql in
            try await sql.raw("""
                SELECT p.id, p.slug, p.name, p.created_at, m.role
                FROM memberships m JOIN programs p ON p.id = m.program_id
                WHERE m.user_id = \(bind: userID) ORDER BY p.slug
                """).all().map { row in
                Membership(program: try ProgramStore.program(from: row), role: try Self.role(from: row))
            }
        }
    }

    public func role(userID: String, programID: String) async throws -> StaffRole? {
        try await database.session { sql in
            try await sql.raw("SELECT role FROM memberships WHERE program_id = \(bind: programID) AND user_id = \(bind: userID)")
                .first().map(Self.role(from:))
        }
    }

    public func members(programID: String) async throws -> [ProgramMember] {
        try await database.session { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.userColumns), m.role FROM memberships m JOIN staff_users u ON u.id = m.user_id
                WHERE m.program_id = \(bind: programID) ORDER BY u.email
                """).all().map { row in
                ProgramMember(user: try Self.user(from: row), role: try Self.role(from: row))
            }
        }
    }

    private static func role(from row: any SQLRow) throws -> StaffRole {
        let raw = try row.decode(column: "role", as: String.self)
        guard let role = StaffRole(rawValue: raw) else { throw StoreCorruption(what: "unknown role \(raw)") }
        return role
    }

    static func user(from row: any SQLRow, prefix: String = "") throws -> StaffUser {
        StaffUser(
            id: try row.decode(column: prefix + "id", as: String.self),
            email: try row.decode(column: prefix + "email", as: String.self),
            displayName: try row.decode(column: prefix + "display_name", as: String.self),
            locale: try row.decode(column: prefix + "locale", as: String?.self).flatMap(AppLocale.init(rawValue:)),
            isPlatformAdmin: try row.decode(column: prefix + "is_platform_admin", as: Int64.self) != 0,
            disabled: try row.decode(column: prefix + "disabled", as: Int64.self) != 0,
            createdAt: Date(epochMilliseconds: try row.decode(column: prefix + "created_at", as: Int64.self)))
    }
}

/// A row the store cannot interpret: a bug or a hand-edited database, never user input.
public struct StoreCorruption: Error, CustomStringConvertible {
    public var what: String
    public var description: String { "stored data is inconsistent: \(what)" }

    public init(what: String) {
        self.what = what
    }
}
