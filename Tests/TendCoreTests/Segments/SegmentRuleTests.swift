import Foundation
import Testing
@testable import TendCore

/// The segment rule language: what it reads, and errors that name their line and column.
@Suite struct SegmentRuleTests {
    @Test func theIssuesExampleReadsAsFourClauses() throws {
        let rule = try SegmentRule.parse("disease = T2DM and age >= 65 and last(glucose_fasting, 14d) >= 7.0 and not tag(stage)")
        guard case .all(let parts) = rule.expression, parts.count == 4 else { Issue.record("not four clauses: \(rule.expression)"); return }
        #expect(rule.clauses.map(\.condition) == [
            .tag(key: "disease", values: ["T2DM"]),
            .age(.greaterOrEqual, 65),
            .observation(.last, .loinc("14770-2"), SegmentWindow(hours: 14 * 24), .greaterOrEqual, 7.0),
            .tag(key: "stage", values: nil),
        ])
        if case .not(.clause(let clause)) = parts[3] { #expect(clause.text == "tag(stage)") } else { Issue.record("not a negated tag") }
        #expect(rule.clauses[2].text == "last(glucose_fasting, 14d) >= 7.0")
        #expect(rule.slides, "a window and an age both move with time")
    }

    @Test func precedenceListsUnitsAndFunctions() throws {
        let rule = try SegmentRule.parse("""
            (sex = 女 or 病种 in (糖尿病, "妊娠 糖尿病")) and max(glucose-post-meal, 2w) > 200 mg/dL
            or score(phq-9, 30d) >= 10 or band(gad-7) != severe or enrolled(s1-revisit, paused) or count(bp-systolic, 7d) < 3
            """)
        guard case .any(let alternatives) = rule.expression, alternatives.count == 5 else { Issue.record("\(rule.expression)"); return }
        let conditions = rule.clauses.map(\.condition)
        #expect(conditions[0] == .attribute(.sex, ["female"]))
        #expect(conditions[1] == .tag(key: "病种", values: ["糖尿病", "妊娠 糖尿病"]))
        guard case .observation(.max, _, let window, .greater, let value) = conditions[2] else { Issue.record("\(conditions[2])"); return }
        #expect(window?.hours == 14 * 24 && abs(value - 11.1) < 0.05, "mg/dL is converted to the canonical mmol/L")
        #expect(conditions[3] == .score(questionnaire: "phq-9", SegmentWindow(hours: 720), .greaterOrEqual, 10))
        #expect(conditions[4] == .band(questionnaire: "gad-7", nil, ["severe"]))
        if case .not = alternatives[2] {} else { Issue.record("!= is a negation") }
        #expect(conditions[5] == .enrolled(pathway: "s1-revisit", [.paused]))
        #expect(conditions[6] == .observation(.count, .loinc("8480-6"), SegmentWindow(hours: 168), .less, 3))
        #expect(rule.isAffected(by: .observations([.loinc("8480-6")])) && !rule.isAffected(by: .observations([.loinc("8310-5")])))
        #expect(rule.isAffected(by: .responses(["gad-7"])) && rule.isAffected(by: .tags) && rule.isAffected(by: .enrolments))
    }

    @Test(arguments: [
        ("disease = ", 1, 11, "expected a value"),
        ("disease = T2DM and\n  last(glucose-fasting, 14) >= 7", 2, 25, "expected a window"),
        ("disease = T2DM\nand lost(glucose-fasting) > 7", 2, 5, "is not a function"),
        ("age >= 6.5", 1, 8, "whole number"),
        ("last(glucose-fasting) >= 7 mmHg", 1, 28, "is not a unit"),
        ("last(blood-sugar) >= 7", 1, 6, "is not an observation code"),
        ("(disease = T2DM", 1, 16, "expected \")\""),
        ("disease = T2DM or or", 1, 19, "expected a clause"),
        ("tag(stage) tag(x)", 1, 12, "expected \"and\", \"or\""),
        ("sex = 🙂", 1, 7, "unexpected"),
        ("sex = dragon", 1, 5, "is not a sex"),
        ("band(phq-9) > 3", 1, 13, "band is compared"),
        ("pdc(statin, 90d) < 80", 1, 20, "a proportion from 0 to 1"),
        ("last(glucose-fasting, 9999d) > 3", 1, 23, "at most 3660 days"),
        ("note = \"open", 1, 8, "not closed"),
        ("", 1, 1, "empty"),
    ])
    func errorsNameLineAndColumn(text: String, line: Int, column: Int, message: String) {
        do {
            _ = try SegmentRule.parse(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.line == line && error.column == column, "\(text): \(error)")
            #expect(error.message.en.contains(message), "\(text): \(error.message.en)")
            #expect(!error.message.zh.isEmpty)
        }
    }

    @Test func boundsHoldAgainstHostileRules() {
        let deep = String(repeating: "(", count: 40) + "tag(x)" + String(repeating: ")", count: 40)
        let nots = String(repeating: "not ", count: 40) + "tag(x)"
        let many = (0..<60).map { "tag(k\($0))" }.joined(separator: " or ")
        for text in [deep, nots, many, String(repeating: "a", count: 5000), "last(glucose-fasting) > 1e400", "x in (" + (0..<60).map(String.init).joined(separator: ",") + ")"] {
            #expect(throws: SegmentRuleError.self) { try SegmentRule.parse(text) }
        }
    }

    @Test func aDefinitionFileReportsARuleErrorAtItsPlaceInTheFile() throws {
        let file = """
            slug: poorly-controlled
            name: {zh: 血糖控制不佳, en: Poorly controlled}
            rule: |
              disease = T2DM
                and last(glucose-fasting, 14) >= 7.0
            on_enter:
              - enrol: intensive
            """
        do {
            _ = try SegmentDecoder.decode(.map([
                DocumentEntry(key: "slug", line: 1, value: .scalar("poorly-controlled", line: 1)),
                DocumentEntry(key: "name", line: 2, value: .map([DocumentEntry(key: "zh", line: 2, value: .scalar("血糖控制不佳", line: 2)),
                                                                  DocumentEntry(key: "en", line: 2, value: .scalar("Poorly controlled", line: 2))], line: 2)),
                DocumentEntry(key: "rule", line: 3, value: .scalar("disease = T2DM\n  and last(glucose-fasting, 14) >= 7.0\n", line: 3)),
            ], line: 1), source: file)
            Issue.record("accepted")
        } catch {
            let problem = try #require(error.problems.first)
            // `14` is on line 5 of the file, at column 31 (the rule's own line 2, column 29, indented by 2 more).
            #expect(problem.line == 5, "\(problem)")
            #expect(problem.message.hasPrefix("column 31:"), "\(problem)")
        }
    }

    @Test func actionsReadBackFromTheirText() {
        for action in [SegmentAction.enrol(pathway: "intensive"), .endEnrolment(pathway: "intensive"), .setTag(PatientTag(key: "control", value: "poor")),
                       .clearTag(PatientTag(key: "control", value: "poor")), .joinGroup("g1"), .leaveGroup("g1")] {
            #expect(SegmentAction(text: action.text) == action)
        }
        #expect(SegmentAction(key: "enrol", value: "Not A Slug") == nil)
    }
}
