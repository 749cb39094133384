import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendFormats
import TendStore
import NIOFoundationEssentialsCompat

struct ObservationBody: Encodable {
    let id: String
    let patient_id: String
    let code: String
    let kind: String
    let value: JSONValue
    let unit: String?
    let flags: [String]
    let effective_at: Date
    let zone: String
    let source: String
    let external_id: String?
    let recorded_by: String?
    let created_at: Date

    init(_ stored: StoredObservation) {
        let observation = stored.observation
        id = stored.id
        patient_id = observation.patientID
        code = observation.reading.code.description
        switch observation.reading.value {
        case .quantity(let number, let unit): (kind, value, self.unit) = ("quantity", .double(number), unit)
        case .score(let number): (kind, value, unit) = ("score", .double(number), nil)
        case .coded(let text): (kind, value, unit) = ("coded", .string(text), nil)
        case .boolean(let flag): (kind, value, unit) = ("boolean", .bool(flag), nil)
        case .text(let text): (kind, value, unit) = ("text", .string(text), nil)
        }
        flags = observation.reading.flags.map(\.rawValue)
        effective_at = observation.effectiveAt
        zone = observation.zone
        source = observation.source.rawValue
        external_id = observation.externalID
        recorded_by = observation.recordedBy
        created_at = stored.createdAt
    }

    static let schema = Schema.object([
        "id": Schema.string, "patient_id": Schema.string,
        "code": ["type": "string", "description": "loinc:CODE, or program:NAME for a program's own"],
        "kind": Schema.enumeration(["quantity", "score", "coded", "boolean", "text"]),
        "value": ["description": "A number (in the code's canonical unit), a code, true/false or text"],
        "unit": Schema.nullable("string"), "flags": Schema.array(Schema.enumeration(ObservationFlag.allCases.map(\.rawValue))),
        "effective_at": Schema.dateTime, "zone": Schema.string, "source": Schema.enumeration(ObservationSource.allCases.map(\.rawValue)),
        "external_id": Schema.nullable("string"), "recorded_by": Schema.nullable("string"), "created_at": Schema.dateTime,
    ], required: ["id", "patient_id", "code", "kind", "value", "flags", "effective_at", "zone", "source", "created_at"])
}

struct ObservationBatchBody: Encodable {
    let recorded: Int
    let duplicates: Int
    let items: [ObservationBody]
    let alerts: [AlertBody]

    static let schema = Schema.object([
        "recorded": Schema.integer, "duplicates": ["type": "integer", "description": "Already stored under the same source and external id"],
        "items": Schema.array(Schema.ref("Observation")),
        "alerts": ["type": "array", "items": Schema.ref("Alert"), "description": "Alerts the new readings opened or joined"],
    ], required: ["recorded", "duplicates", "items", "alerts"])
}

struct AlertChangeRequest: Decodable {
    let note: String?

    static let schema = InputSchema.object([
        .optional("note", .nullable(.text(0...Bounds.textLength, description: "What was done (a call, advice given); sealed like any note"))),
    ])
}

struct AlertBody: Encodable {
    let id: String
    let patient_id: String
    let rule: String
    let title: LocalizedText
    let priority: String
    let status: String
    let breaches: Int
    let first_observation_id: String
    let last_observation_id: String
    let task_id: String?
    let opened_at: Date
    let updated_at: Date
    let resolved_at: Date?
    let resolved_by: String?
    let note: String?

    init(_ alert: ObservationAlert) {
        id = alert.id
        patient_id = alert.patientID
        rule = alert.ruleID
        title = alert.title
        priority = alert.priority.rawValue
        status = alert.status.rawValue
        breaches = alert.breaches
        first_observation_id = alert.firstObservationID
        last_observation_id = alert.lastObservationID
        task_id = alert.taskID
        opened_at = alert.openedAt
        updated_at = alert.updatedAt
        resolved_at = alert.resolvedAt
        resolved_by = alert.resolvedBy
        note = alert.note
    }

    static let schema = Schema.object([
        "id": Schema.string, "patient_id": Schema.string, "rule": ["type": "string", "description": "e.g. glucose-low, fever-high, q.phq-9.self-harm, missing.glucose-daily"],
        "title": Schema.object(["en": Schema.string, "zh": Schema.string], required: ["en", "zh"]),
        "priority": Schema.enumeration(TaskPriority.allCases.map(\.rawValue)), "status": Schema.enumeration(AlertStatus.allCases.map(\.rawValue)),
        "breaches": ["type": "integer", "description": "Readings that crossed the rule while the alert was open"],
        "first_observation_id": Schema.string, "last_observation_id": Schema.string, "task_id": Schema.nullable("string"),
        "opened_at": Schema.dateTime, "updated_at": Schema.dateTime, "resolved_at": Schema.nullable("string", format: "date-time"),
        "resolved_by": Schema.nullable("string"), "note": Schema.nullable("string"),
    ], required: ["id", "patient_id", "rule", "title", "priority", "status", "breaches", "first_observation_id", "last_observation_id", "opened_at", "updated_at"])
}

struct AlertRuleBody: Encodable {
    let id: String
    let codes: [String]
    let kind: String
    let below: Double?
    let at_least: Double?
    let count: Int?
    let of: Int?
    let change: Double?
    let within_days: Int?
    let level: String
    let title: LocalizedText

    init(_ rule: ObservationAlertRule) {
        id = rule.id
        codes = rule.codes.map(\.description).sorted()
        below = rule.below
        at_least = rule.atOrAbove
        level = rule.priority.rawValue
        title = rule.title
        switch rule.kind {
        case .threshold: (kind, count, of, change, within_days) = ("threshold", nil, nil, nil, nil)
        case .sustained(let n, let m): (kind, count, of, change, within_days) = ("sustained", n, m, nil, nil)
        case .change(let by, let rise, let days): (kind, count, of, change, within_days) = (rise ? "rise" : "fall", nil, nil, by, days)
        }
    }

    static let schema = Schema.object([
        "id": Schema.string, "codes": Schema.array(Schema.string),
        "kind": Schema.enumeration(["threshold", "sustained", "rise", "fall"]),
        "below": Schema.nullable("number"), "at_least": Schema.nullable("number"), "count": Schema.nullable("integer"), "of": Schema.nullable("integer"),
        "change": Schema.nullable("number"), "within_days": Schema.nullable("integer"),
        "level": Schema.enumeration(TaskPriority.allCases.map(\.rawValue)),
        "title": Schema.object(["en": Schema.string, "zh": Schema.string], required: ["en", "zh"]),
    ], required: ["id", "codes", "kind", "level", "title"])
}

struct AlertRulesBody: Encodable {
    let rules: [AlertRuleBody]
    let units: [String: String]
    let source: String?

    init(_ set: ObservationActions.AlertRuleSet, source: String?) {
        rules = set.rules.map(AlertRuleBody.init)
        units = Dictionary(uniqueKeysWithValues: set.displayUnits.map { ($0.key.description, $0.value) })
        self.source = source
    }

    static let schema = Schema.object([
        "rules": Schema.array(Schema.ref("AlertRule")),
        "units": ["type": "object", "additionalProperties": ["type": "string"], "description": "The unit the program reads a code in, where not its canonical one"],
        "source": Schema.nullable("string"),
    ], required: ["rules", "units"])
}

extension InputSchema {
    /// A short key of the catalog (`glucose-fasting`), `loinc:CODE` or `program:NAME`.
    static let observationCode = InputSchema.anyOf([
        .values(ObservationCatalog.all.map(\.key)),
        .pattern(.observationCode, length: 7...72, description: "loinc:CODE or program:NAME"),
    ], description: "A short key such as glucose-fasting, loinc:CODE, or program:NAME for a program's own")
}

struct RecordObservationsRequest: Decodable {
    let source: String?
    let observations: [Item]

    struct Item: Decodable {
        let patient_id: String
        let code: String
        let value: ObservationInput.Value
        let unit: String?
        let effective_at: String
        let external_id: String?
    }

    static let schema = InputSchema.object([
        .optional("source", .values(ObservationSource.allCases.map(\.rawValue), description: "Default device")),
        .required("observations", .array(.object([
            .required("patient_id", .identifier),
            .required("code", .observationCode),
            .required("value", .anyOf([.number(-1e9...1e9), .text(1...Bounds.textLength), .boolean()],
                                      description: "A number, a number with its unit (\"101.5 °F\"), a code or text, or true/false")),
            .optional("unit", .nullable(.text(1...40, description: "UCUM or as typed: mmol/L, mg/dL, °F, kg, lb …"))),
            .required("effective_at", .dateTime),
            .optional("external_id", .nullable(.identifier)),
        ]), count: 1...Bounds.observationsPerRequest)),
    ])

    var submissions: [ObservationSubmission] {
        observations.map { item in
            ObservationSubmission(patientID: item.patient_id, input: ObservationInput(
                code: item.code, value: item.value, unit: item.unit, effectiveAt: item.effective_at, externalID: item.external_id))
        }
    }
}

/// Readings from integrations and devices, and a patient's observations.
struct ObservationRoutes: Sendable {
    let dependencies: AppDependencies
    private var observations: ObservationActions { dependencies.actions.observations }

    func endpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/observations", operationID: "recordObservations",
                summary: "Record one or more readings (device, integration); numbers are converted to each code's unit, and one resent with the same source and external id adds nothing",
                tag: "observations", body: .json(RecordObservationsRequest.schema), response: Schema.ref("ObservationBatch"), permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(RecordObservationsRequest.self, from: request)
                let source = body.source.flatMap(ObservationSource.init(rawValue:)) ?? .device
                let result = try await observations.recordWithAlerts(programID: grant.program.id, body.submissions, source: source, by: context.actor)
                return try JSONIO.response(ObservationBatchBody(recorded: result.batch.recorded.count, duplicates: result.batch.duplicates,
                                                                items: result.batch.recorded.map(ObservationBody.init), alerts: result.alerts.map(AlertBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/alerts", operationID: "listAlerts",
                summary: "Alerts not yet resolved, urgent first, then oldest first", tag: "observations",
                query: [.init(name: "patient", schema: .identifier, description: "One patient's alerts, resolved ones too")],
                response: Schema.list(of: "Alert"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let found = try await observations.alerts(programID: grant.program.id, patientID: request.query.get("patient"), by: context.actor)
                return try JSONIO.response(ItemsBody(items: found.map(AlertBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/alert-rules", operationID: "getAlertRules",
                summary: "Every rule the program's readings are held to: those of its triage thresholds, then its own (their document too)",
                tag: "observations", response: Schema.ref("AlertRules"), permission: .readProgram)
            ) { _, context in
                let grant = try context.requireGrant()
                let rules = try await observations.alertRules(programID: grant.program.id)
                return try JSONIO.response(AlertRulesBody(rules, source: try await dependencies.stores.alerts.ruleSource(programID: grant.program.id)))
            },

            APIEndpoint(operation: APIOperation(
                method: .put, path: "/api/v1/programs/{program}/alert-rules", operationID: "saveAlertRules",
                summary: "Replace the program's own alert rules (thresholds, sustained n of m, change over a window) from a YAML or JSON document; problems are reported with their line",
                tag: "observations",
                body: .raw(description: "The rules document (see docs/questionnaires.md)", contentTypes: ["application/yaml", "application/json"], maxBytes: YAMLDocument.maximumBytes),
                response: Schema.ref("AlertRules"), permission: .manageProgram)
            ) { request, context in
                let grant = try context.requireGrant()
                let text = try await JSONIO.text(request, upTo: YAMLDocument.maximumBytes)
                _ = try await observations.saveAlertRules(programID: grant.program.id, source: text, by: context.actor)
                let rules = try await observations.alertRules(programID: grant.program.id)
                return try JSONIO.response(AlertRulesBody(rules, source: text))
            },
        ] + [AlertStatus.acknowledged, .resolved].map(alertChange) + [

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/patients/{patient}/observations", operationID: "listObservations",
                summary: "The patient's observations, newest first", tag: "observations",
                query: [
                    .init(name: "code", schema: .observationCode, description: "Only this code (loinc:…, program:… or a short key)"),
                    .init(name: "since", schema: .dateTime, description: "Only from this time"),
                    .init(name: "limit", schema: .integer(1...5000), description: "At most this many (default 500)"),
                ],
                response: Schema.list(of: "Observation"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let found = try await observations.list(
                    programID: grant.program.id, patientID: try context.parameters.require("patient"), code: request.query.get("code"),
                    since: request.query.get("since").flatMap(InstantText.parse), limit: request.query.get("limit").flatMap { Int($0) } ?? 500,
                    by: context.actor)
                guard let found else { throw TendError.notFound("patient") }
                return try JSONIO.response(ItemsBody(items: found.map(ObservationBody.init)))
            },
        ]
    }

    /// `POST …/alerts/{alert}/acknowledge` and `…/resolve`.
    private func alertChange(_ status: AlertStatus) -> APIEndpoint {
        let verb = status == .resolved ? "resolve" : "acknowledge"
        return APIEndpoint(operation: APIOperation(
            method: .post, path: "/api/v1/programs/{program}/alerts/{alert}/\(verb)", operationID: "\(verb)Alert",
            summary: status == .resolved ? "Resolve an alert; its task is completed" : "Acknowledge an alert (someone is on it)",
            tag: "observations", body: .optionalJSON(AlertChangeRequest.schema), response: Schema.ref("Alert"), permission: .writePatients)
        ) { request, context in
            let grant = try context.requireGrant()
            let buffer = try await request.body.collect(upTo: Bounds.bodyBytes)
            let note = buffer.readableBytes == 0 ? nil : try JSONDecoder().decode(AlertChangeRequest.self, from: Data(buffer: buffer)).note
            let alert = try await observations.changeAlert(programID: grant.program.id, alertID: try context.parameters.require("alert"), to: status,
                                                           staffID: grant.identity.user.id, note: note, by: context.actor)
            return try JSONIO.response(AlertBody(alert))
        }
    }
}
