import Foundation
import Hummingbird
import TendCore

struct TriageRequest: Decodable {
    let text: String
    let locale: String?

    static let schema = InputSchema.object([
        .required("text", .string(.init(length: 1...Bounds.textLength))),
        .optional("locale", .nullable(.values(["zh", "zh-Hans", "en"]))),
    ])
}

struct TriageBody: Encodable {
    let level: String
    let flags: [String]
    let reasons: [TriageReason]

    init(_ result: TriageResult) {
        level = result.level.rawValue
        flags = result.flags.map(\.rawValue)
        reasons = result.reasons
    }

    static let schema = Schema.object([
        "level": Schema.enumeration(TriageLevel.allCases.map(\.rawValue)),
        "flags": Schema.array(Schema.enumeration(TriageFlag.allCases.map(\.rawValue))),
        "reasons": Schema.array(Schema.object(["rule": Schema.string, "match": Schema.string], required: ["rule", "match"])),
    ], required: ["level", "flags", "reasons"])
}

enum TriageRoutes {
    static func endpoint(classifier: TriageClassifier) -> APIEndpoint {
        APIEndpoint(operation: APIOperation(
            method: .post, path: "/api/v1/triage", operationID: "triage",
            summary: "Grade a message: urgent, review, private, general or social, with compliance flags and the reasons",
            tag: "triage", body: .json(TriageRequest.schema), response: Schema.ref("TriageResult"))
        ) { request, context in
            _ = try context.requireIdentity()
            let body = try await JSONIO.decode(TriageRequest.self, from: request)
            var locale = AppLocale.zhHans
            if let text = body.locale {
                guard let parsed = AppLocale(identifier: text) else { throw TendError.invalid("locale", .init(en: "must be zh or en", zh: "必须是 zh 或 en")) }
                locale = parsed
            }
            return try JSONIO.response(TriageBody(classifier.classify(body.text, locale: locale)))
        }
    }
}
