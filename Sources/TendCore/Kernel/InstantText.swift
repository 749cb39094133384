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
}
