public import Foundation

/// A calendar day with no time zone, such as a revisit date. Arithmetic on it is pure
/// calendar arithmetic; it becomes an instant only with a wall-clock time and a zone.
public struct LocalDate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD` (four, two and two ASCII digits) in the years of `Bounds.years`.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              Bounds.years.contains(year), (1...12).contains(month), (1...PatientFields.daysIn(month: month, year: year)).contains(day) else { return nil }
        self.init(year: year, month: month, day: day)
    }

    public var description: String {
        "\(year)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
    }

    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Days since 1970-01-01 (proleptic Gregorian), for exact day arithmetic.
    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthIndex = (month + 9) % 12
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public init(dayNumber: Int) {
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        self.init(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    public func adding(days: Int) -> LocalDate { LocalDate(dayNumber: dayNumber + days) }

    /// Calendar months; the day is clamped to the month's length (Jan 31 + 1 month = Feb 28).
    public func adding(months: Int) -> LocalDate {
        let total = year * 12 + (month - 1) + months
        let newYear = total >= 0 ? total / 12 : (total - 11) / 12
        let newMonth = total - newYear * 12 + 1
        return LocalDate(year: newYear, month: newMonth, day: min(day, PatientFields.daysIn(month: newMonth, year: newYear)))
    }

    /// The local day an instant falls on in a zone.
    public init(instant: Date, in zone: TimeZone) {
        let seconds = Int(Int64(clamping: floor(instant.timeIntervalSince1970))) &+ zone.secondsFromGMT(for: instant)
        self.init(dayNumber: Int(Int64(clamping: floor(Double(seconds) / 86400))))
    }
}

/// Wall-clock time of day in minutes after midnight.
public struct LocalTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var minutes: Int

    public init(minutes: Int) {
        self.minutes = minutes
    }

    public init?(_ text: String) {
        guard let minutes = DailyWindow.minutes(text) else { return nil }
        self.minutes = minutes
    }

    public init(hour: Int, minute: Int) {
        self.minutes = hour * 60 + minute
    }

    public var description: String {
        let hour = minutes / 60, minute = minutes % 60
        return "\(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute)"
    }

    public static func < (lhs: LocalTime, rhs: LocalTime) -> Bool { lhs.minutes < rhs.minutes }
}

/// A wall-clock moment in a zone: the form in which schedules are planned.
public struct LocalDateTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var date: LocalDate
    public var time: LocalTime

    public init(date: LocalDate, time: LocalTime) {
        self.date = date
        self.time = time
    }

    public var description: String { "\(date) \(time)" }

    public static func < (lhs: LocalDateTime, rhs: LocalDateTime) -> Bool {
        (lhs.date, lhs.time) < (rhs.date, rhs.time)
    }

    /// The instant this wall-clock time names in the zone. In a daylight-saving gap (a time
    /// that does not exist) the clock is moved forward by the gap, as a person would; in an
    /// overlap (a time that occurs twice) the first occurrence is taken.
    public func instant(in zone: TimeZone) -> Date {
        let naive = Double(date.dayNumber) * 86400 + Double(time.minutes) * 60
        // Try the offsets in force just before and just after the naive time.
        let candidates = Set([
            zone.secondsFromGMT(for: Date(timeIntervalSince1970: naive - 86400)),
            zone.secondsFromGMT(for: Date(timeIntervalSince1970: naive + 86400)),
            zone.secondsFromGMT(for: Date(timeIntervalSince1970: naive)),
        ])
        let valid = candidates.map { Date(timeIntervalSince1970: naive - Double($0)) }
            .filter { zone.secondsFromGMT(for: $0) == Int(Int64(clamping: naive - $0.timeIntervalSince1970)) }
        if let earliest = valid.min() {
            return earliest
        }
        // A gap: read the wall clock with the offset from before the change.
        let before = zone.secondsFromGMT(for: Date(timeIntervalSince1970: naive - 86400))
        return Date(timeIntervalSince1970: naive - Double(before))
    }

    public init(instant: Date, in zone: TimeZone) {
        let seconds = Int(Int64(clamping: floor(instant.timeIntervalSince1970))) &+ zone.secondsFromGMT(for: instant)
        let days = Int(floor(Double(seconds) / 86400))
        self.init(date: LocalDate(dayNumber: days), time: LocalTime(minutes: (seconds - days * 86400) / 60))
    }
}

extension DailyWindow {
    public func contains(_ time: LocalTime) -> Bool {
        start < end ? (start..<end).contains(time.minutes) : (time.minutes >= start || time.minutes < end)
    }
}

extension TimeZone {
    /// UTC, and China Standard Time (the zone of the console and the demo), without a lookup
    /// that could fail.
    public static let utc = TimeZone(identifier: "UTC") ?? .gmt
    public static let shanghai = TimeZone(identifier: "Asia/Shanghai") ?? TimeZone(secondsFromGMT: 8 * 3600) ?? .gmt
}
