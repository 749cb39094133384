import Foundation

/// How an incoming message is handled (消息精灵): act now, look at right after the urgent ones,
/// move to a 1:1 conversation, answer in the group, or no action.
///
/// Declared from least to most pressing; `<` follows that order (social < general < private <
/// review < urgent), and `allCases.reversed()` is the inbox order.
public enum TriageLevel: String, Sendable, Codable, CaseIterable, Comparable {
    case social
    case general
    case `private`
    /// A current clinical concern (symptom, worrying value, side effect, medication problem,
    /// wound) that no rule resolves and that is not an emergency: a person looks right after
    /// the urgent ones.
    case review
    case urgent

    private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
    public static func < (lhs: TriageLevel, rhs: TriageLevel) -> Bool { lhs.rank < rhs.rank }
}

/// The program a message was posted in, when the message needs it to be understood: a bare
/// "2.6" in a glucose camp is a blood glucose, "38.2" in a chemotherapy follow-up a temperature.
public enum TriageContext: String, Sendable, Codable, CaseIterable {
    case glucose
    case oncology
    case pregnancy
    case asthma
    case hip
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

    public init(level: TriageLevel, flags: [TriageFlag], reasons: [TriageReason]) {
        self.level = level
        self.flags = flags
        self.reasons = reasons
    }

    /// The taxonomy categories that made the message urgent (`urgent.<category>.<rule>` reasons).
    public var categories: [String] {
        var seen: [String] = []
        for reason in reasons where reason.rule.hasPrefix("urgent.") {
            let parts = reason.rule.split(separator: ".")
            guard parts.count >= 2 else { continue }
            let category = String(parts[1])
            if !seen.contains(category) { seen.append(category) }
        }
        return seen
    }
}

/// One phrase rule: a list of phrases that, found in a message, set a level and/or a flag.
/// Phrases match anywhere in the text (also inside longer words).
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

/// The thresholds that make a measured value urgent; programs may set their own. Glucose is in
/// mmol/L (mg/dL readings are compared with the same limits × 18, rounded down: 3.9 → 70,
/// 16.7 → 300), temperatures in °C (°F readings are converted).
public struct TriageThresholds: Sendable, Codable, Equatable {
    public var glucoseLow = 3.9
    public var glucoseHigh = 16.7
    /// Fever: urgent unless the message says the patient is otherwise well (a child playing and
    /// drinking); in chemotherapy, pregnancy, after birth or surgery it is urgent regardless.
    public var temperature = 38.0
    public var oxygenSaturation = 92.0
    /// Systolic and diastolic both at or above these: urgent; either one with symptoms (headache,
    /// blurred vision, chest pain, confusion): urgent.
    public var systolic = 160.0
    public var diastolic = 110.0
    /// Either at or above these: urgent whatever else the message says.
    public var systolicSevere = 180.0
    public var diastolicSevere = 120.0
    /// Systolic below this with fainting or dizziness is urgent; below `systolicVeryLow` always.
    public var systolicLow = 90.0
    public var systolicVeryLow = 80.0
    /// Urgent anywhere, in any program.
    public var temperatureHigh = 39.5
    public var temperatureLow = 35.0
    /// Heart rate (at rest) above `heartRateHigh` or below `heartRateLow`.
    public var heartRateHigh = 130.0
    public var heartRateLow = 40.0
    /// Fetal heart rate outside 110–160 per minute.
    public var fetalHeartLow = 110.0
    public var fetalHeartHigh = 160.0
    /// Breaths per minute from this.
    public var respiratoryRate = 25.0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case glucoseLow = "glucose_low", glucoseHigh = "glucose_high", temperature
        case oxygenSaturation = "oxygen_saturation", systolic, diastolic
        case systolicSevere = "systolic_severe", diastolicSevere = "diastolic_severe"
        case systolicLow = "systolic_low", systolicVeryLow = "systolic_very_low"
        case temperatureHigh = "temperature_high", temperatureLow = "temperature_low"
        case heartRateHigh = "heart_rate_high", heartRateLow = "heart_rate_low"
        case fetalHeartLow = "fetal_heart_low", fetalHeartHigh = "fetal_heart_high"
        case respiratoryRate = "respiratory_rate"
    }

    /// Any threshold left out keeps its default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = TriageThresholds()
        func value(_ key: CodingKeys, _ fallback: Double) throws -> Double {
            try container.decodeIfPresent(Double.self, forKey: key) ?? fallback
        }
        glucoseLow = try value(.glucoseLow, defaults.glucoseLow)
        glucoseHigh = try value(.glucoseHigh, defaults.glucoseHigh)
        temperature = try value(.temperature, defaults.temperature)
        oxygenSaturation = try value(.oxygenSaturation, defaults.oxygenSaturation)
        systolic = try value(.systolic, defaults.systolic)
        diastolic = try value(.diastolic, defaults.diastolic)
        systolicSevere = try value(.systolicSevere, defaults.systolicSevere)
        diastolicSevere = try value(.diastolicSevere, defaults.diastolicSevere)
        systolicLow = try value(.systolicLow, defaults.systolicLow)
        systolicVeryLow = try value(.systolicVeryLow, defaults.systolicVeryLow)
        temperatureHigh = try value(.temperatureHigh, defaults.temperatureHigh)
        temperatureLow = try value(.temperatureLow, defaults.temperatureLow)
        heartRateHigh = try value(.heartRateHigh, defaults.heartRateHigh)
        heartRateLow = try value(.heartRateLow, defaults.heartRateLow)
        fetalHeartLow = try value(.fetalHeartLow, defaults.fetalHeartLow)
        fetalHeartHigh = try value(.fetalHeartHigh, defaults.fetalHeartHigh)
        respiratoryRate = try value(.respiratoryRate, defaults.respiratoryRate)
    }
}

/// Rules for one language, as in `Sources/TendCore/Triage/Rules/triage-<locale>.json`: phrase rules,
/// the concepts the taxonomy combines (`triage-taxonomy.json`), and the cue words that scope
/// them — negation, resolved and past events, hypotheticals, general questions.
public struct TriageRules: Sendable, Codable, Equatable {
    public var phrases: [TriagePhraseRule]
    public var negations: [String]
    /// Words that mark what comes before them as over ("已经好了", "went away").
    public var resolved: [String]
    public var glucoseWords: [String]
    public var temperatureWords: [String]
    public var oxygenWords: [String]
    public var pressureWords: [String]
    public var questionMarkers: [String]
    /// Concept name → the phrases that express it ("chest" → 胸口, 心口, 胸前 …). English
    /// phrases match whole words (a trailing `*` allows any ending: "vomit*").
    public var concepts: [String: [String]]
    /// Negations with their own reach in characters (default `negationScope`).
    public var negationScopes: [String: Int]
    public var negationScope: Int
    /// Remote past, scoping what follows in the sentence ("十年前", "去年"); `pastClause` scope
    /// their whole clause ("last year", "years ago").
    public var past: [String]
    public var pastClause: [String]
    /// Hypotheticals ("如果", "what if"): what follows in the sentence is not happening.
    public var hypothetical: [String]
    /// General questions about a symptom or reports about others ("有什么症状", "signs of",
    /// "新闻"): their sentence describes no current event.
    public var generic: [String]
    /// Reports of what others said or showed ("讲座", "on the news"): like `generic`, but only
    /// within 12 characters in their own clause (a talk named in passing hides nothing else).
    public var reports: [String]
    /// "现在", "still", "again": a current event; ends the reach of past and hypothetical cues.
    public var current: [String]
    /// Words that end a negation's reach ("但是", "but").
    public var breakers: [String]
    /// Words that end the reach of a clause-wide past cue (" and ", "then", "后来").
    public var boundaries: [String]
    /// Longer words that hide the concepts inside them ("头发" hides "头").
    public var shadows: [String]
    /// Value kind (heart_rate, fetal_heart, respiration, hba1c, platelets, white_cells,
    /// neutrophils, hemoglobin, inr, ketones, uric_acid, systolic, diastolic, measure, meter) →
    /// the words that label a number as that measurement.
    public var valueWords: [String: [String]]
    /// Unit kind (mmol, mgdl, celsius, fahrenheit, percent, per_minute, over, not_measurement)
    /// → the words after a number.
    public var units: [String: [String]]
    /// Words before a number that make it no measurement ("第", "day", "room", "£").
    public var notMeasurementBefore: [String]

    enum CodingKeys: String, CodingKey {
        case phrases, negations, resolved
        case glucoseWords = "glucose_words", temperatureWords = "temperature_words", oxygenWords = "oxygen_words"
        case pressureWords = "pressure_words", questionMarkers = "question_markers"
        case concepts
        case negationScopes = "negation_scopes", negationScope = "negation_scope"
        case past, pastClause = "past_clause", hypothetical, generic, reports, current, breakers, boundaries, shadows
        case valueWords = "value_words", units, notMeasurementBefore = "not_measurement_before"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func list(_ key: CodingKeys) throws -> [String] { try container.decodeIfPresent([String].self, forKey: key) ?? [] }
        phrases = try container.decodeIfPresent([TriagePhraseRule].self, forKey: .phrases) ?? []
        negations = try list(.negations)
        resolved = try list(.resolved)
        glucoseWords = try list(.glucoseWords)
        temperatureWords = try list(.temperatureWords)
        oxygenWords = try list(.oxygenWords)
        pressureWords = try list(.pressureWords)
        questionMarkers = try list(.questionMarkers)
        concepts = try container.decodeIfPresent([String: [String]].self, forKey: .concepts) ?? [:]
        negationScopes = try container.decodeIfPresent([String: Int].self, forKey: .negationScopes) ?? [:]
        negationScope = try container.decodeIfPresent(Int.self, forKey: .negationScope) ?? 6
        past = try list(.past)
        pastClause = try list(.pastClause)
        hypothetical = try list(.hypothetical)
        generic = try list(.generic)
        reports = try list(.reports)
        current = try list(.current)
        breakers = try list(.breakers)
        boundaries = try list(.boundaries)
        shadows = try list(.shadows)
        valueWords = try container.decodeIfPresent([String: [String]].self, forKey: .valueWords) ?? [:]
        units = try container.decodeIfPresent([String: [String]].self, forKey: .units) ?? [:]
        notMeasurementBefore = try list(.notMeasurementBefore)
    }
}

/// A pure classifier for Chinese and English messages (see docs/triage.md):
///
/// - a red-flag taxonomy (`Rules/triage-taxonomy.json`): urgent categories whose rules combine
///   concepts (body part, symptom, severity, onset, who, context) found in one or two adjacent
///   clauses, each occurrence read with its negation, past, hypothetical or general-question scope;
/// - values read in context (glucose, temperature, SpO2, heart rate, blood pressure, fetal heart,
///   a few labs; numbers that are days, counts, money, clock times … are no measurements);
/// - safety-first routing: a current clinical concern that no rule resolves is `review`;
///   `social` only for what is recognised as social;
/// - phrase rules (shipped and per program), compliance (ads, links, personal data);
/// - a small character n-gram model that may lift a message the rules missed to `review` or
///   `urgent`, at high confidence only.
///
/// Every pattern of both languages is compiled into one matcher, so a message is read once.
public struct TriageClassifier: Sendable {
    public let rules: [AppLocale: TriageRules]
    public let thresholds: TriageThresholds
    public let taxonomy: TriageTaxonomy
    let engine: TriageEngine

    public init(rules: [AppLocale: TriageRules] = TriageDefaults.rules, thresholds: TriageThresholds = TriageThresholds(),
                taxonomy: TriageTaxonomy = TriageDefaults.taxonomy, model: TriageModel? = TriageDefaults.model) {
        self.rules = rules
        self.thresholds = thresholds
        self.taxonomy = taxonomy
        self.engine = TriageEngine(rules: rules, taxonomy: taxonomy, thresholds: thresholds, model: model)
    }

    public func classify(_ raw: String, locale: AppLocale) -> TriageResult {
        engine.classify(raw, locale: locale, context: nil)
    }

    /// `context`: the program the message was posted in, when known.
    public func classify(_ raw: String, locale: AppLocale, context: TriageContext?) -> TriageResult {
        engine.classify(raw, locale: locale, context: context)
    }
}
