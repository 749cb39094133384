import Foundation
import Testing
import TendCore
import TendFormats

/// The shipped pathway files, planned for a patient in Shanghai and one in New York (whose
/// clocks go back on 2026-11-01), with quiet hours 22:00–07:00 and a noon or evening window.
/// Every expectation is an exact local wall-clock time.
@Suite struct PathwayGoldenTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../Sources/TendServer/Assets/pathways").standardized

    static func pathway(_ name: String) throws -> Pathway {
        try PathwayFile.parse(String(contentsOf: directory.appendingPathComponent("\(name).yaml"), encoding: .utf8))
    }

    static let noon = DailyWindow(start: 12 * 60, end: 13 * 60 + 30)
    static let evening = DailyWindow(start: 18 * 60 + 30, end: 21 * 60)
    static let quiet = DailyWindow(start: 22 * 60, end: 7 * 60)

    static func patient(_ zone: String, window: DailyWindow, age: Int = 50) -> PlanningPatient {
        PlanningPatient(timeZone: TimeZone(identifier: zone)!, quietHours: quiet, contactWindow: window, channels: [.inApp], age: age)
    }

    static func lines(_ plan: [PlannedTouchpoint]) -> [String] {
        plan.map { "\($0.key) \($0.local)" }
    }

    static let zones = ["Asia/Shanghai", "America/New_York"]

    @Test(arguments: zones)
    func s1RevisitAroundTheDSTChange(zone: String) throws {
        let pathway = try Self.pathway("s1-revisit")
        let anchors = ["revisit": LocalDate("2026-11-03")!, "enrolment": LocalDate("2026-10-01")!]
        let noon = PathwayPlanner.plan(pathway, anchors: anchors, patient: Self.patient(zone, window: Self.noon), horizon: LocalDate("2027-12-31")!)
        #expect(Self.lines(noon) == [
            "book-reminder#1 2026-10-27 09:00",
            "confirm#1 2026-11-01 12:00",
            "call-unconfirmed#1 2026-11-02 10:00",
            "day-of-voice#1 2026-11-03 07:30",
            "attended-check#1 2026-11-04 12:00",
        ])
        let evening = PathwayPlanner.plan(pathway, anchors: anchors, patient: Self.patient(zone, window: Self.evening), horizon: LocalDate("2027-12-31")!)
        #expect(Self.lines(evening) == [
            "book-reminder#1 2026-10-27 09:00",
            "confirm#1 2026-11-01 18:30",
            "call-unconfirmed#1 2026-11-02 10:00",
            "day-of-voice#1 2026-11-03 07:30",
            "attended-check#1 2026-11-04 18:30",
        ])
        #expect(noon.first { $0.stepID == "call-unconfirmed" }?.isTask == true)
        #expect(noon.first { $0.stepID == "day-of-voice" }?.ifUnconfirmed == "call-unconfirmed")
        #expect(noon.first { $0.stepID == "day-of-voice" }?.channels == [.voice])
        // The instants follow the zone's offset on each day.
        let booking = try #require(noon.first).dueAt
        let confirm = try #require(noon.first { $0.stepID == "confirm" }).dueAt
        if zone == "America/New_York" {
            #expect(booking == Self.utc("2026-10-27T13:00:00Z"), "09:00 EDT")
            #expect(confirm == Self.utc("2026-11-01T17:00:00Z"), "12:00 EST, after the clocks went back")
        } else {
            #expect(booking == Self.utc("2026-10-27T01:00:00Z"))
            #expect(confirm == Self.utc("2026-11-01T04:00:00Z"))
        }
    }

    @Test(arguments: zones)
    func s2SixChemoCyclesOf21Days(zone: String) throws {
        let pathway = try Self.pathway("s2-chemo-cycles")
        let anchors = ["cycle_start": LocalDate("2026-10-20")!]
        let plan = PathwayPlanner.plan(pathway, anchors: anchors, patient: Self.patient(zone, window: Self.noon), horizon: LocalDate("2027-12-31")!)
        #expect(Self.lines(plan.filter { $0.stepID == "pre-cycle-reminder" }) == [
            "pre-cycle-reminder#1 2026-10-19 08:00", "pre-cycle-reminder#2 2026-11-09 08:00", "pre-cycle-reminder#3 2026-11-30 08:00",
            "pre-cycle-reminder#4 2026-12-21 08:00", "pre-cycle-reminder#5 2027-01-11 08:00", "pre-cycle-reminder#6 2027-02-01 08:00",
        ])
        #expect(Self.lines(plan.filter { $0.stepID == "side-effect-check" }) == [
            "side-effect-check#1 2026-10-26 12:00", "side-effect-check#2 2026-11-16 12:00", "side-effect-check#3 2026-12-07 12:00",
            "side-effect-check#4 2026-12-28 12:00", "side-effect-check#5 2027-01-18 12:00", "side-effect-check#6 2027-02-08 12:00",
        ])
        let evening = PathwayPlanner.plan(pathway, anchors: anchors, patient: Self.patient(zone, window: Self.evening), horizon: LocalDate("2027-12-31")!)
        #expect(evening.filter { $0.stepID == "side-effect-check" }.allSatisfy { $0.local.time == LocalTime(hour: 19, minute: 0) })
        // Patients aged 65 and over are called as well as texted.
        let older = PathwayPlanner.plan(pathway, anchors: anchors, patient: Self.patient(zone, window: Self.noon, age: 71), horizon: LocalDate("2027-12-31")!)
        #expect(older.first { $0.stepID == "pre-cycle-reminder" }?.channels == [.voice, .sms])
        #expect(plan.first { $0.stepID == "pre-cycle-reminder" }?.channels == [.wecom, .sms])
    }

    @Test(arguments: zones)
    func s3DailyCheckInStaysAt0730AcrossTheClockChange(zone: String) throws {
        let pathway = try Self.pathway("s3-gdm-camp")
        let plan = PathwayPlanner.plan(pathway, anchors: ["camp_start": LocalDate("2026-10-29")!], patient: Self.patient(zone, window: Self.evening), horizon: LocalDate("2027-12-31")!)
        let daily = plan.filter { $0.stepID == "daily-check-in" }
        #expect(daily.count == 28)
        #expect(daily.first?.local.description == "2026-10-29 07:30")
        #expect(daily.last?.local.description == "2026-11-25 07:30")
        #expect(daily.allSatisfy { $0.local.time == LocalTime(hour: 7, minute: 30) })
        let zoneObject = TimeZone(identifier: zone)!
        #expect(daily.allSatisfy { LocalDateTime(instant: $0.dueAt, in: zoneObject) == $0.local }, "every instant reads 07:30 on the local clock")
        if zone == "America/New_York" {
            // 24 hours apart except across the change, which is 25.
            let gaps = zip(daily.dropFirst(), daily).map { $0.dueAt.timeIntervalSince($1.dueAt) / 3600 }
            #expect(gaps.filter { $0 == 25 }.count == 1 && gaps.filter { $0 == 24 }.count == 26)
        }
        #expect(Self.lines(plan.filter { $0.stepID == "weekly-live-session" }) == [
            "weekly-live-session#1 2026-10-31 19:30", "weekly-live-session#2 2026-11-07 19:30",
            "weekly-live-session#3 2026-11-14 19:30", "weekly-live-session#4 2026-11-21 19:30",
        ])
    }

    @Test(arguments: zones)
    func s5ImagingEveryThreeMonthsUntilStopped(zone: String) throws {
        let pathway = try Self.pathway("s5-osteonecrosis-imaging")
        let plan = PathwayPlanner.plan(pathway, anchors: ["enrolment": LocalDate("2026-11-30")!], patient: Self.patient(zone, window: Self.noon), horizon: LocalDate("2027-12-31")!)
        #expect(Self.lines(plan) == [
            "pharmacist-follow-up#1 2026-12-07 12:00",
            "imaging-reminder#1 2027-02-28 09:00",
            "imaging-reminder#2 2027-05-30 09:00",
            "imaging-reminder#3 2027-08-30 09:00",
            "imaging-reminder#4 2027-11-30 09:00",
        ])
        let longer = PathwayPlanner.plan(pathway, anchors: ["enrolment": LocalDate("2026-11-30")!], patient: Self.patient(zone, window: Self.evening), horizon: LocalDate("2028-06-30")!)
        #expect(longer.filter { $0.stepID == "imaging-reminder" }.count == 6, "the rolling horizon decides how far an open-ended step is planned")
        #expect(longer.first?.local.description == "2026-12-07 18:30")
    }

    static func utc(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text)!
    }
}
