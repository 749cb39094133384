import Foundation
import Hummingbird
import TendCore
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

    static let schema = InputSchema.object([
        .required("channel", .values(ContactChannel.allCases.map(\.rawValue), description: "Where it came from: wecom, sms, in_app (portal chat) …")),
        .optional("group_id", .nullable(.identifier)),
        .optional("group_binding", .nullable(.text(1...200, description: "…or the channel's id for the conversation; neither for a one-to-one message"))),
        .optional("patient_id", .nullable(.identifier)),
        .optional("phone", .nullable(.pattern(.phone, length: 5...40, description: "…or a phone number, the patient's or a family member's"))),
        .optional("sender_id", .nullable(.text(1...200, description: "…or the channel's user id, bound with POST …/patients/{id}/identities"))),
        .optional("sender_name", .nullable(.text(1...200))),
        .required("text", .text(1...Bounds.textLength)),
        .optional("sent_at", .nullable(.dateTime)),
    ])
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
    private var access: ProgramAccess { ProgramAccess(stores: stores) }

    /// Reads the inbound body, finds group and sender, grades, routes and stores it; a one-to-one
    /// "1" / "确认" / "confirm" also confirms the sender's pending request.
    func receive(_ grant: ProgramAccess.Grant, _ body: InboundRequest, requestID: String, locale: AppLocale) async throws -> InboundResultBody {
        let programID = grant.program.id
        guard let channel = ContactChannel(rawValue: body.channel) else {
            throw TendError.invalid("channel", .init(en: "is not a known channel", zh: "不是已知渠道"))
        }
        let text = try Validate.text(body.text, field: "text", maxLength: Bounds.textLength)
        let sentAt = try body.sent_at.map { (date) throws(TendError) in try Validate.instant(date, field: "sent_at") }
        let actor = grant.auditActor(requestID: requestID)
        var group: ChatGroup?
        if let id = body.group_id {
            guard let found = try await stores.messages.group(programID: programID, id: id) else { throw TendError.notFound("group") }
            group = found
        } else if let binding = body.group_binding {
            guard let found = try await stores.messages.group(programID: programID, channel: channel, binding: binding) else {
                throw TendError.invalid("group_binding", .init(en: "no group of this program is bound to it", zh: "本项目没有绑定该会话的群"))
            }
            group = found
        }
        var patient: Patient?
        var relation: String?
        if let id = body.patient_id {
            guard let found = try await stores.patients.fetch(programID: programID, ids: [id]).first else { throw TendError.notFound("patient") }
            patient = found
        } else if body.phone != nil || body.sender_id != nil {
            if let match = try await stores.patients.matchSender(programID: programID, phone: body.phone, channel: channel, userID: body.sender_id) {
                patient = try await stores.patients.fetch(programID: programID, ids: [match.patientID]).first
                relation = match.relation
            }
            if patient == nil && group == nil { throw TendError.notFound("patient") }
        }
        guard group != nil || patient != nil else { throw TendError.missing("patient_id") }
        // A family member writing: the message is about the patient, from them.
        var senderName = body.sender_name
        if senderName == nil, let relation, let patient { senderName = "\(patient.profile.name)的\(relation) / \(relation) of \(patient.profile.name)" }

        let (stored, settings) = try await Self.intake(
            stores: stores, classifiers: dependencies.classifiers, programID: programID, group: group, patient: patient, channel: channel,
            senderName: senderName, text: text, sentAt: sentAt ?? dependencies.clock.now(), actor: actor)
        if stored.taskID != nil {
            dependencies.logger.notice("urgent message routed to on-call staff", metadata: ["program": "\(grant.program.slug)", "message": "\(stored.id)"])
        }
        var confirmed: String?
        var cancelled = 0
        if group == nil, let patient, relation == nil, ConfirmationReply.isConfirmation(text),
           let pending = try await stores.confirmations.pendingRequest(programID: programID, patientID: patient.id) {
            if case .confirmed(let id, let count) = try await stores.confirmations.confirm(programID: programID, touchpointID: pending, via: .reply, actor: actor) {
                confirmed = id
                cancelled = count
            }
        }
        return InboundResultBody(message: self.body(stored, group: group?.name, settings: settings, locale: locale),
                                 confirmed_touchpoint: confirmed, cancelled_escalations: cancelled)
    }

    /// Grades a message with the program's rules, routes it and stores it (the API and the demo
    /// seed both come through here).
    static func intake(stores: Stores, classifiers: ClassifierCache, programID: String, group: ChatGroup?, patient: Patient?, channel: ContactChannel,
                       senderName: String?, text: String, sentAt: Date, actor: AuditActor) async throws -> (StoredMessage, ProgramTriageSettings) {
        let settings = try await stores.messages.settings(programID: programID)
        let classifier = classifiers.classifier(programID: programID, settings: settings)
        let hasHan = text.unicodeScalars.contains { $0.value >= 0x4E00 && $0.value <= 0x9FFF }
        let result = classifier.classify(text, locale: patient?.profile.locale ?? (hasHan ? .zhHans : .en))
        let routing = MessageRouting.route(result, inGroup: group != nil)
        let sender = senderName ?? patient?.profile.name ?? "?"
        let place = group?.name ?? "1:1"
        let title = LocalizedText(en: "Urgent message from \(sender) (\(place)): \(text.prefix(80))",
                                  zh: "紧急消息：\(sender)（\(place)）：\(text.prefix(80))")
        let stored = try await stores.messages.receive(
            programID: programID,
            message: InboundMessage(channel: channel, groupID: group?.id, patientID: patient?.id, senderName: senderName ?? patient?.profile.name, text: text, sentAt: sentAt),
            result: result, routing: routing, urgentTitle: title, onCallStaffID: settings.onCallStaffID, actor: actor)
        return (stored, settings)
    }

    func body(_ message: StoredMessage, group: String?, settings: ProgramTriageSettings, locale: AppLocale) -> MessageBody {
        let answers = (settings.answers ?? []) + TriageDefaults.answers
        let privateThread = message.queue == .private || message.movedToPrivate
        let suggestions = message.queue == .social ? [] : KnowledgeBase.suggest(message.text, answers: answers, privateThread: privateThread).map { $0.answer.text(in: locale) }
        return MessageBody(message, groupName: group, suggestions: suggestions, now: dependencies.clock.now())
    }

    func groupNames(_ programID: String) async throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try await stores.messages.groups(programID: programID).map { ($0.id, $0.name) })
    }

    static func action(_ body: MessageActionRequest) throws -> MessageAction {
        switch body.action {
        case "reply":
            guard let text = body.text?.trimmed, !text.isEmpty else { throw TendError.missing("text") }
            guard text.count <= 4000 else { throw TendError.invalid("text", .init(en: "must be at most 4000 characters", zh: "最多 4000 个字符")) }
            return .reply(text)
        case "move_to_private": return .moveToPrivate
        case "escalate": return .escalate
        case "resolve": return .resolve
        case "misgraded":
            guard let level = body.level.flatMap(TriageLevel.init(rawValue:)) else {
                throw TendError.invalid("level", .init(en: "must be urgent, private, general or social", zh: "必须是 urgent、private、general 或 social"))
            }
            return .misgraded(level)
        default:
            throw TendError.invalid("action", .init(en: "must be reply, move_to_private, escalate, resolve or misgraded", zh: "操作无效"))
        }
    }

    func endpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/groups", operationID: "createGroup",
                summary: "Create a group bound to a channel conversation", tag: "messages",
                body: .json(CreateGroupRequest.schema), successStatus: 201, response: Schema.ref("Group"), conflicts: true, permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(CreateGroupRequest.self, from: request)
                guard !body.name.trimmed.isEmpty, body.name.count <= 100 else {
                    throw TendError.invalid("name", .init(en: "must be 1 to 100 characters", zh: "必须为 1–100 个字符"))
                }
                guard let channel = ContactChannel(rawValue: body.channel) else {
                    throw TendError.invalid("channel", .init(en: "is not a known channel", zh: "不是已知渠道"))
                }
                guard !body.binding.trimmed.isEmpty, body.binding.count <= 200 else {
                    throw TendError.invalid("binding", .init(en: "must be 1 to 200 characters", zh: "必须为 1–200 个字符"))
                }
                // Compared as sets: a repeated id of this program must not make room for one of another.
                let patientIDs = Array(Set(body.patient_ids ?? [])).sorted()
                if !patientIDs.isEmpty, Set(try await stores.patients.fetch(programID: grant.program.id, ids: patientIDs).map(\.id)) != Set(patientIDs) {
                    throw TendError.notFound("patient")
                }
                let staffIDs = Array(Set(body.staff_ids ?? [])).sorted()
                let members = Set(try await stores.staff.members(programID: grant.program.id).map(\.user.id))
                guard Set(staffIDs).isSubset(of: members) else { throw TendError.notFound("staff member") }
                let group = try await stores.messages.createGroup(programID: grant.program.id, name: body.name.trimmed, channel: channel,
                                                                  binding: body.binding.trimmed, patientIDs: patientIDs, staffIDs: staffIDs)
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
                guard let channel = ContactChannel(rawValue: body.channel) else {
                    throw TendError.invalid("channel", .init(en: "is not a known channel", zh: "不是已知渠道"))
                }
                guard !body.user_id.trimmed.isEmpty, body.user_id.count <= 200 else {
                    throw TendError.invalid("user_id", .init(en: "must be 1 to 200 characters", zh: "必须为 1–200 个字符"))
                }
                let patientID = try context.parameters.require("patient")
                guard try await stores.patients.fetch(programID: grant.program.id, ids: [patientID]).first != nil else { throw TendError.notFound("patient") }
                try await stores.patients.bindChannelUser(programID: grant.program.id, patientID: patientID, channel: channel, userID: body.user_id,
                                                          actor: grant.auditActor(requestID: context.requestID))
                return Response(status: .noContent)
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/groups", operationID: "listGroups",
                summary: "The program's groups", tag: "messages", response: Schema.list(of: "Group"), permission: .readProgram)
            ) { request, context in
                let grant = try context.requireGrant()
                return try JSONIO.response(ItemsBody(items: try await stores.messages.groups(programID: grant.program.id).map(GroupBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/inbound", operationID: "postInbound",
                summary: "A message from a group or a one-to-one conversation: graded, routed to the inbox (urgent ones become a task); a one-to-one reply of 1 / 确认 / confirm confirms the sender's pending request",
                tag: "messages", body: .json(InboundRequest.schema), successStatus: 201, response: Schema.ref("InboundResult"), permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(InboundRequest.self, from: request)
                return try JSONIO.response(try await receive(grant, body, requestID: context.requestID, locale: context.locale), status: .created)
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/inbox", operationID: "getInbox",
                summary: "Open messages across the program's groups and one-to-one threads: urgent first, then moderation, private and general, oldest deadline first",
                tag: "messages",
                query: [
                    .init(name: "queue", schema: .values(InboxQueue.allCases.map(\.rawValue)), description: "One queue only"),
                    .init(name: "status", schema: .values(MessageStatus.allCases.map(\.rawValue)), description: "Default open"),
                    .init(name: "group", schema: .identifier, description: "One group only"),
                    .init(name: "limit", schema: .integer(1...2000), description: "At most this many (default 200)"),
                ],
                response: Schema.list(of: "Message"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let parameters = request.uri.queryParameters
                var queue: InboxQueue?
                if let text = parameters.get("queue") {
                    guard let parsed = InboxQueue(rawValue: text) else { throw TendError.invalid("queue", .init(en: "is not a queue", zh: "不是有效队列")) }
                    queue = parsed
                }
                var statuses: [MessageStatus] = [.open]
                if let text = parameters.get("status") {
                    guard let parsed = MessageStatus(rawValue: text) else { throw TendError.invalid("status", .init(en: "must be open, resolved or archived", zh: "必须是 open、resolved 或 archived")) }
                    statuses = [parsed]
                }
                var limit = 200
                if let text = parameters.get("limit") {
                    guard let parsed = Int(text), (1...2000).contains(parsed) else { throw TendError.invalid("limit", .init(en: "must be 1 to 2000", zh: "必须为 1–2000")) }
                    limit = parsed
                }
                let messages = try await stores.messages.inbox(programID: grant.program.id, statuses: statuses, queue: queue, groupID: parameters.get("group"), limit: limit)
                let names = try await groupNames(grant.program.id)
                let settings = try await stores.messages.settings(programID: grant.program.id)
                try await stores.audit.record(.init(programID: grant.program.id, actorID: grant.identity.user.id, actorKind: grant.identity.actorKind,
                                                    action: "inbox.read", subjectType: "program", subjectID: grant.program.id, requestID: context.requestID))
                return try JSONIO.response(ItemsBody(items: messages.map { body($0, group: $0.groupID.flatMap { names[$0] }, settings: settings, locale: context.locale) }))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/messages/search", operationID: "searchMessages",
                summary: "Messages (archived ones included) whose text contains the words", tag: "messages",
                query: [.init(name: "q", schema: .text(1...200), description: "The words", required: true)], response: Schema.list(of: "Message"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                guard let words = request.uri.queryParameters.get("q")?.trimmed, !words.isEmpty else { throw TendError.missing("q") }
                let found = try await stores.messages.search(programID: grant.program.id, text: words)
                let names = try await groupNames(grant.program.id)
                let settings = try await stores.messages.settings(programID: grant.program.id)
                try await stores.audit.record(.init(programID: grant.program.id, actorID: grant.identity.user.id, actorKind: grant.identity.actorKind,
                                                    action: "messages.search", subjectType: "program", subjectID: grant.program.id, requestID: context.requestID))
                return try JSONIO.response(ItemsBody(items: found.map { body($0, group: $0.groupID.flatMap { names[$0] }, settings: settings, locale: context.locale) }))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/messages/{message}/actions", operationID: "actOnMessage",
                summary: "Reply, move to a one-to-one thread, escalate, resolve, or mark as graded wrong (kept as feedback for the rules)",
                tag: "messages", body: .json(MessageActionRequest.schema), response: Schema.ref("Message"), permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(MessageActionRequest.self, from: request)
                let action = try Self.action(body)
                guard let message = try await stores.messages.act(
                    programID: grant.program.id, id: try context.parameters.require("message"), action: action,
                    staffID: grant.identity.user.id, staffName: grant.identity.user.displayName, actor: grant.auditActor(requestID: context.requestID)) else {
                    throw TendError.notFound("message")
                }
                let names = try await groupNames(grant.program.id)
                return try JSONIO.response(self.body(message, group: message.groupID.flatMap { names[$0] },
                                                     settings: try await stores.messages.settings(programID: grant.program.id), locale: context.locale))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/triage/settings", operationID: "getTriageSettings",
                summary: "The program's additions to the shipped triage rules: phrases, thresholds, ready answers, on-call member",
                tag: "messages", response: ["type": "object"], permission: .manageProgram)
            ) { request, context in
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
                if let staff = settings.onCallStaffID, try await stores.staff.role(userID: staff, programID: grant.program.id) == nil {
                    throw TendError.notFound("staff member")
                }
                try await stores.messages.saveSettings(programID: grant.program.id, settings)
                try await stores.audit.record(.init(programID: grant.program.id, actorID: grant.identity.user.id, actorKind: grant.identity.actorKind,
                                                    action: "triage.settings", subjectType: "program", subjectID: grant.program.id, requestID: context.requestID))
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
