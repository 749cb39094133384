public import Foundation
public import SQLKit
public import TendCore

/// A signed-in browser. The cookie holds the secret; the database holds its hash.
public struct WebSession: Sendable, Equatable {
    public var userID: String
    public var csrfToken: String
    public var expiresAt: Date
}

public struct SessionStore: ContextualStore {
    let context: StoreContext
    /// A session nobody used for this long has ended, whatever its expiry.
    public let idleLimit: TimeInterval
    /// `last_seen_at` is written at most this often, so reads do not each write.
    static let touchInterval: Int64 = 60_000

    /// Starts a session and returns the cookie secret with the session.
    public func create(userID: String, lifetime: TimeInterval, in sql: (any SQLDatabase)? = nil) async throws -> (secret: String, session: WebSession) {
        let secret = Secrets.random()
        let now = clock.now()
        let session = WebSession(userID: userID, csrfToken: Secrets.random(), expiresAt: now.addingTimeInterval(lifetime))
        try await database.on(sql) { sql in
            try await sql.raw("""
                INSERT INTO web_sessions (token_hash, user_id, csrf_token, created_at, expires_at, last_seen_at)
                VALUES (\(bind: Secrets.sha256Hex(secret)), \(bind: userID), \(bind: session.csrfToken),
                        \(bind: now.epochMilliseconds), \(bind: session.expiresAt.epochMilliseconds), \(bind: now.epochMilliseconds))
                """).run()
        }
        return (secret, session)
    }

    /// The live session with this secret: not expired, not idle too long, its account enabled.
    public func find(secret: String) async throws -> WebSession? {
        try await findWithUser(secret: secret)?.session
    }

    /// A live session and its (enabled) account, in one query.
    public func findWithUser(secret: String) async throws -> (session: WebSession, user: StaffUser)? {
        let now = clock.now().epochMilliseconds
        let idleSince = now - Int64(clamping: idleLimit * 1000)
        let hash = Secrets.sha256Hex(secret)
        let found = try await database.read { sql -> (session: WebSession, user: StaffUser, lastSeen: Int64)? in
            guard let row = try await sql.raw("""
                SELECT s.csrf_token, s.expires_at, s.last_seen_at, \(unsafeRaw: StaffStore.prefixedUserColumns) FROM web_sessions s JOIN staff_users u ON u.id = s.user_id
                WHERE s.token_hash = \(bind: hash) AND s.expires_at > \(bind: now) AND s.last_seen_at > \(bind: idleSince) AND u.disabled = 0
                """).first() else { return nil }
            let session = WebSession(
                userID: try row.decode(column: "user_id", as: String.self),
                csrfToken: try row.decode(column: "csrf_token", as: String.self),
                expiresAt: Date(epochMilliseconds: try row.decode(column: "expires_at", as: Int64.self)))
            return (session, try StaffStore.user(from: row, prefix: "user_"), try row.decode(column: "last_seen_at", as: Int64.self))
        }
        guard let found else { return nil }
        if found.lastSeen < now - Self.touchInterval {
            try await database.session { sql in
                try await sql.raw("UPDATE web_sessions SET last_seen_at = \(bind: now) WHERE token_hash = \(bind: hash)").run()
            }
        }
        return (found.session, found.user)
    }

    public func delete(secret: String) async throws {
        try await database.session { sql in
            try await sql.raw("DELETE FROM web_sessions WHERE token_hash = \(bind: Secrets.sha256Hex(secret))").run()
        }
    }

    public func deleteExpired() async throws {
        let now = clock.now().epochMilliseconds
        try await database.session { sql in
            try await sql.raw("DELETE FROM web_sessions WHERE expires_at <= \(bind: now)").run()
        }
    }
}
