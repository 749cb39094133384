import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

struct GroupBody: Encodable {
    let id: String
    let name: String
    let channel: String
    let binding: String
    let created_at: Date

    init(_ group: ChatGroup) {
        id = group.id
        name = group.name
        channel = group.channel.rawValue
        binding = group.binding
        created_at = group.createdAt
    }

    static let schema = Schema.object([
        "id": Schema.string, "name": Schema.string, "channel": Schema.string,
        "binding": ["type": "string", "description": "The channel's id for the conversation"], "created_at": Schema.dateTime,
    ], required: ["id", "name", "channel", "binding", "created_at"])
}

struct CreateGroupRequest: Decodable {
    let name: String
    let channel: String
    let binding: String
    let patient_ids: [String]?
    let staff_ids: [String]?

    static let schema = InputSchema.object([
        .required("name", .text(1...100)),
        .required("channel", .values(ContactChannel.allCases.map(\.rawValue))),
        .required("binding", .text(1...200, description: "The channel's id for the conversation (a WeCom chat id)")),
        .optional("patient_ids", .nullable(.ids())),
        .optional("staff_ids", .nullable(.ids(max: 200))),
    ])
}

struct MessageBody: Encodable {
    let id: String
    let group_id: String?
    let group_name: String?
    let patient_id: String?
    let channel: String
    let direction: String
    let sender_name: String?
    let text: String
    let sent_at: Date
    let received_at: Date
    let level: String?
    let flags: [String]
    let reasons: [TriageReason]
    let queue: String
    let status: String
    let sla_at: Date?
    let overdue: Bool
    let task_id: String?
    let moved_to_private: Bool
    let feedback_level: String?
    let suggestions: [String]

    init(_ message: StoredMessage, groupName: String?, suggestions: [String], now: Date) {
        id = message.id
        group_id = message.groupID
        group_name = groupName
        patient_id = message.patientID
        channel = message.channel.rawValue
        direction = message.direction
        sender_name = message.senderName
        text = message.text
        sent_at = message.sentAt
        received_at = message.receivedAt
        level = message.level?.rawValue
        flags = message.compliance ? [TriageFlag.compliance.rawValue] : []
        reasons = message.reasons
        queue = message.queue.rawValue
        status = message.status.rawValue
        sla_at = message.slaAt
        overdue = message.isOverdue(at: now)
        task_id = message.taskID
        moved_to_private = message.movedToPrivate
        feedback_level = message.feedbackLevel?.rawValue
        self.suggestions = suggestions
    }

    static let schema = Schema.object([
        "id": Schema.string, "group_id": Schema.nullable("string"), "group_name": Schema.nullable("string"), "patient_id": Schema.nullable("string"),
        "channel": Schema.string, "direction": Schema.enumeration(["in", "out"]), "sender_name": Schema.nullable("string"), "text": Schema.string,
        "sent_at": Schema.dateTime, "received_at": Schema.dateTime, "level": Schema.enumeration(TriageLevel.allCases.map(\.rawValue)),
        "flags": Schema.array(Schema.string), "reasons": Schema.array(["type": "object"]),
        "queue": Schema.enumeration(InboxQueue.allCases.map(\.rawValue)), "status": Schema.enumeration(MessageStatus.allCases.map(\.rawValue)),
        "sla_at": Schema.nullable("string"), "overdue": Schema.boolean, "task_id": Schema.nullable("string"), "moved_to_private": Schema.boolean,
        "feedback_level": Schema.nullable("string"), "suggestions": ["type": "array", "items": Schema.string, "description": "Ready answers in the caller's language"],
    ], required: ["id", "channel", "direction", "text", "sent_at", "received_at", "flags", "reasons", "queue", "status", "overdue", "moved_to_private", "suggestions"])
}

struct InboundRequest: Decodable {
    let channel: String
    let group_id: String?
    let group_binding: String?
    let patient_id: String?
    let phone: String?
    let sender_id: String?
    let sender_name: String?
    let text: String
    let sent_at: Date?

    static let schema = InputSchema.needsOneOf(["group_id", "group_binding", "patient_id", "phone", "sender_id"], .object([
        .required("channel", .values(ContactChannel.allCases.map(\.rawValue), description: "Where it came from: wecom, sms, in_app (portal chat) …")),
        .optional("group_id", .identifier),
        .optional("group_binding", .text(1...200, description: "…or the channel's id for the conversation; neither for a one-to-one message")),
        .optional("patient_id", .identifier),
        .optional("phone", .pattern(.phone, length: 5...40, description: "…or a phone number, the patient's or a family member's")),
        .optional("sender_id", .text(1...200, description: "…or the channel's user id, bound with POST …/patients/{id}/identities")),
        .optional("sender_name", .nullable(.text(1...200))),
        .required("text", .text(1...Bounds.textLength)),
        .optional("sent_at", .nullable(.dateTime)),
    ], description: "A group (by id or binding), or a sender (patient id, phone or channel user id), or both"))
}

struct InboundResultBody: Encodable {
    let message: MessageBody
    let confirmed_touchpoint: String?
    let cancelled_escalations: Int

    static let schema = Schema.object([
        "message": Schema.ref("Message"), "confirmed_touchpoint": Schema.nullable("string"), "cancelled_escalations": Schema.integer,
    ], required: ["message", "cancelled_escalations"])
}

struct MessageActionRequest: Decodable {
    let action: String
    let text: String?
    let level: String?

    static let schema = InputSchema.variants(key: "action", [
        .init(values: ["reply"], properties: [.required("text", .text(1...Bounds.textLength))]),
        .init(values: ["move_to_private", "escalate", "resolve"], properties: []),
        .init(values: ["misgraded"], properties: [.required("level", .values(TriageLevel.allCases.map(\.rawValue), description: "The level it should have had"))]),
    ])
}

/// Groups, inbound messages with their grading and routing, the inbox and its actions.
struct InboxRoutes: Sendable {
    let dependencies: AppDependencies
    private var stores: Stores { dependencies.stores }
    private var messages: MessageActions { dependencies.actions.messages }

    /// The messages as the API shows them, with their groups' names and ready answers.
    func bodies(_ found: [StoredMessage], programID: String, locale: AppLocale) async throws -> [MessageBody] {
        let names = Dictionary(uniqueKeysWithValues: try await stores.messages.groups(programID: programID).map { ($0.id, $0.name) })
        let answers = MessageActions.SuggestionIndex(settings: try await stores.messages.settings(programID: programID))
        let now = dependencies.clock.now()
        return found.map { message in
            MessageBody(message, groupName: message.groupID.flatMap { names[$0] }, suggestions: answers.suggestions(for: message, locale: locale), now: now)
        }
    }

    func endpoints() -> [APIEndpoint] {
        groupEndpoints() + inboxEndpoints() + settingsEndpoints()
    }

    /// Groups and the senders matched in them.
    private func groupEndpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/groups", operationID: "createGroup",
                summary: "Create a group bound to a channel conversation", tag: "messages",
                body: .json(CreateGroupRequest.schema), successStatus: 201, response: Schema.ref("Group"), conflicts: true, permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(CreateGroupRequest.self, from: request)
                guard let channel = ContactChannel(rawValue: body.channel) else { throw TendError.invalid("channel", .init(en: "is not a known channel", zh: "不是已知渠道")) }
                let group = try await messages.createGroup(programID: grant.program.id, name: body.name, channel: channel, binding: body.binding,
                                                           patientIDs: body.patient_ids ?? [], staffIDs: body.staff_ids ?? [])
                return try JSONIO.response(GroupBody(group), status: .created)
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/patients/{patient}/identities", operationID: "bindSenderIdentity",
                summary: "Tie a channel's user id (a WeCom userid …) to the patient, so messages from it are matched to them",
                tag: "messages", body: .json(.object([
                    .required("channel", .values(ContactChannel.allCases.map(\.rawValue))),
                    .required("user_id", .text(1...200)),
                ])), successStatus: 204, conflicts: true, permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                struct Binding: Decodable { let channel: String; let user_id: String }
                let body = try await JSONIO.decode(Binding.self, from: request)
                guard let channel = ContactChannel(rawValue: body.channel) else { throw TendError.invalid("channel", .init(en: "is not a known channel", zh: "不是已知渠道")) }
                try await messages.bindIdentity(programID: grant.program.id, patientID: try context.parameters.require("patient"), channel: channel,
                                                userID: body.user_id, by: context.actor)
                return Response(status: .noContent)
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/groups", operationID: "listGroups",
                summary: "The program's groups", tag: "messages", response: Schema.list(of: "Group"), permission: .readProgram)
            ) { _, context in
                let grant = try context.requireGrant()
                return try JSONIO.response(ItemsBody(items: try await stores.messages.groups(programID: grant.program.id).map(GroupBody.init)))
            },

        ]
    }

    /// Messages: arriving, the inbox, search, staff actions.
    private func inboxEndpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/inbound", operationID: "postInbound",
                summary: "A message from a group or a one-to-one conversation: graded, routed to the inbox (urgent ones become a task); a one-to-one reply of 1 / 确认 / confirm confirms the sender's pending request",
                tag: "messages", body: .json(InboundRequest.schema), successStatus: 201, response: Schema.ref("InboundResult"), permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(InboundRequest.self, from: request)
                guard let channel = ContactChannel(rawValue: body.channel) else { throw TendError.invalid("channel", .init(en: "is not a known channel", zh: "不是已知渠道")) }
                let reception = try await messages.receive(programID: grant.program.id, Arrival(
                    channel: channel, groupID: body.group_id, groupBinding: body.group_binding, patientID: body.patient_id, phone: body.phone,
                    senderID: body.sender_id, senderName: body.sender_name, text: body.text, sentAt: body.sent_at), by: context.actor)
                let message = MessageBody(reception.message, groupName: reception.group?.name,
                                          suggestions: MessageActions.suggestions(for: reception.message, settings: reception.settings, locale: context.locale),
                                          now: dependencies.clock.now())
                return try JSONIO.response(InboundResultBody(message: message, confirmed_touchpoint: reception.confirmedTouchpoint,
                                                             cancelled_escalations: reception.cancelledEscalations), status: .created)
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/inbox", operationID: "getInbox",
                summary: "Open messages across the program's groups and one-to-one threads: urgent first, then moderation, private and general, oldest deadline first",
                tag: "messages",
                query: [
                    .init(name: "queue", schema: .values(InboxQueue.allCases.map(\.rawValue)), description: "One queue only"),
                    .init(name: "status", schema: .values(MessageStatus.allCases.map(\.rawValue)), description: "Default open"),
                    .init(name: "group", schema: .identifier, description: "One group only"),
                    .init(name: "limit", schema: .integer(1...2000), description: "At most this many (default 50)"),
                    .init(name: "offset", schema: .integer(0...Int64(InboxCounts.maxOffset)), description: "Skip this many first (the pages after the first)"),
                ],
                response: Schema.list(of: "Message"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let parameters = request.query
                let found = try await messages.inbox(
                    programID: grant.program.id, statuses: [parameters.get("status").flatMap(MessageStatus.init(rawValue:)) ?? .open],
                    queue: parameters.get("queue").flatMap(InboxQueue.init(rawValue:)), groupID: parameters.get("group"),
                    limit: parameters.get("limit").flatMap { Int($0) } ?? InboxCounts.pageSize, offset: parameters.get("offset").flatMap { Int($0) } ?? 0,
                    by: context.actor)
                return try JSONIO.response(ItemsBody(items: try await bodies(found, programID: grant.program.id, locale: context.locale)))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/messages/search", operationID: "searchMessages",
                summary: "Messages (archived ones included) whose text contains the words", tag: "messages",
                query: [.init(name: "q", schema: .text(1...200), description: "The words", required: true)], response: Schema.list(of: "Message"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let found = try await messages.search(programID: grant.program.id, words: request.query.get("q")?.trimmed ?? "", by: context.actor)
                return try JSONIO.response(ItemsBody(items: try await bodies(found, programID: grant.program.id, locale: context.locale)))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/messages/{message}/actions", operationID: "actOnMessage",
                summary: "Reply, move to a one-to-one thread, escalate, resolve, or mark as graded wrong (kept as feedback for the rules)",
                tag: "messages", body: .json(MessageActionRequest.schema), response: Schema.ref("Message"), permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(MessageActionRequest.self, from: request)
                let message = try await messages.act(programID: grant.program.id, messageID: try context.parameters.require("message"),
                                                     try MessageActions.action(body.action, text: body.text, level: body.level), staff: grant.identity.user, by: context.actor)
                return try JSONIO.response(try await bodies([message], programID: grant.program.id, locale: context.locale)[0])
            },

        ]
    }

    /// The program's triage settings.
    private func settingsEndpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/triage/settings", operationID: "getTriageSettings",
                summary: "The program's additions to the shipped triage rules: phrases, thresholds, ready answers, on-call member",
                tag: "messages", response: ["type": "object"], permission: .manageProgram)
            ) { _, context in
                let grant = try context.requireGrant()
                return try JSONIO.response(try await stores.messages.settings(programID: grant.program.id))
            },

            APIEndpoint(operation: APIOperation(
                method: .put, path: "/api/v1/programs/{program}/triage/settings", operationID: "setTriageSettings",
                summary: "Replace the program's triage additions (see docs/triage.md)", tag: "messages",
                body: .json(ProgramTriageSettings.inputSchema), response: ["type": "object"], permission: .manageProgram)
            ) { request, context in
                let grant = try context.requireGrant()
                let settings = try await JSONIO.decode(ProgramTriageSettings.self, from: request)
                try await dependencies.actions.programs.setTriageSettings(programID: grant.program.id, settings, by: context.actor)
                return try JSONIO.response(try await stores.messages.settings(programID: grant.program.id))
            },
        ]
    }
}

extension ProgramTriageSettings {
    /// The ranges keep every pair in order (a low glucose threshold is always below a high one),
    /// so any body the document allows is one the classifier can use.
    static let inputSchema = InputSchema.object([
        .optional("thresholds", .nullable(.object([
            .optional("glucose_low", .number(TriageThresholds.glucoseLowRange, description: "mmol/L; below it is urgent")),
            .optional("glucose_high", .number(TriageThresholds.glucoseHighRange, description: "mmol/L; from it on is urgent")),
            .optional("temperature", .number(TriageThresholds.temperatureRange, description: "°C; from it on is urgent")),
            .optional("oxygen_saturation", .number(TriageThresholds.oxygenRange, description: "%; below it is urgent")),
            .optional("systolic", .number(TriageThresholds.systolicRange, description: "mmHg; from it on is urgent")),
            .optional("diastolic", .number(TriageThresholds.diastolicRange, description: "mmHg; from it on is urgent")),
        ]))),
        .optional("phrases", .nullable(.dictionary(
            keys: .init(length: 2...7, values: AppLocale.allCases.map(\.rawValue)),
            values: .array(.needsOneOf(["level", "flag"], .object([
                .required("id", .pattern(.identifier, length: 1...64)),
                .optional("level", .values(TriageLevel.allCases.map(\.rawValue))),
                .optional("flag", .values(TriageFlag.allCases.map(\.rawValue))),
                .required("phrases", .array(.text(1...100), count: 1...100)),
                .optional("negatable", .nullable(.boolean())),
            ])), count: 0...200),
            count: 0...2, description: "Extra phrase rules by language"))),
        .optional("answers", .nullable(.array(.object([
            .required("id", .pattern(.identifier, length: 1...64)),
            .required("keywords", .array(.text(1...50), count: 1...20)),
            .required("answer", .object([.required("en", .text(1...2000)), .required("zh", .text(1...2000))])),
            .optional("private", .nullable(.boolean())),
        ]), count: 0...200))),
        .optional("on_call_staff_id", .nullable(.identifier)),
    ])
}
