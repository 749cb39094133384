public import Foundation

/// A segment's rule, as a program admin writes it:
///
///     disease = T2DM and age >= 65 and last(glucose-fasting, 14d) >= 7.0 and not tag(stage)
///
/// Clauses join with `and`, `or`, `not` and parentheses. A bare name compared with `=`, `!=` or
/// `in (…)` is a tag key unless it is one of the patient's attributes (`age`, `sex`, `status`,
/// `time_zone`, `locale`). Functions: `tag(key)` / `tag(key = value)`; `last`, `min`, `max`,
/// `mean`, `count` of an observation code over an optional window (`14d`, `2w`, `48h`);
/// `score(questionnaire[, window])` and `band(questionnaire[, window])` of the latest response;
/// `enrolled(pathway[, status])`; `pdc(class[, window])`. Numbers are in the code's canonical unit
/// unless a unit follows them (`>= 126 mg/dL`).
public indirect enum SegmentExpression: Sendable, Equatable {
    case all([SegmentExpression])
    case any([SegmentExpression])
    case not(SegmentExpression)
    case clause(SegmentClause)

    /// Every clause, in the order written.
    public var clauses: [SegmentClause] {
        switch self {
        case .all(let parts), .any(let parts): parts.flatMap(\.clauses)
        case .not(let inner): inner.clauses
        case .clause(let clause): [clause]
        }
    }
}

/// One condition of a rule, with the text it was written as (shown in "why").
public struct SegmentClause: Sendable, Equatable {
    public var condition: SegmentCondition
    public var text: String
    public var line: Int
    public var column: Int

    public init(condition: SegmentCondition, text: String, line: Int, column: Int) {
        self.condition = condition
        self.text = text
        self.line = line
        self.column = column
    }
}

public enum SegmentComparison: String, Sendable, Equatable, CaseIterable {
    case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="

    public func holds(_ left: Double, _ right: Double) -> Bool {
        switch self {
        case .equal: left == right
        case .notEqual: left != right
        case .less: left < right
        case .lessOrEqual: left <= right
        case .greater: left > right
        case .greaterOrEqual: left >= right
        }
    }
}

/// How a clause reads a patient's observations of one code in a window.
public enum ObservationAggregate: String, Sendable, Equatable, CaseIterable {
    case last, min, max, mean, count
}

/// A sliding window ending now.
public struct SegmentWindow: Sendable, Equatable {
    public var hours: Int

    public init(hours: Int) { self.hours = hours }

    public var seconds: TimeInterval { TimeInterval(hours) * 3600 }

    public var text: String {
        if hours % (24 * 7) == 0 { return "\(hours / (24 * 7))w" }
        if hours % 24 == 0 { return "\(hours / 24)d" }
        return "\(hours)h"
    }

    /// Ten years: longer windows read the whole history anyway.
    public static let maximumHours = 24 * 3660
}

public enum PatientAttribute: String, Sendable, Equatable, CaseIterable {
    case age, sex, status
    case timeZone = "time_zone"
    case locale
}

public enum SegmentCondition: Sendable, Equatable {
    /// The patient has a tag of `key`, with one of `values` when given.
    case tag(key: String, values: [String]?)
    /// Age in whole years today, in the patient's zone.
    case age(SegmentComparison, Int)
    /// sex, status, time_zone or locale is one of the values.
    case attribute(PatientAttribute, [String])
    case observation(ObservationAggregate, ObservationCode, SegmentWindow?, SegmentComparison, Double)
    /// The total of the latest response to a questionnaire (in the window).
    case score(questionnaire: String, SegmentWindow?, SegmentComparison, Double)
    /// The band of the latest response to a questionnaire (in the window) is one of the values.
    case band(questionnaire: String, SegmentWindow?, [String])
    /// An enrolment in the pathway (its latest version or any earlier) in one of the statuses.
    case enrolled(pathway: String, [EnrolmentStatus])
    /// The proportion of days covered (PQA) for a drug class (or a drug without one) over the
    /// window ending today (the whole history, ten years at most, without one). A patient whose
    /// treatment period is under 91 days has no PDC, and no PDC clause holds for them.
    case adherence(drugClass: String, SegmentWindow?, SegmentComparison, Double)

    /// Whether the clause can stop holding with no change to the patient, only because time
    /// passes: those need the periodic sweep.
    public var slides: Bool {
        switch self {
        case .observation(_, _, let window, _, _), .score(_, let window, _, _), .band(_, let window, _): window != nil
        case .age, .adherence: true
        case .tag, .attribute, .enrolled: false
        }
    }
}

/// Where a rule was wrong, in both languages.
public struct SegmentRuleError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: LocalizedText

    public init(line: Int, column: Int, message: LocalizedText) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "line \(line), column \(column): \(message.en) / 第 \(line) 行第 \(column) 列：\(message.zh)" }
}

public struct SegmentRule: Sendable, Equatable {
    public var expression: SegmentExpression
    public var source: String

    public static let maximumLength = 4_000
    public static let maximumClauses = 50
    public static let maximumDepth = 16
    public static let maximumValues = 50

    public var clauses: [SegmentClause] { expression.clauses }
    public var slides: Bool { clauses.contains { $0.condition.slides } }

    /// The questionnaires and pathways the rule names, for the program to check they exist.
    public var questionnaires: [SegmentClause] {
        clauses.filter { if case .score = $0.condition { return true }; if case .band = $0.condition { return true }; return false }
    }
    public var pathways: [SegmentClause] {
        clauses.filter { if case .enrolled = $0.condition { return true }; return false }
    }

    public static func parse(_ text: String) throws(SegmentRuleError) -> SegmentRule {
        guard text.count <= maximumLength else {
            throw SegmentRuleError(line: 1, column: 1, message: .init(en: "the rule is longer than \(maximumLength) characters", zh: "规则超过 \(maximumLength) 个字符"))
        }
        var parser = SegmentRuleParser(tokens: try SegmentRuleLexer.tokens(text), source: text)
        let expression = try parser.rule()
        return SegmentRule(expression: expression, source: text)
    }
}

// MARK: Lexer

struct SegmentToken: Equatable {
    enum Kind: Equatable {
        case name(String)
        case number(Double)
        /// A number with h, d or w straight after it.
        case window(SegmentWindow)
        case string(String)
        case symbol(String)
        case end
    }

    var kind: Kind
    var line: Int
    var column: Int
    /// Where the token's text starts and ends in the source, for clause texts.
    var start: String.Index
    var end: String.Index
}

/// Reads a rule's text into tokens, each with the line and column it starts at.
struct SegmentRuleLexer {
    let text: String
    var index: String.Index
    var line = 1, column = 1

    /// Where a token starts, for its position and for errors about it.
    struct Mark {
        var start: String.Index
        var line: Int
        var column: Int

        func fail(_ en: String, _ zh: String) -> SegmentRuleError {
            SegmentRuleError(line: line, column: column, message: .init(en: en, zh: zh))
        }
    }

    static func isNameCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || "_-.:/[]{}%*".contains(character)
    }

    static func tokens(_ text: String) throws(SegmentRuleError) -> [SegmentToken] {
        var lexer = SegmentRuleLexer(text: text, index: text.startIndex)
        var tokens: [SegmentToken] = []
        while let token = try lexer.next() { tokens.append(token) }
        tokens.append(SegmentToken(kind: .end, line: lexer.line, column: lexer.column, start: text.endIndex, end: text.endIndex))
        return tokens
    }

    private var atEnd: Bool { index >= text.endIndex }

    private mutating func advance() {
        if text[index] == "\n" { line += 1; column = 1 } else { column += 1 }
        index = text.index(after: index)
    }

    /// The next token, or nil at the end of the text; spaces and `#` comments are skipped.
    private mutating func next() throws(SegmentRuleError) -> SegmentToken? {
        while !atEnd, text[index].isWhitespace || text[index] == "#" {
            if text[index] == "#" {
                while !atEnd, text[index] != "\n" { advance() }
            } else {
                advance()
            }
        }
        guard !atEnd else { return nil }
        let character = text[index]
        let mark = Mark(start: index, line: line, column: column)
        let kind: SegmentToken.Kind
        if character == "\"" {
            kind = try quoted(mark)
        } else if case let two = String(text[index...].prefix(2)), ["!=", "<=", ">="].contains(two) {
            advance(); advance()
            kind = .symbol(two)
        } else if "=<>(),".contains(character) {
            advance()
            kind = .symbol(String(character))
        } else if character.isNumber || ((character == "-" || character == ".") && nextIsDigit) {
            kind = try number(mark)
        } else if Self.isNameCharacter(character) {
            kind = try name(mark)
        } else {
            throw mark.fail("unexpected \"\(character)\"", "无法识别的字符“\(character)”")
        }
        return SegmentToken(kind: kind, line: mark.line, column: mark.column, start: mark.start, end: index)
    }

    private var nextIsDigit: Bool {
        let following = text.index(after: index)
        return following < text.endIndex && text[following].isNumber
    }

    private mutating func quoted(_ mark: Mark) throws(SegmentRuleError) -> SegmentToken.Kind {
        advance()
        var value = ""
        while !atEnd, text[index] != "\"", text[index] != "\n" {
            value.append(text[index])
            advance()
        }
        guard !atEnd, text[index] == "\"" else { throw mark.fail("the quoted text is not closed", "引号未闭合") }
        advance()
        guard value.count <= Bounds.nameLength else { throw mark.fail("a quoted value is longer than \(Bounds.nameLength) characters", "引号内的值超过 \(Bounds.nameLength) 个字符") }
        return .string(value)
    }

    /// A number, or a window when h, d or w follows it (14d).
    private mutating func number(_ mark: Mark) throws(SegmentRuleError) -> SegmentToken.Kind {
        var literal = String(text[index])
        advance()
        while !atEnd, text[index].isASCII, text[index].isNumber || text[index] == "." {
            literal.append(text[index])
            advance()
        }
        guard literal.count <= 20, let value = Double(literal), value.isFinite, abs(value) <= ObservationCatalog.numberLimit else {
            throw mark.fail("\"\(literal.prefix(24))\" is not a number Tend takes", "“\(literal.prefix(24))”不是有效数字")
        }
        guard !atEnd, ["h", "d", "w"].contains(text[index]),
              text.index(after: index) == text.endIndex || !Self.isNameCharacter(text[text.index(after: index)]) else { return .number(value) }
        let unit = text[index]
        advance()
        guard value == value.rounded(), value >= 1 else { throw mark.fail("a window is a whole number of hours, days or weeks (14d)", "时间窗应为整数小时、天或周（如 14d）") }
        let hours = Int(value) * (unit == "h" ? 1 : unit == "d" ? 24 : 24 * 7)
        guard hours <= SegmentWindow.maximumHours else { throw mark.fail("a window is at most 3660 days", "时间窗最长 3660 天") }
        return .window(SegmentWindow(hours: hours))
    }

    private mutating func name(_ mark: Mark) throws(SegmentRuleError) -> SegmentToken.Kind {
        var name = ""
        while !atEnd, Self.isNameCharacter(text[index]) {
            name.append(text[index])
            advance()
        }
        guard name.count <= Bounds.identifierLength else { throw mark.fail("a name is longer than \(Bounds.identifierLength) characters", "名称超过 \(Bounds.identifierLength) 个字符") }
        return .name(name)
    }
}

// MARK: Parser

struct SegmentRuleParser {
    let tokens: [SegmentToken]
    let source: String
    var position = 0
    var depth = 0
    var clauseCount = 0

    init(tokens: [SegmentToken], source: String) {
        self.tokens = tokens
        self.source = source
    }

    var current: SegmentToken { tokens[position] }

    func fail(_ token: SegmentToken, _ en: String, _ zh: String) -> SegmentRuleError {
        SegmentRuleError(line: token.line, column: token.column, message: .init(en: en, zh: zh))
    }

    func keyword(_ token: SegmentToken) -> String? {
        guard case .name(let name) = token.kind else { return nil }
        let lowered = name.lowercased()
        return ["and", "or", "not", "in"].contains(lowered) ? lowered : nil
    }

    func describe(_ token: SegmentToken) -> String {
        switch token.kind {
        case .end: "the end of the rule"
        default: "\"\(source[token.start..<token.end].prefix(40))\""
        }
    }

    mutating func take() -> SegmentToken {
        let token = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    mutating func expect(_ symbol: String) throws(SegmentRuleError) -> SegmentToken {
        guard current.kind == .symbol(symbol) else {
            throw fail(current, "expected \"\(symbol)\" but found \(describe(current))", "此处应为“\(symbol)”，实际为\(describe(current))")
        }
        return take()
    }

    mutating func rule() throws(SegmentRuleError) -> SegmentExpression {
        guard current.kind != .end else { throw fail(current, "the rule is empty", "规则为空") }
        let expression = try disjunction()
        guard current.kind == .end else {
            throw fail(current, "expected \"and\", \"or\" or the end of the rule but found \(describe(current))",
                       "此处应为 and、or 或规则结束，实际为\(describe(current))")
        }
        return expression
    }

    mutating func disjunction() throws(SegmentRuleError) -> SegmentExpression {
        var parts = [try conjunction()]
        while keyword(current) == "or" {
            _ = take()
            parts.append(try conjunction())
        }
        return parts.count == 1 ? parts[0] : .any(parts)
    }

    mutating func conjunction() throws(SegmentRuleError) -> SegmentExpression {
        var parts = [try unary()]
        while keyword(current) == "and" {
            _ = take()
            parts.append(try unary())
        }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    mutating func nested<R>(_ body: (inout SegmentRuleParser) throws(SegmentRuleError) -> R) throws(SegmentRuleError) -> R {
        depth += 1
        defer { depth -= 1 }
        guard depth <= SegmentRule.maximumDepth else {
            throw fail(current, "the rule nests deeper than \(SegmentRule.maximumDepth) levels", "规则嵌套超过 \(SegmentRule.maximumDepth) 层")
        }
        return try body(&self)
    }

    mutating func unary() throws(SegmentRuleError) -> SegmentExpression {
        if keyword(current) == "not" {
            _ = take()
            return .not(try nested { parser throws(SegmentRuleError) in try parser.unary() })
        }
        if current.kind == .symbol("(") {
            _ = take()
            let inner = try nested { parser throws(SegmentRuleError) in try parser.disjunction() }
            _ = try expect(")")
            return inner
        }
        return try clause()
    }

    mutating func name(_ what: (en: String, zh: String)) throws(SegmentRuleError) -> (String, SegmentToken) {
        let token = take()
        switch token.kind {
        case .name(let name) where keyword(token) == nil: return (name, token)
        case .string(let text) where !text.isEmpty: return (text, token)
        default: throw fail(token, "expected \(what.en) but found \(describe(token))", "此处应为\(what.zh)，实际为\(describe(token))")
        }
    }

    mutating func comparison() throws(SegmentRuleError) -> SegmentComparison {
        let token = take()
        guard case .symbol(let symbol) = token.kind, let comparison = SegmentComparison(rawValue: symbol) else {
            throw fail(token, "expected a comparison (=, !=, <, <=, >, >=) but found \(describe(token))", "此处应为比较符（=、!=、<、<=、>、>=），实际为\(describe(token))")
        }
        return comparison
    }

    /// A number, with an optional unit after it converted to the code's canonical unit.
    mutating func number(for code: ObservationCode?) throws(SegmentRuleError) -> Double {
        let token = take()
        guard case .number(let value) = token.kind else {
            throw fail(token, "expected a number but found \(describe(token))", "此处应为数字，实际为\(describe(token))")
        }
        guard case .name(let unit) = current.kind, keyword(current) == nil else { return value }
        let unitToken = take()
        guard let code, let definition = ObservationCatalog.definition(code: code),
              let conversion = definition.conversion(for: UnitName.parse(unit) ?? unit) else {
            throw fail(unitToken, "\"\(unit.prefix(40))\" is not a unit of this code", "“\(unit.prefix(40))”不是该指标的单位")
        }
        return conversion.toCanonical(value)
    }

    /// Values after `=` (one) or `in` (a parenthesised list).
    mutating func values(after token: SegmentToken) throws(SegmentRuleError) -> [String] {
        if keyword(token) == "in" {
            _ = try expect("(")
            var values: [String] = []
            repeat {
                if !values.isEmpty { _ = take() }
                values.append(try value())
                guard values.count <= SegmentRule.maximumValues else {
                    throw fail(current, "a list has more than \(SegmentRule.maximumValues) values", "列表超过 \(SegmentRule.maximumValues) 个值")
                }
            } while current.kind == .symbol(",")
            _ = try expect(")")
            return values
        }
        return [try value()]
    }

    mutating func value() throws(SegmentRuleError) -> String {
        let token = take()
        switch token.kind {
        case .name(let name) where keyword(token) == nil: return name
        case .string(let text): return text
        case .number: return String(source[token.start..<token.end])
        default: throw fail(token, "expected a value but found \(describe(token))", "此处应为取值，实际为\(describe(token))")
        }
    }

    mutating func window() throws(SegmentRuleError) -> SegmentWindow? {
        guard current.kind == .symbol(",") else { return nil }
        _ = take()
        let token = take()
        guard case .window(let window) = token.kind else {
            throw fail(token, "expected a window such as 14d, 2w or 48h but found \(describe(token))", "此处应为时间窗（如 14d、2w、48h），实际为\(describe(token))")
        }
        return window
    }

    mutating func clause() throws(SegmentRuleError) -> SegmentExpression {
        let first = current
        clauseCount += 1
        guard clauseCount <= SegmentRule.maximumClauses else {
            throw fail(first, "the rule has more than \(SegmentRule.maximumClauses) clauses", "规则超过 \(SegmentRule.maximumClauses) 个条件")
        }
        let (name, nameToken) = try self.name((en: "a clause", zh: "条件"))
        var negated = false
        let condition: SegmentCondition
        if current.kind == .symbol("(") {
            _ = take()
            condition = try function(name.lowercased(), at: nameToken)
            _ = try expect(")")
            if case .observation(let aggregate, let code, let window, _, _) = condition {
                let comparison = try self.comparison()
                let value = try number(for: aggregate == .count ? nil : code)
                return finish(.observation(aggregate, code, window, comparison, value), from: first)
            }
            if case .score(let questionnaire, let window, _, _) = condition {
                let comparison = try self.comparison()
                return finish(.score(questionnaire: questionnaire, window, comparison, try number(for: nil)), from: first)
            }
            if case .adherence(let drugClass, let window, _, _) = condition {
                let comparison = try self.comparison()
                let token = current
                let value = try number(for: nil)
                guard (0...1).contains(value) else { throw fail(token, "a PDC is a proportion from 0 to 1 (0.8)", "PDC 为 0 到 1 之间的比例（如 0.8）") }
                return finish(.adherence(drugClass: drugClass, window, comparison, value), from: first)
            }
            if case .band(let questionnaire, let window, _) = condition {
                let operation = take()
                guard operation.kind == .symbol("=") || operation.kind == .symbol("!=") || keyword(operation) == "in" else {
                    throw fail(operation, "band is compared with =, != or in (…)", "band 只能用 =、!= 或 in (…) 比较")
                }
                negated = operation.kind == .symbol("!=")
                let expression = finish(.band(questionnaire: questionnaire, window, try values(after: operation)), from: first)
                return negated ? .not(expression) : expression
            }
            return finish(condition, from: first)
        }
        if name.lowercased() == "age" {
            let comparison = try self.comparison()
            let token = current
            let value = try number(for: nil)
            guard value == value.rounded(), (0...150).contains(value) else { throw fail(token, "age is a whole number of years (0–150)", "年龄应为 0–150 的整数") }
            return finish(.age(comparison, Int(value)), from: first)
        }
        let operation = take()
        guard operation.kind == .symbol("=") || operation.kind == .symbol("!=") || keyword(operation) == "in" else {
            throw fail(operation, "expected =, != or in after \"\(name.prefix(40))\" but found \(describe(operation))",
                       "“\(name.prefix(40))”之后应为 =、!= 或 in，实际为\(describe(operation))")
        }
        negated = operation.kind == .symbol("!=")
        let values = try self.values(after: operation)
        if let attribute = PatientAttribute(rawValue: name.lowercased()) {
            condition = .attribute(attribute, try attributeValues(attribute, values, at: operation))
        } else {
            condition = .tag(key: name.lowercased(), values: values)
        }
        let expression = finish(condition, from: first)
        return negated ? .not(expression) : expression
    }

    func attributeValues(_ attribute: PatientAttribute, _ values: [String], at token: SegmentToken) throws(SegmentRuleError) -> [String] {
        switch attribute {
        case .sex:
            var sexes: [String] = []
            for value in values {
                guard let sex = Sex(loose: value) else { throw fail(token, "\"\(value.prefix(40))\" is not a sex (female, male, other, unknown)", "“\(value.prefix(40))”不是有效性别") }
                sexes.append(sex.rawValue)
            }
            return sexes
        case .status:
            for value in values where PatientStatus(rawValue: value) == nil {
                throw fail(token, "\"\(value.prefix(40))\" is not a patient status (active, paused, withdrawn, deceased)", "“\(value.prefix(40))”不是有效的患者状态")
            }
            return values
        case .timeZone, .locale, .age:
            return values
        }
    }

    mutating func function(_ name: String, at token: SegmentToken) throws(SegmentRuleError) -> SegmentCondition {
        switch name {
        case "tag":
            let (key, _) = try self.name((en: "a tag key", zh: "标签名"))
            guard current.kind == .symbol("=") || keyword(current) == "in" else { return .tag(key: key.lowercased(), values: nil) }
            let operation = take()
            return .tag(key: key.lowercased(), values: try values(after: operation))
        case "last", "min", "max", "mean", "count":
            let (text, codeToken) = try self.name((en: "an observation code", zh: "指标代码"))
            let code: ObservationCode
            do throws(TendError) {
                code = try ObservationCatalog.code(text.replacingOccurrences(of: "_", with: "-"), field: "rule")
            } catch {
                throw fail(codeToken, "\"\(text.prefix(40))\" is not an observation code (a catalog key such as glucose-fasting, loinc:CODE or program:NAME)",
                           "“\(text.prefix(40))”不是指标代码（如 glucose-fasting、loinc:编码 或 program:名称）")
            }
            return .observation(ObservationAggregate(rawValue: name) ?? .last, code, try window(), .equal, 0)
        case "score", "band":
            let (questionnaire, _) = try self.name((en: "a questionnaire id", zh: "问卷编号"))
            let window = try window()
            return name == "score" ? .score(questionnaire: questionnaire, window, .equal, 0) : .band(questionnaire: questionnaire, window, [])
        case "pdc":
            let (drugClass, _) = try self.name((en: "a drug class or drug", zh: "药物类别或药名"))
            return .adherence(drugClass: drugClass, try window(), .equal, 0)
        case "enrolled":
            let (pathway, _) = try self.name((en: "a pathway", zh: "随访方案"))
            var statuses: [EnrolmentStatus] = [.active, .paused]
            if current.kind == .symbol(",") {
                _ = take()
                let (text, statusToken) = try self.name((en: "an enrolment status", zh: "入组状态"))
                guard let status = EnrolmentStatus(rawValue: text.lowercased()) else {
                    throw fail(statusToken, "\"\(text.prefix(40))\" is not an enrolment status (active, paused, cancelled)", "“\(text.prefix(40))”不是入组状态（active、paused、cancelled）")
                }
                statuses = [status]
            }
            return .enrolled(pathway: pathway, statuses)
        default:
            throw fail(token, "\"\(name.prefix(40))\" is not a function (tag, last, min, max, mean, count, score, band, enrolled, pdc)",
                       "“\(name.prefix(40))”不是可用的函数（tag、last、min、max、mean、count、score、band、enrolled、pdc）")
        }
    }

    func finish(_ condition: SegmentCondition, from first: SegmentToken) -> SegmentExpression {
        let end = tokens[max(0, position - 1)].end
        let text = String(source[first.start..<max(first.start, end)]).split(whereSeparator: \.isNewline).joined(separator: " ")
        return .clause(SegmentClause(condition: condition, text: text, line: first.line, column: first.column))
    }
}

/// What changed about a patient, for deciding which segments to look at again.
public enum SegmentTrigger: Sendable, Equatable {
    case tags
    /// Sex, birth date, status, zone or locale (status decides who is followed at all).
    case profile
    case observations(Set<ObservationCode>)
    case responses(Set<String>)
    case enrolments
    case dispenses
}

extension SegmentRule {
    public func isAffected(by trigger: SegmentTrigger) -> Bool {
        if trigger == .profile { return true }
        return clauses.contains { clause in
            switch (clause.condition, trigger) {
            case (.tag, .tags), (.enrolled, .enrolments), (.adherence, .dispenses): true
            case (.observation(_, let code, _, _, _), .observations(let codes)): codes.contains(code)
            case (.score(let id, _, _, _), .responses(let ids)), (.band(let id, _, _), .responses(let ids)): ids.contains(id)
            default: false
            }
        }
    }
}
