import Foundation
import Hummingbird
import TendCore
import NIOFoundationEssentialsCompat

/// Reading request bodies and writing responses as JSON, with errors that name the field.
enum JSONIO {
    static let maxBodyBytes = Bounds.bodyBytes

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(InstantText.format(date))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Reads a JSON body and holds it to its schema: size, nesting depth, then every field.
    /// Returns the bytes, for the handler to decode into its own type.
    static func admit(_ request: Request, schema: InputSchema, allowEmpty: Bool = false) async throws -> ByteBuffer {
        let buffer = try await collect(request, upTo: maxBodyBytes)
        if allowEmpty, buffer.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return ByteBuffer() }
        guard buffer.readableBytes > 0 else {
            throw TendError(kind: .invalidInput, code: "malformed_json", message: .init(en: "The body must be a JSON object", zh: "请求体必须是 JSON 对象"), field: "body")
        }
        guard JSONNesting.depth(buffer.readableBytesView) <= Bounds.nestingDepth else {
            throw TendError(kind: .invalidInput, code: "too_deep", message: .init(
                en: "The body is nested deeper than \(Bounds.nestingDepth) levels", zh: "请求体嵌套超过 \(Bounds.nestingDepth) 层"), field: "body")
        }
        let tree: JSONTree
        do {
            tree = try JSONDecoder().decode(JSONTree.self, from: Data(buffer: buffer))
        } catch {
            throw TendError(kind: .invalidInput, code: "malformed_json", message: .init(en: "The body is not valid JSON", zh: "请求体不是有效的 JSON"), field: "body")
        }
        try schema.validate(tree, at: "")
        return buffer
    }

    /// A file sent as the body (a pathway, a questionnaire, alert rules): UTF-8 text of at most `limit` bytes.
    static func text(_ request: Request, upTo limit: Int) async throws -> String {
        let bytes = Array(buffer: try await collect(request, upTo: limit))
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TendError.invalid("body", .init(en: "is not UTF-8 text", zh: "不是 UTF-8 文本"), code: "bad_encoding")
        }
        return text
    }

    static func collect(_ request: Request, upTo limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            throw TendError(kind: .payloadTooLarge, code: "payload_too_large",
                            message: .init(en: "The body is larger than \(limit) bytes", zh: "请求体超过 \(limit) 字节"), field: "body")
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer = try await collect(request, upTo: maxBodyBytes)
        guard buffer.readableBytes > 0 else {
            throw TendError(kind: .invalidInput, code: "malformed_json", message: .init(en: "The body must be a JSON object", zh: "请求体必须是 JSON 对象"), field: "body")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(T.self, from: Data(buffer: buffer))
        } catch let error as DecodingError {
            throw map(error)
        }
    }

    static func map(_ error: DecodingError) -> TendError {
        func path(_ codingPath: [any CodingKey], appending key: (any CodingKey)? = nil) -> String {
            let keys = codingPath + (key.map { [$0] } ?? [])
            return keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .missing(path(context.codingPath, appending: key))
        case .valueNotFound(_, let context):
            return .missing(path(context.codingPath))
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            return .invalid(field.isEmpty ? "body" : field, .init(en: "must be of type \(describe(type))", zh: "类型应为 \(describe(type))"), code: "wrong_type")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return TendError(kind: .invalidInput, code: "malformed_json",
                                 message: .init(en: "The body is not valid JSON", zh: "请求体不是有效的 JSON"), field: "body")
            }
            return .invalid(path(context.codingPath), .init(en: "has an invalid value", zh: "的值无效"))
        @unknown default:
            return TendError(kind: .invalidInput, code: "malformed_json", message: .init(en: "The body could not be read", zh: "无法读取请求体"), field: "body")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "string"
        case is Int.Type, is Int64.Type: "integer"
        case is Double.Type: "number"
        case is Bool.Type: "boolean"
        default: String(describing: type).contains("Array") ? "array" : "object"
        }
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A request's query values as browsers and form encoders write them: `+` is a space, then
/// percent escapes are decoded; the first of repeated names wins.
struct QueryValues: Sendable {
    private let values: [String: String]

    init(_ query: String?) {
        var values: [String: String] = [:]
        for pair in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let name = decode(parts[0])
            if values[name] == nil { values[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        self.values = values
    }

    subscript(_ name: String) -> String? { values[name] }
    func get(_ name: String) -> String? { values[name] }
    var all: [String: String] { values }
}

extension Request {
    var query: QueryValues { QueryValues(uri.query) }
}
