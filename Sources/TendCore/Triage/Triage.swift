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

    enum CodingKeys: String, CodingKey { case id, level, flag, phrases, negatable }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        level = try container.decodeIfPresent(TriageLevel.self, forKey: .level)
        flag = try container.decodeIfPresent(TriageFlag.self, forKey: .flag)
        phrases = try container.decode([String].self, forKey: .phrases)
        negatable = try container.decodeIfPresent(Bool.self, forKey: .negatable) ?? false
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

    enum CodingKeys: String, CodingKey {
        case glucoseLow = "glucose_low", glucoseHigh = "glucose_high", temperature
        case oxygenSaturation = "oxygen_saturation", systolic, diastolic
    }

    /// Any threshold left out keeps its default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = TriageThresholds()
        glucoseLow = try container.decodeIfPresent(Double.self, forKey: .glucoseLow) ?? defaults.glucoseLow
        glucoseHigh = try container.decodeIfPresent(Double.self, forKey: .glucoseHigh) ?? defaults.glucoseHigh
        temperature = try container.decodeIfPresent(Double.self, forKey: .temperature) ?? defaults.temperature
        oxygenSaturation = try container.decodeIfPresent(Double.self, forKey: .oxygenSaturation) ?? defaults.oxygenSaturation
        systolic = try container.decodeIfPresent(Double.self, forKey: .systolic) ?? defaults.systolic
        diastolic = try container.decodeIfPresent(Double.self, forKey: .diastolic) ?? defaults.diastolic
    }
}

/// Rules for one language, as in `Sources/TendCore/Rules/triage-<locale>.json`.
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

    enum CodingKeys: String, CodingKey {
        case phrases, negations, resolved
        case glucoseWords = "glucose_words", temperatureWords = "temperature_words", oxygenWords = "oxygen_words"
        case pressureWords = "pressure_words", questionMarkers = "question_markers"
    }
}

/// A pure classifier for Chinese and English messages: phrase rules with negation and
/// resolved-event handling, values with units against thresholds, personal data in groups.
/// The result's reasons name each rule and what it matched.
///
/// Every phrase, negation, keyword and marker of both languages is compiled into one matcher,
/// so a message is read once however many rules there are.
public struct TriageClassifier: Sendable {
    public let rules: [AppLocale: TriageRules]
    public let thresholds: TriageThresholds
    private let compiled: Compiled

    public init(rules: [AppLocale: TriageRules] = TriageDefaults.rules, thresholds: TriageThresholds = TriageThresholds()) {
        self.rules = rules
        self.thresholds = thresholds
        self.compiled = Compiled(rules)
    }

    /// What a matched pattern means; one pattern can mean several things.
    enum Meaning: Sendable {
        /// Locale order index (0 zh, 1 en), rule index, phrase index.
        case phrase(locale: Int, rule: Int, phrase: Int)
        case negation(locale: Int)
        case resolved(locale: Int)
        case glucose, temperature, oxygen, pressure, question
    }

    struct Compiled: Sendable {
        static let locales: [AppLocale] = [.zhHans, .en]
        let matcher: PhraseMatcher
        let meanings: [[Meaning]]
        let rules: [[TriagePhraseRule]]

        init(_ byLocale: [AppLocale: TriageRules]) {
            var index: [String: Int] = [:]
            var patterns: [String] = []
            var meanings: [[Meaning]] = []
            func add(_ text: String, _ meaning: Meaning) {
                let key = text.lowercased()
                guard !key.isEmpty else { return }
                if let existing = index[key] {
                    meanings[existing].append(meaning)
                } else {
                    index[key] = patterns.count
                    patterns.append(key)
                    meanings.append([meaning])
                }
            }
            var rules: [[TriagePhraseRule]] = []
            for (localeIndex, locale) in Self.locales.enumerated() {
                let set = byLocale[locale]
                rules.append(set?.phrases ?? [])
                guard let set else { continue }
                for (ruleIndex, rule) in set.phrases.enumerated() {
                    for (phraseIndex, phrase) in rule.phrases.enumerated() {
                        add(phrase, .phrase(locale: localeIndex, rule: ruleIndex, phrase: phraseIndex))
                    }
                }
                set.negations.forEach { add($0, .negation(locale: localeIndex)) }
                set.resolved.forEach { add($0, .resolved(locale: localeIndex)) }
                set.glucoseWords.forEach { add($0, .glucose) }
                set.temperatureWords.forEach { add($0, .temperature) }
                set.oxygenWords.forEach { add($0, .oxygen) }
                set.pressureWords.forEach { add($0, .pressure) }
                set.questionMarkers.forEach { add($0, .question) }
            }
            self.matcher = PhraseMatcher(patterns)
            self.meanings = meanings
            self.rules = rules
        }
    }

    struct Hit {
        var order: (Int, Int, Int, Int)
        var level: TriageLevel?
        var flag: TriageFlag?
        var reason: TriageReason
    }

    struct ClauseFacts {
        var range: Range<Int>
        var glucose = false, temperature = false, oxygen = false, pressure = false
        var resolved: [Bool] = [false, false]
    }

    public func classify(_ raw: String, locale: AppLocale) -> TriageResult {
        let text = Array(TextFolding.halfWidth(raw).lowercased().unicodeScalars.map(\.value))
        let clauseOf = Self.clauseIndexes(text)
        var clauses: [ClauseFacts] = []
        for (position, clause) in clauseOf.enumerated() where clause >= 0 {
            if clause == clauses.count {
                clauses.append(ClauseFacts(range: position..<position + 1))
            } else {
                clauses[clause].range = clauses[clause].range.lowerBound..<position + 1
            }
        }
        var asks = false
        var phraseMatches: [(meaningLocale: Int, rule: Int, phrase: Int, start: Int, end: Int, clause: Int)] = []
        var negations: [(locale: Int, start: Int, end: Int, clause: Int)] = []
        compiled.matcher.scan(text) { pattern, start, end in
            let clause = clauseOf[start]
            let inOneClause = clause >= 0 && clauseOf[end - 1] == clause
            for meaning in compiled.meanings[pattern] {
                switch meaning {
                case .question: asks = true
                case .phrase(let locale, let rule, let phrase) where inOneClause:
                    phraseMatches.append((locale, rule, phrase, start, end, clause))
                case .negation(let locale) where inOneClause: negations.append((locale, start, end, clause))
                case .resolved(let locale) where inOneClause: clauses[clause].resolved[locale] = true
                case .glucose where inOneClause: clauses[clause].glucose = true
                case .temperature where inOneClause: clauses[clause].temperature = true
                case .oxygen where inOneClause: clauses[clause].oxygen = true
                case .pressure where inOneClause: clauses[clause].pressure = true
                default: break
                }
            }
        }
        // The message's own language first; both apply, as people mix them.
        let first = locale == .en ? 1 : 0
        var hits: [Hit] = []
        var seen = Set<Int>()
        for match in phraseMatches {
            // Only a phrase's first occurrence in a clause counts.
            let key = ((match.meaningLocale * 1000 + match.rule) * 1000 + match.phrase) * 10_000 + match.clause
            guard seen.insert(key).inserted else { continue }
            let rule = compiled.rules[match.meaningLocale][match.rule]
            if rule.negatable, negations.contains(where: { $0.locale == match.meaningLocale && $0.clause == match.clause && $0.end <= match.start && $0.start >= max(clauses[match.clause].range.lowerBound, match.start - 12) }) {
                continue
            }
            if rule.level == .urgent, clauses[match.clause].resolved[match.meaningLocale] { continue }
            let localeOrder = match.meaningLocale == first ? 0 : 1
            hits.append(Hit(order: (localeOrder, match.rule, match.phrase, match.clause), level: rule.level, flag: rule.flag,
                            reason: TriageReason(rule: rule.id, match: Self.string(text[match.start..<match.end]))))
        }
        hits.sort { $0.order < $1.order }

        var best: TriageLevel?
        var flags: [TriageFlag] = []
        var reasons: [TriageReason] = []
        func raise(_ to: TriageLevel, _ reason: TriageReason) {
            reasons.append(reason)
            if best == nil || to > best! { best = to }
        }
        for hit in hits {
            if let flag = hit.flag, !flags.contains(flag) { flags.append(flag) }
            if let level = hit.level { raise(level, hit.reason) } else { reasons.append(hit.reason) }
        }
        for clause in clauses {
            for reason in values(text, clause) { raise(.urgent, reason) }
        }
        // Personal data posted where others can read it.
        for reason in Self.personalData(in: text) {
            if !flags.contains(.compliance) { flags.append(.compliance) }
            raise(.private, reason)
        }
        var level = best ?? .general
        // Greetings and thanks are social unless they also ask something or break a rule.
        if level == .social, asks || !flags.isEmpty { level = .general }
        return TriageResult(level: level, flags: flags, reasons: reasons)
    }

    static func string(_ scalars: ArraySlice<UInt32>) -> String {
        var view = String.UnicodeScalarView()
        for value in scalars { if let scalar = Unicode.Scalar(value) { view.append(scalar) } }
        return String(view)
    }

    static let separators: Set<UInt32> = Set(",，。;；!！?？\n、".unicodeScalars.map(\.value))

    static func isDigit(_ value: UInt32) -> Bool { value >= 0x30 && value <= 0x39 }
    static func isSpace(_ value: UInt32) -> Bool { value == 0x20 || value == 0x09 || value == 0xA0 || value == 0x3000 }
    static func isWordScalar(_ value: UInt32) -> Bool { isDigit(value) || (value >= 0x61 && value <= 0x7A) || (value >= 0x41 && value <= 0x5A) || value == 0x5F }

    /// The clause each scalar belongs to, or -1 for separators and blank stretches between them.
    /// A full stop ends a clause unless it sits between digits (39.2).
    static func clauseIndexes(_ text: [UInt32]) -> [Int] {
        var result = [Int](repeating: -1, count: text.count)
        var clause = 0
        var start = 0
        func close(_ end: Int) {
            // Blank clauses are not clauses.
            if text[start..<end].contains(where: { !isSpace($0) && $0 != 0x0D }) {
                for index in start..<end { result[index] = clause }
                clause += 1
            }
        }
        for (index, value) in text.enumerated() {
            let isStop = value == 0x2E && !(index > 0 && isDigit(text[index - 1]) && index + 1 < text.count && isDigit(text[index + 1]))
            if separators.contains(value) || isStop {
                close(index)
                start = index + 1
            }
        }
        close(text.count)
        return result
    }

    /// Mainland ID numbers (17 digits and a digit or x) and mobile numbers (1[3-9] and 9
    /// digits) standing alone in the text.
    static func personalData(in text: [UInt32]) -> [TriageReason] {
        var reasons: [TriageReason] = []
        var start = 0
        var index = 0
        func flush(_ end: Int) {
            let run = text[start..<end]
            if run.count == 18, run.dropLast().allSatisfy(isDigit), run.first != 0x30 {
                reasons.append(TriageReason(rule: "pii.id_number", match: string(run)))
            } else if run.count == 11, run.allSatisfy(isDigit), run.first == 0x31, (0x33...0x39).contains(run[run.startIndex + 1]) {
                reasons.append(TriageReason(rule: "pii.mobile", match: string(run)))
            }
        }
        while index < text.count {
            let value = text[index]
            if isDigit(value) || (value == 0x78 && index - start == 17) {
                index += 1
                continue
            }
            flush(index)
            index += 1
            start = index
        }
        flush(text.count)
        return reasons
    }

    static let units: [[UInt32]] = ["mmol/l", "mg/dl", "℃", "°c", "度", "%"].map { $0.unicodeScalars.map(\.value) }

    /// Measured values with their units in one clause, compared with the thresholds.
    func values(_ text: [UInt32], _ clause: ClauseFacts) -> [TriageReason] {
        let range = clause.range
        var reasons: [TriageReason] = []
        if clause.pressure, let (match, systolic, diastolic) = Self.pressure(text, range),
           systolic >= thresholds.systolic || diastolic >= thresholds.diastolic {
            return [TriageReason(rule: "value.blood_pressure", match: match)]
        }
        if clause.glucose, let code = Self.meterCode(text, range) {
            return [TriageReason(rule: "value.glucose_meter_code", match: code)]
        }
        guard clause.glucose || clause.temperature || clause.oxygen || text[range].contains(where: { $0 == 0x2103 || $0 == 0x5EA6 || $0 == 0xB0 }) else {
            return []
        }
        var index = range.lowerBound
        while index < range.upperBound {
            guard Self.isDigit(text[index]) else { index += 1; continue }
            let start = index
            while index < range.upperBound, index - start < 3, Self.isDigit(text[index]) { index += 1 }
            if index + 1 < range.upperBound, text[index] == 0x2E, Self.isDigit(text[index + 1]) {
                index += 1
                while index < range.upperBound, Self.isDigit(text[index]) { index += 1 }
            }
            let numberEnd = index
            var cursor = index
            while cursor < range.upperBound, Self.isSpace(text[cursor]) { cursor += 1 }
            var unit: String?
            for candidate in Self.units where cursor + candidate.count <= range.upperBound && Array(text[cursor..<cursor + candidate.count]) == candidate {
                unit = Self.string(candidate[...])
                index = cursor + candidate.count
                break
            }
            if unit == nil, cursor < range.upperBound, text[cursor] == 0x63, cursor + 1 >= range.upperBound || !Self.isWordScalar(text[cursor + 1]) {
                unit = "c"
                index = cursor + 1
            }
            guard let value = Double(Self.string(text[start..<numberEnd])) else { continue }
            let match = Self.string(text[start..<(unit == nil ? numberEnd : index)])
            let isTemperatureUnit = unit == "度" || unit == "℃" || unit == "°c"
            if clause.glucose && unit != "%" && !isTemperatureUnit {
                let mmol = unit == "mg/dl" || value > 35 ? value / 18.0 : value
                if mmol < thresholds.glucoseLow || mmol >= thresholds.glucoseHigh {
                    reasons.append(TriageReason(rule: "value.glucose", match: match))
                }
            } else if (clause.temperature || isTemperatureUnit) && (34...43).contains(value) {
                if value >= thresholds.temperature {
                    reasons.append(TriageReason(rule: "value.temperature", match: match))
                }
            } else if clause.oxygen && (50...100).contains(value) && value < thresholds.oxygenSaturation {
                reasons.append(TriageReason(rule: "value.oxygen_saturation", match: match))
            }
        }
        return reasons
    }

    /// The first `120/80` in the clause: two or three digits, a slash, two or three digits.
    static func pressure(_ text: [UInt32], _ range: Range<Int>) -> (String, Double, Double)? {
        for slash in range where text[slash] == 0x2F {
            var before = slash
            while before > range.lowerBound, isSpace(text[before - 1]) { before -= 1 }
            var start = before
            while start > range.lowerBound, before - start < 3, isDigit(text[start - 1]) { start -= 1 }
            guard before - start >= 2 else { continue }
            var after = slash + 1
            while after < range.upperBound, isSpace(text[after]) { after += 1 }
            var end = after
            while end < range.upperBound, end - after < 3, isDigit(text[end]) { end += 1 }
            guard end - after >= 2, let systolic = Double(string(text[start..<before])), let diastolic = Double(string(text[after..<end])) else { continue }
            return (string(text[start..<end]), systolic, diastolic)
        }
        return nil
    }

    /// `HI` or `LO` as a word: what glucose meters show out of range.
    static func meterCode(_ text: [UInt32], _ range: Range<Int>) -> String? {
        var index = range.lowerBound
        while index + 1 < range.upperBound {
            let pair = (text[index], text[index + 1])
            if pair == (0x68, 0x69) || pair == (0x6C, 0x6F),
               index == range.lowerBound || !isWordScalar(text[index - 1]),
               index + 2 >= range.upperBound || !isWordScalar(text[index + 2]) {
                return string(text[index..<index + 2])
            }
            index += 1
        }
        return nil
    }
}
