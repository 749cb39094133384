public import Foundation
public import SQLKit
public import TendCore

/// Each program's channel settings (sealed: robot URLs and secrets are credentials), and the
/// portal inbox the in-app channel writes to.
public struct ChannelStore: ContextualStore {
    let context: StoreContext

    /// Saves a channel's settings after holding them to the outbound policy.
    public func set(programID: String, _ config: ChannelConfig, policy: OutboundPolicy, in sql: (any SQLDatabase)? = nil) async throws {
        let valid = try config.validated(policy: policy)
        let sealed = try cipher.seal(String(decoding: try JSONEncoder().encode(valid), as: UTF8.self), for: Self.context(programID, valid.channel.rawValue))
        let now = clock.now().epochMilliseconds
        try await database.on(sql) { sql in
            try await sql.raw("""
                INSERT INTO channel_configs (program_id, channel, config_enc, updated_at) VALUES (\(bind: programID), \(bind: valid.channel.rawValue), \(bind: sealed), \(bind: now))
                ON CONFLICT (program_id, channel) DO UPDATE SET config_enc = excluded.config_enc, updated_at = excluded.updated_at
                """).run()
        }
    }

    public func remove(programID: String, channel: ContactChannel) async throws -> Bool {
        try await database.session { sql in
            try await sql.raw("DELETE FROM channel_configs WHERE program_id = \(bind: programID) AND channel = \(bind: channel.rawValue) RETURNING channel").all().count > 0
        }
    }

    public func list(programID: String) async throws -> [ChannelConfig] {
        try await all().filter { $0.programID == programID }.map(\.config)
    }

    /// Every program's settings, for the dispatcher.
    public func all() async throws -> [(programID: String, config: ChannelConfig)] {
        let rows = try await database.session { sql in
            try await sql.raw("SELECT program_id, channel, config_enc FROM channel_configs ORDER BY program_id, channel").all()
        }
        return try rows.map { row in
            let programID = try row.decode(column: "program_id", as: String.self)
            let json = try cipher.open(try row.decode(column: "config_enc", as: String.self), for: Self.context(programID, try row.decode(column: "channel", as: String.self)))
            return (programID, try JSONDecoder().decode(ChannelConfig.self, from: Data(json.utf8)))
        }
    }

    /// A channel's settings are bound to the program and the channel.
    static func context(_ programID: String, _ channel: String) -> SealContext {
        SealContext(program: programID, table: "channel_configs", column: "config_enc", row: "\(programID)/\(channel)")
    }

    static func portalContext(_ programID: String, _ messageID: String) -> SealContext {
        SealContext(program: programID, table: "portal_messages", column: "body_enc", row: messageID)
    }

    /// A patient's portal inbox, newest first.
    public func inbox(programID: String, patientID: String, limit: Int = 50) async throws -> [PortalMessage] {
        let rows = try await database.session { sql in
            try await sql.raw("""
                SELECT id, touchpoint_id, body_enc, created_at, read_at FROM portal_messages
                WHERE program_id = \(bind: programID) AND patient_id = \(bind: patientID) ORDER BY created_at DESC, id DESC LIMIT \(unsafeRaw: String(max(1, min(limit, 500))))
                """).all()
        }
        return try rows.map { row in
            PortalMessage(
                id: try row.decode(column: "id", as: String.self),
                touchpointID: try row.decode(column: "touchpoint_id", as: String?.self),
                body: try cipher.open(try row.decode(column: "body_enc", as: String.self), for: Self.portalContext(programID, try row.decode(column: "id", as: String.self))),
                createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
                readAt: try row.decode(column: "read_at", as: Int64?.self).map(Date.init(epochMilliseconds:)))
        }
    }
}

public struct PortalMessage: Sendable, Equatable {
    public var id: String
    public var touchpointID: String?
    public var body: String
    public var createdAt: Date
    public var readAt: Date?
}
