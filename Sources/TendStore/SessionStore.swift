import Foundation
import SQLKit
import TendCore

/// A signed-in browser. The cookie holds the secret; the database holds its hash.
public struct WebSession: Sendable, Equatable {
    public var userID: String
    public var csrfToken: String
    public var expiresAt: Date
}

public struct SessionStore: Sendable {
    let database: Database
    let clock: TendClock

    public init(database: Database, clock: TendClock) {
        self.database = database
        self.clock = clock
    }

    /// Starts a session and returns the cookie secret with the session.
    public func create(userID: String, lifetime: TimeInterval) async throws -> (secret: String, session: WebSession) {
        let secret = Secrets.random()
        let now = clock.now()
        let session = WebSession(userID: userID, csrfToken: Secrets.random(), expiresAt: now.addingTimeInterval(lifetime))
        try await database.session { sql in
            try await sql.raw("""
                INSERT INTO web_sessions (token_hash, user_id, csrf_token, created_at, expires_at)
                VALUES (\(bind: Secrets.sha256Hex(secret)), \(bind: userID), \(bind: session.csrfToken),
                        \(bind: now.epochMilliseconds), \(bind: session.expiresAt.epochMilliseconds))
                """).run()
        }
        return (secret, session)
    }

    public func find(secret: String) async throws -> WebSession? {
        let now = clock.now().epochMilliseconds
        return try await database.session { sql in
            guard let row = try await sql.raw("""
                SELECT s.user_id, s.csrf_token, s.expires_at FROM web_sessions s JOIN staff_users u ON u.id = s.user_id
                WHERE s.token_hash = \(bind: Secrets.sha256Hex(secret)) AND s.expires_at > \(bind: now) AND u.disabled = 0
                """).first() else { return nil }
            return WebSession(
                userID: try row.decode(column: "user_id", as: String.self),
                csrfToken: try row.decode(column: "csrf_token", as: String.self),
                expiresAt: Date(epochMilliseconds: try row.decode(column: "expires_at", as: Int64.self)))
        }
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
