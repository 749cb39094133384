import Testing
import TendCore
import TendFormats
import Foundation

@Suite struct PathwayValidationTests {
    static let valid = """
        pathway: demo
        name: {zh: 演示, en: Demo}
        anchors: [revisit]
        steps:
          - id: remind
            anchor: revisit
            offset: -2d
            at: "10:00"
            confirm: true
            channels: [sms]
            message: {zh: "请确认{{revisit.date}}", en: "Confirm {{revisit.date}}"}
          - id: call
            anchor: revisit
            offset: -1d
            at: "10:00"
            if_unconfirmed: remind
            task: {zh: "致电{{patient.name}}", en: "Call {{patient.name}}"}
        """

    func problems(_ text: String) -> [PathwayProblem] {
        do {
            _ = try PathwayFile.parse(text)
            return []
        } catch {
            return error.problems
        }
    }

    func replacing(_ old: String, with new: String) -> String {
        precondition(Self.valid.contains(old))
        return Self.valid.replacingOccurrences(of: old, with: new)
    }

    @Test func aValidFileParses() throws {
        let pathway = try PathwayFile.parse(Self.valid)
        #expect(pathway.steps.map(\.id) == ["remind", "call"])
        #expect(pathway.steps[0].offset == CalendarOffset(days: -2))
        #expect(pathway.steps[1].ifUnconfirmed == "remind")
    }

    @Test func anUnknownAnchorNamesItsLine() {
        let found = problems(replacing("    anchor: revisit\n    offset: -1d", with: "    anchor: surgery\n    offset: -1d"))
        #expect(found.count == 1)
        #expect(found.first?.line == 13)
        #expect(found.first?.message.contains("unknown anchor \"surgery\"") == true)
    }

    @Test func aBadOffsetNamesItsLine() {
        let found = problems(replacing("offset: -2d", with: "offset: two days before"))
        #expect(found.map(\.line) == [7])
        #expect(found.first?.message.contains("bad offset") == true)
    }

    @Test func aMissingLocaleNamesItsLine() {
        let found = problems(replacing(#"message: {zh: "请确认{{revisit.date}}", en: "Confirm {{revisit.date}}"}"#, with: #"message: {zh: "请确认{{revisit.date}}"}"#))
        #expect(found.map(\.line) == [11])
        #expect(found.first?.message.contains("missing locale en") == true)
    }

    @Test func aCycleInEscalationIsFound() {
        let text = replacing("    confirm: true\n", with: "    confirm: true\n    if_unconfirmed: call\n")
        let found = problems(text)
        #expect(found.contains { $0.message.contains("cycle in escalation") && $0.line == 5 })
        #expect(found.contains { $0.message.contains("cycle in escalation") && $0.line == 13 })
    }

    @Test func otherMistakesAreReportedWhereTheyAre() {
        let cases: [(String, String, Int, String)] = [
            ("at: \"10:00\"\n    confirm", "at: \"25:00\"\n    confirm", 8, "bad time"),
            ("channels: [sms]", "channels: [pigeon]", 10, "unknown channel"),
            ("{{patient.name}}\", en", "{{patient.nmae}}\", en", 17, "unknown variable {{patient.nmae}}"),
            ("    if_unconfirmed: remind", "    if_unconfirmed: nowhere", 12, "unknown step"),
            ("    offset: -2d\n", "    offset: -2d\n    ofset: 1d\n", 8, "unknown key \"ofset\""),
            // libyaml notices an unclosed mapping on the line after it.
            ("name: {zh: 演示, en: Demo}", "name: {zh: 演示, en: Demo", 3, "not valid YAML"),
        ]
        for (old, new, line, fragment) in cases {
            let found = problems(replacing(old, with: new))
            #expect(found.contains { $0.line == line && $0.message.contains(fragment) }, "\(fragment): got \(found)")
        }
    }

    @Test func repeatNeedsOneLimit() {
        let found = problems(replacing("    confirm: true\n", with: "    confirm: true\n    repeat: {every: 21d}\n"))
        #expect(found.contains { $0.message.contains("exactly one of count, for, until") })
        let negative = problems(replacing("    confirm: true\n", with: "    confirm: true\n    repeat: {every: -1d, count: 3}\n"))
        #expect(negative.contains { $0.message.contains("bad repeat interval") })
    }
}
