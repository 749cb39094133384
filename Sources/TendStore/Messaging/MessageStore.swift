public import Foundation
public import SQLKit
public import TendCore

/// A community group (社群) bound to a channel's own conversation id.
public struct ChatGroup: Sendable, Equatable {
    public var id: String
    public var programID: String
    public var name: String
    public var channel: ContactChannel
    /// The channel's id for the conversation (a WeCom chat id, …).
    public var binding: String
    public var createdAt: Date
}

/// A message as it arrived, its sender already matched where possible.
public struct InboundMessage: Sendable {
    public var channel: ContactChannel
    public var groupID: String?
    public var patientID: String?
    /// The sender's name as the channel shows it (sealed: it is personal data).
    public var senderName: String?
    public var text: String
    public var sentAt: Date

    public init(channel: ContactChannel, groupID: String?, patientID: String?, senderName: String?, text: String, sentAt: Date) {
        self.channel = channel
        self.groupID = groupID
        self.patientID = patientID
        self.senderName = senderName
        self.text = text
        self.sentAt = sentAt
    }
}

public struct StoredMessage: Sendable, Equatable {
    public var id: String
    public var programID: String
    public var groupID: String?
    public var patientID: String?
    public var channel: ContactChannel
    /// `in` from a patient or family member, `out` a staff reply.
    public var direction: String
    public var senderName: String?
    public var text: String
    public var sentAt: Date
    public var receivedAt: Date
    public var level: TriageLevel?
    public var compliance: Bool
    public var reasons: [TriageReason]
    public var queue: InboxQueue
    public var status: MessageStatus
    public var slaAt: Date?
    public var taskID: String?
    public var movedToPrivate: Bool
    /// What staff said the level should have been: feedback for tuning the rules.
    public var feedbackLevel: TriageLevel?
    public var handledBy: String?
    public var handledAt: Date?
    public var replyTo: String?

    public func isOverdue(at now: Date) -> Bool { status == .open && slaAt.map { now > $0 } ?? false }
}

/// What staff do with a message in the inbox.
public enum MessageAction: Sendable, Equatable {
    case reply(String)
    case moveToPrivate
    case escalate
    case resolve
    case misgraded(TriageLevel)
}

/// How many messages an inbox listing holds, by queue, and how many are past their deadline.
public struct InboxCounts: Sendable, Equatable {
    public var byQueue: [InboxQueue: Int]
    public var overdue: Int

    public var total: Int { byQueue.values.reduce(0, +) }

    /// As for tasks (`TaskFilter.pageSize`): 50 messages a page.
    public static let pageSize = 50
    /// The furthest the inbox pages.
    public static let maxOffset = 10_000

    public init(byQueue: [InboxQueue: Int], overdue: Int) {
        self.byQueue = byQueue
        self.overdue = overdue
    }
}

/// Groups, inbound messages and their handling. Texts, sender names and match reasons are
/// sealed; levels, queues and times stay plain so the inbox can be sorted in SQL.
public struct MessageStore: ContextualStore {
    let context: StoreContext
    let tasks: TaskStore

    // MARK: Groups

    public func createGroup(programID: String, name: String, channel: ContactChannel, binding: String, patientIDs: [String], staffIDs: [String], in sql: (any SQLDatabase)? = nil) async throws -> ChatGroup {
        let group = ChatGroup(id: ids.next(), programID: programID, name: name, channel: channel, binding: binding, createdAt: clock.now())
        do {
            try await database.transaction(joining: sql) { sql in
                try await sql.raw("""
                    INSERT INTO chat_groups (id, program_id, name, channel, binding, created_at)
                    VALUES (\(bind: group.id), \(bind: programID), \(bind: name), \(bind: channel.rawValue), \(bind: binding), \(bind: group.createdAt.epochMilliseconds))
                    """).run()
                for (kind, members) in [("patient", patientIDs), ("staff", staffIDs)] {
                    for member in Set(members) {
                        try await sql.raw("INSERT INTO chat_group_members (group_id, member_kind, member_id) VALUES (\(bind: group.id), \(bind: kind), \(bind: member))").run()
                    }
                }
            }
        } catch where isUniqueViolation(error) {
            throw TendError(kind: .conflict, code: "group_exists", message: .init(en: "A group with this channel binding exists", zh: "该渠道会话已绑定到其他群"), field: "binding")
        }
        return group
    }

    public func groups(programID: String) async throws -> [ChatGroup] {
        try await database.read { sql in
            try await sql.raw("SELECT id, program_id, name, channel, binding, created_at FROM chat_groups WHERE program_id = \(bind: programID) ORDER BY name, id")
                .all().map(Self.group(from:))
        }
    }

    public func group(programID: String, id: String) async throws -> ChatGroup? {
        try await database.read { sql in
            try await sql.raw("SELECT id, program_id, name, channel, binding, created_at FROM chat_groups WHERE program_id = \(bind: programID) AND id = \(bind: id)")
                .first().map(Self.group(from:))
        }
    }

    public func group(programID: String, channel: ContactChannel, binding: String) async throws -> ChatGroup? {
        try await database.session { sql in
            try await sql.raw("""
                SELECT id, program_id, name, channel, binding, created_at FROM chat_groups
                WHERE program_id = \(bind: programID) AND channel = \(bind: channel.rawValue) AND binding = \(bind: binding)
                """).first().map(Self.group(from:))
        }
    }

    static func group(from row: any SQLRow) throws -> ChatGroup {
        ChatGroup(
            id: try row.decode(column: "id", as: String.self), programID: try row.decode(column: "program_id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            channel: ContactChannel(rawValue: try row.decode(column: "channel", as: String.self)) ?? .wecom,
            binding: try row.decode(column: "binding", as: String.self),
            createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }

    // MARK: Messages

    /// Stores a graded message where routing put it; an urgent one also becomes the highest-
    /// priority staff task, for the on-call member when there is one.
    public func receive(programID: String, message: InboundMessage, result: TriageResult, routing: MessageRouting,
                        urgentTitle: LocalizedText, onCallStaffID: String?, actor: AuditActor) async throws -> StoredMessage {
        let now = clock.now()
        let id = ids.next()
        let reasons = String(decoding: try JSONEncoder().encode(result.reasons), as: UTF8.self)
        func seal(_ text: String, _ column: String) throws -> String {
            try cipher.seal(text, for: SealContext(program: programID, table: "messages", column: column, row: id))
        }
        let sealedText = try seal(message.text, "text_enc"), sealedReasons = try seal(reasons, "reasons_enc")
        let sealedSender = try message.senderName.map { try seal($0, "sender_enc") }
        let slaAt = routing.sla.map { now.addingTimeInterval($0) }
        var task: StaffTask?
        if routing.createsTask {
            task = StaffTask(id: "msg.\(id)", programID: programID, patientID: message.patientID, touchpointID: nil, kind: .urgentMessage,
                             title: urgentTitle, priority: .urgent, dueAt: now, slaAt: now.addingTimeInterval(StaffTask.slaWindow(.urgent)),
                             assigneeID: onCallStaffID, createdAt: now)
        }
        let audit = AuditLog(database: database, clock: clock, ids: ids)
        let tasks = self.tasks
        let createdTask = task
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO messages (id, program_id, group_id, patient_id, channel, direction, sender_enc, text_enc, sent_at, received_at, level,
                                      compliance, reasons_enc, queue, status, sla_at, task_id, moved_to_private)
                VALUES (\(bind: id), \(bind: programID), \(bind: message.groupID), \(bind: message.patientID), \(bind: message.channel.rawValue), 'in',
                        \(bind: sealedSender), \(bind: sealedText), \(bind: message.sentAt.epochMilliseconds), \(bind: now.epochMilliseconds), \(bind: result.level.rawValue),
                        \(bind: result.flags.contains(.compliance) ? 1 : 0), \(bind: sealedReasons), \(bind: routing.queue.rawValue), \(bind: routing.status.rawValue),
                        \(bind: slaAt?.epochMilliseconds), \(bind: createdTask?.id), \(bind: routing.movesToPrivate ? 1 : 0))
                """).run()
            if let createdTask { try await tasks.insert(sql, createdTask) }
            if let patientID = message.patientID {
                try await audit.record(.messageReceive, by: actor, program: programID, subject: .patient(patientID), in: sql)
            }
        }
        return StoredMessage(
            id: id, programID: programID, groupID: message.groupID, patientID: message.patientID, channel: message.channel, direction: "in",
            senderName: message.senderName, text: message.text, sentAt: message.sentAt, receivedAt: now, level: result.level,
            compliance: result.flags.contains(.compliance), reasons: result.reasons, queue: routing.queue, status: routing.status, slaAt: slaAt,
            taskID: createdTask?.id, movedToPrivate: routing.movesToPrivate, feedbackLevel: nil, handledBy: nil, handledAt: nil, replyTo: nil)
    }

    static let columns = """
        id, program_id, group_id, patient_id, channel, direction, sender_enc, text_enc, sent_at, received_at, level, compliance, reasons_enc,
        queue, status, sla_at, task_id, moved_to_private, feedback_level, handled_by, handled_at, reply_to
        """

    /// The inbox across every group of the program: urgent first, then moderation, one-to-one
    /// and group questions, each oldest deadline first. One query per queue, in queue order, each
    /// walking `messages_inbox` in deadline order and stopping at what is still wanted, so that a
    /// page reads its own rows and not every open message of the program. A later page
    /// (`offset`) skips the queues it has passed whole, by the listing's counts (`counts`, or counted here).
    public func inbox(programID: String, statuses: [MessageStatus] = [.open], queue: InboxQueue? = nil, groupID: String? = nil,
                      limit: Int = InboxCounts.pageSize, offset: Int = 0, counts: InboxCounts? = nil) async throws -> [StoredMessage] {
        let wanted = max(1, min(limit, 2000))
        let queues = queue.map { [$0] } ?? InboxQueue.allCases.sorted { $0.rank < $1.rank }
        let skipped = max(0, min(offset, InboxCounts.maxOffset))
        let sizes: [InboxQueue: Int]
        if skipped == 0 {
            sizes = [:]
        } else if let counts {
            sizes = counts.byQueue
        } else {
            sizes = try await inboxCounts(programID: programID, statuses: statuses, queue: queue, groupID: groupID).byQueue
        }
        let rows = try await database.read { sql in
            var rows: [any SQLRow] = []
            var skip = skipped
            for queue in queues where rows.count < wanted {
                let size = sizes[queue] ?? 0
                if skip > 0, size <= skip {
                    skip -= size
                    continue
                }
                var query = Self.inboxConditions("SELECT \(unsafeRaw: Self.columns) FROM messages WHERE program_id = ", programID: programID,
                                                 statuses: statuses, groupID: groupID)
                query.appendLiteral(" AND queue = ")
                query.appendInterpolation(bind: queue.rawValue)
                query.appendInterpolation(unsafeRaw: " ORDER BY sla_at, sent_at, id LIMIT \(wanted - rows.count) OFFSET \(skip)")
                skip = 0
                rows += try await sql.raw(query).all()
            }
            return rows
        }
        let reasons = JSONDecoder()
        return try rows.map { try message(from: $0, reasons: reasons) }
    }

    /// How many messages the inbox (or its queue, status or group) holds, by queue, and how many are overdue.
    public func inboxCounts(programID: String, statuses: [MessageStatus] = [.open], queue: InboxQueue? = nil, groupID: String? = nil) async throws -> InboxCounts {
        let now = clock.now().epochMilliseconds
        var query = Self.inboxConditions("SELECT queue, COUNT(*) AS total, COUNT(CASE WHEN status = 'open' AND sla_at < \(bind: now) THEN 1 END) AS overdue FROM messages WHERE program_id = ",
                                         programID: programID, statuses: statuses, groupID: groupID)
        if let queue {
            query.appendLiteral(" AND queue = ")
            query.appendInterpolation(bind: queue.rawValue)
        }
        query.appendLiteral(" GROUP BY queue")
        let finished = query
        let rows = try await database.read { sql in try await sql.raw(finished).all() }
        var counts = InboxCounts(byQueue: [:], overdue: 0)
        for row in rows {
            guard let queue = InboxQueue(rawValue: try row.decode(column: "queue", as: String.self)) else { continue }
            counts.byQueue[queue, default: 0] += try row.decode(column: "total", as: Int.self)
            counts.overdue += try row.decode(column: "overdue", as: Int.self)
        }
        return counts
    }

    /// `prefix` (ending in `program_id = `) with the program, the statuses, inbound only and the group.
    private static func inboxConditions(_ prefix: SQLQueryString, programID: String, statuses: [MessageStatus], groupID: String?) -> SQLQueryString {
        var query = prefix
        query.appendInterpolation(bind: programID)
        query.appendLiteral(" AND status IN (")
        query.appendInterpolation(binds: statuses.map(\.rawValue))
        query.appendLiteral(") AND direction = 'in'")
        if let groupID {
            query.appendLiteral(" AND group_id = ")
            query.appendInterpolation(bind: groupID)
        }
        return query
    }

    public func find(programID: String, id: String) async throws -> StoredMessage? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM messages WHERE program_id = \(bind: programID) AND id = \(bind: id)").first()
        }.map(message(from:))
    }

    /// Archived (social) and handled messages whose text contains the words: texts are sealed,
    /// so the newest `scan` messages are opened and searched here.
    public func search(programID: String, text: String, scan: Int = 5000, limit: Int = 100) async throws -> [StoredMessage] {
        let needle = TextFolding.halfWidth(text).lowercased()
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM messages WHERE program_id = \(bind: programID)
                ORDER BY sent_at DESC, id DESC LIMIT \(unsafeRaw: String(max(1, min(scan, 50_000))))
                """).all()
        }
        var found: [StoredMessage] = []
        for row in rows {
            let message = try message(from: row)
            if TextFolding.contains(TextFolding.halfWidth(message.text).lowercased(), needle) { found.append(message) }
            if found.count == limit { break }
        }
        return found
    }

    /// Applies a staff action; nil when the message is not the program's.
    public func act(programID: String, id: String, action: MessageAction, staffID: String, staffName: String, actor: AuditActor) async throws -> StoredMessage? {
        guard let message = try await find(programID: programID, id: id) else { return nil }
        let now = clock.now().epochMilliseconds
        let replyID = ids.next()
        let audit = AuditLog(database: database, clock: clock, ids: ids)
        let tasks = self.tasks
        var escalation: StaffTask?
        if case .escalate = action, message.taskID == nil {
            let when = clock.now()
            escalation = StaffTask(id: "msg.\(message.id)", programID: programID, patientID: message.patientID, touchpointID: nil, kind: .urgentMessage,
                                   title: LocalizedText(en: "Escalated by \(staffName): \(message.text.prefix(80))", zh: "\(staffName)升级的消息：\(message.text.prefix(80))"),
                                   priority: .urgent, dueAt: when, slaAt: when.addingTimeInterval(StaffTask.slaWindow(.urgent)), createdAt: when)
        }
        let sealedReply: String? = if case .reply(let text) = action {
            try cipher.seal(text, for: SealContext(program: programID, table: "messages", column: "text_enc", row: replyID))
        } else { nil }
        let escalationTask = escalation
        let actionName: AuditAction
        switch action {
        case .reply: actionName = .messageReply
        case .moveToPrivate: actionName = .messageMoveToPrivate
        case .escalate: actionName = .messageEscalate
        case .resolve: actionName = .messageResolve
        case .misgraded: actionName = .messageMisgraded
        }
        try await database.transaction { sql in
            switch action {
            case .reply:
                try await sql.raw("""
                    INSERT INTO messages (id, program_id, group_id, patient_id, channel, direction, text_enc, sent_at, received_at, queue, status, reply_to, handled_by, handled_at)
                    VALUES (\(bind: replyID), \(bind: programID), \(bind: message.movedToPrivate ? nil : message.groupID), \(bind: message.patientID),
                            \(bind: message.channel.rawValue), 'out', \(bind: sealedReply ?? ""), \(bind: now), \(bind: now), \(bind: message.queue.rawValue), 'resolved',
                            \(bind: message.id), \(bind: staffID), \(bind: now))
                    """).run()
                try await sql.raw("""
                    UPDATE messages SET status = 'resolved', handled_by = \(bind: staffID), handled_at = \(bind: now) WHERE id = \(bind: message.id)
                    """).run()
            case .moveToPrivate:
                try await sql.raw("""
                    UPDATE messages SET moved_to_private = 1, queue = CASE WHEN queue = 'urgent' THEN 'urgent' ELSE 'private' END,
                           sla_at = COALESCE(sla_at, \(bind: now + 2 * 3_600_000)) WHERE id = \(bind: message.id)
                    """).run()
            case .escalate:
                if let escalationTask {
                    try await tasks.insert(sql, escalationTask)
                    try await sql.raw("UPDATE messages SET task_id = \(bind: escalationTask.id) WHERE id = \(bind: message.id)").run()
                }
                try await sql.raw("""
                    UPDATE messages SET queue = 'urgent', status = 'open', sla_at = \(bind: now + 15 * 60_000) WHERE id = \(bind: message.id)
                    """).run()
            case .resolve:
                try await sql.raw("""
                    UPDATE messages SET status = 'resolved', handled_by = \(bind: staffID), handled_at = \(bind: now) WHERE id = \(bind: message.id)
                    """).run()
            case .misgraded(let level):
                try await sql.raw("UPDATE messages SET feedback_level = \(bind: level.rawValue) WHERE id = \(bind: message.id)").run()
            }
            try await audit.record(actionName, by: actor, program: programID, patient: message.patientID, otherwise: AuditSubject(type: "message", id: message.id), in: sql)
        }
        return try await find(programID: programID, id: id)
    }

    /// The patient's conversation: what they posted anywhere and what staff answered, oldest first.
    public func thread(programID: String, patientID: String, limit: Int = 100) async throws -> [StoredMessage] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM messages WHERE program_id = \(bind: programID) AND patient_id = \(bind: patientID)
                ORDER BY sent_at DESC, id DESC LIMIT \(unsafeRaw: String(max(1, min(limit, 1000))))
                """).all()
        }.map(message(from:)).reversed()
    }

    /// Messages staff marked as graded wrong, for tuning the rules.
    public func feedback(programID: String, limit: Int = 500) async throws -> [StoredMessage] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM messages WHERE program_id = \(bind: programID) AND feedback_level IS NOT NULL
                ORDER BY sent_at DESC LIMIT \(unsafeRaw: String(max(1, min(limit, 5000))))
                """).all()
        }.map(message(from:))
    }

    func message(from row: any SQLRow) throws -> StoredMessage {
        try message(from: row, reasons: JSONDecoder())
    }

    func message(from row: any SQLRow, reasons decoder: JSONDecoder) throws -> StoredMessage {
        let id = try row.decode(column: "id", as: String.self), programID = try row.decode(column: "program_id", as: String.self)
        func open(_ column: String) throws -> String? {
            try row.decode(column: column, as: String?.self).map { try cipher.open($0, for: SealContext(program: programID, table: "messages", column: column, row: id)) }
        }
        let reasonsJSON = try open("reasons_enc")
        let reasons = reasonsJSON.flatMap { try? decoder.decode([TriageReason].self, from: Data($0.utf8)) } ?? []
        return StoredMessage(
            id: id,
            programID: programID,
            groupID: try row.decode(column: "group_id", as: String?.self),
            patientID: try row.decode(column: "patient_id", as: String?.self),
            channel: ContactChannel(rawValue: try row.decode(column: "channel", as: String.self)) ?? .inApp,
            direction: try row.decode(column: "direction", as: String.self),
            senderName: try open("sender_enc"),
            text: try open("text_enc") ?? "",
            sentAt: Date(epochMilliseconds: try row.decode(column: "sent_at", as: Int64.self)),
            receivedAt: Date(epochMilliseconds: try row.decode(column: "received_at", as: Int64.self)),
            level: try row.decode(column: "level", as: String?.self).flatMap(TriageLevel.init(rawValue:)),
            compliance: try row.decode(column: "compliance", as: Int.self) != 0,
            reasons: reasons,
            queue: InboxQueue(rawValue: try row.decode(column: "queue", as: String.self)) ?? .general,
            status: MessageStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .open,
            slaAt: try row.decode(column: "sla_at", as: Int64?.self).map(Date.init(epochMilliseconds:)),
            taskID: try row.decode(column: "task_id", as: String?.self),
            movedToPrivate: try row.decode(column: "moved_to_private", as: Int.self) != 0,
            feedbackLevel: try row.decode(column: "feedback_level", as: String?.self).flatMap(TriageLevel.init(rawValue:)),
            handledBy: try row.decode(column: "handled_by", as: String?.self),
            handledAt: try row.decode(column: "handled_at", as: Int64?.self).map(Date.init(epochMilliseconds:)),
            replyTo: try row.decode(column: "reply_to", as: String?.self))
    }

    // MARK: Triage settings

    public func settings(programID: String) async throws -> ProgramTriageSettings {
        guard let row = try await database.session({ sql in
            try await sql.raw("SELECT settings FROM triage_settings WHERE program_id = \(bind: programID)").first()
        }) else { return ProgramTriageSettings() }
        return try JSONDecoder().decode(ProgramTriageSettings.self, from: Data(try row.decode(column: "settings", as: String.self).utf8))
    }

    public func saveSettings(programID: String, _ settings: ProgramTriageSettings, in sql: (any SQLDatabase)? = nil) async throws {
        let json = String(decoding: try JSONEncoder().encode(try settings.validated()), as: UTF8.self)
        let now = clock.now().epochMilliseconds
        try await database.on(sql) { sql in
            try await sql.raw("""
                INSERT INTO triage_settings (program_id, settings, updated_at) VALUES (\(bind: programID), \(bind: json), \(bind: now))
                ON CONFLICT (program_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at
                """).run()
        }
    }
}
