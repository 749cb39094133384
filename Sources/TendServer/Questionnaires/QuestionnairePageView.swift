import Foundation
import TendCore
import TendEngine

/// The patient's questionnaire page: the link's state and, while it asks, every item with the
/// answer sent back in place and its problem beside it.
struct QuestionnairePageView {
    var action: String
    var invalid = false
    var expired = false
    var closed = false
    var done = false
    var ask = false
    /// After a submission: the reasons of its urgent flags, which the page tells the patient to act on.
    var urgent: [String] = []
    var programName: String?
    var message: String?
    var title: String?
    var items: [Item] = []
    var generalErrors: [String] = []
    var hasErrors = false
    var multipart = false
    var maxPhotoMiB = Bounds.photoBytes >> 20

    struct Choice {
        var code: String
        var label: String
        var checked: Bool
    }

    struct Item {
        var id: String
        var text: String
        var required: Bool
        var conditional: Bool
        var error: String?
        var isSingle = false
        var isMultiple = false
        var isNumber = false
        var isDate = false
        var isText = false
        var isYesNo = false
        var isPhoto = false
        var options: [Choice] = []
        var value = ""
        var units: [Choice] = []
        var hasUnits = false
        var unitLabel = ""
        var maxLength = 0
        var yesChecked = false
        var noChecked = false
        var accept = ""
    }

    /// The form's items in the patient's language, the answers sent back in place, and each
    /// problem beside its item.
    mutating func fill(_ form: FormView, locale: AppLocale) {
        let t = UIStrings.strings(for: locale)
        var errors: [String: String] = [:]
        for problem in form.problems {
            if let field = problem.field, field.hasPrefix("answers.") {
                errors[String(field.dropFirst("answers.".count))] = problem.message.text(in: locale)
            } else {
                generalErrors.append(problem.message.text(in: locale))
            }
        }
        for item in form.missing { errors[item] = t["form_required"] ?? "" }
        ask = true
        programName = form.programName
        message = form.message
        title = form.questionnaire.name.text(in: locale)
        items = form.questionnaire.items.map { Self.item($0, answer: form.answers[$0.id], error: errors[$0.id], locale: locale) }
        hasErrors = !generalErrors.isEmpty || !errors.isEmpty
        multipart = form.questionnaire.items.contains { if case .photo = $0.kind { true } else { false } }
    }

    private static func item(_ item: QuestionnaireItem, answer: AnswerValue?, error: String?, locale: AppLocale) -> Item {
        var row = Item(id: item.id, text: item.text?.text(in: locale) ?? item.id, required: item.required, conditional: item.showIf != nil, error: error)
        switch item.kind {
        case .single(let options), .multiple(let options):
            let chosen: Set<String> = switch answer {
            case .list(let values)?: Set(values.compactMap { if case .string(let text) = $0 { text } else { nil } })
            case .string(let text)?: [text]
            default: []
            }
            if item.kind.name == "single" { row.isSingle = true } else { row.isMultiple = true }
            row.options = options.map { Choice(code: $0.code, label: $0.text?.text(in: locale) ?? $0.code, checked: chosen.contains($0.code)) }
        case .number(let spec):
            row.isNumber = true
            switch answer {
            case .number(let number)?, .quantity(let number, _)?: row.value = number.text(decimals: 6)
            case .string(let text)?: row.value = text
            default: break
            }
            var entered = spec.unit
            if case .quantity(_, let unit)? = answer { entered = unit }
            let units = UnitFamily.alternatives(of: spec.unit)
            row.units = units.map { Choice(code: $0, label: FormPages.unitLabel($0), checked: $0 == entered) }
            row.hasUnits = units.count > 1
            row.unitLabel = FormPages.unitLabel(spec.unit)
        case .date:
            row.isDate = true
            if case .string(let text)? = answer { row.value = text }
        case .text(let maxLength):
            row.isText = true
            row.maxLength = maxLength
            if case .string(let text)? = answer { row.value = text }
        case .yesNo:
            row.isYesNo = true
            if case .bool(let flag)? = answer { if flag { row.yesChecked = true } else { row.noChecked = true } }
        case .photo:
            row.isPhoto = true
            row.accept = PhotoType.allCases.map(\.rawValue).joined(separator: ",")
        }
        return row
    }
}
