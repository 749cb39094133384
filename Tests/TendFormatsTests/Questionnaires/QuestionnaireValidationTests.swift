import Testing
import TendCore
import TendFormats
import Foundation

@Suite struct QuestionnaireValidationTests {
    /// A program's own form: a reverse-scored item, two subscales, bands, a conditional item.
    static let custom = """
        questionnaire: fatigue
        version: 3
        name: {zh: 疲劳量表, en: Fatigue scale}
        items:
          - id: tired
            type: single
            text: {zh: 感到疲劳, en: I feel tired}
            options: &o
              - {value: 0, text: {zh: 从不, en: Never}}
              - {value: 1, text: {zh: 有时, en: Sometimes}}
              - {value: 2, text: {zh: 经常, en: Often}}
          - id: rested
            type: single
            reverse: true
            text: {zh: 睡醒后精力充沛, en: I wake up rested}
            options:
              - {value: 0, text: {zh: 从不, en: Never}}
              - {value: 1, text: {zh: 有时, en: Sometimes}}
              - {value: 2, text: {zh: 经常, en: Often}}
          - id: focus
            type: single
            text: {zh: 难以集中注意力, en: I find it hard to focus}
            options:
              - {value: 0, text: {zh: 从不, en: Never}}
              - {value: 1, text: {zh: 有时, en: Sometimes}}
              - {value: 2, text: {zh: 经常, en: Often}}
          - id: nap
            type: yes_no
            text: {zh: 白天需要小睡, en: I need a nap in the day}
            scores: {yes: 1, no: 0}
          - id: nap_hours
            type: number
            text: {zh: 小睡多久（小时）, en: How long (hours)}
            unit: h
            range: [0, 12]
            show_if: {item: nap, equals: "yes"}
        scoring:
          total:
            items: all
            bands:
              - {id: low, min: 0, max: 2, label: {zh: 轻, en: Low}}
              - {id: some, min: 3, max: 5, label: {zh: 中, en: Some}}
              - {id: high, min: 6, max: 7, label: {zh: 重, en: High}}
          subscales:
            - id: physical
              name: {zh: 躯体, en: Physical}
              items: [tired, rested, nap]
            - id: mental
              items: [focus]
          flags:
            - id: long-naps
              level: normal
              when: {item: nap_hours, at_least: 3}
              reason: {zh: 白天小睡时间长, en: Long naps in the day}
        """

    static var valid: String { custom.replacingOccurrences(of: "options: &o", with: "options:") }

    func problems(_ text: String) -> [PathwayProblem] {
        do {
            _ = try QuestionnaireFile.parse(text)
            return []
        } catch {
            return error.problems
        }
    }

    func replacing(_ old: String, with new: String) -> String {
        precondition(Self.valid.contains(old), old)
        return Self.valid.replacingOccurrences(of: old, with: new)
    }

    @Test func aCustomFormScoresReverseItemsAndSubscales() throws {
        let form = try QuestionnaireFile.parse(Self.valid)
        #expect(form.version == 3)
        let scorer = QuestionnaireScorer(form)
        // rested 0 reversed is 2: total 2 + 2 + 1 + 1 = 6.
        let result = try scorer.score(["tired": .number(2), "rested": .number(0), "focus": .number(1), "nap": .string("yes"), "nap_hours": .number(3)])
        #expect(result.total == 6)
        #expect(result.band?.id == "high")
        #expect(result.subscales == ["physical": 5, "mental": 1])
        #expect(result.flags.map(\.id) == ["long-naps"])
        let rested = try scorer.score(["tired": .number(0), "rested": .number(2), "focus": .number(0), "nap": .bool(false)])
        #expect(rested.total == 0)
        #expect(rested.band?.id == "low")
    }

    @Test func jsonIsAcceptedToo() throws {
        let json = """
            {"questionnaire": "mini", "version": 1, "name": {"zh": "小", "en": "Mini"},
             "items": [{"id": "a", "type": "yes_no", "text": {"zh": "是否", "en": "Yes?"}, "scores": {"yes": 1, "no": 0}}],
             "scoring": {"total": {"items": ["a"], "bands": [{"id": "no", "min": 0, "max": 0, "label": {"zh": "否", "en": "No"}},
                                                            {"id": "yes", "min": 1, "max": 1, "label": {"zh": "是", "en": "Yes"}}]}}}
            """
        let form = try QuestionnaireFile.parse(json)
        #expect(try QuestionnaireScorer(form).score(["a": .bool(true)]).band?.id == "yes")
    }

    @Test func anchorsAreRefusedWithTheirLine() {
        #expect(problems(Self.custom).map(\.line) == [8])
    }

    @Test func aBandGapIsFound() {
        let found = problems(replacing("{id: some, min: 3, max: 5", with: "{id: some, min: 4, max: 5"))
        #expect(found.map(\.line) == [40])
        #expect(found.first?.message.contains("leave 3–3 uncovered") == true)
    }

    @Test func bandsMustCoverTheTop() {
        let found = problems(replacing("{id: high, min: 6, max: 7", with: "{id: high, min: 6, max: 6"))
        #expect(found.first?.message.contains("leave 7–7 uncovered") == true)
    }

    @Test func overlappingBandsAreFound() {
        let found = problems(replacing("{id: high, min: 6, max: 7", with: "{id: high, min: 5, max: 7"))
        #expect(found.map(\.line) == [43])
        #expect(found.first?.message.contains("overlaps band some") == true)
    }

    @Test func aConditionOnALaterItemNamesItsLine() {
        let found = problems(replacing("show_if: {item: nap, equals: \"yes\"}", with: "show_if: {item: nap_hours, equals: \"1\"}"))
        #expect(found.map(\.line) == [36])
        #expect(found.first?.message.contains("cannot depend on itself") == true)
    }

    @Test func aConditionMustFitItsItem() {
        let found = problems(replacing("show_if: {item: nap, equals: \"yes\"}", with: "show_if: {item: nap, equals: \"maybe\"}"))
        #expect(found.map(\.line) == [36])
        #expect(found.first?.message.contains("answered yes or no") == true)
    }

    @Test func unknownItemsInScoresAndFlagsNameTheirLines() {
        var found = problems(replacing("items: [focus]", with: "items: [focus, mood]"))
        #expect(found.map(\.line) == [49])
        #expect(found.first?.message.contains("unknown item \"mood\"") == true)
        found = problems(replacing("when: {item: nap_hours, at_least: 3}", with: "when: {score: physical2, at_least: 3}"))
        #expect(found.map(\.line) == [53])
        #expect(found.first?.message.contains("unknown score \"physical2\"") == true)
    }

    @Test func aScoredItemMustBeRequired() {
        let found = problems(replacing("    type: yes_no\n", with: "    type: yes_no\n    required: false\n"))
        #expect(found.first?.message.contains("which is optional") == true)
    }

    @Test func reverseOnlyOnSingleChoice() {
        let found = problems(replacing("    scores: {yes: 1, no: 0}", with: "    scores: {yes: 1, no: 0}\n    reverse: true"))
        #expect(found.map(\.line) == [31])
    }

    @Test func missingTextsAndBadTypesNameTheirLines() {
        var found = problems(replacing("text: {zh: 难以集中注意力, en: I find it hard to focus}", with: "text: {zh: 难以集中注意力}"))
        #expect(found.map(\.line) == [22])
        #expect(found.first?.message.contains("missing locale en") == true)
        found = problems(replacing("type: yes_no", with: "type: slider"))
        #expect(found.map(\.line).contains(28))
        found = problems(replacing("    unit: h\n", with: ""))
        #expect(found.map(\.line) == [31])
        found = problems(replacing("range: [0, 12]", with: "range: [12, 0]"))
        #expect(found.map(\.line) == [35])
    }

    @Test func aMeasurementNeedsAUnitOfItsCode() {
        var found = problems(replacing("unit: h\n", with: "unit: kg\n    observation: glucose-fasting\n"))
        #expect(found.map(\.line) == [34])
        #expect(found.first?.message.contains("not a unit of glucose-fasting") == true)
        found = problems(replacing("    scores: {yes: 1, no: 0}", with: "    scores: {yes: 1, no: 0}\n    observation: body-weight"))
        #expect(found.map(\.line) == [31])
        found = problems(replacing("    scores: {yes: 1, no: 0}", with: "    scores: {yes: 1, no: 0}\n    observation: sugar"))
        #expect(found.first?.message.contains("must be a known measurement") == true)
    }

    @Test func topLevelMistakes() {
        let found = problems(replacing("version: 3\n", with: "version: three\ncolour: blue\n"))
        #expect(found.map(\.line) == [2, 3])
        #expect(found.last?.message.contains("unknown key \"colour\"") == true)
        #expect(problems("questionnaire: x").map(\.message).contains { $0.contains("missing \"items\"") })
        #expect(problems("- a\n- b").first?.message.contains("must be a mapping") == true)
    }

    @Test func programWordingNeedsALicence() {
        let found = problems(replacing("version: 3\n", with: "version: 3\nwording: program\n"))
        #expect(found.first?.message.contains("needs a \"licence\"") == true)
    }

    @Test func duplicateIdsAreFound() {
        let found = problems(replacing("  - id: focus\n", with: "  - id: tired\n"))
        #expect(found.contains { $0.line == 20 && $0.message.contains("used twice") })
    }
}
