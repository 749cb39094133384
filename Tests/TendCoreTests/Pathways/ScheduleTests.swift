import Foundation
import Testing
import TendCore

@Suite struct LocalDateTests {
    @Test func dayNumbersRoundTrip() {
        for number in stride(from: -800_000, through: 800_000, by: 997) {
            #expect(LocalDate(dayNumber: number).dayNumber == number)
        }
        #expect(LocalDate("1970-01-01")!.dayNumber == 0)
        #expect(LocalDate("2026-12-01")!.adding(days: 31).description == "2027-01-01")
    }

    @Test func monthArithmeticClampsToTheMonthsEnd() {
        #expect(LocalDate("2027-01-31")!.adding(months: 1).description == "2027-02-28")
        #expect(LocalDate("2028-01-31")!.adding(months: 1).description == "2028-02-29")
        #expect(LocalDate("2026-11-30")!.adding(months: -12).description == "2025-11-30")
        #expect(LocalDate("2026-03-15")!.adding(months: -3).description == "2025-12-15")
    }

    @Test func offsetsParse() {
        #expect(CalendarOffset("-7d") == CalendarOffset(days: -7))
        #expect(CalendarOffset("+1d") == CalendarOffset(days: 1))
        #expect(CalendarOffset("2w") == CalendarOffset(days: 14))
        #expect(CalendarOffset("3mo") == CalendarOffset(months: 3))
        for bad in ["", "d", "7", "7x", "--7d", "999999d"] { #expect(CalendarOffset(bad) == nil, "\(bad)") }
    }

    /// Property: for every day of two years and several times of day, the planned instant
    /// reads back as the same wall-clock time, except inside a spring-forward gap, where it
    /// reads as the time moved forward by the gap.
    @Test(arguments: ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Shanghai"])
    func wallClockTimesSurviveEveryDaylightSavingChange(zone: String) {
        let timeZone = TimeZone(identifier: zone)!
        let start = LocalDate("2026-01-01")!
        for dayOffset in 0..<730 {
            for minutes in [0, 90, 150, 450, 720, 1410] {
                let local = LocalDateTime(date: start.adding(days: dayOffset), time: LocalTime(minutes: minutes))
                let instant = local.instant(in: timeZone)
                let readBack = LocalDateTime(instant: instant, in: timeZone)
                if readBack != local {
                    // Only a gap may move the time, and only forward by at most an hour.
                    let moved = (readBack.date.dayNumber - local.date.dayNumber) * 1440 + readBack.time.minutes - local.time.minutes
                    #expect(moved > 0 && moved <= 60, "\(zone) \(local) read back as \(readBack)")
                }
            }
        }
    }

    @Test func gapsMoveForwardAndOverlapsTakeTheFirstOccurrence() {
        let newYork = TimeZone(identifier: "America/New_York")!
        // 2027-03-14 02:30 does not exist in New York: it becomes 03:30 EDT.
        let gap = LocalDateTime(date: LocalDate("2027-03-14")!, time: LocalTime(hour: 2, minute: 30)).instant(in: newYork)
        #expect(LocalDateTime(instant: gap, in: newYork).description == "2027-03-14 03:30")
        // 2026-11-01 01:30 happens twice; the first (EDT, 05:30Z) is taken.
        let overlap = LocalDateTime(date: LocalDate("2026-11-01")!, time: LocalTime(hour: 1, minute: 30)).instant(in: newYork)
        #expect(overlap == ISO8601DateFormatter().date(from: "2026-11-01T05:30:00Z"))
    }
}

@Suite struct AdjustmentTests {
    let quiet = DailyWindow(start: 22 * 60, end: 7 * 60)
    let zone = TimeZone(identifier: "Asia/Shanghai")!

    func adjust(_ time: String, timing: PathwayStep.Timing = .exact, window: DailyWindow? = nil, quiet: DailyWindow? = nil) -> String {
        let patient = PlanningPatient(timeZone: zone, quietHours: quiet ?? self.quiet, contactWindow: window)
        return PathwayPlanner.adjusted(LocalDateTime(date: LocalDate("2026-12-01")!, time: LocalTime(time)!), timing: timing, patient: patient).description
    }

    @Test func quietHoursMoveToTheirEnd() {
        #expect(adjust("06:00") == "2026-12-01 07:00")
        #expect(adjust("23:15") == "2026-12-02 07:00")
        #expect(adjust("22:00") == "2026-12-02 07:00")
        #expect(adjust("07:00") == "2026-12-01 07:00")
        #expect(adjust("21:59") == "2026-12-01 21:59")
        #expect(adjust("13:00", quiet: DailyWindow(start: 12 * 60, end: 14 * 60)) == "2026-12-01 14:00")
    }

    @Test func preferredStepsMoveIntoTheWindowOthersDoNot() {
        let noon = DailyWindow(start: 12 * 60, end: 13 * 60 + 30)
        #expect(adjust("09:00", timing: .preferred, window: noon) == "2026-12-01 12:00")
        #expect(adjust("12:45", timing: .preferred, window: noon) == "2026-12-01 12:45")
        #expect(adjust("09:00", timing: .exact, window: noon) == "2026-12-01 09:00")
        #expect(adjust("09:00", timing: .preferred, window: nil) == "2026-12-01 09:00")
        // A window that reaches into quiet hours still ends up outside them.
        #expect(adjust("09:00", timing: .preferred, window: DailyWindow(start: 21 * 60 + 30 + 60, end: 23 * 60 + 30)) == "2026-12-02 07:00")
    }
}
