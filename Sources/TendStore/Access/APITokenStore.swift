public import Foundation
public import SQLKit
public import TendCore

public struct APIToken: Sendable, Equatable, Codable {
    public var id: String
    public var userID: String
    public var name: String
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?
    public var expiresAt: Date? = nil
    /// The token acts with at most this role, whatever the account's role in a program.
    public var roleCeiling: StaffRole? = nil
}

/// Bearer tokens for integrations: `tend_<id>_<secret>`. Only the secret's hash is stored,
/// so the plaintext is shown once, when the token is made.
public struct APITokenStore: ContextualStore {
    let context: StoreContext

    public func create(userID: String, name rawName: String, expiresAt: Date? = nil, roleCeiling: StaffRole? = nil, in sql: (any SQLDatabase)? = nil) async throws -> (token: APIToken, plaintext: String) {
        let name = try Validate.name(rawName, maxLength: 100)
        if let expiresAt { _ = try Validate.instant(expiresAt, field: "expires_at") }
        let token = APIToken(id: ids.next(), userID: userID, name: name, createdAt: clock.now(), lastUsedAt: nil, revokedAt: nil,
                             expiresAt: expiresAt, roleCeiling: roleCeiling)
        let plaintext = "tend_\(token.id)_\(Secrets.random())"
        try await database.on(sql) { sql in
            try await sql.raw("""
                INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at, role_ceiling)
                VALUES (\(bind: token.id), \(bind: userID), \(bind: name), \(bind: Secrets.sha256Hex(plaintext)), \(bind: token.createdAt.epochMilliseconds),
                        \(bind: expiresAt?.epochMilliseconds), \(bind: roleCeiling?.rawValue))
                """).run()
        }
        return (token, plaintext)
    }

    /// The user a live token belongs to, or nil for an unknown, revoked, expired or disabled
    /// one. `last_used_at` is written at most once a minute.
    public func authenticate(plaintext: String) async throws -> (token: APIToken, userID: String, user: StaffUser)? {
        guard plaintext.hasPrefix("tend_"), plaintext.utf8.count < 200 else { return nil }
        let now = clock.now().epochMilliseconds
        let found = try await database.read { sql -> (token: APIToken, userID: String, user: StaffUser)? in
            guard let row = try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns), \(unsafeRaw: StaffStore.prefixedUserColumns) FROM api_tokens t JOIN staff_users u ON u.id = t.user_id
                WHERE t.token_hash = \(bind: Secrets.sha256Hex(plaintext)) AND t.revoked_at IS NULL AND u.disabled = 0
                  AND (t.expires_at IS NULL OR t.expires_at > \(bind: now))
                """).first() else { return nil }
            let token = try Self.token(from: row)
            return (token, token.userID, try StaffStore.user(from: row, prefix: "user_"))
        }
        if let token = found?.token, (token.lastUsedAt?.epochMilliseconds ?? 0) < now - 60_000 {
            try await database.session { sql in
                try await sql.raw("UPDATE api_tokens SET last_used_at = \(bind: now) WHERE id = \(bind: token.id)").run()
            }
        }
        return found
    }

    static let columns = "t.id, t.user_id, t.name, t.created_at, t.last_used_at, t.revoked_at, t.expires_at, t.role_ceiling"

    public func list(userID: String) async throws -> [APIToken] {
        try await database.session { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM api_tokens t
                WHERE t.user_id = \(bind: userID) ORDER BY t.created_at, t.id
                """).all().map(Self.token(from:))
        }
    }

    /// Revokes one of the user's tokens; returns false when the user has no such live token.
    public func revoke(id: String, userID: String, in sql: (any SQLDatabase)? = nil) async throws -> Bool {
        let now = clock.now().epochMilliseconds
        return try await database.on(sql) { sql in
            let rows = try await sql.raw("""
                UPDATE api_tokens SET revoked_at = \(bind: now)
                WHERE id = \(bind: id) AND user_id = \(bind: userID) AND revoked_at IS NULL RETURNING id
                """).all()
            return !rows.isEmpty
        }
    }

    private static func token(from row: any SQLRow) throws -> APIToken {
        APIToken(
            id: try row.decode(column: "id", as: String.self),
            userID: try row.decode(column: "user_id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
            lastUsedAt: try row.decode(column: "last_used_at", as: Int64?.self).map(Date.init(epochMilliseconds:)),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self).map(Date.init(epochMilliseconds:)),
            expiresAt: try row.decode(column: "expires_at", as: Int64?.self).map(Date.init(epochMilliseconds:)),
            roleCeiling: try row.decode(column: "role_ceiling", as: String?.self).flatMap(StaffRole.init(rawValue:)))
    }
}
