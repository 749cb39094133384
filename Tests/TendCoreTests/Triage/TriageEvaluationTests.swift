import Testing
import TendCore

@Suite struct TriageEvaluationTests {
    @Test func readsCorpusRowsAndTabSeparatedLines() throws {
        let rows = try LabelledMessage.parse("""
            {"id": "x", "locale": "zh", "text": "加我微信 便宜卖药", "level": "general", "category": "ads", "flags": ["compliance"]}
            urgent\ten\tcardiac\tmy dad is clutching his chest and sweating

            {"locale": "en", "text": "2.6 again", "level": "urgent", "context": "glucose"}
            """)
        #expect(rows.count == 3)
        #expect(rows[0].locale == .zhHans && rows[0].text == "加我微信 便宜卖药" && rows[0].level == .general && rows[0].category == "ads")
        #expect(rows[0].expectsCompliance && rows[0].context == nil)
        #expect(rows[1].level == .urgent && rows[1].locale == .en && rows[1].category == "cardiac" && !rows[1].expectsCompliance)
        #expect(rows[2].context == .glucose && rows[2].category == "")
    }

    @Test func aLineThatDoesNotReadIsNamed() {
        let cases = ["urgent\ten\tcardiac", "loud\ten\tcardiac\tx", "urgent\tfr\tcardiac\tx", "{\"locale\": \"en\"}",
                     "{\"locale\": \"en\", \"text\": \"x\", \"level\": \"urgent\", \"context\": \"moon\"}"]
        for line in cases {
            #expect(throws: TendError.self) { try LabelledMessage.parse("social\ten\tthanks\tthanks all\n" + line) }
            do {
                _ = try LabelledMessage.parse("social\ten\tthanks\tthanks all\n" + line)
            } catch {
                #expect(error.field == "line 2", "\(line)")
            }
        }
    }

    @Test func figuresCountWhatTheClassifierGot() throws {
        let rows = try LabelledMessage.parse("""
            urgent\ten\tcardiac\tmy dad is clutching his chest, grey and sweating, cannot talk
            social\ten\tthanks\tThank you all, see you next week
            general\ten\tads\tDM me for cheap pills, 100% cure, whatsapp +44 7700 900123
            """)
        let evaluation = TriageEvaluation(rows)
        #expect(evaluation.all.rows == 3 && evaluation.all.urgent == 1 && evaluation.all.compliance == 1)
        #expect(evaluation.all.urgentCaught == 1 && evaluation.all.complianceCaught == 1)
        #expect(evaluation.byLocale[.en]?.rows == 3 && evaluation.byLocale[.zhHans] == nil)
        #expect(TriageFigures.credit(expected: .general, got: .social) == 0.5 && TriageFigures.credit(expected: .urgent, got: .review) == 0)
        let score = rows.map { row in TriageFigures.credit(expected: row.level, got: TriageClassifier().classify(row.text, locale: row.locale).level) }.reduce(0, +)
        #expect(evaluation.all.lenientAccuracy == score / 3)
    }
}
