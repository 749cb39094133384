import Foundation

/// The compiled classifier behind `TriageClassifier`: one Aho–Corasick matcher over every
/// phrase, concept, cue, value word and unit of both languages; the taxonomy's rules as bit
/// masks over concepts; value scanners; the n-gram backstop.
struct TriageEngine: Sendable {
    // MARK: Compiled tables

    enum Cue: UInt8, Sendable {
        case negation, resolved, pastForward, pastClause, hypothetical, generic, current, breaker, question
        /// Ends the reach of a clause-wide past cue: "had my baby last week | and the bleeding …".
        case boundary
    }

    enum Meaning: Sendable {
        /// A phrase rule (shipped or a program's): locale order index (0 zh, 1 en), rule index.
        case phrase(locale: Int, rule: Int)
        case concept(Int)
        case cue(Cue, scope: Int)
        /// A longer word that hides the concepts inside it — or, when written "[blood] sugar",
        /// only those inside the bracketed part (offsets in scalars).
        case shadow(hideStart: Int, hideEnd: Int)
        case label(ValueKind)
        case unit(UnitKind)
        case notMeasurementBefore
        case meterCode(high: Bool)
    }

    /// How a pattern must sit among letters: ASCII-letter edges need a word boundary; the end
    /// may carry an inflection (`s`, `es`, `ed`, `d`, `ing`), or anything for a `*` pattern.
    struct Entry: Sendable {
        var meaning: Meaning
        var wordStart: Bool
        /// 0: no check, 1: word end with an inflection, 2: any ending, 3: the word ends here.
        var wordEnd: UInt8
    }

    static let locales: [AppLocale] = [.zhHans, .en]

    let matcher: PhraseMatcher
    /// Each pattern's meanings: `entries[entryStart[p]..<entryStart[p + 1]]`.
    let entries: [Entry]
    let entryStart: [Int32]
    let phraseRules: [[TriagePhraseRule]]
    let conceptNames: [String]
    let conceptIndex: [String: Int]
    let words: Int
    let rules: [CompiledRule]
    /// For each concept, the rules it can set off.
    let rulesByTrigger: [[Int32]]
    let thresholds: TriageThresholds
    let model: TriageModel.Compiled?
    let special: SpecialConcepts
    /// Concepts from this index on come from the rule files (before it: values, context, cues).
    let firstPhraseConcept: Int
    /// Concepts that make a bare decimal a glucose, or the pregnancy glucose targets apply.
    let diabetesConcepts: [Bool]
    /// Medicines and what is done with them: "感觉好了" resolves a symptom, not the drug someone
    /// wants to stop ("舍曲林吃了半年感觉好了，想停掉").
    let unresolvedConcepts: [Bool]
    /// The concepts urgent and review rules are made of: a negated, resolved or past one is
    /// what "denied", "recovered" and "past" mean.
    let concernConcepts: [Bool]
    let bodyOrSymptomConcept: Int?
    let improvingConcept: Int?
    let statementBlockers: [Int]
    let mildConcept: Int?
    let piiLabelConcept: Int?
    let contactLabelConcept: Int?
    let pregnancyConcepts: [Bool]
    let hypoSignConcepts: [Bool]
    let chemoConcepts: [Bool]
    /// An ad's vocabulary (the ad head is consulted only where some of it is), and what rules an
    /// ad out (a warning about one, a question where to buy, a doubt about a claim).
    let adConcepts: [Int]
    let adBlockers: [Int]

    struct CompiledRule: Sendable {
        var rule: TriageConceptRule
        /// The concepts of the rule's narrowest `all` term: one of them must be present for the rule to hold.
        var trigger: [Int]
        var all: [[Int]]
        var allMasks: [[UInt64]]
        var contextMasks: [[UInt64]]
        var noneMasks: [[UInt64]]
        /// Every `all` term names only values (`value.*`): the rule reads numbers, no words.
        var valuesOnly: Bool
    }

    /// Concepts the engine sets itself: values read from numbers, the program's context, cues.
    static let valueConcepts = [
        "value.glucose_low", "value.glucose_high", "value.glucose_raised", "value.glucose_lowish", "value.glucose_normal",
        "value.meter_hi", "value.meter_lo",
        "value.temp_high", "value.temp_low", "value.fever", "value.temp_raised", "value.temp_normal",
        "value.spo2_low", "value.spo2_borderline", "value.spo2_normal",
        "value.hr_high", "value.hr_low", "value.hr_raised", "value.hr_normal",
        "value.bp_severe", "value.bp_high", "value.bp_stage2", "value.bp_raised", "value.bp_very_low", "value.bp_low", "value.bp_normal",
        "value.fhr_abnormal", "value.fhr_normal", "value.rr_high",
        "value.platelets_critical", "value.platelets_low", "value.neutropenia", "value.wbc_low",
        "value.ketones_high", "value.ketones_raised", "value.lab_abnormal", "value.lab_normal",
        "value.normal", "value.gestation", "value.minutes_5", "value.minutes_20", "value.many_times", "value.normal_log", "value.many_tablets", "value.house_number",
    ]
    static let contextConcepts: [TriageContext: String] = [
        .glucose: "ctx.glucose", .oncology: "ctx.oncology", .pregnancy: "ctx.pregnancy", .asthma: "ctx.asthma", .hip: "ctx.hip",
    ]
    static let cueConcepts = ["cue.question", "cue.resolved", "cue.past", "cue.hypothetical", "cue.generic", "cue.negation", "cue.current", "cue.personal_data",
                              "state.negated", "state.resolved", "state.past"]

    struct SpecialConcepts: Sendable {
        var value: [String: Int]
        var context: [TriageContext: Int]
        var cue: [Cue: Int]
        var personalData: Int
        var stateNegated: Int
        var stateResolved: Int
        var statePast: Int
    }

    init(rules byLocale: [AppLocale: TriageRules], taxonomy: TriageTaxonomy, thresholds: TriageThresholds, model: TriageModel?) {
        self.thresholds = thresholds
        self.model = model == TriageDefaults.model ? TriageModel.shipped : model?.compiled()
        var vocabulary = Vocabulary()
        for name in Self.valueConcepts + Self.contextConcepts.values.sorted() + Self.cueConcepts { _ = vocabulary.concept(name) }
        var phraseRules: [[TriagePhraseRule]] = []
        for (localeIndex, locale) in Self.locales.enumerated() {
            let set = byLocale[locale]
            phraseRules.append(set?.phrases ?? [])
            if let set { vocabulary.add(set, locale: localeIndex) }
        }
        vocabulary.add("hi", .meterCode(high: true), exact: true)
        vocabulary.add("lo", .meterCode(high: false), exact: true)
        // Concepts only the taxonomy names still get an index (they never match).
        for rule in taxonomy.rules {
            for term in rule.all + rule.context + rule.none {
                for name in term.split(separator: "|") { _ = vocabulary.concept(name.trimmingCharacters(in: .whitespaces)) }
            }
        }
        let conceptNames = vocabulary.conceptNames, conceptIndex = vocabulary.conceptIndex
        let words = (conceptNames.count + 63) / 64
        self.rules = Self.compile(taxonomy.rules, conceptIndex: conceptIndex, words: words)
        var triggered = [[Int32]](repeating: [], count: conceptNames.count)
        for (index, rule) in self.rules.enumerated() {
            for concept in rule.trigger { triggered[concept].append(Int32(index)) }
        }
        self.rulesByTrigger = triggered
        self.matcher = PhraseMatcher(vocabulary.patterns)
        (self.entries, self.entryStart) = vocabulary.flatEntries()
        self.phraseRules = phraseRules
        self.conceptNames = conceptNames
        self.conceptIndex = conceptIndex
        self.words = words
        self.special = Self.specialConcepts(conceptIndex)
        self.firstPhraseConcept = Self.valueConcepts.count + Self.contextConcepts.count + Self.cueConcepts.count
        func flags(_ ids: [Int]) -> [Bool] {
            var flags = [Bool](repeating: false, count: conceptNames.count)
            for id in ids { flags[id] = true }
            return flags
        }
        self.concernConcepts = flags(self.rules.filter { $0.rule.category != nil || ($0.rule.level == .review && $0.rule.flag == nil) }.flatMap { $0.all.flatMap { $0 } }
            .filter { $0 >= Self.valueConcepts.count + Self.contextConcepts.count + Self.cueConcepts.count })
        self.bodyOrSymptomConcept = conceptIndex["body_or_symptom"]
        self.statementBlockers = ["clinical", "worry", "distress", "request", "distress_strong"].compactMap { conceptIndex[$0] }
        self.mildConcept = conceptIndex["mild"]
        self.improvingConcept = conceptIndex["improving"]
        self.piiLabelConcept = conceptIndex["pii_label"]
        self.contactLabelConcept = conceptIndex["contact_label"]
        self.diabetesConcepts = flags(["diabetes", "insulin", "glucose_drug", "hypo_word"].compactMap { conceptIndex[$0] })
        self.unresolvedConcepts = flags(["drug_name", "dose_word", "medicine", "med_change", "med_problem", "miss_word"].compactMap { conceptIndex[$0] })
        self.pregnancyConcepts = flags(["pregnant", "value.gestation"].compactMap { conceptIndex[$0] })
        self.hypoSignConcepts = flags(["hypo_symptom", "cold_sweat"].compactMap { conceptIndex[$0] })
        self.chemoConcepts = flags(["chemo"].compactMap { conceptIndex[$0] })
        self.adConcepts = ["ad_offer", "ad_offer_weak", "ad_offer_strong", "ad_contact", "ad_channel", "ad_price", "ad_money", "ad_finance", "ad_work", "miracle", "stop_meds",
                           "ad_audience", "ad_self", "ad_follow", "ad_share", "secondhand", "health_product", "recommend", "cue.personal_data"].compactMap { conceptIndex[$0] }
        self.adBlockers = ["ad_warning", "ad_buy_question", "ad_doubt"].compactMap { conceptIndex[$0] }
    }

    /// The concepts and the patterns of the rule files, each pattern with its meanings.
    struct Vocabulary {
        var conceptIndex: [String: Int] = [:]
        var conceptNames: [String] = []
        var index: [String: Int] = [:]
        var patterns: [String] = []
        var entries: [[Entry]] = []

        mutating func concept(_ name: String) -> Int {
            if let index = conceptIndex[name] { return index }
            conceptIndex[name] = conceptNames.count
            conceptNames.append(name)
            return conceptNames.count - 1
        }

        /// A pattern as folded text; `words`: ASCII-letter edges need a word boundary, a final `*`
        /// allows any ending.
        /// `exact`: the word ends where the pattern does, no "s", "ed" or "ing" after it (a meter's
        /// "HI" is not the start of "his").
        mutating func add(_ raw: String, _ meaning: Meaning, words: Bool = true, exact: Bool = false) {
            let folded = TextFolding.halfWidth(raw).lowercased().replacingOccurrences(of: "\u{2019}", with: "'")
            var text = String(String.UnicodeScalarView(TriageEngine.droppingFillers(folded.unicodeScalars.map(\.value)).compactMap(Unicode.Scalar.init)))
            var prefix = false
            if words, text.hasSuffix("*"), text.count > 1 {
                text.removeLast()
                prefix = true
            }
            guard !text.isEmpty else { return }
            let scalars = Array(text.unicodeScalars)
            // One ASCII letter would be looked at at every letter of English text: units like
            // "c", "f", "h" are read where a number ends instead (TriageValues).
            if scalars.count == 1 && TriageEngine.isLetter(scalars[0].value) { return }
            let wordStart = words && TriageEngine.isLetter(scalars.first!.value)
            let wordEnd: UInt8 = !words || !TriageEngine.isLetter(scalars.last!.value) ? 0 : (prefix ? 2 : exact ? 3 : 1)
            let entry = Entry(meaning: meaning, wordStart: wordStart, wordEnd: wordEnd)
            if let existing = index[text] {
                entries[existing].append(entry)
            } else {
                index[text] = patterns.count
                patterns.append(text)
                entries.append([entry])
            }
            // People drop apostrophes: "cant", "wont", "dont".
            if words, text.contains("'") { add(text.replacingOccurrences(of: "'", with: "") + (prefix ? "*" : ""), meaning) }
            // "没劲" is also written "没有劲", "没反应" "没有反应".
            if case .concept = meaning, text.hasPrefix("没"), !text.hasPrefix("没有"), text.count > 1 { add("没有" + text.dropFirst(), meaning) }
        }

        /// One language's rule file: phrase rules, concepts, cues, shadows, value labels, units.
        mutating func add(_ set: TriageRules, locale localeIndex: Int) {
            for (ruleIndex, rule) in set.phrases.enumerated() {
                for phrase in rule.phrases { add(phrase, .phrase(locale: localeIndex, rule: ruleIndex), words: false) }
            }
            for name in set.concepts.keys.sorted() {
                let conceptID = concept(name)
                for phrase in set.concepts[name]! { add(phrase, .concept(conceptID)) }
            }
            for cue in set.negations { add(cue, .cue(.negation, scope: set.negationScopes[cue] ?? set.negationScope)) }
            for (cue, scope) in set.negationScopes.sorted(by: { $0.key < $1.key }) where !set.negations.contains(cue) {
                add(cue, .cue(.negation, scope: scope))
            }
            set.resolved.forEach { add($0, .cue(.resolved, scope: 0)) }
            set.past.forEach { add($0, .cue(.pastForward, scope: 0)) }
            set.pastClause.forEach { add($0, .cue(.pastClause, scope: 0)) }
            set.hypothetical.forEach { add($0, .cue(.hypothetical, scope: 0)) }
            set.generic.forEach { add($0, .cue(.generic, scope: 0)) }
            set.reports.forEach { add($0, .cue(.generic, scope: 12)) }
            set.current.forEach { add($0, .cue(.current, scope: 0)) }
            set.breakers.forEach { add($0, .cue(.breaker, scope: 0)) }
            set.boundaries.forEach { add($0, .cue(.boundary, scope: 0)) }
            set.questionMarkers.forEach { add($0, .cue(.question, scope: 0)) }
            for shadow in set.shadows {
                let scalars = Array(shadow.unicodeScalars)
                if let open = scalars.firstIndex(of: "["), let close = scalars.firstIndex(of: "]"), open < close {
                    let plain = String(String.UnicodeScalarView(scalars.filter { $0 != "[" && $0 != "]" }))
                    add(plain, .shadow(hideStart: open, hideEnd: close - 1))
                } else {
                    add(shadow, .shadow(hideStart: 0, hideEnd: scalars.count))
                }
            }
            set.glucoseWords.forEach { add($0, .label(.glucose)) }
            set.temperatureWords.forEach { add($0, .label(.temperature)) }
            set.oxygenWords.forEach { add($0, .label(.oxygen)) }
            set.pressureWords.forEach { add($0, .label(.pressure)) }
            for (name, list) in set.valueWords.sorted(by: { $0.key < $1.key }) {
                guard let kind = ValueKind(rawValue: name) else { continue }
                list.forEach { add($0, .label(kind)) }
            }
            for (name, list) in set.units.sorted(by: { $0.key < $1.key }) {
                guard let kind = UnitKind(rawValue: name) else { continue }
                list.forEach { add($0, .unit(kind)) }
            }
            set.notMeasurementBefore.forEach { add($0, .notMeasurementBefore) }
        }

        /// The meanings of every pattern in one array: `entries[start[p]..<start[p + 1]]`.
        func flatEntries() -> ([Entry], [Int32]) {
            var flat: [Entry] = []
            var starts: [Int32] = []
            for list in entries {
                starts.append(Int32(flat.count))
                flat += list
            }
            starts.append(Int32(flat.count))
            return (flat, starts)
        }
    }

    /// The taxonomy's rules with their terms as concept ids and bit masks; a rule's trigger is its
    /// narrowest `all` term.
    static func compile(_ rules: [TriageConceptRule], conceptIndex: [String: Int], words: Int) -> [CompiledRule] {
        func mask(_ term: String) -> ([Int], [UInt64]) {
            var bits = [UInt64](repeating: 0, count: words)
            var ids: [Int] = []
            for name in term.split(separator: "|") {
                let id = conceptIndex[name.trimmingCharacters(in: .whitespaces)]!
                ids.append(id)
                bits[id >> 6] |= 1 << UInt64(id & 63)
            }
            return (ids, bits)
        }
        return rules.map { rule in
            let all = rule.all.map(mask)
            let trigger = all.map(\.0).min { $0.count < $1.count } ?? []
            return CompiledRule(rule: rule, trigger: trigger, all: all.map(\.0), allMasks: all.map(\.1),
                                contextMasks: rule.context.map { mask($0).1 }, noneMasks: rule.none.map { mask($0).1 },
                                valuesOnly: rule.all.allSatisfy { term in term.split(separator: "|").allSatisfy { $0.hasPrefix("value.") } })
        }
    }

    static func specialConcepts(_ conceptIndex: [String: Int]) -> SpecialConcepts {
        var value: [String: Int] = [:]
        for name in valueConcepts { value[name] = conceptIndex[name]! }
        var context: [TriageContext: Int] = [:]
        for (key, name) in contextConcepts { context[key] = conceptIndex[name]! }
        let cues: [Cue: Int] = [
            .question: conceptIndex["cue.question"]!, .resolved: conceptIndex["cue.resolved"]!, .pastForward: conceptIndex["cue.past"]!,
            .pastClause: conceptIndex["cue.past"]!, .hypothetical: conceptIndex["cue.hypothetical"]!, .generic: conceptIndex["cue.generic"]!,
            .negation: conceptIndex["cue.negation"]!, .current: conceptIndex["cue.current"]!,
        ]
        return SpecialConcepts(value: value, context: context, cue: cues,
                               personalData: conceptIndex["cue.personal_data"]!, stateNegated: conceptIndex["state.negated"]!,
                               stateResolved: conceptIndex["state.resolved"]!, statePast: conceptIndex["state.past"]!)
    }

    // MARK: Text

    @inline(__always) static func isLetter(_ value: UInt32) -> Bool { (value >= 0x61 && value <= 0x7A) || (value >= 0x41 && value <= 0x5A) }
    @inline(__always) static func isDigit(_ value: UInt32) -> Bool { value >= 0x30 && value <= 0x39 }
    @inline(__always) static func isAlnum(_ value: UInt32) -> Bool { isLetter(value) || isDigit(value) }
    @inline(__always) static func isHan(_ value: UInt32) -> Bool { (value >= 0x4E00 && value <= 0x9FFF) || (value >= 0x3400 && value <= 0x4DBF) }
    @inline(__always) static func isSpace(_ value: UInt32) -> Bool { value == 0x20 || value == 0x09 || value == 0xA0 || value == 0x3000 || value == 0x0D }

    /// Half-width, lower case, typographic apostrophes and degree signs made plain.
    static func fold(_ raw: String) -> [UInt32] { foldNotingPauses(raw).text }

    /// The folded text, and where a space between two Chinese characters was dropped: voice input
    /// and unpunctuated messages pause there, so a clause-wide cue ("脑梗过", "last year") stops at one.
    static func foldNotingPauses(_ raw: String) -> (text: [UInt32], pauses: [Int]) {
        var out: [UInt32] = []
        var pauses: [Int] = []
        out.reserveCapacity(raw.utf8.count)
        let scalars = raw.unicodeScalars
        var position = scalars.startIndex
        while position < scalars.endIndex {
            let scalar = scalars[position]
            position = scalars.index(after: position)
            var value = scalar.value
            // A space between two Chinese characters means nothing ("胸口 疼", "一五八 一二三四",
            // voice input's pauses): dropped, so words and numbers read across it.
            if value == 0x20 || value == 0x3000, let last = out.last, isHan(last), position < scalars.endIndex, isHan(scalars[position].value) {
                if pauses.last != out.count { pauses.append(out.count) }
                continue
            }
            if value < 0x80 {
                if value >= 0x41 && value <= 0x5A { value += 0x20 }
                out.append(value)
                continue
            }
            switch value {
            case 0xFF01...0xFF5E:
                value -= 0xFEE0
                if value >= 0x41 && value <= 0x5A { value += 0x20 }
                out.append(value)
            case 0x3000: out.append(0x20)
            case 0x2018, 0x2019, 0x2032: out.append(0x27)
            case 0x2109: out.append(0xB0); out.append(0x66)   // ℉ → °f
            case 0x00C0...0x024F, 0x0370...0x052F:
                // Latin and Greek/Cyrillic letters: lower-case through Unicode.
                for lowered in String(scalar).lowercased().unicodeScalars { out.append(lowered.value) }
            default: out.append(value)
            }
        }
        return (out, pauses)
    }

    /// English words that only colour what follows ("it actually hurts"), and "really" after a
    /// negation ("hasnt really moved", "not really answering"): the rules read the text without
    /// them, so a phrase matches with or without one inside. ("really bad" keeps its "really".)
    static let fillerWords: [[UInt32]] = ["actually", "literally", "honestly", "kinda", "sorta"].map { $0.unicodeScalars.map(\.value) }
    static let softenersAfterNegation: [[UInt32]] = ["really", "realy", "rly"].map { $0.unicodeScalars.map(\.value) }
    /// The lengths a dropped word can have, so that most words are not compared at all.
    static let fillerLengths: ClosedRange<Int> = {
        let lengths = (fillerWords + softenersAfterNegation).map(\.count)
        return (lengths.min() ?? 0)...(lengths.max() ?? 0)
    }()

    /// The folded text without filler words and the space after each (patterns are folded the same way).
    static func droppingFillers(_ text: [UInt32]) -> [UInt32] { droppingFillers(text, pauses: []).text }

    /// The same, with the pauses moved to where their characters now are.
    static func droppingFillers(_ text: [UInt32], pauses: [Int]) -> (text: [UInt32], pauses: [Int]) {
        // The words to drop (start, length including the space after), found without allocating.
        var removed: [(at: Int, count: Int)] = []
        var previousWord = 0..<0
        var index = 0
        while index < text.count {
            guard isLetter(text[index]), index == 0 || !(isLetter(text[index - 1]) || text[index - 1] == 0x27) else { index += 1; continue }
            var end = index
            while end < text.count, isLetter(text[end]) || (text[end] == 0x27 && end + 1 < text.count && isLetter(text[end + 1])) { end += 1 }
            let word = text[index..<end]
            // Most words are neither: only words of a filler's length are compared, and the word
            // before only when this one softens.
            if end < text.count, text[end] == 0x20, fillerLengths.contains(word.count),
               fillerWords.contains(where: { $0.elementsEqual(word) })
                || softenersAfterNegation.contains(where: { $0.elementsEqual(word) }) && isNegative(text[previousWord]) {
                removed.append((index, end + 1 - index))
            } else {
                previousWord = index..<end
            }
            index = end
        }
        guard !removed.isEmpty else { return (text, pauses) }
        var out: [UInt32] = []
        out.reserveCapacity(text.count)
        var cursor = 0
        for cut in removed {
            out.append(contentsOf: text[cursor..<cut.at])
            cursor = cut.at + cut.count
        }
        out.append(contentsOf: text[cursor...])
        let moved = pauses.map { pause in pause - removed.filter { $0.at < pause }.reduce(0) { $0 + $1.count } }
        return (out, moved)
    }

    static let negativeWords: [[UInt32]] = ["not", "no", "never", "cant", "wont", "dont", "isnt", "hasnt", "havent", "didnt", "doesnt", "wasnt", "arent", "aint"]
        .map { $0.unicodeScalars.map(\.value) }

    /// "not", "no", "never" and the contracted negatives ("hasn't", "hasnt", "cant").
    static func isNegative(_ word: ArraySlice<UInt32>) -> Bool {
        if word.count >= 3, word[word.endIndex - 3] == 0x6E, word[word.endIndex - 2] == 0x27, word[word.endIndex - 1] == 0x74 { return true }   // n't
        return negativeWords.contains { $0.elementsEqual(word) }
    }

    /// Clause and sentence boundaries: a clause ends at a comma, a semicolon, a colon or an
    /// enumeration mark; a sentence at a full stop, an exclamation or question mark, a line break.
    /// A full stop or colon between digits (39.2, 7:30) ends nothing.
    struct Segments {
        var clauseOf: [Int32]
        var clauseRanges: [Range<Int>]
        var clauseSentence: [Int32]
    }

    static func segment(_ text: [UInt32]) -> Segments {
        let count = text.count
        var clauseOf = [Int32](repeating: -1, count: count)
        var ranges: [Range<Int>] = []
        var sentenceOfClause: [Int32] = []
        var sentence: Int32 = 0
        var start = 0
        func close(_ end: Int) {
            var blank = true
            var index = start
            while index < end { if !isSpace(text[index]) { blank = false; break }; index += 1 }
            guard !blank else { return }
            let clause = Int32(ranges.count)
            for position in start..<end { clauseOf[position] = clause }
            ranges.append(start..<end)
            sentenceOfClause.append(sentence)
        }
        for index in 0..<count {
            let value = text[index]
            let betweenDigits = index > 0 && index + 1 < count && isDigit(text[index - 1]) && isDigit(text[index + 1])
            // "bit.ly", "t.cn", "shop.xyz": a dot inside a web address ends nothing either.
            let inAddress = index > 0 && index + 1 < count && isAlnum(text[index - 1]) && isAlnum(text[index + 1])
            // "http://", "https://".
            let scheme = index + 2 < count && text[index + 1] == 0x2F && text[index + 2] == 0x2F
            switch value {
            case 0x2E where !betweenDigits && !inAddress, 0x3002, 0x21, 0xFF01, 0x3F, 0xFF1F, 0x0A, 0x2026:
                close(index)
                start = index + 1
                sentence += 1
            case 0x2C, 0xFF0C, 0x3001, 0x3B, 0xFF1B, 0xFF1A, 0x7E, 0xFF5E:
                close(index)
                start = index + 1
            case 0x3A where !betweenDigits && !scheme:
                close(index)
                start = index + 1
            default:
                break
            }
        }
        close(count)
        return Segments(clauseOf: clauseOf, clauseRanges: ranges, clauseSentence: sentenceOfClause)
    }

    @inline(__always) func boundaryOK(_ entry: Entry, _ text: [UInt32], _ start: Int, _ end: Int) -> Bool {
        if entry.wordStart, start > 0, Self.isLetter(text[start - 1]) { return false }
        switch entry.wordEnd {
        case 1:
            var index = end
            while index < text.count, Self.isLetter(text[index]), index - end < 4 { index += 1 }
            if index < text.count, Self.isLetter(text[index]) { return false }
            switch index - end {
            case 0: return true
            case 1: return text[end] == 0x73 || text[end] == 0x64   // s, d
            case 2: return (text[end] == 0x65 && (text[end + 1] == 0x73 || text[end + 1] == 0x64)) // es, ed
            case 3: return text[end] == 0x69 && text[end + 1] == 0x6E && text[end + 2] == 0x67   // ing
            default: return false
            }
        case 3:
            return end == text.count || !Self.isLetter(text[end])
        default:
            return true
        }
    }

    // MARK: Occurrences

    struct Occurrence {
        var concept: Int32
        var start: Int32
        var end: Int32
        var clause: Int32
        /// Bits: 1 negated, 2 over (resolved: "went away"), 4 hypothetical, 8 general question,
        /// 16 remote past ("去年", "years ago").
        var state: UInt8 = 0
        var active: Bool { state == 0 }
        var present: Bool { state & 1 == 0 }
    }

    struct CueHit {
        var cue: Cue
        var start: Int
        var end: Int
        var scope: Int
        var clause: Int32
    }

    struct PhraseHit {
        var locale: Int
        var rule: Int
        var start: Int
        var end: Int
        var clause: Int32
        var state: UInt8 = 0
    }

    struct Span {
        var start: Int
        var end: Int
    }

    /// Everything one message yields before rules are applied.
    struct Reading {
        var text: [UInt32]
        var segments: Segments
        var occurrences: [Occurrence] = []
        var cues: [CueHit] = []
        /// Negation cues as written, before those inside longer words are dropped.
        var writtenNegations: [CueHit] = []
        var phrases: [PhraseHit] = []
        var labels: [(kind: ValueKind, start: Int, end: Int)] = []
        var units: [(kind: UnitKind, start: Int, end: Int)] = []
        var notMeasurement: [Span] = []
        var meterCodes: [(high: Bool, start: Int, end: Int)] = []
        var words: [Span] = []
        /// The hidden part of each shadow word, and the word itself.
        var shadows: [(hidden: Span, word: Span)] = []
        /// Every number of the text, read once.
        var numbers: [NumberToken] = []
        /// Where a space between two Chinese characters was dropped (`foldNotingPauses`).
        var pauses: [Int] = []

        func clause(_ position: Int) -> Int32 { position < segments.clauseOf.count ? segments.clauseOf[position] : -1 }
        func sentence(ofClause clause: Int32) -> Int32 { clause >= 0 ? segments.clauseSentence[Int(clause)] : -1 }
    }

    func read(_ text: [UInt32]) -> Reading {
        var reading = Reading(text: text, segments: Self.segment(text))
        matcher.scan(text) { pattern, start, end in
            let clause = reading.segments.clauseOf[start]
            guard clause >= 0, reading.segments.clauseOf[end - 1] == clause else { return }
            for entryIndex in Int(entryStart[pattern])..<Int(entryStart[pattern + 1]) {
                let entry = entries[entryIndex]
                guard boundaryOK(entry, text, start, end) else { continue }
                switch entry.meaning {
                case .phrase(let locale, let rule):
                    reading.phrases.append(PhraseHit(locale: locale, rule: rule, start: start, end: end, clause: clause))
                    reading.words.append(Span(start: start, end: end))
                case .concept(let id):
                    reading.occurrences.append(Occurrence(concept: Int32(id), start: Int32(start), end: Int32(end), clause: clause))
                    reading.words.append(Span(start: start, end: end))
                case .cue(let cue, let scope):
                    reading.cues.append(CueHit(cue: cue, start: start, end: end, scope: scope, clause: clause))
                    if cue == .question { reading.words.append(Span(start: start, end: end)) }
                case .shadow(let hideStart, let hideEnd):
                    reading.shadows.append((Span(start: start + hideStart, end: min(end, start + hideEnd)), Span(start: start, end: end)))
                    reading.words.append(Span(start: start, end: end))
                case .label(let kind):
                    reading.labels.append((kind, start, end))
                    reading.words.append(Span(start: start, end: end))
                case .unit(let kind):
                    reading.units.append((kind, start, end))
                    reading.words.append(Span(start: start, end: end))
                case .notMeasurementBefore:
                    reading.notMeasurement.append(Span(start: start, end: end))
                case .meterCode(let high):
                    reading.meterCodes.append((high, start, end))
                }
            }
        }
        // A concept inside a longer word that means something else ("头" in "头发") is not there;
        // a cue inside a longer phrase ("没" in "没劲", "不是" in "是不是") is no cue.
        if !reading.shadows.isEmpty {
            // Hidden: an occurrence inside the hidden part of a longer shadow word.
            let shadows = reading.shadows
            reading.occurrences.removeAll { occurrence in
                let start = Int(occurrence.start), end = Int(occurrence.end)
                return shadows.contains { start >= $0.hidden.start && end <= $0.hidden.end && $0.word.end - $0.word.start > end - start }
            }
            // "says hi to everyone": a greeting, not a meter's HI.
            reading.meterCodes.removeAll { code in
                shadows.contains { code.start >= $0.hidden.start && code.end <= $0.hidden.end && $0.word.end - $0.word.start > code.end - code.start }
            }
        }
        // A program's own phrase rules read negation as it is written just before the phrase,
        // whatever longer word of the shipped rules ("没有胎动") the negation is part of.
        reading.writtenNegations = reading.cues.filter { $0.cue == .negation }
        if !reading.cues.isEmpty {
            let words = reading.words
            let shadowWords = reading.shadows.map(\.word)
            reading.cues.removeAll { cue in
                (cue.cue == .question ? shadowWords : words).contains { $0.start <= cue.start && cue.end <= $0.end && $0.end - $0.start > cue.end - cue.start }
            }
        }
        // "没好", "还没缓过来", "not gone away": a negated resolution is no resolution.
        if reading.cues.contains(where: { $0.cue == .resolved }) {
            let negations = reading.cues.filter { $0.cue == .negation }
            reading.cues.removeAll { cue in
                cue.cue == .resolved && negations.contains { $0.end <= cue.start && cue.start - $0.end <= ($0.scope > 6 ? 6 : 2) && $0.clause == cue.clause }
            }
        }
        if reading.labels.count > 1 {
            let labels = reading.labels
            reading.labels.removeAll { label in
                labels.contains { $0.start <= label.start && label.end <= $0.end && $0.end - $0.start > label.end - label.start }
            }
        }
        return reading
    }

    // MARK: Scopes

    /// The state bits of something found at `start..<end` in `clause`.
    func state(_ reading: Reading, start: Int, end: Int, clause: Int32, negatable: Bool = true) -> UInt8 {
        var state: UInt8 = 0
        let sentence = reading.sentence(ofClause: clause)
        for cue in reading.cues {
            switch cue.cue {
            case .negation where negatable:
                guard cue.clause == clause, cue.end <= start, start - cue.end <= cue.scope else { continue }
                if reading.cues.contains(where: { $0.cue == .breaker && $0.clause == clause && $0.start >= cue.end && $0.end <= start }) { continue }
                // "不太好 凶口像压了块大石头": a pause after the negated words ends the negation
                // ("没有 胸痛", a pause right after the cue, does not).
                if reading.pauses.contains(where: { $0 > cue.end && $0 <= start }) { continue }
                state |= 1
            case .pastClause:
                // "last week", "years ago": their clause, up to a "now" between ("… last week and now …").
                guard cue.clause == clause else { continue }
                let low = min(cue.end, end), high = max(cue.start, start)
                if reading.cues.contains(where: { ($0.cue == .current || $0.cue == .boundary || $0.cue == .breaker) && $0.start >= low && $0.end <= high }) { continue }
                // "脑壳突然炸开一样痛 … 去年脑梗过的": a pause ends the cue's reach like a comma.
                if reading.pauses.contains(where: { $0 >= low && $0 <= high }) { continue }
                state |= 16
            case .pastForward:
                guard cue.end <= start, reading.sentence(ofClause: cue.clause) == sentence else { continue }
                if reading.cues.contains(where: { $0.cue == .current && $0.start >= cue.end && $0.end <= start }) { continue }
                state |= 16
            case .resolved:
                guard cue.start >= end, reading.sentence(ofClause: cue.clause) == sentence, cue.clause - clause <= 2 else { continue }
                // "还在吐" between the event and "好了" means it is back.
                let cueClauseStart = reading.segments.clauseRanges[Int(cue.clause)].lowerBound
                if cue.clause != clause, reading.cues.contains(where: { $0.cue == .current && $0.start >= end && $0.end <= cueClauseStart }) { continue }
                // Inside a condition it resolves nothing: "要是睡过去不醒就好了" is a wish.
                if reading.cues.contains(where: { $0.cue == .hypothetical && $0.end <= start && reading.sentence(ofClause: $0.clause) == sentence }) { continue }
                state |= 2
            case .hypothetical:
                guard cue.start <= start, reading.sentence(ofClause: cue.clause) == sentence else { continue }
                state |= 4
            case .generic:
                if cue.scope > 0 {
                    guard cue.clause == clause, start - cue.end <= cue.scope, cue.start - end <= cue.scope else { continue }
                    state |= 8
                } else if reading.sentence(ofClause: cue.clause) == sentence, clause >= cue.clause {
                    // A general question covers its clause and what follows, not what was reported
                    // before it ("我妈胸口疼得厉害，出冷汗，怎么处理").
                    state |= 8
                }
            default:
                continue
            }
        }
        return state
    }

    // MARK: Classification

    func classify(_ raw: String, locale: AppLocale, context: TriageContext?) -> TriageResult {
        let (folded, pauses) = Self.foldNotingPauses(raw)
        let (text, movedPauses) = Self.droppingFillers(folded, pauses: pauses)
        guard !text.isEmpty else { return TriageResult(level: .general, flags: [], reasons: []) }
        var reading = read(text)
        reading.pauses = movedPauses
        markStates(&reading)
        reading.numbers = Self.numbers(text)
        let personal = personalData(&reading)
        let links = Self.webAddresses(text) + Self.spacedWebAddresses(text)
        values(&reading, context: context, personal: personal.map(\.span) + links)
        addCueOccurrences(&reading)
        let sets = conceptSets(reading, context: context)
        var signals = ruleSignals(reading, sets: sets, personal: personal, links: links)
        var scores = LazyScores(text: folded)   // the model was trained on the text as folded
        if let model {
            consultAdHead(model, &signals, sets: sets, scores: &scores)
            consultBackstop(model, &signals, sets: sets, scores: &scores, locale: locale)
        }
        var result = decide(signals, reading: reading, active: sets.active)
        if let model { keepConcernOpen(model, &result, scores: &scores) }
        nameValues(&result, reading: reading)
        return result
    }

    /// Clauses that are only a denial ("您问的胸闷，没有", "headache? no"): they deny the clause before them.
    static let bareDenials: Set<String> = ["没有", "没", "没得", "莫得", "无", "冇", "冇啊", "不", "都没有", "没有的", "一点都没有", "完全没有",
                                           "no", "none", "nope", "nah", "not at all", "never", "no never", "no and no", "no to both", "no to all",
                                           "none of those", "none of them", "i am telling no", "i said no", "i told her no", "i told him no"]
    static let denialParticles: Set<UInt32> = [0x54E6, 0x554A, 0x5440, 0x7684, 0x5462, 0x5566, 0x561B, 0x54C8, 0x20, 0x2E, 0x21, 0x7E]   // 哦 啊 呀 的 呢 啦 嘛 哈, space . ! ~

    func deniedClauses(_ reading: Reading) -> Set<Int32> {
        var denied: Set<Int32> = []
        let ranges = reading.segments.clauseRanges
        for (index, range) in ranges.enumerated() where index > 0 && range.count <= 12 {
            // 没 莫 无 冇 不 都 一 完 n i: the first letters of the denials; nothing else is looked at.
            guard let first = reading.text[range].first(where: { $0 != 0x20 }),
                  [0x6CA1, 0x83AB, 0x65E0, 0x5187, 0x4E0D, 0x90FD, 0x4E00, 0x5B8C, 0x6E, 0x69].contains(first) else { continue }
            var scalars = reading.text[range].filter { !Self.denialParticles.contains($0) }
            while scalars.last == 0x20 { scalars.removeLast() }
            let clause = String(String.UnicodeScalarView(scalars.compactMap(Unicode.Scalar.init)))
            if Self.bareDenials.contains(clause) { denied.insert(Int32(index - 1)) }
        }
        return denied
    }

    /// Each occurrence's and phrase hit's state (negated, resolved, hypothetical, generic, past).
    func markStates(_ reading: inout Reading) {
        let denied = deniedClauses(reading)
        for index in reading.occurrences.indices {
            let occurrence = reading.occurrences[index]
            var bits = state(reading, start: Int(occurrence.start), end: Int(occurrence.end), clause: occurrence.clause)
            if unresolvedConcepts[Int(occurrence.concept)] { bits &= ~2 }
            if denied.contains(occurrence.clause) { bits |= 1 }
            reading.occurrences[index].state = bits
        }
        for index in reading.phrases.indices {
            let hit = reading.phrases[index]
            let rule = phraseRules[hit.locale][hit.rule]
            var bits = state(reading, start: hit.start, end: hit.end, clause: hit.clause, negatable: rule.negatable)
            if rule.negatable, reading.writtenNegations.contains(where: { $0.clause == hit.clause && $0.end <= hit.start && hit.start - $0.end <= $0.scope }) {
                bits |= 1
            }
            if rule.level != .urgent { bits &= 1 }
            reading.phrases[index].state = bits
        }
    }

    /// The cues as concepts (`cue.*`), with the last question mark as the question cue of its clause.
    func addCueOccurrences(_ reading: inout Reading) {
        let text = reading.text
        // Question marks end sentences, so the matcher never sees them as cues.
        if let mark = text.lastIndex(where: { $0 == 0x3F || $0 == 0xFF1F }) {
            var clause: Int32 = -1
            var position = mark
            while position > 0 && clause < 0 { position -= 1; clause = reading.segments.clauseOf[position] }
            if clause >= 0 { reading.cues.append(CueHit(cue: .question, start: mark, end: mark + 1, scope: 0, clause: clause)) }
        }
        for cue in reading.cues {
            guard let id = special.cue[cue.cue] else { continue }
            reading.occurrences.append(Occurrence(concept: Int32(id), start: Int32(cue.start), end: Int32(cue.end), clause: cue.clause))
        }
    }

    /// A message's concepts as bit sets, the way the rules' windows read them.
    struct ConceptSets {
        var clauses: Int
        /// Per clause (`clauses × words`): the active concepts, and only the firm ones.
        var clause: [UInt64]
        var firmClause: [UInt64]
        /// Active: current, not negated, resolved, hypothetical, generic or past.
        var active: [UInt64]
        /// Mentioned at all.
        var present: [UInt64]
        /// Neither negated, resolved nor past (a hypothetical or general question counts).
        var firm: [UInt64]
        /// Resolved just now and nothing else ("刚才晕倒了，现在好了").
        var recent: [UInt64]
        /// Whether some concept urgent and review rules are made of is negated, resolved or past.
        var negatedAny = false, resolvedAny = false, pastAny = false
    }

    func conceptSets(_ reading: Reading, context: TriageContext?) -> ConceptSets {
        let clauses = reading.segments.clauseRanges.count
        let empty = [UInt64](repeating: 0, count: words)
        var sets = ConceptSets(clauses: clauses, clause: [UInt64](repeating: 0, count: max(1, clauses) * words), firmClause: [UInt64](repeating: 0, count: max(1, clauses) * words),
                               active: empty, present: empty, firm: empty, recent: empty)
        for occurrence in reading.occurrences {
            let id = Int(occurrence.concept)
            let bit = UInt64(1) << UInt64(id & 63)
            if occurrence.present { sets.present[id >> 6] |= bit }
            if occurrence.state & 19 == 0 {
                sets.firm[id >> 6] |= bit
                sets.firmClause[Int(occurrence.clause) * words + (id >> 6)] |= bit
            }
            if occurrence.state & 2 != 0 && occurrence.state & 29 == 0 { sets.recent[id >> 6] |= bit }
            if concernConcepts[id] {
                if occurrence.state & 1 != 0 { sets.negatedAny = true }
                if occurrence.state & 2 != 0 { sets.resolvedAny = true }
                if occurrence.state & 16 != 0 { sets.pastAny = true }
            }
            guard occurrence.active else { continue }
            sets.active[id >> 6] |= bit
            sets.clause[Int(occurrence.clause) * words + (id >> 6)] |= bit
        }
        for (flag, id) in [(sets.negatedAny, special.stateNegated), (sets.resolvedAny, special.stateResolved), (sets.pastAny, special.statePast)] where flag {
            sets.active[id >> 6] |= 1 << UInt64(id & 63)
            sets.present[id >> 6] |= 1 << UInt64(id & 63)
        }
        if let context, let id = special.context[context] {
            let bit = UInt64(1) << UInt64(id & 63)
            sets.active[id >> 6] |= bit
            sets.present[id >> 6] |= bit
            sets.firm[id >> 6] |= bit
            for clause in 0..<clauses { sets.clause[clause * words + (id >> 6)] |= bit }
        }
        return sets
    }

    /// What the rules say: links and personal data, the concept rules whose trigger is there (in
    /// rule order), the phrase rules that hold.
    func ruleSignals(_ reading: Reading, sets: ConceptSets, personal: [(reason: TriageReason, span: Range<Int>)], links: [Range<Int>]) -> Signals {
        let text = reading.text
        var signals = Signals()
        for link in links where !personal.contains(where: { $0.span.overlaps(link) }) {
            signals.compliance.append(TriageReason(rule: "compliance.link", match: Self.string(text[link])))
        }
        for (reason, _) in personal {
            signals.compliance.append(reason)
            signals.add(.private, reason, resolvesReview: false)
        }
        for candidate in candidateRules(sets.present) {
            let rule = rules[candidate]
            let set: [UInt64]
            switch rule.rule.window {
            case -1: set = sets.firm
            case -2: set = sets.recent
            case -3: set = sets.present
            default: set = sets.active
            }
            let lenient = rule.rule.lenient
            guard let window = fires(rule, clauseSets: lenient ? sets.firmClause : sets.clause, clauses: sets.clauses, terms: lenient ? sets.firm : set, active: sets.active, present: sets.present) else { continue }
            let reason = TriageReason(rule: rule.rule.reasonID, match: match(rule, window, reading))
            if rule.rule.signalledLevel == .urgent, !rule.valuesOnly { signals.urgentFromValuesOnly = false }
            if rule.rule.flag == .compliance { signals.compliance.append(reason) }
            if let level = rule.rule.signalledLevel { signals.add(level, reason, resolvesReview: rule.rule.resolvesReview) }
        }
        for hit in reading.phrases where hit.state == 0 {
            let rule = phraseRules[hit.locale][hit.rule]
            let reason = TriageReason(rule: rule.id, match: Self.string(text[hit.start..<hit.end]))
            if rule.flag == .compliance { signals.compliance.append(reason) }
            if let level = rule.level { signals.add(level, reason, resolvesReview: false) }
        }
        return signals
    }

    /// The rules one of whose trigger concepts is present, in rule order.
    func candidateRules(_ present: [UInt64]) -> [Int] {
        var candidates = [UInt64](repeating: 0, count: (rules.count + 63) / 64)
        for word in 0..<words where present[word] != 0 {
            var bits = present[word]
            while bits != 0 {
                let concept = word << 6 + bits.trailingZeroBitCount
                bits &= bits - 1
                for rule in rulesByTrigger[concept] { candidates[Int(rule) >> 6] |= 1 << UInt64(rule & 63) }
            }
        }
        var list: [Int] = []
        for candidateWord in 0..<candidates.count {
            var candidateBits = candidates[candidateWord]
            while candidateBits != 0 {
                list.append(candidateWord << 6 + candidateBits.trailingZeroBitCount)
                candidateBits &= candidateBits - 1
            }
        }
        return list
    }

    /// The learned backstop's scores for one message, computed at most once.
    struct LazyScores {
        let text: [UInt32]
        var computed: TriageModel.Compiled.Scores?

        init(text: [UInt32]) { self.text = text }

        mutating func of(_ model: TriageModel.Compiled) -> TriageModel.Compiled.Scores {
            if let computed { return computed }
            let scores = model.score(text)
            computed = scores
            return scores
        }

        /// The features that weighed most, as written ("胸 + 口 + 疼").
        func joined(_ top: [(start: Int, length: Int, weight: Float)]) -> String {
            top.map { TriageEngine.string(text[$0.start..<($0.start + $0.length)]) }.joined(separator: " + ")
        }
    }

    /// Ads (and their "私聊", "DM me"): compliance reasons other than personal data and contacts.
    static func isAd(_ signals: Signals) -> Bool {
        signals.compliance.contains { !$0.rule.hasPrefix("pii.") && !$0.rule.hasPrefix("contact.") && $0.rule != "compliance.personal_data" }
    }

    /// An ad the rules saw the words of but no combination: the ad head decides, stricter for a
    /// question (buyers ask, sellers announce); never against a warning, a buying question or a
    /// doubt, nor for a message with personal data (a shared phone number stays private).
    func consultAdHead(_ model: TriageModel.Compiled, _ signals: inout Signals, sets: ConceptSets, scores: inout LazyScores) {
        guard model.ad.x <= 1, signals.urgent.isEmpty, !Self.isAd(signals), signals.private.isEmpty,
              adConcepts.contains(where: { has(sets.present, $0) }), !adBlockers.contains(where: { has(sets.present, $0) }) else { return }
        let scored = scores.of(model)
        if scored.ad > (has(sets.active, special.cue[.question]!) ? model.ad.y : model.ad.x) {
            let reason = TriageReason(rule: "model.ad", match: scores.joined(scored.topAd))
            signals.compliance.append(reason)
            signals.add(.general, reason, resolvesReview: false)
        }
    }

    /// The rest of the backstop: only where the rules found nothing urgent, and not for what they
    /// recognised as a hypothetical, a general question or an ad. It lifts to urgent only a
    /// message that speaks of a body part or symptom the rules found current, or that they could
    /// not place at all (nothing negated, over or past, nothing social) — the words of an
    /// emergency the rules have no concept for — or one they hold for review for a symptom; to
    /// review only what they could not place at all.
    func consultBackstop(_ model: TriageModel.Compiled, _ signals: inout Signals, sets: ConceptSets, scores: inout LazyScores, locale: AppLocale) {
        guard signals.urgent.isEmpty, !Self.isAd(signals),
              !has(sets.active, special.cue[.hypothetical]!), !has(sets.active, special.cue[.generic]!) else { return }
        let clinical = bodyOrSymptomConcept.map { has(sets.active, $0) } ?? false
        let explained = sets.negatedAny || sets.resolvedAny || sets.pastAny || !signals.social.isEmpty
        // A value the rules read as normal with no symptom or body part beside it ("血氧96%") is placed.
        let unplaced = signals.private.isEmpty && signals.review.isEmpty && signals.general.isEmpty && signals.social.isEmpty
            && (clinical || !has(sets.active, ValueConcept.normal.rawValue))
        // A review for a symptom (not only for a value the rules read exactly).
        // (A low reading treated since — a recent event whose match is the number — is not lifted.)
        let heldForReview = signals.review.contains { !$0.rule.hasPrefix("review.value") && !$0.rule.hasPrefix("review.heart_rate") && !$0.rule.hasPrefix("review.glucose") && !$0.rule.hasPrefix("review.lab")
            && !($0.rule == "review.recent_event" && $0.match.unicodeScalars.first.map { Self.isDigit($0.value) || Self.chineseDigit($0.value) != nil } == true) }
            && !signals.resolvesReview && signals.private.isEmpty
            && !(mildConcept.map { has(sets.active, $0) } ?? false)   // the rules read it as mild
            && !(improvingConcept.map { has(sets.active, $0) } ?? false)   // or as getting better
        guard (clinical && !explained) || unplaced || heldForReview else { return }
        let scored = scores.of(model)
        let match = scores.joined(scored.top)
        if (scored.urgent > model.threshold.x && (clinical || unplaced) && !explained) || (heldForReview && scored.urgent > (locale == .en ? model.urgentFromReview.y : model.urgentFromReview.x)) {
            signals.add(.urgent, TriageReason(rule: "model.urgent", match: match), resolvesReview: false)
        } else if scored.concern > model.threshold.y, unplaced {
            // Only what the rules could not place at all (a recognised greeting, denial,
            // recovery or answerable question stays as the rules read it).
            signals.add(.review, TriageReason(rule: "model.review", match: match), resolvesReview: false)
        }
    }

    /// Safety: what the model reads as a concern is not archived as social.
    func keepConcernOpen(_ model: TriageModel.Compiled, _ result: inout TriageResult, scores: inout LazyScores) {
        guard result.level == .social, !result.reasons.contains(where: { $0.rule == "social.normal_value" }) else { return }
        let scored = scores.of(model)
        // A statement the rules recognised as nothing in particular is held to a lower bar.
        let statement = result.reasons.contains { $0.rule == "social.statement" }
        if scored.concern > (statement ? model.notSocial / 2 : model.notSocial) {
            result.level = .general
            result.reasons.append(TriageReason(rule: "model.not_social", match: scores.joined(scored.top)))
        }
    }

    /// The values behind an urgent or review grade, under their own names (the inbox highlights them).
    func nameValues(_ result: inout TriageResult, reading: Reading) {
        guard result.level == .urgent || result.level == .review else { return }
        var named = Set<String>()
        for occurrence in reading.occurrences where occurrence.active {
            guard Int(occurrence.concept) < Self.valueReasons.count, let name = Self.valueReasons[Int(occurrence.concept)] else { continue }
            let match = Self.string(reading.text[Int(occurrence.start)..<Int(occurrence.end)])
            if named.insert(name + match).inserted { result.reasons.append(TriageReason(rule: name, match: match)) }
        }
    }

    struct Signals {
        var urgent: [TriageReason] = []
        var review: [TriageReason] = []
        var `private`: [TriageReason] = []
        var general: [TriageReason] = []
        var social: [TriageReason] = []
        var compliance: [TriageReason] = []
        var resolvesReview = false
        /// Every urgent reason so far came from a rule over values alone (a number, no words).
        var urgentFromValuesOnly = true

        mutating func add(_ level: TriageLevel, _ reason: TriageReason, resolvesReview: Bool) {
            switch level {
            case .urgent: urgent.append(reason)
            case .review: review.append(reason)
            case .private: self.private.append(reason)
            case .general: general.append(reason)
            case .social: social.append(reason)
            }
            if resolvesReview { self.resolvesReview = true }
        }
    }

    /// The clause window a rule holds in, or nil; `window` 0 means the whole message.
    func fires(_ compiled: CompiledRule, clauseSets: [UInt64], clauses: Int, terms: [UInt64], active: [UInt64], present: [UInt64]) -> Int? {
        @inline(__always) func meets(_ set: [UInt64], _ offset: Int, _ mask: [UInt64]) -> Bool {
            for word in 0..<words where set[offset + word] & mask[word] != 0 { return true }
            return false
        }
        // Window -3 (compliance, private): what is mentioned at all, past or not, cancels.
        for mask in compiled.noneMasks where meets(compiled.rule.window == -3 ? present : active, 0, mask) { return nil }
        for mask in compiled.contextMasks where !meets(present, 0, mask) { return nil }
        for mask in compiled.allMasks where !meets(terms, 0, mask) { return nil }
        // Window 0: anywhere in the message; -1: anywhere, and hypotheticals and general
        // questions count too ("what's the point if I'm going to kill myself anyway"); -2: what
        // happened recently and is over ("it went away after ten minutes"); -3: any mention that
        // is not negated (sensitive topics stay sensitive when they are in the past).
        let window = compiled.rule.window
        if window <= 0 || compiled.allMasks.count <= 1 || clauses <= 1 { return -1 }
        for start in 0..<clauses {
            let end = min(clauses, start + window)
            var all = true
            for mask in compiled.allMasks {
                var found = false
                for clause in start..<end where meets(clauseSets, clause * words, mask) { found = true; break }
                if !found { all = false; break }
            }
            if all { return start }
        }
        return nil
    }

    /// What a rule matched: the first active occurrence of each of its terms, joined by " + ".
    func match(_ compiled: CompiledRule, _ window: Int, _ reading: Reading) -> String {
        var parts: [String] = []
        let clauses = window < 0 ? 0..<Int32.max : Int32(window)..<Int32(window + max(1, compiled.rule.window))
        for term in compiled.all {
            let usable = { (occurrence: Occurrence) -> Bool in
                if compiled.rule.lenient { return occurrence.state & 19 == 0 }
                switch compiled.rule.window {
                case -1: return occurrence.state & 19 == 0
                case -2: return occurrence.state & 2 != 0 && occurrence.state & 29 == 0
                case -3: return occurrence.present
                default: return occurrence.active
                }
            }
            // The earliest occurrence, the longest of those that start there ("胸口" over "胸").
            func best(_ candidates: [Occurrence]) -> Occurrence? {
                candidates.min { ($0.start, $1.end - $1.start) < ($1.start, $0.end - $0.start) }
            }
            let found = best(reading.occurrences.filter { usable($0) && term.contains(Int($0.concept)) && clauses.contains($0.clause) })
                ?? best(reading.occurrences.filter { usable($0) && term.contains(Int($0.concept)) })
            if let found {
                let part = Self.string(reading.text[Int(found.start)..<Int(found.end)])
                if !parts.contains(part) { parts.append(part) }
            }
        }
        return parts.joined(separator: " + ")
    }

    func decide(_ signals: Signals, reading: Reading, active: [UInt64]) -> TriageResult {
        var flags: [TriageFlag] = []
        if !signals.compliance.isEmpty { flags.append(.compliance) }
        var reasons: [TriageReason] = []
        func note(_ list: [TriageReason]) {
            for reason in list where !reasons.contains(reason) { reasons.append(reason) }
        }
        let level: TriageLevel
        // Ads (and their "私聊", "DM me") are answered in the group and moderated.
        let isAd = Self.isAd(signals)
        let asks = has(active, special.cue[.question]!)
        // An ad's numbers are its claims ("血糖从18降到5.6", "sugar 300 → 90 in a week"): with two
        // signs of an ad or a link, numbers alone make it no emergency.
        // With three, its symptoms are its hooks ("Chest pain? Breathless? Our natural kadha …").
        let adSigns = signals.compliance.filter { !$0.rule.hasPrefix("pii.") }.count
        let claimsOnly = isAd && (adSigns >= 3
            || signals.urgentFromValuesOnly && (adSigns >= 2 || signals.compliance.contains { $0.rule == "compliance.link" }))
        if !signals.urgent.isEmpty && !claimsOnly {
            level = .urgent
            note(signals.urgent)
        } else if isAd {
            level = .general
            note(signals.general)
        } else if !signals.private.isEmpty {
            level = .private
            note(signals.private)
        } else if !signals.review.isEmpty && !signals.resolvesReview {
            level = .review
            note(signals.review)
        } else if !signals.general.isEmpty || asks {
            level = .general
            note(signals.general)
        } else if !signals.social.isEmpty && (bodyOrSymptomConcept.map { !has(active, $0) } ?? true
                                                 || signals.social.contains { ["social.normal_value", "social.recovered", "social.denied", "social.past"].contains($0.rule) }) {
            // Social only when recognised as such, and not while a body part or symptom is
            // spoken of that nothing explains (a greeting may come with a worry).
            level = .social
            note(signals.social)
        } else if !asks, bodyOrSymptomConcept.map({ !has(active, $0) }) ?? true,
                  statementBlockers.allSatisfy({ !has(active, $0) }) {
            // A statement that asks nothing and speaks of no body part, symptom, medicine, place of
            // care, worry or request ("Day 12 of the walking challenge", "复诊约在10月18号") has nothing
            // for the team to answer. The concern head keeps it open at half its usual bar (keepConcernOpen).
            level = .social
            note([TriageReason(rule: "social.statement", match: "")])
        } else {
            // Nothing recognised: the team reads it (social is only for what is recognised as social).
            level = .general
        }
        note(signals.compliance)
        return TriageResult(level: level, flags: flags, reasons: reasons)
    }

    @inline(__always) func has(_ set: [UInt64], _ id: Int) -> Bool { set[id >> 6] & (1 << UInt64(id & 63)) != 0 }

    static func string(_ scalars: ArraySlice<UInt32>) -> String {
        var view = String.UnicodeScalarView()
        for value in scalars { if let scalar = Unicode.Scalar(value) { view.append(scalar) } }
        return String(view)
    }
}
