import Foundation
import Testing
import TendCore
import TendFormats

/// Golden scoring of the questionnaires Tend ships. Items are "1"…"N" in the instrument's
/// order, answered with their scored values.
@Suite struct ShippedQuestionnaireTests {
    static func shipped(_ name: String) throws -> Questionnaire {
        try #require(try QuestionnaireFile.shipped(name))
    }

    /// Answers that add up to `total`, filling items from the first, each at most `maximum`;
    /// `fixed` answers are set first.
    static func answers(total: Int, items: Int, minimum: Int = 0, maximum: Int, fixed: [String: Int] = [:]) -> [String: AnswerValue] {
        var rest = total - fixed.values.reduce(0, +) - minimum * (items - fixed.count)
        var answers: [String: AnswerValue] = [:]
        for index in 1...items {
            let id = String(index)
            if let value = fixed[id] {
                answers[id] = .number(Double(value))
                continue
            }
            let extra = min(rest, maximum - minimum)
            rest -= extra
            answers[id] = .number(Double(minimum + extra))
        }
        return answers
    }

    func score(_ name: String, _ answers: [String: AnswerValue], context: [String: Double] = [:]) throws -> ResponseScore {
        try QuestionnaireScorer(try Self.shipped(name)).score(answers, context: context)
    }

    @Test func everyShippedDefinitionIsValid() throws {
        for name in ShippedQuestionnaires.names {
            let questionnaire = try Self.shipped(name)
            #expect(questionnaire.id == name)
        }
        #expect(ShippedQuestionnaires.source("nope") == nil)
        #expect(ShippedQuestionnaires.source("../Triage/Rules/answers") == nil)
    }

    @Test(arguments: [
        (0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
        (15, "moderately-severe"), (19, "moderately-severe"), (20, "severe"), (24, "severe"),
    ])
    func phq9BandEdges(total: Int, band: String) throws {
        let result = try score("phq-9", Self.answers(total: total, items: 9, maximum: 3, fixed: ["9": 0]))
        #expect(result.total == Double(total))
        #expect(result.band?.id == band)
        #expect(!result.flags.contains { $0.id == "self-harm" })
        #expect(result.observations == [ObservationReading(code: .loinc("44261-6"), value: .score(Double(total)))])
    }

    @Test func phq9Maximum() throws {
        let result = try score("phq-9", Self.answers(total: 27, items: 9, maximum: 3))
        #expect(result.total == 27)
        #expect(result.band?.id == "severe")
        #expect(result.flags.map(\.id) == ["self-harm", "severe-depression"])
    }

    @Test(arguments: [1, 2, 3])
    func phq9Item9IsUrgentWhateverTheTotal(item9: Int) throws {
        let result = try score("phq-9", Self.answers(total: item9, items: 9, maximum: 3, fixed: ["9": item9]))
        #expect(result.band?.id == "minimal")
        let flag = try #require(result.flags.first)
        #expect(flag.id == "self-harm")
        #expect(flag.level == .urgent)
        #expect(flag.items == ["9"])
    }

    @Test func anIncompletePhq9IsRefusedButItem9StillRaisesItsFlag() throws {
        let questionnaire = try Self.shipped("phq-9")
        do {
            _ = try QuestionnaireScorer(questionnaire).score(["1": .number(2), "9": .number(1)])
            Issue.record("an incomplete PHQ-9 was scored")
        } catch {
            #expect(error.missing == ["2", "3", "4", "5", "6", "7", "8"])
            #expect(error.error.field == "answers.2")
            #expect(error.flags.map(\.id) == ["self-harm"])
            #expect(error.flags.first?.level == .urgent)
        }
    }

    @Test func phq9RefusesAnswersThatAreNotScoredValues() throws {
        let questionnaire = try Self.shipped("phq-9")
        var answers = Self.answers(total: 5, items: 9, maximum: 3)
        answers["4"] = .number(4)
        do {
            _ = try QuestionnaireScorer(questionnaire).score(answers)
            Issue.record("4 accepted for a 0–3 item")
        } catch {
            #expect(error.error.field == "answers.4")
            #expect(error.missing.isEmpty)
        }
    }

    @Test(arguments: [
        (0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"), (15, "severe"), (21, "severe"),
    ])
    func gad7Bands(total: Int, band: String) throws {
        let result = try score("gad-7", Self.answers(total: total, items: 7, maximum: 3))
        #expect(result.total == Double(total))
        #expect(result.band?.id == band)
        #expect(result.flags.map(\.id) == (total >= 15 ? ["severe-anxiety"] : []))
        #expect(result.observations.first?.code == .loinc("70274-6"))
    }

    @Test(arguments: [
        (5, "very-poorly-controlled"), (15, "very-poorly-controlled"), (16, "not-well-controlled"), (19, "not-well-controlled"),
        (20, "well-controlled"), (25, "well-controlled"),
    ])
    func actBands(total: Int, band: String) throws {
        let result = try score("act", Self.answers(total: total, items: 5, minimum: 1, maximum: 5))
        #expect(result.total == Double(total))
        #expect(result.band?.id == band)
        #expect(result.flags.map(\.id) == (total <= 15 ? ["very-poorly-controlled"] : []))
    }

    @Test func actShipsScoringOnly() throws {
        let act = try Self.shipped("act")
        #expect(act.wording == .program)
        #expect(act.licence?.en.contains("QualityMetric") == true)
        #expect(act.items.allSatisfy { $0.text == nil })
        #expect(act.items.map(\.id) == ["1", "2", "3", "4", "5"])
        // Items run 1–5: 0 and 6 are not answers.
        for wrong in [0.0, 6.0] {
            var answers = Self.answers(total: 20, items: 5, minimum: 1, maximum: 5)
            answers["3"] = .number(wrong)
            #expect(throws: ResponseRefusal.self) { try QuestionnaireScorer(act).score(answers) }
        }
    }

    // MARK: Scenario forms

    @Test func s3FastingGlucose() throws {
        let low = try score("glucose-daily", ["fasting": .number(2.7)])
        #expect(low.flags.map(\.id) == ["hypoglycaemia"])
        #expect(low.flags.first?.level == .urgent)
        #expect(low.observations == [ObservationReading(code: .loinc("14770-2"), value: .quantity(2.7, unit: "mmol/L"))])
        #expect(try score("glucose-daily", ["fasting": .number(5.6)]).flags.isEmpty)
        #expect(try score("glucose-daily", ["fasting": .number(4.8)]).flags.isEmpty)
        #expect(try score("glucose-daily", ["fasting": .number(3.9)]).flags.isEmpty)
        #expect(try score("glucose-daily", ["fasting": .number(3.8)]).flags.map(\.id) == ["hypoglycaemia"])
    }

    @Test func s3PostMealGlucoseInMgPerDL() throws {
        let high = try score("glucose-daily", ["fasting": .number(5.0), "post_meal": .quantity(300, unit: "mg/dL"), "meal": .string("lunch")])
        #expect(high.flags.map(\.id) == ["hyperglycaemia"])
        #expect(high.observations.last == ObservationReading(code: .loinc("14760-3"), value: .quantity(16.7, unit: "mmol/L")))
        let justBelow = try score("glucose-daily", ["fasting": .number(5.0), "post_meal": .number(16.6), "meal": .string("dinner")])
        #expect(justBelow.flags.isEmpty)
    }

    @Test func s3MealIsAskedOnlyAfterAPostMealValue() throws {
        do {
            _ = try score("glucose-daily", ["fasting": .number(5.0), "post_meal": .number(7.0)])
            Issue.record("meal not required")
        } catch let refusal as ResponseRefusal {
            #expect(refusal.missing == ["meal"])
        }
    }

    @Test func s3RefusesAnImpossibleGlucose() throws {
        do {
            _ = try score("glucose-daily", ["fasting": .number(300)])
            Issue.record("300 mmol/L accepted")
        } catch let refusal as ResponseRefusal {
            #expect(refusal.error.field == "answers.fasting")
            #expect(refusal.error.code == "impossible_value")
            #expect(refusal.flags.isEmpty)
        }
    }

    static let calmChemo: [String: AnswerValue] = [
        "chills": .bool(false), "nausea": .string("mild"), "vomiting": .number(0), "diarrhoea": .number(0),
        "mouth_sores": .bool(false), "bleeding": .bool(false),
    ]

    @Test func s2FeverInTheNadirWindowIsUrgent() throws {
        var answers = Self.calmChemo
        answers["temperature"] = .quantity(101.5, unit: "[degF]")
        let result = try score("chemo-side-effects", answers, context: ["cycle_day": 8])
        #expect(result.flags.map(\.id) == ["fever-in-nadir"])
        #expect(result.flags.first?.level == .urgent)
        #expect(result.observations == [ObservationReading(code: .loinc("8310-5"), value: .quantity(38.6, unit: "Cel"))])
    }

    @Test(arguments: [
        (38.0, 7.0, ["fever-in-nadir"]), (38.0, 14.0, ["fever-in-nadir"]), (37.9, 10.0, []),
        (38.5, 3.0, ["fever"]), (38.5, 15.0, ["fever"]), (38.5, nil, ["fever-day-unknown"]),
    ] as [(Double, Double?, [String])])
    func s2FeverByCycleDay(temperature: Double, day: Double?, flags: [String]) throws {
        var answers = Self.calmChemo
        answers["temperature"] = .number(temperature)
        let result = try score("chemo-side-effects", answers, context: day.map { ["cycle_day": $0] } ?? [:])
        #expect(result.flags.map(\.id) == flags)
    }

    @Test func s1RevisitAttended() throws {
        let result = try score("revisit-form", [
            "attended": .string("yes"), "visit_date": .string("2026-12-03"), "wbc": .number(3.2),
            "hemoglobin": .quantity(11.8, unit: "g/dL"), "report_photo": .string("upload-01J9Z"),
        ])
        #expect(result.flags.isEmpty)
        #expect(result.observations == [
            ObservationReading(code: .init(system: .program, code: "revisit-attended"), value: .boolean(true)),
            ObservationReading(code: .loinc("6690-2"), value: .quantity(3.2, unit: "10*9/L")),
            ObservationReading(code: .loinc("718-7"), value: .quantity(118, unit: "g/L")),
            ObservationReading(code: .init(system: .program, code: "lab-report-photo"), value: .text("upload-01J9Z")),
        ])
    }

    @Test func s1RevisitMissed() throws {
        let result = try score("revisit-form", ["attended": .bool(false), "missed_reason": .string("unwell"), "wbc": .number(1)])
        #expect(result.flags.map(\.id) == ["missed-revisit", "unwell"])
        // wbc is hidden when the revisit was missed: its answer is dropped.
        #expect(result.observations == [
            ObservationReading(code: .init(system: .program, code: "revisit-attended"), value: .boolean(false)),
            ObservationReading(code: .init(system: .program, code: "revisit-missed-reason"), value: .coded("unwell")),
        ])
        do {
            _ = try score("revisit-form", ["attended": .bool(true)])
            Issue.record("visit date not required")
        } catch let refusal as ResponseRefusal {
            #expect(refusal.missing == ["visit_date"])
        }
    }
}

@Suite struct QuestionnaireJSONTests {
    /// Lines differ between the file and its JSON; everything else must not.
    func withoutLines(_ questionnaire: Questionnaire) -> Questionnaire {
        var copy = questionnaire
        copy.items = copy.items.map { var item = $0; item.line = 0; return item }
        copy.flags = copy.flags.map { var flag = $0; flag.line = 0; return flag }
        return copy
    }

    @Test func everyShippedQuestionnaireReadsBackFromItsJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for name in ShippedQuestionnaires.names {
            let questionnaire = try #require(try QuestionnaireFile.shipped(name))
            let json = String(decoding: try encoder.encode(questionnaire), as: UTF8.self)
            let again = try QuestionnaireFile.parse(json)
            #expect(withoutLines(again) == withoutLines(questionnaire), "\(name)")
        }
    }

    @Test func visibleItemsFollowTheAnswers() throws {
        let form = try #require(try QuestionnaireFile.shipped("revisit-form"))
        let scorer = QuestionnaireScorer(form)
        #expect(scorer.visibleItems([:]).map(\.id) == ["attended", "notes"])
        #expect(scorer.visibleItems(["attended": .bool(true)]).map(\.id) == ["attended", "visit_date", "wbc", "hemoglobin", "report_photo", "notes"])
        #expect(scorer.visibleItems(["attended": .string("no")]).map(\.id) == ["attended", "missed_reason", "notes"])
    }

    @Test func aLicensedActCopyAddsTheWording() throws {
        let shipped = try #require(ShippedQuestionnaires.source("act"))
        var copy = shipped.replacingOccurrences(of: "wording: program\n", with: "wording: included\n")
        copy = copy.replacingOccurrences(of: "    type: single\n", with: "    type: single\n    text: {zh: （授权文字）, en: (licensed wording)}\n")
        for value in 1...5 {
            copy = copy.replacingOccurrences(of: "{value: \(value)}", with: "{value: \(value), text: {zh: 选项\(value), en: Option \(value)}}")
        }
        let act = try QuestionnaireFile.parse(copy)
        #expect(act.wording == .included)
        #expect(act.items.allSatisfy { $0.text != nil })
        // Without the texts, wording: included is refused item by item.
        let bare = shipped.replacingOccurrences(of: "wording: program\n", with: "wording: included\n")
        do {
            _ = try QuestionnaireFile.parse(bare)
            Issue.record("ACT without wording accepted as included")
        } catch {
            #expect(error.problems.contains { $0.message.contains("item 1 needs a \"text\"") })
        }
    }
}
