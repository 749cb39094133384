import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

/// A field in a PATCH body: left out, set to null (cleared), or given a value.
enum PatchField<Value: Decodable & Sendable>: Sendable {
    case absent
    case null
    case value(Value)

    func apply(to current: Value?) -> Value? {
        switch self {
        case .absent: current
        case .null: nil
        case .value(let value): value
        }
    }
}

extension KeyedDecodingContainer {
    func patch<Value: Decodable & Sendable>(_ key: Key) throws -> PatchField<Value> {
        guard contains(key) else { return .absent }
        if try decodeNil(forKey: key) { return .null }
        return .value(try decode(Value.self, forKey: key))
    }
}

struct CaregiverBody: Codable, Sendable {
    var name: String
    var relation: String
    var phone: String?
}

/// The writable fields of a patient. On create, absent fields take their defaults; on
/// PATCH, absent fields are kept and null clears an optional one.
struct PatientInput: Decodable, Sendable {
    var externalID: PatchField<String>
    var name: PatchField<String>
    var sex: PatchField<Sex>
    var birthDate: PatchField<String>
    var phone: PatchField<String>
    var idNumber: PatchField<String>
    var address: PatchField<String>
    var locale: PatchField<String>
    var timeZone: PatchField<String>
    var contactWindow: PatchField<String>
    var quietHours: PatchField<String>
    var channels: PatchField<[ContactChannel]>
    var caregivers: PatchField<[CaregiverBody]>
    var status: PatchField<PatientStatus>
    var tags: PatchField<[String]>

    enum CodingKeys: String, CodingKey {
        case externalID = "external_id", name, sex, birthDate = "birth_date", phone, idNumber = "id_number", address, locale
        case timeZone = "time_zone", contactWindow = "contact_window", quietHours = "quiet_hours", channels, caregivers, status, tags
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        externalID = try container.patch(.externalID)
        name = try container.patch(.name)
        sex = try container.patch(.sex)
        birthDate = try container.patch(.birthDate)
        phone = try container.patch(.phone)
        idNumber = try container.patch(.idNumber)
        address = try container.patch(.address)
        locale = try container.patch(.locale)
        timeZone = try container.patch(.timeZone)
        contactWindow = try container.patch(.contactWindow)
        quietHours = try container.patch(.quietHours)
        channels = try container.patch(.channels)
        caregivers = try container.patch(.caregivers)
        status = try container.patch(.status)
        tags = try container.patch(.tags)
    }

    /// The profile after applying this input to `current` (or to the defaults on create).
    func applied(to current: PatientProfile?) throws(TendError) -> PatientProfile {
        var profile = current ?? PatientProfile(name: "")
        if current == nil, case .absent = name { throw TendError.missing("name") }
        if case .value(let list) = caregivers { try Validate.count(list, field: "caregivers", max: Bounds.caregivers) }
        if case .value(let list) = tags { try Validate.count(list, field: "tags", max: Bounds.tagsPerRequest) }
        if case .null = name { throw TendError.missing("name") }
        profile.name = name.apply(to: profile.name) ?? ""
        profile.externalID = externalID.apply(to: profile.externalID)
        profile.sex = sex.apply(to: profile.sex) ?? .unknown
        profile.birthDate = birthDate.apply(to: profile.birthDate)
        profile.phone = phone.apply(to: profile.phone)
        profile.idNumber = idNumber.apply(to: profile.idNumber)
        profile.address = address.apply(to: profile.address)
        if case .value(let text) = locale {
            guard let parsed = AppLocale(identifier: text) else {
                throw TendError.invalid("locale", .init(en: "must be zh-Hans or en", zh: "应为 zh-Hans 或 en"))
            }
            profile.locale = parsed
        }
        if case .value(let zone) = timeZone { profile.timeZone = zone }
        switch contactWindow {
        case .absent: break
        case .null: profile.contactWindow = nil
        case .value(let text): profile.contactWindow = try DailyWindow.parseOrClear(text, field: "contact_window")
        }
        switch quietHours {
        case .absent: break
        case .null: profile.quietHours = nil
        case .value(let text): profile.quietHours = try DailyWindow.parseOrClear(text, field: "quiet_hours")
        }
        profile.channels = channels.apply(to: profile.channels) ?? []
        profile.caregivers = (caregivers.apply(to: profile.caregivers.map { CaregiverBody(name: $0.name, relation: $0.relation, phone: $0.phone) }) ?? [])
            .map { Caregiver(name: $0.name, relation: $0.relation, phone: $0.phone) }
        profile.status = status.apply(to: profile.status) ?? .active
        return try profile.validated()
    }

    func parsedTags() throws(TendError) -> [PatientTag] {
        guard case .value(let texts) = tags else { return [] }
        return try texts.map { (text) throws(TendError) in try PatientTag.parse(text) }
    }

    static let schema = InputSchema.object([
        .optional("external_id", .nullable(.pattern(.oneLine, length: 0...64, description: "The id in the hospital's system"))),
        .optional("name", .text()),
        .optional("sex", .nullable(.values(Sex.allCases.map(\.rawValue)))),
        .optional("birth_date", .nullable(.string(.init(length: 10...10, format: .date, pattern: .birthDate, description: "YYYY-MM-DD, 1900–2100")))),
        .optional("phone", .nullable(.pattern(.phone, length: 5...40, description: "5–15 digits; spaces, +, - and brackets allowed"))),
        .optional("id_number", .nullable(.pattern(.idNumber, length: 5...64, description: "5–32 letters or digits"))),
        .optional("address", .nullable(.text(0...300))),
        .optional("locale", .nullable(.values(AppLocale.allCases.map(\.rawValue)))),
        .optional("time_zone", .nullable(.values(PatientFields.timeZoneNames, description: "IANA zone, e.g. Asia/Shanghai"))),
        .optional("contact_window", .nullable(.pattern(.dailyWindow, length: 11...20, description: "HH:MM-HH:MM; equal times clear it"))),
        .optional("quiet_hours", .nullable(.pattern(.dailyWindow, length: 11...20, description: "HH:MM-HH:MM; equal times clear it"))),
        .optional("channels", .nullable(.array(.values(ContactChannel.allCases.map(\.rawValue)), count: 0...10))),
        .optional("caregivers", .nullable(.array(.object([
            .required("name", .text(1...100)),
            .required("relation", .text(1...40)),
            .optional("phone", .nullable(.pattern(.phone, length: 5...40))),
        ]), count: 0...Bounds.caregivers))),
        .optional("status", .nullable(.values(PatientStatus.allCases.map(\.rawValue)))),
        .optional("tags", .nullable(.array(.pattern(.tag, length: 3...160, description: "key=value"), count: 0...Bounds.tagsPerRequest,
                                           description: "Only on create"))),
    ], description: "Fields left out are kept; null clears an optional one")

    /// The same fields; a new patient needs a name.
    static let createSchema: InputSchema = {
        guard case .object(var properties, _) = schema else { return schema }
        if let index = properties.firstIndex(where: { $0.name == "name" }) { properties[index].required = true }
        return .object(properties, description: "Fields left out take their defaults")
    }()
}

struct AppliedTagBody: Encodable {
    let key: String
    let value: String
    let set_by: String?
    let source: String
    let set_at: Date
}

struct ConsentBody: Encodable {
    let id: String
    let kind: String
    let version: String
    let granted_at: Date
    let withdrawn_at: Date?
    let recorded_by: String?

    init(_ consent: ConsentRecord) {
        id = consent.id
        kind = consent.kind
        version = consent.version
        granted_at = consent.grantedAt
        withdrawn_at = consent.withdrawnAt
        recorded_by = consent.recordedBy
    }

    static let schema = Schema.object([
        "id": Schema.string, "kind": Schema.string, "version": Schema.string, "granted_at": Schema.dateTime,
        "withdrawn_at": Schema.nullable("string", format: "date-time"), "recorded_by": Schema.nullable("string"),
    ], required: ["id", "kind", "version", "granted_at"])
}

struct PatientBody: Encodable {
    let id: String
    let external_id: String?
    let name: String
    let sex: String
    let birth_date: String?
    let phone: String?
    let id_number: String?
    let address: String?
    let locale: String
    let time_zone: String
    let contact_window: String?
    let quiet_hours: String?
    let channels: [String]
    let caregivers: [CaregiverBody]
    let status: String
    let tags: [AppliedTagBody]
    let consents: [ConsentBody]
    let created_at: Date
    let updated_at: Date

    init(_ patient: Patient) {
        let profile = patient.profile
        id = patient.id
        external_id = profile.externalID
        name = profile.name
        sex = profile.sex.rawValue
        birth_date = profile.birthDate
        phone = profile.phone
        id_number = profile.idNumber
        address = profile.address
        locale = profile.locale.rawValue
        time_zone = profile.timeZone
        contact_window = profile.contactWindow?.text
        quiet_hours = profile.quietHours?.text
        channels = profile.channels.map(\.rawValue)
        caregivers = profile.caregivers.map { CaregiverBody(name: $0.name, relation: $0.relation, phone: $0.phone) }
        status = profile.status.rawValue
        tags = patient.tags.map { AppliedTagBody(key: $0.tag.key, value: $0.tag.value, set_by: $0.setBy, source: $0.source, set_at: $0.setAt) }
        consents = patient.consents.map(ConsentBody.init)
        created_at = patient.createdAt
        updated_at = patient.updatedAt
    }

    static let schema = Schema.object([
        "id": Schema.string, "external_id": Schema.nullable("string"), "name": Schema.string, "sex": Schema.string,
        "birth_date": Schema.nullable("string"), "phone": Schema.nullable("string"), "id_number": Schema.nullable("string"),
        "address": Schema.nullable("string"), "locale": Schema.string, "time_zone": Schema.string,
        "contact_window": Schema.nullable("string"), "quiet_hours": Schema.nullable("string"),
        "channels": Schema.array(Schema.string),
        "caregivers": Schema.array(Schema.object(["name": Schema.string, "relation": Schema.string, "phone": Schema.nullable("string")], required: ["name", "relation"])),
        "status": Schema.string,
        "tags": Schema.array(Schema.object([
            "key": Schema.string, "value": Schema.string, "set_by": Schema.nullable("string"), "source": Schema.string, "set_at": Schema.dateTime,
        ], required: ["key", "value", "source", "set_at"])),
        "consents": Schema.array(Schema.ref("Consent")),
        "created_at": Schema.dateTime, "updated_at": Schema.dateTime,
    ], required: ["id", "name", "sex", "locale", "time_zone", "channels", "caregivers", "status", "tags", "consents", "created_at", "updated_at"])
}

struct PatientPageBody: Encodable {
    let items: [PatientBody]
    let next_after: String?

    static let schema = Schema.object(["items": Schema.array(Schema.ref("Patient")), "next_after": Schema.nullable("string")], required: ["items"])
}

struct PatientSearchRequest: Decodable {
    let phone: String?
    let id_number: String?
    let name: String?

    static let schema = InputSchema.object([
        .optional("phone", .nullable(.pattern(.phone, length: 5...40))),
        .optional("id_number", .nullable(.pattern(.idNumber, length: 5...64))),
        .optional("name", .nullable(.text())),
    ], description: "At least one of phone, id_number, name")
}

struct TagChangeRequest: Decodable {
    let add: [String]?
    let remove: [String]?

    static let schema = InputSchema.object([
        .optional("add", .nullable(.array(.pattern(.tag, length: 3...160, description: "key=value"), count: 0...Bounds.tagsPerRequest))),
        .optional("remove", .nullable(.array(.pattern(.tag, length: 3...160, description: "key=value"), count: 0...Bounds.tagsPerRequest))),
    ], description: "Tags to add and to remove; both empty changes nothing")
}

struct ConsentRequest: Decodable {
    let kind: String
    let version: String

    static let schema = InputSchema.object([
        .required("kind", .text(1...64, description: "e.g. follow-up, data-sharing")),
        .required("version", .text(1...64)),
    ])
}

struct ImportResultBody: Encodable {
    struct RejectBody: Encodable {
        let line: Int
        let field: String?
        let reason: String
    }

    let created: Int
    let updated: Int
    let rejected: Int
    let rejects: [RejectBody]

    static let schema = Schema.object([
        "created": Schema.integer, "updated": Schema.integer, "rejected": Schema.integer,
        "rejects": Schema.array(Schema.object(["line": Schema.integer, "field": Schema.nullable("string"), "reason": Schema.string], required: ["line", "reason"])),
    ], required: ["created", "updated", "rejected", "rejects"])
}

/// Patient endpoints of the REST API.
struct PatientRoutes: Sendable {
    let dependencies: AppDependencies
    static let maxImportBytes = 10 << 20

    private var patients: PatientActions { dependencies.actions.patients }

    func endpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/patients", operationID: "listPatients",
                summary: "Patients of the program, filtered by tags, status or external id, paged by id", tag: "patients",
                query: [
                    .init(name: "tags", schema: .tagFilter, description: "All of these tags: key=value,key=value (value * for any)"),
                    .init(name: "any_tags", schema: .tagFilter, description: "At least one of these tags"),
                    .init(name: "not_tags", schema: .tagFilter, description: "None of these tags"),
                    .init(name: "status", schema: .values(PatientStatus.allCases.map(\.rawValue)), description: "Only this status"),
                    .init(name: "external_id", schema: .pattern(.oneLine, length: 1...64), description: "Only this external id"),
                    .init(name: "after", schema: .identifier, description: "Continue after this patient id (next_after of the previous page)"),
                    .init(name: "limit", schema: .integer(1...500), description: "Page size (default 50)"),
                ],
                response: Schema.ref("PatientPage"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let query = try Self.patientQuery(request.query)
                let page = try await patients.list(programID: grant.program.id, query: query, by: context.actor)
                return try JSONIO.response(PatientPageBody(items: page.patients.map(PatientBody.init), next_after: page.nextAfter))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/patients", operationID: "createPatient",
                summary: "Create a patient; a phone, ID number or external id already in the program is a 409", tag: "patients",
                body: .json(PatientInput.createSchema), successStatus: 201, response: Schema.ref("Patient"), conflicts: true, permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let input = try await JSONIO.decode(PatientInput.self, from: request)
                let patient = try await patients.create(programID: grant.program.id, profile: try input.applied(to: nil), tags: try input.parsedTags(), by: context.actor)
                return try JSONIO.response(PatientBody(patient), status: .created)
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/patients/search", operationID: "searchPatients",
                summary: "Find patients by exact phone, ID number or name (sent in the body, never in the URL)", tag: "patients",
                body: .json(PatientSearchRequest.schema), response: Schema.list(of: "Patient"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(PatientSearchRequest.self, from: request)
                let found = try await patients.search(programID: grant.program.id, phone: body.phone, idNumber: body.id_number, name: body.name, by: context.actor)
                return try JSONIO.response(ItemsBody(items: found.map(PatientBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/patients/import", operationID: "importPatients",
                summary: "Import patients from CSV (text/csv) or NDJSON (application/x-ndjson), at most 10 MiB; rows are upserted by external_id and invalid rows reported",
                tag: "patients",
                query: [.init(name: "encoding", schema: .values(TextEncoding.allCases.map(\.rawValue)), description: "The file's encoding (default: detected, UTF-8 or GB18030)")],
                body: .raw(description: "The file's content", contentTypes: ["text/csv", "application/x-ndjson"], maxBytes: Self.maxImportBytes),
                response: Schema.ref("ImportResult"), permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let format: ImportFormat = (request.headers[.contentType] ?? "").contains("ndjson") || (request.headers[.contentType] ?? "").contains("jsonl") ? .ndjson : .csv
                let buffer: ByteBuffer
                do {
                    buffer = try await request.body.collect(upTo: Self.maxImportBytes)
                } catch {
                    throw TendError(kind: .payloadTooLarge, code: "payload_too_large",
                                    message: .init(en: "Imports over the API are limited to 10 MiB; use `tend import patients` for larger files", zh: "API 导入上限 10 MiB，更大的文件请用 tend import patients"))
                }
                let encoding = request.query.get("encoding").flatMap(TextEncoding.init(name:))
                let reader = try ImportRowReader(bytes: Array(buffer: buffer), format: format, encoding: encoding)
                var rejects: [ImportResultBody.RejectBody] = []
                let summary = try await patients.importRows(reader, programID: grant.program.id, by: context.actor, reject: { reject in
                    if rejects.count < 1000 { rejects.append(.init(line: reject.line, field: reject.field, reason: reject.reason)) }
                })
                return try JSONIO.response(ImportResultBody(created: summary.created, updated: summary.updated, rejected: summary.rejected, rejects: rejects))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/patients/{patient}", operationID: "getPatient",
                summary: "One patient with tags and consents", tag: "patients", response: Schema.ref("Patient"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                guard let patient = try await patients.read(programID: grant.program.id, patientID: try context.parameters.require("patient"), by: context.actor) else {
                    throw TendError.notFound("patient")
                }
                return try JSONIO.response(PatientBody(patient))
            },

            APIEndpoint(operation: APIOperation(
                method: .patch, path: "/api/v1/programs/{program}/patients/{patient}", operationID: "updatePatient",
                summary: "Change a patient: fields left out are kept, null clears an optional field", tag: "patients",
                body: .json(PatientInput.schema), response: Schema.ref("Patient"), conflicts: true, permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let patientID = try context.parameters.require("patient")
                let input = try await JSONIO.decode(PatientInput.self, from: request)
                guard let patient = try await patients.update(programID: grant.program.id, patientID: patientID, by: context.actor, change: { try input.applied(to: $0) }) else {
                    throw TendError.notFound("patient")
                }
                return try JSONIO.response(PatientBody(patient))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/patients/{patient}/tags", operationID: "changePatientTags",
                summary: "Add and remove tags (key=value)", tag: "patients", body: .json(TagChangeRequest.schema), response: Schema.ref("Patient"), permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let patientID = try context.parameters.require("patient")
                let body = try await JSONIO.decode(TagChangeRequest.self, from: request)
                let add = try (body.add ?? []).map { (text) throws(TendError) in try PatientTag.parse(text, field: "add") }
                let remove = try (body.remove ?? []).map { (text) throws(TendError) in try PatientTag.parse(text, field: "remove") }
                guard let patient = try await patients.retag(programID: grant.program.id, patientID: patientID, add: add, remove: remove, by: context.actor) else {
                    throw TendError.notFound("patient")
                }
                return try JSONIO.response(PatientBody(patient))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/patients/{patient}/consents", operationID: "recordConsent",
                summary: "Record a consent the patient gave", tag: "patients", body: .json(ConsentRequest.schema), successStatus: 201, response: Schema.ref("Consent"), permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(ConsentRequest.self, from: request)
                guard let consent = try await patients.recordConsent(
                    programID: grant.program.id, patientID: try context.parameters.require("patient"), kind: body.kind, version: body.version, by: context.actor) else {
                    throw TendError.notFound("patient")
                }
                return try JSONIO.response(ConsentBody(consent), status: .created)
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/patients/{patient}/consents/{consent}/withdraw", operationID: "withdrawConsent",
                summary: "Record that the patient withdrew a consent", tag: "patients", successStatus: 204, conflicts: true, permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                guard try await patients.withdrawConsent(
                    programID: grant.program.id, patientID: try context.parameters.require("patient"),
                    consentID: try context.parameters.require("consent"), by: context.actor) else {
                    throw TendError.notFound("consent")
                }
                return Response(status: .noContent)
            },
        ]
    }

    /// Reads list filters from query parameters; empty ones (as a submitted form sends) are ignored.
    static func patientQuery(_ all: QueryValues) throws(TendError) -> PatientQuery {
        let parameters = all.all.filter { !$0.value.trimmingCharacters(in: .whitespaces).isEmpty }
        var query = PatientQuery()
        if let text = parameters["tags"] { query.tags.all = try TagFilter.tags(String(text), field: "tags") }
        if let text = parameters["any_tags"] { query.tags.any = try TagFilter.tags(String(text), field: "any_tags") }
        if let text = parameters["not_tags"] { query.tags.none = try TagFilter.tags(String(text), field: "not_tags") }
        if let text = parameters["status"] {
            guard let status = PatientStatus(rawValue: String(text)) else {
                throw TendError.invalid("status", .init(en: "must be active, paused, withdrawn or deceased", zh: "应为 active、paused、withdrawn 或 deceased"))
            }
            query.status = status
        }
        if let text = parameters["external_id"] { query.externalID = String(text) }
        if let text = parameters["after"] { query.after = String(text) }
        if let text = parameters["limit"] {
            guard let limit = Int(String(text)), (1...500).contains(limit) else {
                throw TendError.invalid("limit", .init(en: "must be an integer from 1 to 500", zh: "必须是 1–500 的整数"))
            }
            query.limit = limit
        }
        return query
    }
}
