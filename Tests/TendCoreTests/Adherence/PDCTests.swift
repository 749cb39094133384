import Foundation
import Testing
import TendCore

/// PDC as the Pharmacy Quality Alliance defines it, on worked examples.
@Suite struct PDCTests {
    static func day(_ text: String) -> LocalDate { LocalDate(text)! }
    static let end = day("2026-12-31")

    @Test func oneDrugFilledOnTimeIsFullyCovered() {
        // 2026-07-04 to 12-31 is 181 days; six 30-day fills cover 180 of them, the last day uncovered.
        let fills = (0..<6).map { Fill(drug: "metformin", filledOn: Self.day("2026-07-04").adding(days: 30 * $0), daysSupply: 30) }
        let result = PDC.compute(fills, end: Self.end)
        #expect(result.treatmentDays == 181 && result.coveredDays == 180)
        #expect(result.pdc == 0.9945 && result.adherent && result.measurable)
        #expect(result.gaps == [Self.day("2026-12-31")...Self.day("2026-12-31")])
    }

    @Test func anEarlyRefillOfTheSameDrugIsShiftedNotDoubleCounted() {
        // 30 days from 10-01 (to 10-30); a refill on 10-21 starts 10-31 and covers to 11-29;
        // then nothing until the end: 92 treatment days, 60 covered.
        let fills = [Fill(drug: "atorvastatin", filledOn: Self.day("2026-10-01"), daysSupply: 30),
                     Fill(drug: "atorvastatin", filledOn: Self.day("2026-10-21"), daysSupply: 30)]
        let result = PDC.compute(fills, end: Self.end)
        #expect(result.treatmentDays == 92 && result.coveredDays == 60 && result.pdc == 0.6522 && !result.adherent)
        #expect(result.gaps == [Self.day("2026-11-30")...Self.day("2026-12-31")])
    }

    @Test func twoFillsOnOneDayAreBackToBack() {
        let fills = [Fill(drug: "losartan", filledOn: Self.day("2026-10-01"), daysSupply: 45),
                     Fill(drug: "losartan", filledOn: Self.day("2026-10-01"), daysSupply: 45)]
        let result = PDC.compute(fills, end: Self.end)
        #expect(result.treatmentDays == 92 && result.coveredDays == 90 && result.pdc == 0.9783)
    }

    @Test func drugsOfOneClassAreUnitedNotShifted() {
        // Two statins overlapping on 10-16…10-30: those days count once, and the second is not moved.
        let fills = [Fill(drug: "atorvastatin", drugClass: "statin", filledOn: Self.day("2026-10-01"), daysSupply: 30),
                     Fill(drug: "rosuvastatin", drugClass: "statin", filledOn: Self.day("2026-10-16"), daysSupply: 30)]
        let result = PDC.compute(fills, end: Self.end)
        // 10-01 … 11-14 is 45 days.
        #expect(result.treatmentDays == 92 && result.coveredDays == 45 && result.pdc == 0.4891)
    }

    @Test func supplyRunningPastTheEndCountsOnlyToTheEnd() {
        let fills = [Fill(drug: "metformin", filledOn: Self.day("2026-09-01"), daysSupply: 90),
                     Fill(drug: "metformin", filledOn: Self.day("2026-11-30"), daysSupply: 90)]
        let result = PDC.compute(fills, end: Self.end)
        // 09-01 … 12-31 is 122 days, all covered; the second fill's days after 12-31 do not count.
        #expect(result.treatmentDays == 122 && result.coveredDays == 122 && result.pdc == 1.0)
    }

    @Test func aTreatmentPeriodUnder91DaysIsNotMeasurable() {
        let fills = [Fill(drug: "metformin", filledOn: Self.day("2026-10-02"), daysSupply: 90)]
        let result = PDC.compute(fills, end: Self.end)
        #expect(result.treatmentDays == 91 && result.measurable)
        let later = PDC.compute([Fill(drug: "metformin", filledOn: Self.day("2026-10-03"), daysSupply: 90)], end: Self.end)
        #expect(later.treatmentDays == 90 && !later.measurable && later.pdc == nil && !later.adherent)
    }

    @Test func noFillsIsNotMeasurable() {
        let result = PDC.compute([], end: Self.end)
        #expect(result.pdc == nil && result.coveredDays == 0 && result.treatmentDays == 0 && !result.measurable)
        // Fills outside the period are none either.
        let outside = PDC.compute([Fill(drug: "x", filledOn: Self.day("2027-01-02"), daysSupply: 30)], start: Self.day("2026-01-01"), end: Self.end)
        #expect(outside.pdc == nil && outside.treatmentDays == 0)
    }

    @Test func theIndexDateIsTheFirstFillInThePeriod() {
        let fills = [Fill(drug: "metformin", filledOn: Self.day("2025-12-20"), daysSupply: 30),
                     Fill(drug: "metformin", filledOn: Self.day("2026-03-01"), daysSupply: 300)]
        let result = PDC.compute(fills, start: Self.day("2026-01-01"), end: Self.end)
        #expect(result.indexDate == Self.day("2026-03-01") && result.treatmentDays == 306 && result.coveredDays == 300 && result.pdc == 0.9804)
    }

    @Test func fillLinesAreCheckedOneByOneNamingLineAndField() {
        let text = """
            {"drug": "metformin", "filled_on": "2026-10-01", "days_supply": 30}
            {"drug": "metformin", "filled_on": "2026-13-01", "days_supply": 30}
            {"drug": "metformin", "filled_on": "2026-10-01", "days_supply": 99999999999}
            {"drug": "metformin", "filled_on": "2026-10-01", "days_supply": true}
            {"drug": "", "filled_on": "2026-10-01", "days_supply": 30}
            {"drug": "metformin", "filled_on": "2026-10-01", "days_supply": 30, "dose": 2}
            [[[[1]]]]

            {"drug": "statin-x", "class": "statin", "filled_on": "2026-11-01", "days_supply": 28}
            """
        let parsed = FillFile.parse(text)
        #expect(parsed.fills.count == 2)
        #expect(parsed.problems.map(\.line) == [2, 3, 4, 5, 6, 7])
        #expect(parsed.problems.map(\.field) == ["filled_on", "days_supply", "days_supply", "drug", "dose", nil])
    }

    @Test func theRunOutIsTheDayAfterTheShiftedSupplyAndAClassRunsOutWithItsLastDrug() {
        let d = Self.day
        #expect(PDC.runOut([]) == nil)
        #expect(PDC.runOut([Fill(drug: "tcm", filledOn: d("2026-12-01"), daysSupply: 30)]) == d("2026-12-31"))
        // Refilled three days early: the new supply starts when the old one ends.
        #expect(PDC.runOut([Fill(drug: "tcm", filledOn: d("2026-12-01"), daysSupply: 30),
                            Fill(drug: "tcm", filledOn: d("2026-12-28"), daysSupply: 30)]) == d("2027-01-30"))
        // Refilled after a gap: the run-out counts from the refill.
        #expect(PDC.runOut([Fill(drug: "tcm", filledOn: d("2026-12-01"), daysSupply: 30),
                            Fill(drug: "tcm", filledOn: d("2027-01-10"), daysSupply: 30)]) == d("2027-02-09"))
        // Two drugs of a class are not shifted against each other: the later run-out wins.
        #expect(PDC.runOut([Fill(drug: "a", drugClass: "statin", filledOn: d("2026-12-01"), daysSupply: 90),
                            Fill(drug: "b", drugClass: "statin", filledOn: d("2026-12-10"), daysSupply: 30)]) == d("2027-03-01"))
    }

    @Test func daysOnTherapyInAWindowCountCarriedInSupplyAndShiftedRefills() {
        let d = Self.day
        let window = d("2026-03-01")...d("2026-05-14") // 75 days
        // Carried in: a 30-day fill on 02-15 covers 03-01…03-16 (16 days); a refill on 03-10 starts 03-17 (30 days, to 04-15).
        let fills = [Fill(drug: "budesonide", drugClass: "ics", filledOn: d("2026-02-15"), daysSupply: 30),
                     Fill(drug: "budesonide", drugClass: "ics", filledOn: d("2026-03-10"), daysSupply: 30)]
        #expect(PDC.coveredDays(fills, in: window) == 46)
        // A second drug of the class overlapping 04-01…04-30 adds only 04-16…04-30; a fill after the window adds nothing.
        let more = fills + [Fill(drug: "fluticasone", drugClass: "ics", filledOn: d("2026-04-01"), daysSupply: 30),
                            Fill(drug: "budesonide", drugClass: "ics", filledOn: d("2026-05-20"), daysSupply: 30)]
        #expect(PDC.coveredDays(more, in: window) == 61)
        // Supply running past the window counts to its last day only.
        #expect(PDC.coveredDays([Fill(drug: "x", filledOn: d("2026-05-01"), daysSupply: 90)], in: window) == 14)
        #expect(PDC.coveredDays([], in: window) == 0)
    }

    @Test func aPatientBelowTheThresholdCanStillReachItOnlyWhileTheDaysMissedLeaveRoom() {
        let d = Self.day
        let end = d("2026-12-31")
        // Index 2026-01-01 (365 days): 80 % needs 292 covered, so at most 73 days may be missed.
        let fills = [Fill(drug: "a", filledOn: d("2026-01-01"), daysSupply: 90), Fill(drug: "a", filledOn: d("2026-05-01"), daysSupply: 30)]
        let result = PDC.compute(fills, start: d("2026-01-01"), end: end)
        #expect(result.coveredDays == 120 && !result.adherent)
        // Missed 04-01…04-30 (30 days) by 06-15, plus 05-31…06-15 (16): 46 missed, room left.
        #expect(result.canStillBeAdherent(after: d("2026-06-15")))
        // By 07-28: 30 + 59 = 89 missed, more than 73.
        #expect(!result.canStillBeAdherent(after: d("2026-07-28")))
        // At the end of the period there is no time left; an adherent patient is not listed.
        #expect(!result.canStillBeAdherent(after: end))
        let full = PDC.compute([Fill(drug: "a", filledOn: d("2026-01-01"), daysSupply: 365)], start: d("2026-01-01"), end: end)
        #expect(!full.canStillBeAdherent(after: d("2026-06-01")))
    }
}
