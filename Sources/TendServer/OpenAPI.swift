import Foundation
import Hummingbird

/// A JSON value, used to write the OpenAPI document without a schema library.
indirect enum JSONValue: Encodable, Sendable, ExpressibleByStringLiteral, ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int)
    case bool(Bool)
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
        case .bool(let value): try container.encode(value)
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

/// One documented endpoint. The router is built from these, and the OpenAPI document is
/// generated from the same list, so the two cannot drift apart.
struct APIOperation: Sendable {
    struct QueryParameter: Sendable {
        var name: String
        var schema: JSONValue
        var description: String
    }

    var method: HTTPRequest.Method
    var path: String
    var operationID: String
    var summary: String
    var tag: String
    var requiresAuth = true
    var query: [QueryParameter] = []
    var requestBody: JSONValue?
    var successStatus = 200
    var response: JSONValue?
    var responseContentType = "application/json"
    var requestContentTypes = ["application/json"]

    /// The path in the router's syntax (`:name` for `{name}`).
    var routerPath: String {
        path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
    }

    var pathParameters: [String] {
        path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
    }
}

enum OpenAPIDocument {
    static func build(operations: [APIOperation], components: [String: JSONValue], serverURL: String) -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for operation in operations {
            var entry: [String: JSONValue] = [
                "operationId": .string(operation.operationID),
                "summary": .string(operation.summary),
                "tags": [.string(operation.tag)],
            ]
            var parameters: [JSONValue] = operation.pathParameters.map {
                ["name": .string($0), "in": "path", "required": true, "schema": Schema.string]
            }
            parameters += operation.query.map {
                ["name": .string($0.name), "in": "query", "required": false, "schema": $0.schema, "description": .string($0.description)]
            }
            if !parameters.isEmpty { entry["parameters"] = .array(parameters) }
            if let body = operation.requestBody {
                entry["requestBody"] = ["required": true, "content": .object(Dictionary(uniqueKeysWithValues: operation.requestContentTypes.map { ($0, ["schema": body]) }))]
            }
            var responses: [String: JSONValue] = [:]
            if let response = operation.response {
                responses[String(operation.successStatus)] = ["description": "Success", "content": .object([operation.responseContentType: ["schema": response]])]
            } else {
                responses[String(operation.successStatus)] = ["description": "Success"]
            }
            let errorResponse: JSONValue = ["content": ["application/json": ["schema": Schema.ref("Error")]]]
            func error(_ description: String) -> JSONValue {
                guard case .object(var object) = errorResponse else { return errorResponse }
                object["description"] = .string(description)
                return .object(object)
            }
            if operation.requestBody != nil || !operation.query.isEmpty {
                responses["400"] = error("Malformed JSON, a missing field or a field of the wrong type; `field` names it")
            }
            if operation.requiresAuth {
                responses["401"] = error("Missing, unknown or revoked credentials")
                entry["security"] = [["bearerAuth": []], ["sessionCookie": []]]
            } else {
                entry["security"] = []
            }
            if !operation.pathParameters.isEmpty || operation.method != .get {
                responses["403"] = error("The caller's role does not allow this")
                responses["404"] = error("No such resource, or one in a program the caller is not in")
            }
            if operation.requestBody != nil {
                responses["409"] = error("The value conflicts with an existing one")
            }
            entry["responses"] = .object(responses)
            paths[operation.path, default: [:]][operation.method.rawValue.lowercased()] = .object(entry)
        }
        var allComponents = components
        allComponents["Error"] = Schema.object([
            "error": ["type": "string", "description": "Machine-readable code, e.g. missing_field, wrong_type, unauthenticated"],
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
}
