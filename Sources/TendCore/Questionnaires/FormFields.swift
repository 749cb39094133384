import Foundation

/// Answers from an HTML form: one field per item, named by its id (a multiple choice repeats
/// it), and `<id>__unit` for the unit a number was entered in. An empty field is not an answer.
/// What the patient's phone page and the console's entry form post.
public enum FormFields {
    public static let unitSuffix = "__unit"
    /// Fields of one form post, and characters of one field.
    public static let maximumFields = 400
    public static let maximumLength = Bounds.textLength

    public static func answers(_ fields: [(name: String, value: String)], for questionnaire: Questionnaire) throws(TendError) -> [String: AnswerValue] {
        guard fields.count <= maximumFields else {
            throw TendError.invalid("body", .init(en: "has more than \(maximumFields) fields", zh: "字段超过 \(maximumFields) 个"))
        }
        var values: [String: [String]] = [:]
        for field in fields {
            guard field.value.unicodeScalars.count <= maximumLength else {
                throw TendError.invalid("answers.\(field.name.prefix(40))", .init(en: "must be at most \(maximumLength) characters", zh: "不能超过 \(maximumLength) 个字符"))
            }
            let text = field.value.trimmed
            if !text.isEmpty { values[field.name, default: []].append(text) }
        }
        var answers: [String: AnswerValue] = [:]
        for item in questionnaire.items {
            guard let given = values[item.id], let first = given.first else { continue }
            switch item.kind {
            case .multiple:
                answers[item.id] = .list(given.prefix(AnswerValue.maximumChoices).map { .string($0) })
            case .number(let spec):
                guard let number = number(first) else {
                    answers[item.id] = .string(first)
                    continue
                }
                let unit = values[item.id + unitSuffix]?.first.flatMap(UnitName.parse)
                answers[item.id] = unit.map { $0 == spec.unit ? .number(number) : .quantity(number, unit: $0) } ?? .number(number)
            case .yesNo:
                switch first.lowercased() {
                case "yes", "true", "1", "是": answers[item.id] = .bool(true)
                case "no", "false", "0", "否": answers[item.id] = .bool(false)
                default: answers[item.id] = .string(first)
                }
            case .single, .date, .text, .photo:
                answers[item.id] = .string(first)
            }
        }
        return answers
    }

    /// A number as people type it on a phone: full-width digits, a comma for the decimal point.
    static func number(_ text: String) -> Double? {
        let folded = String(text.unicodeScalars.map { scalar -> Character in
            if (0xFF10...0xFF19).contains(scalar.value), let digit = Unicode.Scalar(scalar.value - 0xFF10 + 0x30) { return Character(digit) }
            if scalar == "，" || scalar == "," || scalar == "。" || scalar == "．" { return "." }
            if scalar == "－" { return "-" }
            return Character(scalar)
        })
        guard folded.count <= 32, let value = Double(folded), value.isFinite else { return nil }
        return value
    }
}
