import Testing
import TendCore

/// Scoring on definitions built in code; the shipped files and the YAML format are tested in
/// TendFormatsTests/Questionnaires.
@Suite struct ScoringTests {
    static func choice(_ id: String, values: [Double] = [0, 1, 2, 3], reverse: Bool = false, showIf: Condition? = nil) -> QuestionnaireItem {
        QuestionnaireItem(id: id, kind: .single(values.map { ChoiceOption(code: $0.text(decimals: 0), value: $0, text: nil) }),
                          text: nil, showIf: showIf, reverse: reverse)
    }

    /// A custom form: a reversed item, two subscales (one a mean), bands on the total, a
    /// conditional follow-up and an optional note.
    static let form = Questionnaire(
        id: "wellbeing", version: 2, name: .init(en: "Wellbeing", zh: "身心状况"),
        items: [
            choice("mood"), choice("sleep"), choice("energy", reverse: true), choice("pain"),
            QuestionnaireItem(id: "pain_where", kind: .text(maxLength: 200), text: nil,
                              showIf: .test(.item("pain"), .atLeast(2))),
            QuestionnaireItem(id: "note", kind: .text(maxLength: 100), text: nil, required: false),
        ],
        total: ScoreRule(id: "total", items: ["mood", "sleep", "energy", "pain"], bands: [
            ScoreBand(id: "good", label: .init(en: "Good", zh: "良好"), min: 0, max: 4),
            ScoreBand(id: "fair", label: .init(en: "Fair", zh: "一般"), min: 5, max: 8),
            ScoreBand(id: "poor", label: .init(en: "Poor", zh: "较差"), min: 9, max: 12),
        ], observation: .init(system: .program, code: "wellbeing-total")),
        subscales: [
            ScoreRule(id: "mind", items: ["mood", "energy"]),
            ScoreRule(id: "body", items: ["sleep", "pain"], method: .mean),
        ],
        flags: [
            FlagRule(id: "worse", level: .high, when: .test(.score("total"), .atLeast(9)), reason: .init(en: "Poor", zh: "较差")),
            FlagRule(id: "severe-pain", level: .urgent, when: .test(.item("pain"), .atLeast(3)), reason: .init(en: "Severe pain", zh: "剧烈疼痛")),
        ])

    func score(_ answers: [String: AnswerValue], in questionnaire: Questionnaire = form) throws -> ResponseScore {
        try QuestionnaireScorer(questionnaire).score(answers)
    }

    func refusal(_ answers: [String: AnswerValue], in questionnaire: Questionnaire = form, context: [String: Double] = [:]) -> ResponseRefusal? {
        do {
            _ = try QuestionnaireScorer(questionnaire).score(answers, context: context)
            return nil
        } catch {
            return error
        }
    }

    @Test func reverseItemsAndSubscales() throws {
        // energy 0 reversed is 3: total 1 + 2 + 3 + 1 = 7.
        let result = try score(["mood": .number(1), "sleep": .number(2), "energy": .number(0), "pain": .number(1)])
        #expect(result.total == 7)
        #expect(result.band?.id == "fair")
        #expect(result.subscales == ["mind": 4, "body": 1.5])
        #expect(result.flags.isEmpty)
        #expect(result.observations == [ObservationReading(code: .init(system: .program, code: "wellbeing-total"), value: .score(7))])
    }

    @Test func reversedHighestIsLowest() throws {
        let result = try score(["mood": .number(0), "sleep": .number(0), "energy": .number(3), "pain": .number(0)])
        #expect(result.total == 0)
        #expect(result.band?.id == "good")
    }

    @Test func scoreFlagsNeedACompleteResponse() throws {
        let result = try score(["mood": .number(3), "sleep": .number(3), "energy": .number(0), "pain": .number(3), "pain_where": .string("knee")])
        #expect(result.total == 12)
        #expect(result.band?.id == "poor")
        #expect(result.flags.map(\.id) == ["worse", "severe-pain"])
        #expect(result.flags.last?.items == ["pain"])
    }

    @Test func aConditionalItemIsRequiredOnlyWhenShown() throws {
        // pain 2 shows pain_where, which is required.
        let refused = try #require(refusal(["mood": .number(0), "sleep": .number(0), "energy": .number(3), "pain": .number(2)]))
        #expect(refused.missing == ["pain_where"])
        #expect(refused.error.field == "answers.pain_where")
        // pain 1 hides it; an answer given anyway is dropped.
        let result = try score(["mood": .number(0), "sleep": .number(0), "energy": .number(3), "pain": .number(1), "pain_where": .string("back")])
        #expect(result.total == 1)
    }

    @Test func anIncompleteResponseIsRefusedNamingTheMissingItemsButKeepsItsFlags() throws {
        let refused = try #require(refusal(["pain": .number(3), "pain_where": .string("chest")]))
        #expect(refused.missing == ["mood", "sleep", "energy"])
        #expect(refused.error.code == "incomplete_response")
        #expect(refused.error.message.en.contains("mood, sleep, energy"))
        // The item flag is raised; the score flag cannot be judged.
        #expect(refused.flags.map(\.id) == ["severe-pain"])
        #expect(refused.flags.first?.level == .urgent)
    }

    @Test func wrongAnswersNameTheirField() throws {
        let base: [String: AnswerValue] = ["mood": .number(0), "sleep": .number(0), "energy": .number(0), "pain": .number(0)]
        var answers = base
        answers["mood"] = .number(7)
        #expect(refusal(answers)?.error.field == "answers.mood")
        answers = base
        answers["note"] = .string(String(repeating: "x", count: 101))
        #expect(refusal(answers)?.error.field == "answers.note")
        answers = base
        answers["colour"] = .string("blue")
        #expect(refusal(answers)?.error.field == "answers.colour")
        answers = base
        answers["sleep"] = .list([.number(1)])
        #expect(refusal(answers)?.error.field == "answers.sleep")
    }

    @Test func choicesMatchByCodeOrScoredValue() throws {
        let result = try score(["mood": .string("1"), "sleep": .number(1), "energy": .string("3"), "pain": .number(0)])
        #expect(result.total == 2)
    }

    static let checkIn = Questionnaire(
        id: "check-in", version: 1, name: .init(en: "Check-in", zh: "打卡"),
        context: [ContextValue(name: "cycle_day", range: 1...60)],
        items: [
            QuestionnaireItem(id: "temperature", kind: .number(NumberSpec(unit: "Cel", range: 25...45)), text: nil, observation: .loinc("8310-5")),
            QuestionnaireItem(id: "symptoms", kind: .multiple([
                ChoiceOption(code: "cough", value: 1, text: nil), ChoiceOption(code: "rash", value: 1, text: nil), ChoiceOption(code: "none", value: 0, text: nil),
            ]), text: nil, observation: .init(system: .program, code: "symptoms")),
            QuestionnaireItem(id: "went_out", kind: .yesNo(scores: nil), text: nil, required: false, observation: .init(system: .program, code: "went-out")),
        ],
        flags: [
            FlagRule(id: "nadir-fever", level: .urgent, when: .all([.test(.item("temperature"), .atLeast(38)), .test(.context("cycle_day"), .between(7, 14))]),
                     reason: .init(en: "Fever in the nadir", zh: "骨髓抑制期发热")),
            FlagRule(id: "rash", level: .normal, when: .test(.item("symptoms"), .includes("rash")), reason: .init(en: "Rash", zh: "皮疹")),
        ])

    @Test func numbersConvertAndBecomeObservations() throws {
        let result = try QuestionnaireScorer(Self.checkIn).score(
            ["temperature": .quantity(101.5, unit: "[degF]"), "symptoms": .list([.string("rash"), .string("cough")]), "went_out": .bool(true)],
            context: ["cycle_day": 8])
        #expect(result.flags.map(\.id) == ["nadir-fever", "rash"])
        #expect(result.total == nil)
        #expect(result.observations == [
            ObservationReading(code: .loinc("8310-5"), value: .quantity(38.6, unit: "Cel")),
            ObservationReading(code: .init(system: .program, code: "symptoms"), value: .coded("rash,cough")),
            ObservationReading(code: .init(system: .program, code: "went-out"), value: .boolean(true)),
        ])
    }

    @Test func contextOutsideTheNadirDoesNotRaiseTheUrgentFlag() throws {
        let result = try QuestionnaireScorer(Self.checkIn).score(["temperature": .string("38.5 °C"), "symptoms": .list([.string("none")])], context: ["cycle_day": 3])
        #expect(result.flags.isEmpty)
    }

    @Test func contextIsBoundedAndDeclared() {
        let answers: [String: AnswerValue] = ["temperature": .number(37), "symptoms": .list([])]
        #expect(refusal(answers, in: Self.checkIn, context: ["cycle_day": 400])?.error.field == "context.cycle_day")
        #expect(refusal(answers, in: Self.checkIn, context: ["weekday": 2])?.error.field == "context.weekday")
    }

    @Test func anImpossibleNumberIsRefusedNamingTheItem() throws {
        let refused = try #require(refusal(["temperature": .quantity(380, unit: "Cel"), "symptoms": .list([])], in: Self.checkIn))
        #expect(refused.error.field == "answers.temperature")
        #expect(refused.error.code == "impossible_value")
        #expect(refusal(["temperature": .quantity(37, unit: "kg"), "symptoms": .list([])], in: Self.checkIn)?.error.field == "answers.temperature")
    }
}
