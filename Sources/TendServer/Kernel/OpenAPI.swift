import Foundation
import Hummingbird
import TendCore

/// A JSON value, used to write the OpenAPI document without a schema library.
indirect enum JSONValue: Encodable, Sendable, ExpressibleByStringLiteral, ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .int(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .null: try container.encodeNil()
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// Schema shorthands for the operation table.
enum Schema {
    static let string: JSONValue = ["type": "string"]
    static let integer: JSONValue = ["type": "integer"]
    static let boolean: JSONValue = ["type": "boolean"]
    static let dateTime: JSONValue = ["type": "string", "format": "date-time"]
    static func nullable(_ type: String, format: String? = nil) -> JSONValue {
        var schema: [String: JSONValue] = ["type": [.string(type), "null"]]
        if let format { schema["format"] = .string(format) }
        return .object(schema)
    }
    static func enumeration(_ values: [String]) -> JSONValue { ["type": "string", "enum": .array(values.map(JSONValue.string))] }
    static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }
    static func array(_ items: JSONValue) -> JSONValue { ["type": "array", "items": items] }
    static func object(_ properties: [String: JSONValue], required: [String]) -> JSONValue {
        ["type": "object", "properties": .object(properties), "required": .array(required.map(JSONValue.string))]
    }
    static func list(of name: String) -> JSONValue { object(["items": array(ref(name))], required: ["items"]) }
}

/// One documented endpoint. The router is built from these, every request is held to their
/// input schemas before its handler runs, and the OpenAPI document is generated from the same
/// list, so the three cannot drift apart.
struct APIOperation: Sendable {
    struct QueryParameter: Sendable {
        var name: String
        var schema: InputSchema
        var description: String
        var required = false
    }

    enum Body: Sendable {
        /// A JSON body held to its schema.
        case json(InputSchema)
        /// The same, or no body at all.
        case optionalJSON(InputSchema)
        /// A file in the body (CSV, NDJSON, YAML), read by the handler itself.
        case raw(description: String, contentTypes: [String], maxBytes: Int)
    }

    var method: HTTPRequest.Method
    var path: String
    var operationID: String
    var summary: String
    var tag: String
    var requiresAuth = true
    var query: [QueryParameter] = []
    var body: Body?
    var successStatus = 200
    var response: JSONValue?
    var responseContentType = "application/json"
    /// Statuses the handler itself may answer beyond the ones every operation of its kind can
    /// (400, 401, 403, 404, 413 …), e.g. 409 for a value already taken.
    var conflicts = false
    /// What the caller must be allowed in the path's program. Checked before the inputs, so an
    /// outsider learns nothing from a 400 about a program they cannot see.
    var permission: Permission?

    /// The path in the router's syntax (`:name` for `{name}`).
    var routerPath: String {
        path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
    }

    var pathParameters: [String] {
        path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
    }

    /// Path segments are program slugs or ids.
    static func pathSchema(_ name: String) -> InputSchema {
        switch name {
        case "program": .pattern(.slug, length: 2...48, description: "The program's slug")
        case "channel": .values(ChannelConfig.configurable.map(\.rawValue))
        default: .identifier
        }
    }

    /// Every status the operation can answer with, and why.
    var statuses: [(status: Int, description: String)] {
        var statuses = [(successStatus, "Success")]
        let hasInput = body != nil || !query.isEmpty || !pathParameters.isEmpty
        if hasInput { statuses.append((400, "A field is missing, of the wrong type, out of its bounds or malformed; `field` names it")) }
        if requiresAuth {
            statuses.append((401, "Missing, unknown, expired or revoked credentials"))
            statuses.append((403, "The caller's role does not allow this, or a session's CSRF token is missing"))
        }
        if requiresAuth || !pathParameters.isEmpty { statuses.append((404, "No such resource, or one in a program the caller is not in")) }
        if conflicts { statuses.append((409, "The value conflicts with an existing one, or the resource is not in a state that allows this")) }
        if body != nil { statuses.append((413, "The body is larger than the operation accepts")) }
        if requiresAuth { statuses.append((429, "Too many requests; retry after the Retry-After header's seconds")) }
        return statuses
    }
}

extension InputSchema {
    /// The schema as JSON Schema (OpenAPI 3.1).
    var document: JSONValue {
        switch self {
        case .string(let rule):
            var schema: [String: JSONValue] = ["type": "string", "minLength": .int(rule.length.lowerBound), "maxLength": .int(rule.length.upperBound)]
            if let format = rule.format { schema["format"] = .string(format.rawValue) }
            if let pattern = rule.pattern { schema["pattern"] = .string(pattern.source) }
            if let values = rule.values { schema["enum"] = .array(values.map(JSONValue.string)) }
            if let description = rule.description { schema["description"] = .string(description) }
            return .object(schema)
        case .integer(let range, let description):
            return Self.described(["type": "integer", "format": "int64", "minimum": .int(Int(range.lowerBound)), "maximum": .int(Int(range.upperBound))], description)
        case .number(let range, let description):
            return Self.described(["type": "number", "minimum": .double(range.lowerBound), "maximum": .double(range.upperBound)], description)
        case .boolean(let description):
            return Self.described(["type": "boolean"], description)
        case .array(let items, let count, let description):
            return Self.described(["type": "array", "items": items.document, "minItems": .int(count.lowerBound), "maxItems": .int(count.upperBound)], description)
        case .object(let properties, let description):
            var schema: [String: JSONValue] = [
                "type": "object",
                "properties": .object(Dictionary(uniqueKeysWithValues: properties.map { ($0.name, $0.schema.document) })),
            ]
            let required = properties.filter(\.required).map(\.name)
            if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
            return Self.described(schema, description)
        case .dictionary(let keys, let values, let count, let description):
            guard case .object(var keySchema) = InputSchema.string(keys).document else { return [:] }
            keySchema.removeValue(forKey: "type")
            return Self.described([
                "type": "object", "additionalProperties": values.document, "propertyNames": .object(keySchema),
                "minProperties": .int(count.lowerBound), "maxProperties": .int(count.upperBound),
            ], description)
        case .needsOneOf(let names, let inner):
            guard case .object(var schema) = inner.document else { return inner.document }
            schema["anyOf"] = .array(names.map { ["required": [.string($0)]] })
            return .object(schema)
        case .variants(let key, let variants, let description):
            return Self.described(["oneOf": .array(variants.map { variant in
                InputSchema.object([.required(key, .string(.init(length: 1...64, values: variant.values)))] + variant.properties).document
            })], description)
        case .anyOf(let choices, let description):
            return Self.described(["anyOf": .array(choices.map(\.document))], description)
        case .nullable(let inner):
            guard case .object(var schema) = inner.document else { return inner.document }
            if case .string(let type) = schema["type"] { schema["type"] = [.string(type), "null"] }
            if case .array(let values) = schema["enum"] { schema["enum"] = .array(values + [.null]) }
            return .object(schema)
        }
    }

    private static func described(_ schema: [String: JSONValue], _ description: String?) -> JSONValue {
        var schema = schema
        if let description { schema["description"] = .string(description) }
        return .object(schema)
    }
}

enum OpenAPIDocument {
    static func build(operations: [APIOperation], components: [String: JSONValue], serverURL: String) -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for operation in operations {
            paths[operation.path, default: [:]][operation.method.rawValue.lowercased()] = entry(operation)
        }
        var allComponents = components
        allComponents["Error"] = Schema.object([
            "error": ["type": "string", "description": "Machine-readable code, e.g. missing_field, wrong_type, out_of_range, unauthenticated"],
            "message": ["type": "string", "description": "Human message in the caller's language"],
            "field": Schema.nullable("string"),
            "request_id": Schema.string,
        ], required: ["error", "message", "request_id"])
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Tend API",
                "version": "1",
                "description": "Active out-of-hospital patient management. Errors are JSON {error, message, field}.",
            ],
            "servers": [["url": .string(serverURL)]],
            "paths": .object(paths.mapValues { .object($0) }),
            "components": [
                "schemas": .object(allComponents),
                "securitySchemes": [
                    "bearerAuth": ["type": "http", "scheme": "bearer", "description": "A token from `tend token create` or POST /api/v1/tokens"],
                    "sessionCookie": ["type": "apiKey", "in": "cookie", "name": .string(CookieName.session)],
                ],
            ],
        ]
    }

    private static func entry(_ operation: APIOperation) -> JSONValue {
        var entry: [String: JSONValue] = [
            "operationId": .string(operation.operationID),
            "summary": .string(operation.summary),
            "tags": [.string(operation.tag)],
        ]
        var parameters: [JSONValue] = operation.pathParameters.map {
            ["name": .string($0), "in": "path", "required": true, "schema": APIOperation.pathSchema($0).document]
        }
        parameters += operation.query.map {
            ["name": .string($0.name), "in": "query", "required": .bool($0.required), "schema": $0.schema.document, "description": .string($0.description)]
        }
        if !parameters.isEmpty { entry["parameters"] = .array(parameters) }
        switch operation.body {
        case .json(let schema):
            entry["requestBody"] = ["required": true, "content": ["application/json": ["schema": schema.document]]]
        case .optionalJSON(let schema):
            entry["requestBody"] = ["required": false, "content": ["application/json": ["schema": schema.document]]]
        case .raw(let description, let contentTypes, let maxBytes):
            let schema: JSONValue = ["type": "string", "description": .string("\(description) (at most \(maxBytes) bytes)")]
            entry["requestBody"] = ["required": true, "content": .object(Dictionary(uniqueKeysWithValues: contentTypes.map { ($0, ["schema": schema]) }))]
        case nil:
            break
        }
        var responses: [String: JSONValue] = [:]
        for (status, description) in operation.statuses {
            if status == operation.successStatus {
                if let response = operation.response {
                    responses[String(status)] = ["description": .string(description), "content": .object([operation.responseContentType: ["schema": response]])]
                } else {
                    responses[String(status)] = ["description": .string(description)]
                }
            } else {
                responses[String(status)] = ["description": .string(description), "content": ["application/json": ["schema": Schema.ref("Error")]]]
            }
        }
        entry["responses"] = .object(responses)
        entry["security"] = operation.requiresAuth ? [["bearerAuth": []], ["sessionCookie": []]] : []
        return .object(entry)
    }
}

extension APIOperation {
    /// Holds a request to the operation's declared inputs before its handler runs: every path
    /// segment, every declared query value, and a JSON body (which the handler then reads
    /// again from the returned request).
    func admit(_ request: Request, context: inout TendRequestContext, access: ProgramAccess) async throws -> Request {
        if requiresAuth { _ = try context.requireIdentity() }
        if let permission { context.grant = try await access.require(permission, for: request, context: context) }
        for name in pathParameters {
            try Self.pathSchema(name).validate(text: context.parameters.get(name) ?? "", field: name)
        }
        for parameter in query {
            guard let value = request.query.get(parameter.name) else {
                if parameter.required { throw TendError.missing(parameter.name) }
                continue
            }
            try parameter.schema.validate(text: value, field: parameter.name)
        }
        var admitted = request
        switch body {
        case .json(let schema): admitted.body = .init(buffer: try await JSONIO.admit(request, schema: schema))
        case .optionalJSON(let schema): admitted.body = .init(buffer: try await JSONIO.admit(request, schema: schema, allowEmpty: true))
        case .raw, nil: return request
        }
        return admitted
    }
}
