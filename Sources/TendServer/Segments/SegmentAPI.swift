import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendFormats
import TendStore

struct SegmentBody: Encodable {
    let id: String
    let slug: String
    let name_zh: String
    let name_en: String
    let rule: String
    let on_enter: [String]
    let on_leave: [String]
    let members: Int
    let slides: Bool
    let evaluated_at: Date?

    init(_ summary: SegmentSummary) {
        let segment = summary.segment
        id = segment.id
        slug = segment.slug
        name_zh = segment.name.zh
        name_en = segment.name.en
        rule = segment.definition.rule.source.trimmingCharacters(in: .whitespacesAndNewlines)
        on_enter = segment.definition.onEnter.map(\.text)
        on_leave = segment.definition.onLeave.map(\.text)
        members = summary.members
        slides = segment.definition.rule.slides
        evaluated_at = segment.evaluatedAt
    }

    static let schema = Schema.object([
        "id": Schema.string, "slug": Schema.string, "name_zh": Schema.string, "name_en": Schema.string, "rule": Schema.string,
        "on_enter": Schema.array(Schema.string), "on_leave": Schema.array(Schema.string), "members": Schema.integer,
        "slides": ["type": "boolean", "description": "Whether a clause moves with time (a window, an age): re-evaluated by the hourly sweep"],
        "evaluated_at": Schema.nullable("string", format: "date-time"),
    ], required: ["id", "slug", "name_zh", "name_en", "rule", "on_enter", "on_leave", "members", "slides"])
}

struct SegmentWhyBody: Encodable {
    struct Clause: Encodable {
        let text: String
        let holds: Bool
        let value: String?
        let at: Date?
    }

    let segment_id: String
    let slug: String
    let member: Bool
    let entered_at: Date?
    let left_at: Date?
    let clauses: [Clause]

    init(_ explanation: SegmentExplanation) {
        segment_id = explanation.segment.id
        slug = explanation.segment.slug
        member = explanation.member.map { $0.leftAt == nil } ?? false
        entered_at = explanation.member?.enteredAt
        left_at = explanation.member?.leftAt
        clauses = explanation.clauses.map { Clause(text: $0.text, holds: $0.holds, value: $0.evidence?.value, at: $0.evidence?.at) }
    }

    static let schema = Schema.object([
        "segment_id": Schema.string, "slug": Schema.string, "member": Schema.boolean,
        "entered_at": Schema.nullable("string", format: "date-time"), "left_at": Schema.nullable("string", format: "date-time"),
        "clauses": Schema.array(Schema.object([
            "text": Schema.string, "holds": Schema.boolean,
            "value": ["type": ["string", "null"], "description": "What the clause read: the reading, aggregate, score, band, tags or age"],
            "at": Schema.nullable("string", format: "date-time"),
        ], required: ["text", "holds"])),
    ], required: ["segment_id", "slug", "member", "clauses"])
}

struct SegmentMemberBody: Encodable {
    let patient: PatientBody
    let why: SegmentWhyBody

    static let schema = Schema.object(["patient": Schema.ref("Patient"), "why": Schema.ref("SegmentWhy")], required: ["patient", "why"])
}

struct PreviewSegmentRequest: Decodable {
    let rule: String
    let limit: Int?

    static let schema = InputSchema.object([
        .required("rule", .text(1...SegmentRule.maximumLength, description: "A rule (docs/segments.md)")),
        .optional("limit", .integer(0...100)),
    ])
}

/// Segments: save (and evaluate) a definition, list them with counts, their members with why,
/// a patient's segments, and a preview of a rule before it is saved.
struct SegmentRoutes: Sendable {
    let dependencies: AppDependencies
    private var segments: SegmentActions { dependencies.actions.segments }

    func endpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/segments", operationID: "listSegments",
                summary: "The program's segments with how many patients are in each now", tag: "segments",
                response: Schema.list(of: "Segment"), permission: .readProgram)
            ) { _, context in
                let grant = try context.requireGrant()
                return try JSONIO.response(ItemsBody(items: try await segments.list(programID: grant.program.id).map(SegmentBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/segments", operationID: "saveSegment",
                summary: "Add a segment, or replace the one with its slug, from its YAML or JSON document, and evaluate it over the program at once (entering and leaving run its actions); rule problems name their line and column",
                tag: "segments",
                body: .raw(description: "The segment document (see docs/segments.md)", contentTypes: ["application/yaml", "application/json"], maxBytes: YAMLDocument.maximumBytes),
                response: Schema.object(["segment": Schema.ref("Segment"), "entered": Schema.integer, "left": Schema.integer], required: ["segment", "entered", "left"]),
                permission: .manageProgram)
            ) { request, context in
                let grant = try context.requireGrant()
                let text = try await JSONIO.text(request, upTo: YAMLDocument.maximumBytes)
                let saved = try await segments.save(programID: grant.program.id, source: text, by: context.actor)
                let summary = try await segments.segment(programID: grant.program.id, id: saved.segment.id)
                struct Saved: Encodable { let segment: SegmentBody; let entered: Int; let left: Int }
                return try JSONIO.response(Saved(segment: SegmentBody(summary), entered: saved.change.entered, left: saved.change.left))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/segments/preview", operationID: "previewSegment",
                summary: "Who a rule would take in now, before it is saved: how many, and the first patients", tag: "segments",
                body: .json(PreviewSegmentRequest.schema),
                response: Schema.object(["count": Schema.integer, "patients": Schema.array(Schema.ref("Patient"))], required: ["count", "patients"]),
                permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(PreviewSegmentRequest.self, from: request)
                let preview = try await segments.preview(programID: grant.program.id, rule: body.rule, limit: body.limit ?? 20, by: context.actor)
                struct Preview: Encodable { let count: Int; let patients: [PatientBody] }
                return try JSONIO.response(Preview(count: preview.count, patients: preview.patients.map(PatientBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/segments/{segment}", operationID: "getSegment",
                summary: "One segment (by id or slug) with its member count", tag: "segments",
                response: Schema.ref("Segment"), permission: .readProgram)
            ) { _, context in
                let grant = try context.requireGrant()
                return try JSONIO.response(SegmentBody(try await segments.segment(programID: grant.program.id, id: try context.parameters.require("segment"))))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/segments/{segment}/members", operationID: "segmentMembers",
                summary: "The segment's current members, newest first, each with why they are in it", tag: "segments",
                query: [
                    .init(name: "limit", schema: .integer(1...200), description: "Page size (default 50)"),
                    .init(name: "offset", schema: .integer(0...1_000_000), description: "Members to skip"),
                ],
                response: Schema.list(of: "SegmentMember"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let page = try await segments.members(programID: grant.program.id, segmentID: try context.parameters.require("segment"),
                                                      limit: request.query.get("limit").flatMap { Int($0) } ?? 50,
                                                      offset: request.query.get("offset").flatMap { Int($0) } ?? 0, by: context.actor)
                return try JSONIO.response(ItemsBody(items: page.map { SegmentMemberBody(patient: PatientBody($0.0), why: SegmentWhyBody($0.1)) }))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/patients/{patient}/segments", operationID: "patientSegments",
                summary: "Every segment of the program for one patient: in it or not, since when, and which clauses hold with their values", tag: "segments",
                response: Schema.list(of: "SegmentWhy"), permission: .readPatients)
            ) { _, context in
                let grant = try context.requireGrant()
                let patientID = try context.parameters.require("patient")
                guard try await dependencies.stores.patients.fetch(programID: grant.program.id, ids: [patientID]).first != nil else { throw TendError.notFound("patient") }
                return try JSONIO.response(ItemsBody(items: try await segments.explain(programID: grant.program.id, patientID: patientID, by: context.actor).map(SegmentWhyBody.init)))
            },
        ]
    }
}
