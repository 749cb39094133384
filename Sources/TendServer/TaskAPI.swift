import Foundation
import Hummingbird
import TendCore
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

    static let schema = Schema.object([
        "outcome": Schema.enumeration(TaskOutcome.allCases.map(\.rawValue)),
        "note": Schema.string,
    ], required: ["outcome"])
}

struct ReassignTaskRequest: Decodable {
    let assignee_id: String?

    static let schema = Schema.object(["assignee_id": ["type": ["string", "null"], "description": "A member of the program, or null for the pool"]], required: [])
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

    private func respond(_ task: StaffTask?, _ context: TendRequestContext) throws -> Response {
        guard let task else { throw TendError.notFound("task") }
        return try JSONIO.response(TaskBody(task, locale: context.locale, now: dependencies.clock.now()))
    }

    func endpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/tasks", operationID: "listTasks",
                summary: "Open tasks, overdue first, then by priority and due time", tag: "tasks",
                query: [
                    .init(name: "mine", schema: Schema.boolean, description: "Only tasks assigned to the caller or to nobody"),
                    .init(name: "status", schema: Schema.enumeration(TaskStatus.allCases.map(\.rawValue)), description: "Default open"),
                    .init(name: "patient", schema: Schema.string, description: "Only this patient's tasks"),
                ],
                response: Schema.list(of: "Task"))
            ) { request, context in
                let grant = try await access.require(.readPatients, for: request, context: context)
                var filter = TaskFilter()
                if let status = request.uri.queryParameters.get("status") {
                    guard let parsed = TaskStatus(rawValue: status) else {
                        throw TendError.invalid("status", .init(en: "must be open, done or cancelled", zh: "必须是 open、done 或 cancelled"))
                    }
                    filter.statuses = [parsed]
                }
                if request.uri.queryParameters.get("mine") == "true" { filter.mineOrPool = grant.identity.user.id }
                filter.patientID = request.uri.queryParameters.get("patient")
                let tasks = try await stores.tasks.list(programID: grant.program.id, filter: filter)
                let now = dependencies.clock.now()
                return try JSONIO.response(ItemsBody(items: tasks.map { TaskBody($0, locale: context.locale, now: now) }))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/tasks/{task}/claim", operationID: "claimTask",
                summary: "Take the task for yourself", tag: "tasks", response: Schema.ref("Task"))
            ) { request, context in
                let grant = try await access.require(.writePatients, for: request, context: context)
                return try respond(try await stores.tasks.claim(programID: grant.program.id, id: try taskID(context), staffID: grant.identity.user.id,
                                                                actor: grant.auditActor(requestID: context.requestID)), context)
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/tasks/{task}/complete", operationID: "completeTask",
                summary: "Close the task with its outcome; a call that reached the patient confirms the touchpoint behind it",
                tag: "tasks", requestBody: CompleteTaskRequest.schema, response: Schema.ref("Task"))
            ) { request, context in
                let grant = try await access.require(.writePatients, for: request, context: context)
                let body = try await JSONIO.decode(CompleteTaskRequest.self, from: request)
                guard let outcome = TaskOutcome(rawValue: body.outcome) else {
                    throw TendError.invalid("outcome", .init(en: "must be one of \(TaskOutcome.allCases.map(\.rawValue).joined(separator: ", "))",
                                                             zh: "必须是 \(TaskOutcome.allCases.map(\.rawValue).joined(separator: "、")) 之一"))
                }
                if let note = body.note, note.count > 2000 {
                    throw TendError.invalid("note", .init(en: "must be at most 2000 characters", zh: "最多 2000 个字符"))
                }
                return try respond(try await stores.tasks.complete(
                    programID: grant.program.id, id: try taskID(context), outcome: outcome, note: body.note, staffID: grant.identity.user.id,
                    actor: grant.auditActor(requestID: context.requestID), confirmations: stores.confirmations), context)
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/tasks/{task}/reassign", operationID: "reassignTask",
                summary: "Give the task to another member, or back to the pool", tag: "tasks",
                requestBody: ReassignTaskRequest.schema, response: Schema.ref("Task"))
            ) { request, context in
                let grant = try await access.require(.writePatients, for: request, context: context)
                let body = try await JSONIO.decode(ReassignTaskRequest.self, from: request)
                if let assignee = body.assignee_id, try await stores.staff.role(userID: assignee, programID: grant.program.id) == nil {
                    throw TendError.invalid("assignee_id", .init(en: "is not a member of this program", zh: "不是本项目成员"))
                }
                return try respond(try await stores.tasks.reassign(programID: grant.program.id, id: try taskID(context), to: body.assignee_id,
                                                                   actor: grant.auditActor(requestID: context.requestID)), context)
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/channels", operationID: "listChannels",
                summary: "The program's configured channels (in-app is always on); URLs and secrets are not shown",
                tag: "channels", response: Schema.list(of: "Channel"))
            ) { request, context in
                let grant = try await access.require(.manageProgram, for: request, context: context)
                return try JSONIO.response(ItemsBody(items: try await stores.channels.list(programID: grant.program.id).map(ChannelBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .put, path: "/api/v1/programs/{program}/channels/{channel}", operationID: "setChannel",
                summary: "Configure webhook, wecom, sms or voice for the program", tag: "channels",
                requestBody: ["type": "object", "description": "url, secret, body_template, headers, format, rate_per_minute"],
                response: Schema.ref("Channel"))
            ) { request, context in
                let grant = try await access.require(.manageProgram, for: request, context: context)
                let name = try context.parameters.require("channel")
                guard let channel = ContactChannel(rawValue: name), ChannelConfig.configurable.contains(channel) else {
                    throw TendError.invalid("channel", .init(en: "must be one of webhook, wecom, sms, voice", zh: "必须是 webhook、wecom、sms 或 voice"))
                }
                struct Settings: Decodable {
                    let url: String
                    let secret: String?
                    let body_template: String?
                    let headers: [String: String]?
                    let format: String?
                    let rate_per_minute: Int?
                }
                let body = try await JSONIO.decode(Settings.self, from: request)
                var format: ChannelConfig.WeComFormat?
                if let text = body.format {
                    guard let parsed = ChannelConfig.WeComFormat(rawValue: text) else {
                        throw TendError.invalid("format", .init(en: "must be text or markdown", zh: "必须是 text 或 markdown"))
                    }
                    format = parsed
                }
                let config = ChannelConfig(channel: channel, url: body.url, secret: body.secret, bodyTemplate: body.body_template,
                                           headers: body.headers, format: format, ratePerMinute: body.rate_per_minute)
                try await stores.channels.set(programID: grant.program.id, config)
                try await stores.audit.record(.init(programID: grant.program.id, actorID: grant.identity.user.id, actorKind: grant.identity.actorKind,
                                                    action: "channel.set", subjectType: "channel", subjectID: channel.rawValue, requestID: context.requestID))
                return try JSONIO.response(ChannelBody(config))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/patients/{patient}/inbox", operationID: "getPortalInbox",
                summary: "The patient's portal inbox (in-app messages), newest first", tag: "messages", response: Schema.list(of: "PortalMessage"))
            ) { request, context in
                let grant = try await access.require(.readPatients, for: request, context: context)
                let patientID = try context.parameters.require("patient")
                guard try await stores.patients.fetch(programID: grant.program.id, ids: [patientID]).first != nil else { throw TendError.notFound("patient") }
                try await stores.audit.record(.init(programID: grant.program.id, actorID: grant.identity.user.id, actorKind: grant.identity.actorKind,
                                                    action: "patient.inbox.read", subjectType: "patient", subjectID: patientID, requestID: context.requestID))
                let messages = try await stores.channels.inbox(programID: grant.program.id, patientID: patientID)
                return try JSONIO.response(ItemsBody(items: messages.map {
                    PortalMessageBody(id: $0.id, touchpoint_id: $0.touchpointID, body: $0.body, created_at: $0.createdAt, read_at: $0.readAt)
                }))
            },
        ]
    }
}
