import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

/// Questionnaire responses on the console: every answer in the staff member's language, the
/// score, band and flags, and the photos sent with them (opened through an audited read).
struct ResponseConsole: Sendable {
    let console: ConsoleRoutes

    func register(on router: Router<TendRequestContext>) {
        router.get("/p/:program/photos/:photo") { request, context -> Response in
            let page = try await console.programPage(.readPatients, request, context)
            guard let photo = try await console.dependencies.actions.questionnaires.photo(
                programID: page.grant.program.id, id: try context.parameters.require("photo"), by: page.actor) else {
                throw TendError.notFound("photo")
            }
            return PhotoResponse.response(photo)
        }
    }

    /// The responses for the patient page, each with its questionnaire's texts (the version it answered).
    static func values(_ responses: [QuestionnaireResponse], programID: String, programSlug: String, questionnaires: QuestionnaireActions,
                       locale: AppLocale) async throws -> [ResponseView] {
        let t = UIStrings.strings(for: locale)
        var definitions: [String: Questionnaire] = [:]
        var rows: [ResponseView] = []
        for response in responses {
            let key = "\(response.questionnaireID)@\(response.version)"
            if definitions[key] == nil {
                definitions[key] = try await questionnaires.definition(programID: programID, id: response.questionnaireID, version: response.version)
            }
            let definition = definitions[key]
            let band = definition.flatMap { $0.total?.bands.first { $0.id == response.band } }
            let flagReasons = response.flags.map { id in definition?.flags.first { $0.id == id }?.reason.text(in: locale) ?? id }
            let answers = (definition?.items ?? []).compactMap { item -> ResponseView.Answer? in
                guard let answer = response.answers[item.id] else { return nil }
                let question = item.text?.text(in: locale) ?? item.id
                if case .photo = item.kind, case .string(let id) = answer {
                    return .init(question: question, photo: "/p/\(programSlug)/photos/\(id)")
                }
                return .init(question: question, answer: Self.text(answer, for: item, locale: locale, strings: t))
            }
            rows.append(ResponseView(
                name: definition?.name.text(in: locale) ?? response.questionnaireID, at: TaskConsole.format(response.submittedAt),
                total: response.total.map { $0.text(decimals: 2) }, band: response.band.map { band?.label.text(in: locale) ?? $0 },
                flags: flagReasons, answers: answers))
        }
        return rows
    }

    static func text(_ answer: AnswerValue, for item: QuestionnaireItem, locale: AppLocale, strings t: [String: String]) -> String {
        func option(_ code: String) -> String {
            switch item.kind {
            case .single(let options), .multiple(let options): options.first { $0.code == code }?.text?.text(in: locale) ?? code
            default: code
            }
        }
        switch answer {
        case .bool(let flag): return (flag ? t["yes"] : t["no"]) ?? (flag ? "yes" : "no")
        case .number(let number):
            if case .number(let spec) = item.kind { return "\(number.text(decimals: 2)) \(FormPages.unitLabel(spec.unit))" }
            return option(number.text(decimals: 6))
        case .quantity(let number, let unit): return "\(number.text(decimals: 2)) \(FormPages.unitLabel(unit))"
        case .string(let text): return option(text)
        case .list(let items):
            return items.map { value -> String in
                if case .string(let text) = value { return option(text) }
                if case .number(let number) = value { return option(number.text(decimals: 6)) }
                return ""
            }.joined(separator: "、")
        }
    }
}

/// One questionnaire response on the patient page: its score, band, flags and every answer.
struct ResponseView {
    var name: String
    var at: String
    var total: String?
    var band: String?
    var flags: [String]
    var answers: [Answer]

    struct Answer {
        var question: String
        /// Where a photo answer is served; nil for other answers.
        var photo: String?
        var answer: String?
    }
}
