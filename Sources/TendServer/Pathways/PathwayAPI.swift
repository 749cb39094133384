import Foundation
import Hummingbird
import TendCore
import TendFormats
import TendEngine
import TendStore

struct PathwayStepBody: Encodable {
    let id: String
    let anchor: String
    let offset: String
    let at: String
    let window: String
    let repeat_every: String?
    let repeat_count: Int?
    let repeat_for: String?
    let open_ended: Bool
    let channels: [String]
    let kind: String
    let text: LocalizedText
    let confirm: Bool
    let questionnaire: String?
    let if_unconfirmed: String?
    let only_tags: [String]

    init(_ step: PathwayStep) {
        id = step.id
        anchor = step.anchor
        offset = step.offset.description
        at = step.at.description
        window = step.timing.rawValue
        repeat_every = step.recurrence?.every.description
        if case .count(let count) = step.recurrence?.limit { repeat_count = count } else { repeat_count = nil }
        if case .span(let span) = step.recurrence?.limit { repeat_for = span.description } else { repeat_for = nil }
        if case .openEnded = step.recurrence?.limit { open_ended = true } else { open_ended = false }
        channels = step.channels.map(\.rawValue)
        switch step.action {
        case .message(let text): kind = "message"; self.text = text
        case .task(let text, _): kind = "task"; self.text = text
        }
        confirm = step.confirm
        questionnaire = step.questionnaire
        if_unconfirmed = step.ifUnconfirmed
        only_tags = step.onlyTags.map(\.text)
    }
}

struct PathwayBody: Encodable {
    let id: String
    let pathway: String
    let version: Int
    let name: LocalizedText
    let anchors: [String]
    let steps: [PathwayStepBody]
    let created_at: Date

    init(_ stored: StoredPathway) {
        id = stored.id
        pathway = stored.pathway.id
        version = stored.pathway.version
        name = stored.pathway.name
        anchors = stored.pathway.allAnchors
        steps = stored.pathway.steps.map(PathwayStepBody.init)
        created_at = stored.createdAt
    }

    static let schema = Schema.object([
        "id": Schema.string, "pathway": Schema.string, "version": Schema.integer,
        "name": Schema.object(["en": Schema.string, "zh": Schema.string], required: ["en", "zh"]),
        "anchors": Schema.array(Schema.string), "steps": Schema.array(["type": "object"]), "created_at": Schema.dateTime,
    ], required: ["id", "pathway", "version", "name", "anchors", "steps", "created_at"])
}

struct EnrolmentBody: Encodable {
    let id: String
    let patient_id: String
    let pathway_id: String
    let anchors: [String: String]
    let status: String
    let planned_until: String
    let created_at: Date
    let updated_at: Date

    init(_ enrolment: Enrolment) {
        id = enrolment.id
        patient_id = enrolment.patientID
        pathway_id = enrolment.pathwayID
        anchors = enrolment.anchors.mapValues(\.description)
        status = enrolment.status.rawValue
        planned_until = enrolment.plannedUntil.description
        created_at = enrolment.createdAt
        updated_at = enrolment.updatedAt
    }

    static let schema = Schema.object([
        "id": Schema.string, "patient_id": Schema.string, "pathway_id": Schema.string,
        "anchors": ["type": "object", "additionalProperties": ["type": "string", "format": "date"]],
        "status": Schema.enumeration(EnrolmentStatus.allCases.map(\.rawValue)), "planned_until": ["type": "string", "format": "date"],
        "created_at": Schema.dateTime, "updated_at": Schema.dateTime,
    ], required: ["id", "patient_id", "pathway_id", "anchors", "status", "planned_until", "created_at", "updated_at"])
}

struct TouchpointBody: Encodable {
    let id: String
    let enrolment_id: String
    let step_id: String
    let occurrence: Int
    let due_at: Date
    let local_due: String
    let channels: [String]
    let kind: String
    let confirm: Bool
    let if_unconfirmed: String?
    let status: String
    let attempts: Int
    let channel: String?
    let last_error: String?
    let sent_at: Date?
    let confirmed_at: Date?

    init(_ touchpoint: Touchpoint) {
        id = touchpoint.id
        enrolment_id = touchpoint.enrolmentID
        step_id = touchpoint.stepID
        occurrence = touchpoint.occurrence
        due_at = touchpoint.dueAt
        local_due = touchpoint.localDue
        channels = touchpoint.channels.map(\.rawValue)
        kind = touchpoint.isTask ? "task" : "message"
        confirm = touchpoint.confirm
        if_unconfirmed = touchpoint.ifUnconfirmed
        status = touchpoint.status.rawValue
        attempts = touchpoint.attempts
        channel = touchpoint.channel?.rawValue
        last_error = touchpoint.lastError
        sent_at = touchpoint.sentAt
        confirmed_at = touchpoint.confirmedAt
    }

    static let schema = Schema.object([
        "id": ["type": "string", "description": "Also the idempotency key of every send"], "enrolment_id": Schema.string,
        "step_id": Schema.string, "occurrence": Schema.integer, "due_at": Schema.dateTime,
        "local_due": ["type": "string", "description": "Wall-clock time in the patient's zone"], "channels": Schema.array(Schema.string),
        "kind": Schema.enumeration(["message", "task"]), "confirm": Schema.boolean, "if_unconfirmed": Schema.nullable("string"),
        "status": Schema.enumeration(TouchpointStatus.allCases.map(\.rawValue)), "attempts": Schema.integer,
        "channel": ["type": ["string", "null"], "description": "The channel it went out on (or was last tried)"],
        "last_error": Schema.nullable("string"), "sent_at": Schema.nullable("string"), "confirmed_at": Schema.nullable("string"),
    ], required: ["id", "enrolment_id", "step_id", "occurrence", "due_at", "local_due", "channels", "kind", "confirm", "status", "attempts"])
}

struct EnrolRequest: Decodable {
    let pathway: String
    let patient_id: String?
    let tags: String?
    let any_tags: String?
    let not_tags: String?
    let anchors: [String: String]?

    static let schema = InputSchema.needsOneOf(["patient_id", "tags", "any_tags"], .object([
        .required("pathway", .pattern(.slug, length: 2...48, description: "The pathway id (its newest version is used)")),
        .optional("patient_id", .identifier),
        .optional("tags", .tagFilter),
        .optional("any_tags", .tagFilter),
        .optional("not_tags", .nullable(.tagFilter)),
        .optional("anchors", .nullable(.dictionary(keys: .init(length: 1...40, pattern: .init(#"^[a-z0-9_]+$"#)), values: .date, count: 0...20,
                                                   description: "Anchor dates, e.g. {\"revisit\": \"2026-12-03\"}; enrolment defaults to today"))),
    ], description: "patient_id enrols one patient; otherwise tags or any_tags pick every active patient who has them"))
}

struct EnrolResultBody: Encodable {
    let enrolled: Int
    let touchpoints: Int
    let enrolment_ids: [String]

    static let schema = Schema.object(["enrolled": Schema.integer, "touchpoints": Schema.integer, "enrolment_ids": Schema.array(Schema.string)], required: ["enrolled", "touchpoints", "enrolment_ids"])
}

struct MoveAnchorRequest: Decodable {
    let anchor: String
    let date: String

    static let schema = InputSchema.object([
        .required("anchor", .pattern(.init(#"^[a-z0-9_]+$"#), length: 1...40)),
        .required("date", .date),
    ])
}

/// Pathway, enrolment and schedule endpoints.
struct PathwayRoutes: Sendable {
    let dependencies: AppDependencies
    private var stores: Stores { dependencies.stores }
    private var access: ProgramAccess { ProgramAccess(stores: stores) }

    static func date(_ text: String, field: String) throws(TendError) -> LocalDate {
        try Validate.date(text, field: field)
    }

    private var enrolments: EnrolmentActions { dependencies.actions.enrolments }

    func endpoints() -> [APIEndpoint] {
        pathwayEndpoints() + enrolmentEndpoints() + lifecycleEndpoints()
    }

    /// Pathway definitions: list, save, read.
    private func pathwayEndpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/pathways", operationID: "listPathways",
                summary: "The newest version of each of the program's pathways", tag: "pathways", response: Schema.list(of: "Pathway"), permission: .readProgram)
            ) { request, context in
                let grant = try context.requireGrant()
                return try JSONIO.response(ItemsBody(items: try await stores.pathways.latest(programID: grant.program.id).map(PathwayBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/pathways", operationID: "savePathway",
                summary: "Add a pathway from its YAML or JSON file; problems are reported with their line", tag: "pathways",
                body: .raw(description: "The pathway file (see docs/pathways.md)", contentTypes: ["application/yaml", "application/json"], maxBytes: YAMLDocument.maximumBytes),
                successStatus: 201, response: Schema.ref("Pathway"), conflicts: true, permission: .manageProgram)
            ) { request, context in
                let grant = try context.requireGrant()
                let text = try await JSONIO.text(request, upTo: YAMLDocument.maximumBytes)
                let pathway: Pathway
                do throws(PathwayProblems) {
                    pathway = try PathwayFile.parse(text)
                } catch {
                    throw TendError(kind: .invalidInput, code: "invalid_pathway",
                                    message: .init(en: error.description, zh: "方案文件有误：\n" + error.description), field: "body")
                }
                let stored = try await dependencies.actions.programs.savePathway(programID: grant.program.id, pathway, source: text, by: context.actor)
                return try JSONIO.response(PathwayBody(stored), status: .created)
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/pathways/{pathway}", operationID: "getPathway",
                summary: "A pathway's newest version with its steps", tag: "pathways", response: Schema.ref("Pathway"), permission: .readProgram)
            ) { request, context in
                let grant = try context.requireGrant()
                guard let stored = try await stores.pathways.find(programID: grant.program.id, slug: try context.parameters.require("pathway")) else {
                    throw TendError.notFound("pathway")
                }
                return try JSONIO.response(PathwayBody(stored))
            },

        ]
    }

    /// Enrolling and what staff read and move of an enrolment.
    private func enrolmentEndpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/enrolments", operationID: "enrol",
                summary: "Enrol one patient, or every active patient with the given tags, into a pathway and plan their touchpoints",
                tag: "pathways", body: .json(EnrolRequest.schema), successStatus: 201, response: Schema.ref("EnrolResult"), permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(EnrolRequest.self, from: request)
                var anchors: [String: LocalDate] = [:]
                for (name, text) in body.anchors ?? [:] { anchors[name] = try Self.date(text, field: "anchors.\(name)") }
                let target: EnrolmentTarget
                if let patientID = body.patient_id {
                    target = .patient(patientID)
                } else {
                    var filter = TagFilter()
                    if let text = body.tags { filter.all = try TagFilter.tags(text, field: "tags") }
                    if let text = body.any_tags { filter.any = try TagFilter.tags(text, field: "any_tags") }
                    if let text = body.not_tags { filter.none = try TagFilter.tags(text, field: "not_tags") }
                    guard !filter.all.isEmpty || !filter.any.isEmpty else { throw TendError.missing("patient_id") }
                    target = .tagged(filter)
                }
                let result = try await enrolments.enrol(programID: grant.program.id, pathway: body.pathway, target: target, anchors: anchors, by: context.actor)
                return try JSONIO.response(EnrolResultBody(enrolled: result.enrolled, touchpoints: result.touchpoints, enrolment_ids: result.enrolmentIDs), status: .created)
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/patients/{patient}/enrolments", operationID: "listEnrolments",
                summary: "The patient's enrolments", tag: "pathways", response: Schema.list(of: "Enrolment"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                guard let enrolments = try await dependencies.actions.reads.enrolments(
                    programID: grant.program.id, patientID: try context.parameters.require("patient"), by: context.actor) else { throw TendError.notFound("patient") }
                return try JSONIO.response(ItemsBody(items: enrolments.map(EnrolmentBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/patients/{patient}/schedule", operationID: "getSchedule",
                summary: "The patient's touchpoints, past and future, with their status", tag: "pathways", response: Schema.list(of: "Touchpoint"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                guard let touchpoints = try await dependencies.actions.reads.schedule(
                    programID: grant.program.id, patientID: try context.parameters.require("patient"), by: context.actor) else { throw TendError.notFound("patient") }
                return try JSONIO.response(ItemsBody(items: touchpoints.map(TouchpointBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/enrolments/{enrolment}/anchors", operationID: "moveAnchor",
                summary: "Move an anchor (e.g. the revisit date); unsent touchpoints are planned again, sent ones are kept",
                tag: "pathways", body: .json(MoveAnchorRequest.schema), response: Schema.ref("Enrolment"), conflicts: true, permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(MoveAnchorRequest.self, from: request)
                let moved = try await enrolments.moveAnchor(
                    programID: grant.program.id, enrolmentID: try context.parameters.require("enrolment"), anchor: body.anchor,
                    to: try Self.date(body.date, field: "date"), by: context.actor)
                return try JSONIO.response(EnrolmentBody(moved))
            },
        ]
    }

    private static func summary(of change: EnrolmentChange) -> String {
        switch change {
        case .pause: "Hold the enrolment's scheduled touchpoints"
        case .resume: "Resume a paused enrolment; what fell due meanwhile is skipped"
        case .cancel: "End the enrolment; nothing more is sent"
        }
    }

    private func lifecycleEndpoints() -> [APIEndpoint] {
        EnrolmentChange.allCases.map { change in
            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/enrolments/{enrolment}/\(change.rawValue)", operationID: "\(change.rawValue)Enrolment",
                summary: Self.summary(of: change),
                tag: "pathways", response: Schema.ref("Enrolment"), conflicts: true, permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let updated = try await enrolments.change(programID: grant.program.id, enrolmentID: try context.parameters.require("enrolment"), change, by: context.actor)
                return try JSONIO.response(EnrolmentBody(updated))
            }
        }
    }
}
