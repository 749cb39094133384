import Foundation
import Testing
import TendCore

/// The labelled corpus of issue 16 (`TriageCorpus/`): `tune.jsonl` is what rules and the model
/// are fitted on; `validate.jsonl` is only ever read here, for aggregate figures — never row by
/// row while writing rules. See docs/triage.md.
@Suite struct TriageCorpusTests {
    struct Row: Decodable {
        let id: String
        let locale: String
        let text: String
        let level: String
        let flags: [String]?
        let category: String
        let context: String?
    }

    /// The corpus folder beside this file, following symlinks (a scratch package may link the file).
    static let folder: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("TriageCorpus")

    static func load(_ name: String) throws -> [Row] {
        let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
        return try text.split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }.map { try JSONDecoder().decode(Row.self, from: Data($0.utf8)) }
    }

    /// 32-bit FNV-1a over the text's UTF-8 bytes, as split.py computes it.
    static func fnv1a32(_ text: String) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in text.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return hash
    }

    struct Figures: CustomStringConvertible {
        var rows = 0
        var urgent = 0, urgentCaught = 0, gradedUrgent = 0, urgentAsSocial = 0
        var compliance = 0, complianceCaught = 0
        var score = 0.0

        var urgentRecall: Double { urgent == 0 ? 1 : Double(urgentCaught) / Double(urgent) }
        var urgentPrecision: Double { gradedUrgent == 0 ? 1 : Double(urgentCaught) / Double(gradedUrgent) }
        var complianceRecall: Double { compliance == 0 ? 1 : Double(complianceCaught) / Double(compliance) }
        var lenientAccuracy: Double { rows == 0 ? 1 : score / Double(rows) }

        mutating func add(_ row: Row, _ result: TriageResult) {
            rows += 1
            let got = result.level.rawValue
            if row.level == "urgent" {
                urgent += 1
                if got == "urgent" { urgentCaught += 1 }
                if got == "social" { urgentAsSocial += 1 }
            }
            if got == "urgent" { gradedUrgent += 1 }
            if row.flags?.contains("compliance") == true {
                compliance += 1
                if result.flags.contains(.compliance) { complianceCaught += 1 }
            }
            if got == row.level {
                score += 1
            } else if Set([got, row.level]) == ["general", "social"] {
                score += 0.5
            }
        }

        var description: String {
            String(format: "%d messages: urgent recall %.4f (%d/%d), urgent precision %.4f (%d graded urgent), urgent graded social %d, compliance recall %.4f (%d/%d), lenient level accuracy %.4f",
                   rows, urgentRecall, urgentCaught, urgent, urgentPrecision, gradedUrgent, urgentAsSocial, complianceRecall, complianceCaught, compliance, lenientAccuracy)
        }
    }

    static func figures(_ rows: [Row]) -> (all: Figures, byLocale: [String: Figures]) {
        let classifier = TriageClassifier()
        var all = Figures()
        var byLocale: [String: Figures] = [:]
        for row in rows {
            let result = classifier.classify(row.text, locale: row.locale == "en" ? .en : .zhHans, context: row.context.flatMap(TriageContext.init(rawValue:)))
            all.add(row, result)
            byLocale[row.locale, default: Figures()].add(row, result)
        }
        return (all, byLocale)
    }

    @Test func everyRowSitsOnItsSideOfTheSplitRule() throws {
        let tune = try Self.load("tune.jsonl"), validate = try Self.load("validate.jsonl")
        #expect(tune.count >= 1000 && validate.count >= 500)
        #expect(tune.allSatisfy { Self.fnv1a32($0.text) % 3 != 0 }, "a tune row belongs to validate")
        #expect(validate.allSatisfy { Self.fnv1a32($0.text) % 3 == 0 }, "a validate row belongs to tune")
        #expect(Set(tune.map(\.text)).isDisjoint(with: validate.map(\.text)))
        let levels = Set(TriageLevel.allCases.map(\.rawValue))
        #expect((tune + validate).allSatisfy { levels.contains($0.level) && ["zh", "en"].contains($0.locale) })
        #expect((tune + validate).allSatisfy { $0.context.map { TriageContext(rawValue: $0) != nil } ?? true })
    }

    /// The development loop: figures on the tuning split, printed, not asserted.
    @Test func figuresOnTheTuningSplit() throws {
        let (all, byLocale) = Self.figures(try Self.load("tune.jsonl"))
        print("triage tune: \(all)")
        for (locale, figures) in byLocale.sorted(by: { $0.key < $1.key }) { print("triage tune \(locale): \(figures)") }
    }

    /// The figures on the split nobody tunes on; only aggregates are printed. Issue 16's targets
    /// are urgent recall ≥ 0.99, precision ≥ 0.85, no urgent graded social, compliance recall
    /// ≥ 0.95 and lenient accuracy ≥ 0.90; they are not all met yet (bench/README.md keeps the
    /// figures). What is asserted is the level reached, so that a change that loses ground fails.
    @Test func figuresOnTheValidationSplit() throws {
        let (all, byLocale) = Self.figures(try Self.load("validate.jsonl"))
        print("triage validate: \(all)")
        for (locale, figures) in byLocale.sorted(by: { $0.key < $1.key }) { print("triage validate \(locale): \(figures)") }
        print("triage validate targets (issue 16): urgent recall ≥ 0.99, precision ≥ 0.85, urgent as social 0, compliance recall ≥ 0.95, lenient accuracy ≥ 0.90")
        #expect(all.urgentRecall >= 0.955, "urgent recall \(all.urgentRecall)")
        #expect(all.urgentPrecision >= 0.85, "urgent precision \(all.urgentPrecision)")
        #expect(all.urgentAsSocial <= 1, "urgent graded social: \(all.urgentAsSocial)")
        #expect(all.complianceRecall >= 0.94, "compliance recall \(all.complianceRecall)")
        #expect(all.lenientAccuracy >= 0.87, "lenient level accuracy \(all.lenientAccuracy)")
    }
}
