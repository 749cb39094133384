import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

struct TaskBody: Encodable {
    let id: String
    let patient_id: String?
    let touchpoint_id: String?
    let kind: String
    let title: String
    let priority: String
    let due_at: Date
    let sla_at: Date
    let overdue: Bool
    let status: String
    let assignee_id: String?
    let outcome: String?
    let note: String?
    let created_at: Date
    let completed_at: Date?
    let completed_by: String?

    init(_ task: StaffTask, locale: AppLocale, now: Date) {
        id = task.id
        patient_id = task.patientID
        touchpoint_id = task.touchpointID
        kind = task.kind.rawValue
        title = task.title.text(in: locale)
        priority = task.priority.rawValue
        due_at = task.dueAt
        sla_at = task.slaAt
        overdue = task.isOverdue(at: now)
        status = task.status.rawValue
        assignee_id = task.assigneeID
        outcome = task.outcome?.rawValue
        note = task.note
        created_at = task.createdAt
        completed_at = task.completedAt
        completed_by = task.completedBy
    }

    static let schema = Schema.object([
        "id": Schema.string, "patient_id": Schema.nullable("string"), "touchpoint_id": Schema.nullable("string"),
        "kind": Schema.enumeration(TaskKind.allCases.map(\.rawValue)), "title": ["type": "string", "description": "In the caller's language"],
        "priority": Schema.enumeration(TaskPriority.allCases.map(\.rawValue)), "due_at": Schema.dateTime,
        "sla_at": ["type": "string", "format": "date-time", "description": "Overdue after this"], "overdue": Schema.boolean,
        "status": Schema.enumeration(TaskStatus.allCases.map(\.rawValue)), "assignee_id": Schema.nullable("string"),
        "outcome": Schema.nullable("string"), "note": Schema.nullable("string"), "created_at": Schema.dateTime,
        "completed_at": Schema.nullable("string"), "completed_by": Schema.nullable("string"),
    ], required: ["id", "kind", "title", "priority", "due_at", "sla_at", "overdue", "status", "created_at"])
}

struct CompleteTaskRequest: Decodable {
    let outcome: String
    let note: String?

    static let schema = InputSchema.object([
        .required("outcome", .values(TaskOutcome.allCases.map(\.rawValue))),
        .optional("note", .nullable(.text(0...2000))),
    ])
}

struct ReassignTaskRequest: Decodable {
    let assignee_id: String?

    static let schema = InputSchema.object([.optional("assignee_id", .nullable(.identifier))], description: "A member of the program, or null for the pool")
}

struct ChannelBody: Encodable {
    let channel: String
    let url_host: String
    let has_secret: Bool
    let format: String?
    let rate_per_minute: Int?

    init(_ config: ChannelConfig) {
        channel = config.channel.rawValue
        url_host = URL(string: config.url)?.host ?? ""
        has_secret = config.secret != nil
        format = config.format?.rawValue
        rate_per_minute = config.effectiveRatePerMinute
    }

    static let schema = Schema.object([
        "channel": Schema.string, "url_host": ["type": "string", "description": "Only the host: URLs of robots are credentials"],
        "has_secret": Schema.boolean, "format": Schema.nullable("string"), "rate_per_minute": Schema.nullable("integer"),
    ], required: ["channel", "url_host", "has_secret"])
}

struct PortalMessageBody: Encodable {
    let id: String
    let touchpoint_id: String?
    let body: String
    let created_at: Date
    let read_at: Date?

    static let schema = Schema.object([
        "id": Schema.string, "touchpoint_id": Schema.nullable("string"), "body": Schema.string,
        "created_at": Schema.dateTime, "read_at": Schema.nullable("string"),
    ], required: ["id", "body", "created_at"])
}

/// Staff tasks, channel settings and the portal inbox.
struct TaskRoutes: Sendable {
    let dependencies: AppDependencies
    private var stores: Stores { dependencies.stores }
    private var access: ProgramAccess { ProgramAccess(stores: stores) }

    private func taskID(_ context: TendRequestContext) throws -> String { try context.parameters.require("task") }

    private var tasks: TaskActions { dependencies.actions.tasks }

    private func respond(_ task: StaffTask, _ context: TendRequestContext) throws -> Response {
        try JSONIO.response(TaskBody(task, locale: context.locale, now: dependencies.clock.now()))
    }

    func endpoints() -> [APIEndpoint] {
        taskEndpoints() + channelReadEndpoints() + ChannelConfig.configurable.map(channelEndpoint)
    }

    /// Staff tasks: list, claim, complete, reassign.
    private func taskEndpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/tasks", operationID: "listTasks",
                summary: "Open tasks, overdue first, then by priority and due time", tag: "tasks",
                query: [
                    .init(name: "mine", schema: .boolean(), description: "Only tasks assigned to the caller or to nobody"),
                    .init(name: "status", schema: .values(TaskStatus.allCases.map(\.rawValue)), description: "Default open"),
                    .init(name: "patient", schema: .identifier, description: "Only this patient's tasks"),
                    .init(name: "limit", schema: .integer(1...1000), description: "At most this many (default 50)"),
                    .init(name: "offset", schema: .integer(0...Int64(TaskStore.maxOffset)), description: "Skip this many first (the pages after the first)"),
                ],
                response: Schema.list(of: "Task"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                var filter = TaskFilter()
                if let status = request.query.get("status") {
                    guard let parsed = TaskStatus(rawValue: status) else {
                        throw TendError.invalid("status", .init(en: "must be open, done or cancelled", zh: "必须是 open、done 或 cancelled"))
                    }
                    filter.statuses = [parsed]
                }
                if request.query.get("mine") == "true" { filter.mineOrPool = grant.identity.user.id }
                filter.patientID = request.query.get("patient")
                filter.limit = request.query.get("limit").flatMap { Int($0) } ?? TaskFilter.pageSize
                filter.offset = request.query.get("offset").flatMap { Int($0) } ?? 0
                let listed = try await tasks.list(programID: grant.program.id, filter: filter, by: context.actor)
                let now = dependencies.clock.now()
                return try JSONIO.response(ItemsBody(items: listed.map { TaskBody($0, locale: context.locale, now: now) }))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/tasks/{task}/claim", operationID: "claimTask",
                summary: "Take the task for yourself", tag: "tasks", response: Schema.ref("Task"), conflicts: true, permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                return try respond(try await tasks.claim(programID: grant.program.id, taskID: try taskID(context), staffID: grant.identity.user.id,
                                                         by: context.actor), context)
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/tasks/{task}/complete", operationID: "completeTask",
                summary: "Close the task with its outcome; a call that reached the patient confirms the touchpoint behind it",
                tag: "tasks", body: .json(CompleteTaskRequest.schema), response: Schema.ref("Task"), conflicts: true, permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(CompleteTaskRequest.self, from: request)
                guard let outcome = TaskOutcome(rawValue: body.outcome) else {
                    throw TendError.invalid("outcome", .init(en: "must be one of \(TaskOutcome.allCases.map(\.rawValue).joined(separator: ", "))",
                                                             zh: "必须是 \(TaskOutcome.allCases.map(\.rawValue).joined(separator: "、")) 之一"))
                }
                return try respond(try await tasks.complete(
                    programID: grant.program.id, taskID: try taskID(context), outcome: outcome, note: body.note, staffID: grant.identity.user.id,
                    by: context.actor), context)
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/tasks/{task}/reassign", operationID: "reassignTask",
                summary: "Give the task to another member, or back to the pool", tag: "tasks",
                body: .json(ReassignTaskRequest.schema), response: Schema.ref("Task"), conflicts: true, permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(ReassignTaskRequest.self, from: request)
                return try respond(try await tasks.reassign(programID: grant.program.id, taskID: try taskID(context), to: body.assignee_id,
                                                            by: context.actor), context)
            },

        ]
    }

    /// The channels configured and what the in-app channel holds for a patient.
    private func channelReadEndpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/channels", operationID: "listChannels",
                summary: "The program's configured channels (in-app is always on); URLs and secrets are not shown",
                tag: "channels", response: Schema.list(of: "Channel"), permission: .manageProgram)
            ) { request, context in
                let grant = try context.requireGrant()
                return try JSONIO.response(ItemsBody(items: try await stores.channels.list(programID: grant.program.id).map(ChannelBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/patients/{patient}/inbox", operationID: "getPortalInbox",
                summary: "The patient's portal inbox (in-app messages), newest first", tag: "messages", response: Schema.list(of: "PortalMessage"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                guard let messages = try await dependencies.actions.reads.portalInbox(
                    programID: grant.program.id, patientID: try context.parameters.require("patient"), by: context.actor) else { throw TendError.notFound("patient") }
                return try JSONIO.response(ItemsBody(items: messages.map {
                    PortalMessageBody(id: $0.id, touchpoint_id: $0.touchpointID, body: $0.body, created_at: $0.createdAt, read_at: $0.readAt)
                }))
            },
        ]
    }

    /// `PUT …/channels/webhook` and its siblings: one operation per channel, as each takes
    /// its own settings.
    private func channelEndpoint(_ channel: ContactChannel) -> APIEndpoint {
        APIEndpoint(operation: APIOperation(
            method: .put, path: "/api/v1/programs/{program}/channels/\(channel.rawValue)", operationID: "setChannel_\(channel.rawValue)",
            summary: "Configure the program's \(channel.rawValue) channel", tag: "channels",
            body: .json(Self.channelSchema(channel, allowing: dependencies.config.outbound)), response: Schema.ref("Channel"), permission: .manageProgram)
        ) { request, context in
            let grant = try context.requireGrant()
            struct Settings: Decodable {
                let url: String
                let secret: String?
                let body_template: String?
                let headers: [String: String]?
                let format: String?
                let rate_per_minute: Int?
            }
            let body = try await JSONIO.decode(Settings.self, from: request)
            let config = ChannelConfig(channel: channel, url: body.url, secret: body.secret, bodyTemplate: body.body_template,
                                       headers: body.headers, format: body.format.flatMap(ChannelConfig.WeComFormat.init(rawValue:)),
                                       ratePerMinute: body.rate_per_minute)
            try await dependencies.actions.programs.setChannel(programID: grant.program.id, config, policy: dependencies.config.outbound, by: context.actor)
            return try JSONIO.response(ChannelBody(config))
        }
    }
}

extension TaskRoutes {
    /// A channel's settings. The URL pattern admits hosts that are names with a dot (checked
    /// again, resolved, at send time) and the operator's allow-listed hosts; address literals
    /// and local names outside the allow-list are refused (docs/operations.md).
    static func channelSchema(_ channel: ContactChannel, allowing policy: OutboundPolicy) -> InputSchema {
        let allowed = policy.allowedHosts.sorted().map { host in
            (host.contains(":") ? "\\[\(host)\\]" : host).replacingOccurrences(of: ".", with: "\\.")
        }
        let name = #"[a-z][a-z0-9-]*(\.[a-z0-9-]+)*\.[a-z][a-z0-9-]*"#
        let hosts = ([name] + allowed).joined(separator: "|")
        let url = InputSchema.Pattern("^https?://(\(hosts))(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@/?-]*)?$")
        let secret = InputSchema.text(16...200, description: "Signs each body (X-Tend-Signature)")
        var properties: [InputSchema.Property] = [
            .required("url", .pattern(url, length: 10...OutboundPolicy.maximumURLLength, description: "http(s) URL of the receiver")),
            channel == .webhook ? .required("secret", secret) : .optional("secret", .nullable(secret)),
            .optional("rate_per_minute", .nullable(.integer(1...10_000))),
        ]
        switch channel {
        case .sms:
            properties += [
                .optional("body_template", .nullable(.pattern(.init(#"\{\{text\}\}"#), length: 8...4000, description: "The body, with {{phone}}, {{text}}, {{idempotency_key}}"))),
                .optional("headers", .nullable(.dictionary(keys: .init(length: 1...64, pattern: .init(#"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"#)),
                                                           values: .pattern(.init(#"^[ -~]*$"#), length: 0...1000), count: 0...20))),
            ]
        case .wecom:
            properties.append(.optional("format", .nullable(.values(ChannelConfig.WeComFormat.allCases.map(\.rawValue)))))
        case .webhook, .voice, .inApp:
            break
        }
        return .object(properties)
    }
}
