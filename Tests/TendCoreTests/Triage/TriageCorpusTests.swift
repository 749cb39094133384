import Foundation
import Testing
import TendCore

/// The labelled corpus of issue 16 (`TriageCorpus/`): `tune.jsonl` is what rules and the model
/// are fitted on; `validate.jsonl` is only ever read here, for aggregate figures — never row by
/// row while writing rules. See docs/triage.md.
@Suite struct TriageCorpusTests {
    /// The corpus folder beside this file, following symlinks (a scratch package may link the file).
    static let folder: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("TriageCorpus")

    static func load(_ name: String) throws -> [LabelledMessage] {
        try LabelledMessage.parse(try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
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

    static func figures(_ rows: [LabelledMessage]) -> (all: TriageFigures, byLocale: [(String, TriageFigures)]) {
        let evaluation = TriageEvaluation(rows)
        return (evaluation.all, evaluation.byLocale.map { ($0.key == .en ? "en" : "zh", $0.value) }.sorted { $0.0 < $1.0 })
    }

    @Test func everyRowSitsOnItsSideOfTheSplitRule() throws {
        let tune = try Self.load("tune.jsonl"), validate = try Self.load("validate.jsonl")
        #expect(tune.count >= 1000 && validate.count >= 500)
        #expect(tune.allSatisfy { Self.fnv1a32($0.text) % 3 != 0 }, "a tune row belongs to validate")
        #expect(validate.allSatisfy { Self.fnv1a32($0.text) % 3 == 0 }, "a validate row belongs to tune")
        #expect(Set(tune.map(\.text)).isDisjoint(with: validate.map(\.text)))
    }

    /// The development loop: figures on the tuning split, printed, not asserted.
    @Test func figuresOnTheTuningSplit() throws {
        let (all, byLocale) = Self.figures(try Self.load("tune.jsonl"))
        print("triage tune: \(all)")
        for (locale, figures) in byLocale { print("triage tune \(locale): \(figures)") }
    }

    /// The figures on the split nobody tunes on; only aggregates are printed. Issue 16's targets
    /// are urgent recall ≥ 0.99, precision ≥ 0.85, no urgent graded social, compliance recall
    /// ≥ 0.95 and lenient accuracy ≥ 0.90; they are not all met yet (bench/README.md keeps the
    /// figures). What is asserted is the level reached, so that a change that loses ground fails.
    @Test func figuresOnTheValidationSplit() throws {
        let (all, byLocale) = Self.figures(try Self.load("validate.jsonl"))
        print("triage validate: \(all)")
        for (locale, figures) in byLocale { print("triage validate \(locale): \(figures)") }
        print("triage validate targets (issue 16): urgent recall ≥ 0.99, precision ≥ 0.85, urgent as social 0, compliance recall ≥ 0.95, lenient accuracy ≥ 0.90")
        #expect(all.urgentRecall >= 0.955, "urgent recall \(all.urgentRecall)")
        #expect(all.urgentPrecision >= 0.85, "urgent precision \(all.urgentPrecision)")
        #expect(all.urgentAsSocial <= 1, "urgent graded social: \(all.urgentAsSocial)")
        #expect(all.complianceRecall >= 0.94, "compliance recall \(all.complianceRecall)")
        #expect(all.lenientAccuracy >= 0.87, "lenient level accuracy \(all.lenientAccuracy)")
    }
}
