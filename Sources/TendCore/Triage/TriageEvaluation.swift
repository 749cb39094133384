import Foundation

/// A message with the level a person gave it: a row of the corpus (`TriageCorpus/*.jsonl`), of a
/// challenge file (`level⇥locale⇥category⇥text`) or of `tend triage feedback export`.
public struct LabelledMessage: Sendable, Equatable {
    public var locale: AppLocale
    public var text: String
    public var level: TriageLevel
    public var category: String
    /// The compliance flag is expected: the row's flags name it, or (TSV) its category is ads or personal data.
    public var expectsCompliance: Bool
    public var context: TriageContext?

    private struct JSONRow: Decodable {
        var locale: String
        var text: String
        var level: String
        var category: String?
        var flags: [String]?
        var context: String?
    }

    /// One line: a JSON object (`locale`, `text`, `level`, optional `category`, `flags`, `context`)
    /// or four tab-separated fields. Throws naming the line and the field that does not read.
    public static func parse(line: Substring, number: Int) throws(TendError) -> LabelledMessage {
        guard line.utf8.count <= Bounds.textLength * 4 + 1_000 else { throw TendError.invalid("line \(number)", .init(en: "is longer than a message may be", zh: "超过消息长度上限")) }
        if line.first == "{" {
            guard let row = try? JSONDecoder().decode(JSONRow.self, from: Data(line.utf8)) else {
                throw TendError.invalid("line \(number)", .init(en: "is not a labelled row (locale, text, level)", zh: "不是标注行（locale、text、level）"))
            }
            var context: TriageContext?
            if let name = row.context {
                guard let known = TriageContext(rawValue: name) else { throw TendError.invalid("line \(number)", .init(en: "names an unknown context \(name)", zh: "context \(name) 无效")) }
                context = known
            }
            return try make(locale: row.locale, text: row.text, level: row.level, category: row.category ?? "",
                            compliance: row.flags?.contains(TriageFlag.compliance.rawValue) == true, context: context, number: number)
        }
        let fields = line.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 4 else { throw TendError.invalid("line \(number)", .init(en: "needs level, locale, category and text separated by tabs", zh: "需要以制表符分隔的 level、locale、category、text")) }
        return try make(locale: fields[1], text: fields[3], level: fields[0], category: fields[2],
                        compliance: ["ads", "personal_data"].contains(fields[2]), context: nil, number: number)
    }

    private static func make(locale: String, text: String, level: String, category: String, compliance: Bool,
                             context: TriageContext?, number: Int) throws(TendError) -> LabelledMessage {
        guard let language = AppLocale(identifier: locale) else { throw TendError.invalid("line \(number)", .init(en: "locale must be zh or en", zh: "locale 必须是 zh 或 en")) }
        guard let graded = TriageLevel(rawValue: level) else {
            let levels = TriageLevel.allCases.map(\.rawValue).joined(separator: ", ")
            throw TendError.invalid("line \(number)", .init(en: "level must be one of \(levels)", zh: "level 必须是 \(levels) 之一"))
        }
        guard text.count <= Bounds.textLength else { throw TendError.invalid("line \(number)", .init(en: "text is longer than \(Bounds.textLength) characters", zh: "text 超过 \(Bounds.textLength) 个字符")) }
        return LabelledMessage(locale: language, text: text, level: graded, category: category, expectsCompliance: compliance, context: context)
    }

    /// Every non-blank line of a file's text.
    public static func parse(_ text: String) throws(TendError) -> [LabelledMessage] {
        var rows: [LabelledMessage] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.hasSuffix("\r") ? line.dropLast() : line
            if trimmed.allSatisfy(\.isWhitespace) { continue }
            rows.append(try parse(line: trimmed, number: index + 1))
        }
        return rows
    }
}

/// How the classifier grades a labelled set: issue 16's figures (urgent recall and precision,
/// urgent graded social, compliance recall, lenient level accuracy — general and social
/// confused count half).
public struct TriageFigures: Sendable, Equatable, CustomStringConvertible {
    public var rows = 0
    public var urgent = 0, urgentCaught = 0, gradedUrgent = 0, urgentAsSocial = 0
    public var compliance = 0, complianceCaught = 0
    public var score = 0.0

    public init() {}

    public var urgentRecall: Double { urgent == 0 ? 1 : Double(urgentCaught) / Double(urgent) }
    public var urgentPrecision: Double { gradedUrgent == 0 ? 1 : Double(urgentCaught) / Double(gradedUrgent) }
    public var complianceRecall: Double { compliance == 0 ? 1 : Double(complianceCaught) / Double(compliance) }
    public var lenientAccuracy: Double { rows == 0 ? 1 : score / Double(rows) }
    /// Messages graded urgent that are not.
    public var falseAlarms: Int { gradedUrgent - urgentCaught }

    /// The credit for one grade: 1 when right, half for general and social taken for each other.
    public static func credit(expected: TriageLevel, got: TriageLevel) -> Double {
        if got == expected { return 1 }
        return Set([got, expected]) == [.general, .social] ? 0.5 : 0
    }

    public mutating func add(_ row: LabelledMessage, _ result: TriageResult) {
        rows += 1
        if row.level == .urgent {
            urgent += 1
            if result.level == .urgent { urgentCaught += 1 }
            if result.level == .social { urgentAsSocial += 1 }
        }
        if result.level == .urgent { gradedUrgent += 1 }
        if row.expectsCompliance {
            compliance += 1
            if result.flags.contains(.compliance) { complianceCaught += 1 }
        }
        score += Self.credit(expected: row.level, got: result.level)
    }

    public var description: String {
        String(format: "%d messages: urgent recall %.4f (%d/%d), urgent precision %.4f (%d graded urgent), urgent graded social %d, compliance recall %.4f (%d/%d), lenient level accuracy %.4f",
               rows, urgentRecall, urgentCaught, urgent, urgentPrecision, gradedUrgent, urgentAsSocial, complianceRecall, complianceCaught, compliance, lenientAccuracy)
    }
}

public struct TriageEvaluation: Sendable {
    public struct Miss: Sendable, Equatable {
        public var row: LabelledMessage
        public var result: TriageResult
    }

    public var all = TriageFigures()
    public var byLocale: [AppLocale: TriageFigures] = [:]
    /// Rows graded at another level, or whose compliance flag was missed.
    public var misses: [Miss] = []

    public init(_ rows: [LabelledMessage], classifier: TriageClassifier = TriageClassifier()) {
        for row in rows {
            let result = classifier.classify(row.text, locale: row.locale, context: row.context)
            all.add(row, result)
            byLocale[row.locale, default: TriageFigures()].add(row, result)
            if result.level != row.level || (row.expectsCompliance && !result.flags.contains(.compliance)) {
                misses.append(Miss(row: row, result: result))
            }
        }
    }
}
