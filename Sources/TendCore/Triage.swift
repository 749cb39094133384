import Foundation

/// How an incoming message is handled (消息精灵): act now, move to a 1:1 conversation,
/// answer in the group, or no action.
public enum TriageLevel: String, Sendable, Codable, CaseIterable, Comparable {
    case social
    case general
    case `private`
    case urgent

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: TriageLevel, rhs: TriageLevel) -> Bool { lhs.rank < rhs.rank }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

public enum TriageFlag: String, Sendable, Codable, CaseIterable {
    /// Ads, selling drugs, miracle cures, loans, contact solicitation, or personal data posted in a group.
    case compliance
}

public struct TriageReason: Sendable, Equatable, Codable {
    public var rule: String
    public var match: String

    public init(rule: String, match: String) {
        self.rule = rule
        self.match = match
    }
}

public struct TriageResult: Sendable, Equatable, Codable {
    public var level: TriageLevel
    public var flags: [TriageFlag]
    public var reasons: [TriageReason]
}

/// One phrase rule: a list of phrases that, found in a message, set a level and/or a flag.
public struct TriagePhraseRule: Sendable, Codable, Equatable {
    public var id: String
    public var level: TriageLevel?
    public var flag: TriageFlag?
    public var phrases: [String]
    /// Whether a negation just before the phrase ("没有发烧", "no chest pain") cancels it.
    public var negatable: Bool

    public init(id: String, level: TriageLevel?, flag: TriageFlag? = nil, phrases: [String], negatable: Bool = false) {
        self.id = id
        self.level = level
        self.flag = flag
        self.phrases = phrases
        self.negatable = negatable
    }
}

/// The thresholds that make a measured value urgent; programs may set their own.
public struct TriageThresholds: Sendable, Codable, Equatable {
    public var glucoseLow = 3.9
    public var glucoseHigh = 16.7
    public var temperature = 38.0
    public var oxygenSaturation = 92.0
    public var systolic = 160.0
    public var diastolic = 110.0

    public init() {}
}

/// Rules for one language.
public struct TriageRules: Sendable, Codable, Equatable {
    public var phrases: [TriagePhraseRule]
    public var negations: [String]
    /// Words that mark an event as over ("已经好了", "went away"): its clause is ignored.
    public var resolved: [String]
    public var glucoseWords: [String]
    public var temperatureWords: [String]
    public var oxygenWords: [String]
    public var pressureWords: [String]
    public var questionMarkers: [String]
}

/// A pure classifier for Chinese and English messages: phrase rules with negation and
/// resolved-event handling, values with units against thresholds, personal data in groups.
/// The result's reasons name each rule and what it matched.
public struct TriageClassifier: Sendable {
    public var rules: [AppLocale: TriageRules]
    public var thresholds: TriageThresholds

    public init(rules: [AppLocale: TriageRules] = TriageDefaults.rules, thresholds: TriageThresholds = TriageThresholds()) {
        self.rules = rules
        self.thresholds = thresholds
    }

    public func classify(_ raw: String, locale: AppLocale) -> TriageResult {
        let text = TextFolding.halfWidth(raw).lowercased()
        // Chinese and English often mix; apply both rule sets, the message's own first.
        let order: [AppLocale] = locale == .en ? [.en, .zhHans] : [.zhHans, .en]
        var best: TriageLevel?
        var flags: [TriageFlag] = []
        var reasons: [TriageReason] = []
        func raise(_ to: TriageLevel, _ reason: TriageReason) {
            reasons.append(reason)
            if best == nil || to > best! { best = to }
        }
        let clauses = Self.clauses(text)
        for locale in order {
            guard let rules = rules[locale] else { continue }
            for rule in rules.phrases {
                for phrase in rule.phrases {
                    for clause in clauses {
                        guard let range = clause.range(of: phrase) else { continue }
                        if rule.negatable, Self.isNegated(clause, before: range, negations: rules.negations) { continue }
                        if rule.level == .urgent, rules.resolved.contains(where: { clause.contains($0) }) { continue }
                        let reason = TriageReason(rule: rule.id, match: String(clause[range]))
                        if let flag = rule.flag, !flags.contains(flag) { flags.append(flag) }
                        if let ruleLevel = rule.level { raise(ruleLevel, reason) } else { reasons.append(reason) }
                    }
                }
            }
            for reason in values(clauses, rules: rules) {
                raise(.urgent, reason)
            }
        }
        // Personal data posted where others can read it.
        for reason in Self.personalData(in: text) {
            if !flags.contains(.compliance) { flags.append(.compliance) }
            raise(.private, reason)
        }
        var level = best ?? .general
        // Greetings and thanks are social unless they also ask something or break a rule.
        if level == .social {
            let asks = order.compactMap { rules[$0] }.contains { rules in rules.questionMarkers.contains { text.contains($0) } }
            if asks || !flags.isEmpty { level = .general }
        }
        return TriageResult(level: level, flags: flags, reasons: reasons)
    }

    /// Mainland ID numbers (17 digits and a digit or x) and mobile numbers (1[3-9] and 9
    /// digits) standing alone in the text.
    static func personalData(in text: String) -> [TriageReason] {
        var reasons: [TriageReason] = []
        var run: [Character] = []
        func flush() {
            if run.count == 18, run.dropLast().allSatisfy(\.isASCIIDigit), run.first != "0" {
                reasons.append(TriageReason(rule: "pii.id_number", match: String(run)))
            } else if run.count == 11, run.allSatisfy(\.isASCIIDigit), run[0] == "1", ("3"..."9").contains(run[1]) {
                reasons.append(TriageReason(rule: "pii.mobile", match: String(run)))
            }
            run.removeAll()
        }
        for character in text {
            if character.isASCIIDigit || (character == "x" && run.count == 17) {
                run.append(character)
            } else {
                flush()
            }
        }
        flush()
        return reasons
    }

    static func clauses(_ text: String) -> [Substring] {
        text.split(whereSeparator: { ",，。.;；!！?？\n、".contains($0) && $0 != "." } ).flatMap { piece -> [Substring] in
            // A full stop ends a clause only when it is not inside a number (39.2).
            var parts: [Substring] = []
            var start = piece.startIndex
            var index = piece.startIndex
            while index < piece.endIndex {
                let next = piece.index(after: index)
                if piece[index] == ".", !(index > piece.startIndex && piece[piece.index(before: index)].isNumber && next < piece.endIndex && piece[next].isNumber) {
                    parts.append(piece[start..<index])
                    start = next
                }
                index = next
            }
            parts.append(piece[start..<piece.endIndex])
            return parts.filter { !$0.trimmed.isEmpty }
        }
    }

    static func isNegated(_ clause: Substring, before range: Range<Substring.Index>, negations: [String]) -> Bool {
        let prefix = clause[clause.startIndex..<range.lowerBound]
        let window = String(prefix.suffix(12))
        return negations.contains { window.contains($0) }
    }

    /// Measured values with their units, compared with the thresholds.
    func values(_ clauses: [Substring], rules: TriageRules) -> [TriageReason] {
        var reasons: [TriageReason] = []
        for clause in clauses {
            let numbers = clause.matches(of: /([0-9]{1,3}(?:\.[0-9]+)?)\s*(mmol\/l|mg\/dl|℃|°c|度|%|c\b)?/)
            let hasGlucose = rules.glucoseWords.contains { clause.contains($0) }
            let hasTemperature = rules.temperatureWords.contains { clause.contains($0) }
            let hasOxygen = rules.oxygenWords.contains { clause.contains($0) }
            let hasPressure = rules.pressureWords.contains { clause.contains($0) }
            if hasPressure, let pressure = clause.firstMatch(of: /([0-9]{2,3})\s*\/\s*([0-9]{2,3})/),
               let systolic = Double(pressure.1), let diastolic = Double(pressure.2),
               systolic >= thresholds.systolic || diastolic >= thresholds.diastolic {
                reasons.append(TriageReason(rule: "value.blood_pressure", match: String(pressure.0)))
                continue
            }
            if hasGlucose, let code = clause.firstMatch(of: /\b(hi|lo)\b/) {
                reasons.append(TriageReason(rule: "value.glucose_meter_code", match: String(code.0)))
                continue
            }
            for match in numbers {
                guard let value = Double(match.1) else { continue }
                let unit = match.2.map(String.init)
                if hasGlucose && unit != "%" && unit != "度" && unit != "℃" && unit != "°c" {
                    let mmol = unit == "mg/dl" || value > 35 ? value / 18.0 : value
                    if mmol < thresholds.glucoseLow || mmol >= thresholds.glucoseHigh {
                        reasons.append(TriageReason(rule: "value.glucose", match: String(match.0)))
                    }
                } else if (hasTemperature || unit == "度" || unit == "℃" || unit == "°c") && (34...43).contains(value) {
                    if value >= thresholds.temperature {
                        reasons.append(TriageReason(rule: "value.temperature", match: String(match.0)))
                    }
                } else if hasOxygen && (50...100).contains(value) && value < thresholds.oxygenSaturation {
                    reasons.append(TriageReason(rule: "value.oxygen_saturation", match: String(match.0)))
                }
            }
        }
        return reasons
    }
}
