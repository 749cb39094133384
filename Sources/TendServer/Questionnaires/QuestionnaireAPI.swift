import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendFormats
import TendStore

struct QuestionnaireSummaryBody: Encodable {
    let id: String
    let version: Int
    let name: LocalizedText
    let wording: String
    let items: Int

    init(_ questionnaire: Questionnaire) {
        id = questionnaire.id
        version = questionnaire.version
        name = questionnaire.name
        wording = questionnaire.wording.rawValue
        items = questionnaire.items.count
    }

    static let schema = Schema.object([
        "id": Schema.string, "version": Schema.integer, "name": Schema.object(["en": Schema.string, "zh": Schema.string], required: ["en", "zh"]),
        "wording": ["type": "string", "enum": ["included", "program"], "description": "program: scoring only, the program supplies the licensed wording"],
        "items": Schema.integer,
    ], required: ["id", "version", "name", "wording", "items"])
}

struct ResponseBody: Encodable {
    let id: String
    let patient_id: String
    let questionnaire: String
    let version: Int
    let touchpoint_id: String?
    let answers: [String: AnswerValue]
    let total: Double?
    let band: String?
    let flags: [String]
    let source: String
    let recorded_by: String?
    let submitted_at: Date

    init(_ response: QuestionnaireResponse) {
        id = response.id
        patient_id = response.patientID
        questionnaire = response.questionnaireID
        version = response.version
        touchpoint_id = response.touchpointID
        answers = response.answers
        total = response.total
        band = response.band
        flags = response.flags
        source = response.source.rawValue
        recorded_by = response.recordedBy
        submitted_at = response.submittedAt
    }

    static let schema = Schema.object([
        "id": Schema.string, "patient_id": Schema.string, "questionnaire": Schema.string, "version": Schema.integer,
        "touchpoint_id": Schema.nullable("string"),
        "answers": ["type": "object", "description": "Every answer by item id; a photo item's answer is the photo's id"],
        "total": Schema.nullable("number"), "band": Schema.nullable("string"), "flags": Schema.array(Schema.string),
        "source": Schema.enumeration(ResponseSource.allCases.map(\.rawValue)), "recorded_by": Schema.nullable("string"), "submitted_at": Schema.dateTime,
    ], required: ["id", "patient_id", "questionnaire", "version", "answers", "flags", "source", "submitted_at"])
}

struct RecordedResponseBody: Encodable {
    let response: ResponseBody
    let subscales: [String: Double]
    let band_label: LocalizedText?
    let raised: [RaisedFlag]
    let observations: [ObservationBody]
    let alerts: [AlertBody]

    init(_ recorded: RecordedResponse) {
        response = ResponseBody(recorded.response)
        subscales = recorded.score.subscales
        band_label = recorded.score.band?.label
        raised = recorded.score.flags
        observations = recorded.observations.map(ObservationBody.init)
        alerts = recorded.alerts.map(AlertBody.init)
    }

    static let schema = Schema.object([
        "response": Schema.ref("Response"), "subscales": ["type": "object", "additionalProperties": ["type": "number"]],
        "band_label": ["type": "object", "nullable": true],
        "raised": Schema.array(Schema.object(["id": Schema.string, "level": Schema.string, "reason": ["type": "object"], "items": Schema.array(Schema.string)],
                                             required: ["id", "level", "reason", "items"])),
        "observations": Schema.array(Schema.ref("Observation")), "alerts": Schema.array(Schema.ref("Alert")),
    ], required: ["response", "subscales", "raised", "observations", "alerts"])
}

struct RecordResponseRequest: Decodable {
    let questionnaire: String
    let version: Int?
    let answers: [String: AnswerValue]
    let context: [String: Double]?

    static let answer = InputSchema.anyOf([
        .number(-1e9...1e9), .text(1...Bounds.textLength), .boolean(),
        .array(.anyOf([.number(-1e9...1e9), .text(1...200)]), count: 0...100),
        .object([.required("value", .number(-1e9...1e9)), .required("unit", .text(1...40))]),
    ], description: "A number, text or a choice's code, true/false, a list of codes, or {value, unit}")

    static let schema = InputSchema.object([
        .required("questionnaire", .identifier),
        .optional("version", .integer(1...1_000_000)),
        .required("answers", .dictionary(keys: InputSchema.StringRule(length: 1...64, pattern: .identifier), values: answer, count: 0...500)),
        .optional("context", .dictionary(keys: InputSchema.StringRule(length: 1...64, pattern: .identifier), values: .number(-1e6...1e6), count: 0...20)),
    ])
}

/// Questionnaires a program can use, its own definitions, and responses staff or integrations record.
struct QuestionnaireRoutes: Sendable {
    let dependencies: AppDependencies
    private var questionnaires: QuestionnaireActions { dependencies.actions.questionnaires }

    func endpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/questionnaires", operationID: "listQuestionnaires",
                summary: "The questionnaires the program can use: its own (newest versions), then the shipped ones it has not replaced",
                tag: "questionnaires", response: Schema.list(of: "QuestionnaireSummary"), permission: .readProgram)
            ) { _, context in
                let grant = try context.requireGrant()
                return try JSONIO.response(ItemsBody(items: try await questionnaires.available(programID: grant.program.id).map(QuestionnaireSummaryBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/questionnaires", operationID: "saveQuestionnaire",
                summary: "Add a questionnaire (or a new version) from its YAML or JSON file; problems are reported with their line",
                tag: "questionnaires",
                body: .raw(description: "The questionnaire file (see docs/questionnaires.md)", contentTypes: ["application/yaml", "application/json"], maxBytes: YAMLDocument.maximumBytes),
                successStatus: 201, response: Schema.ref("QuestionnaireSummary"), conflicts: true, permission: .manageProgram)
            ) { request, context in
                let grant = try context.requireGrant()
                let text = try await JSONIO.text(request, upTo: YAMLDocument.maximumBytes)
                let saved = try await questionnaires.save(programID: grant.program.id, source: text, by: context.actor)
                return try JSONIO.response(QuestionnaireSummaryBody(saved), status: .created)
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/questionnaires/{questionnaire}", operationID: "getQuestionnaire",
                summary: "A questionnaire's definition, in the format it is written in", tag: "questionnaires",
                query: [.init(name: "version", schema: .integer(1...1_000_000), description: "That version (default the newest)")],
                response: ["type": "object", "description": "The definition (docs/questionnaires.md)"], permission: .readProgram)
            ) { request, context in
                let grant = try context.requireGrant()
                guard let found = try await questionnaires.definition(programID: grant.program.id, id: try context.parameters.require("questionnaire"),
                                                                      version: request.query.get("version").flatMap { Int($0) }) else {
                    throw TendError.notFound("questionnaire")
                }
                return try JSONIO.response(found)
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/patients/{patient}/responses", operationID: "recordResponse",
                summary: "Record a questionnaire response for the patient (staff on a call, an integration): scored, its observations stored, its flags and readings held to the alert rules; an incomplete response is refused naming the missing items, but the urgent items it answered still raise their alerts",
                tag: "questionnaires", body: .json(RecordResponseRequest.schema), successStatus: 201, response: Schema.ref("RecordedResponse"),
                permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(RecordResponseRequest.self, from: request)
                guard let questionnaire = try await questionnaires.definition(programID: grant.program.id, id: body.questionnaire, version: body.version) else {
                    throw TendError.notFound(field: "questionnaire", .init(en: "questionnaire", zh: "问卷"))
                }
                let outcome = try await questionnaires.record(
                    programID: grant.program.id, patientID: try context.parameters.require("patient"), questionnaire: questionnaire, answers: body.answers,
                    context: body.context ?? [:], source: context.actor.kind == .staff ? .staff : .api, by: context.actor)
                switch outcome {
                case .recorded(let recorded): return try JSONIO.response(RecordedResponseBody(recorded), status: .created)
                case .refused(let refusal, _): throw refusal.error
                }
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/patients/{patient}/responses", operationID: "listResponses",
                summary: "The patient's questionnaire responses, newest first, with every answer", tag: "questionnaires",
                query: [
                    .init(name: "questionnaire", schema: .identifier, description: "Only responses to this questionnaire"),
                    .init(name: "limit", schema: .integer(1...1000), description: "At most this many (default 100)"),
                ],
                response: Schema.list(of: "Response"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                guard let found = try await questionnaires.responses(
                    programID: grant.program.id, patientID: try context.parameters.require("patient"), questionnaireID: request.query.get("questionnaire"),
                    limit: request.query.get("limit").flatMap { Int($0) } ?? 100, by: context.actor) else { throw TendError.notFound("patient") }
                return try JSONIO.response(ItemsBody(items: found.map(ResponseBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/photos/{photo}", operationID: "getPhoto",
                summary: "A photo a patient uploaded with a form (the image itself), for the program's staff", tag: "questionnaires",
                response: ["type": "string", "format": "binary"], responseContentType: "image/*", permission: .readPatients)
            ) { _, context in
                let grant = try context.requireGrant()
                guard let photo = try await questionnaires.photo(programID: grant.program.id, id: try context.parameters.require("photo"), by: context.actor) else {
                    throw TendError.notFound("photo")
                }
                return PhotoResponse.response(photo)
            },
        ]
    }
}

enum PhotoResponse {
    /// The image, never cached by a shared cache (HTTPHardening adds nosniff to every response).
    static func response(_ photo: StoredPhoto) -> Response {
        Response(status: .ok, headers: [
            .contentType: photo.contentType.isEmpty ? "application/octet-stream" : photo.contentType,
            .cacheControl: "private, no-store",
        ], body: .init(byteBuffer: ByteBuffer(bytes: photo.data)))
    }
}
