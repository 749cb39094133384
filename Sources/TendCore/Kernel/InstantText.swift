public import Foundation

/// RFC 3339 instants as the API reads them: `2026-12-03T07:42:00+08:00`, `…:00.123Z`, a
/// fraction of up to nine digits, an offset of at most ±18:00. Parsed by hand (an ingest reads
/// a thousand per request); anything else is nil.
public enum InstantText {
    public static func parse(_ text: String) -> Date? {
        var utf8 = Array(text.utf8)
        // Leading and trailing spaces are forgiven, as `trimmed` forgave them before.
        while utf8.last == UInt8(ascii: " ") { utf8.removeLast() }
        var start = 0
        while start < utf8.count, utf8[start] == UInt8(ascii: " ") { start += 1 }
        let bytes = utf8[start...]
        guard (20...35).contains(bytes.count) else { return nil }
        let base = bytes.startIndex
        func digits(_ offset: Int, _ count: Int) -> Int? {
            var value = 0
            for index in base + offset ..< base + offset + count {
                let byte = bytes[index]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        func byte(_ offset: Int) -> UInt8 { bytes[base + offset] }
        guard let year = digits(0, 4), byte(4) == UInt8(ascii: "-"), let month = digits(5, 2), byte(7) == UInt8(ascii: "-"),
              let day = digits(8, 2), byte(10) == UInt8(ascii: "T") || byte(10) == UInt8(ascii: "t"),
              let hour = digits(11, 2), byte(13) == UInt8(ascii: ":"), let minute = digits(14, 2), byte(16) == UInt8(ascii: ":"),
              let second = digits(17, 2) else { return nil }
        guard Bounds.years.contains(year), (1...12).contains(month), day >= 1, day <= PatientFields.daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 59 else { return nil }
        var position = 19
        var nanoseconds = 0
        if position < bytes.count, byte(position) == UInt8(ascii: ".") {
            position += 1
            var count = 0
            while position < bytes.count, byte(position) >= 48, byte(position) <= 57 {
                guard count < 9 else { return nil }
                nanoseconds = nanoseconds * 10 + Int(byte(position) - 48)
                count += 1
                position += 1
            }
            guard count >= 1 else { return nil }
            for _ in count..<9 { nanoseconds *= 10 }
        }
        guard position < bytes.count else { return nil }
        var offsetSeconds = 0
        switch byte(position) {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard position + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard position + 6 == bytes.count, let hours = digits(position + 1, 2), byte(position + 3) == UInt8(ascii: ":"),
                  let minutes = digits(position + 4, 2), minutes <= 59, hours * 60 + minutes <= 18 * 60 else { return nil }
            offsetSeconds = (hours * 3600 + minutes * 60) * (byte(position) == UInt8(ascii: "-") ? -1 : 1)
        default:
            return nil
        }
        let days = LocalDate(year: year, month: month, day: day).dayNumber
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1e9)
    }

    /// `2026-12-03T07:42:00Z`, whole seconds (rounded down) in UTC, as Foundation's `.iso8601`
    /// writes it, without a calendar: a page of 200 tasks writes 600 of them. Instants outside
    /// years 1–9999 fall back to Foundation.
    public static func format(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        guard interval >= -62_135_596_800, interval < 253_402_300_800 else { return date.ISO8601Format() }
        let seconds = Int(interval.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let clock = seconds - days * 86_400
        let day = LocalDate(dayNumber: days)
        var bytes = [UInt8](repeating: 0, count: 20)
        func put(_ value: Int, at offset: Int, width: Int) {
            var rest = value
            for index in stride(from: offset + width - 1, through: offset, by: -1) {
                bytes[index] = UInt8(48 + rest % 10)
                rest /= 10
            }
        }
        put(day.year, at: 0, width: 4)
        put(day.month, at: 5, width: 2)
        put(day.day, at: 8, width: 2)
        put(clock / 3600, at: 11, width: 2)
        put(clock / 60 % 60, at: 14, width: 2)
        put(clock % 60, at: 17, width: 2)
        for (offset, mark) in [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "Z")] as [(Int, Unicode.Scalar)] {
            bytes[offset] = UInt8(ascii: mark)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
