public import Foundation

/// The limits every value that enters Tend is held to, one per kind of value. Entry points
/// (API bodies and query strings, console forms, CLI options, imports, definition files) check
/// them and answer a 4xx naming the field; the TendCore constructors that take outside values
/// check them again, so no caller can pass a value that later traps.
public enum Bounds {
    /// Calendar years of any date Tend accepts: birth dates, anchors, `--now`.
    public static let years: ClosedRange<Int> = 1900...2200
    /// Instants, in milliseconds since 1970: the first and last moment of those years in UTC.
    public static let instantMilliseconds: ClosedRange<Int64> = -2_208_988_800_000...7_289_654_399_999
    /// Offsets and spans in pathway steps: a century either way.
    public static let offsetDays = 36_600
    public static let offsetMonths = 1_200
    /// Occurrences of one recurring step.
    public static let recurrenceCount = 1_000

    /// Names of people, programs, groups, tokens; keys and codes.
    public static let nameLength = 200
    public static let identifierLength = 128
    /// One message, note or reply.
    public static let textLength = 4_000

    /// Ids named in one request (patients of a group, staff of a group).
    public static let idsPerRequest = 1_000
    /// Observations in one request or import batch.
    public static let observationsPerRequest = 1_000
    /// Tags set on one patient at once, terms of one tag filter.
    public static let tagsPerRequest = 100
    /// Terms of one tag filter (`key=value,…`): each becomes a join.
    public static let tagFilterTerms = 20
    public static let caregivers = 10
    /// Steps of one pathway.
    public static let pathwaySteps = 500

    /// Request bodies other than imports, and the nesting depth of JSON and YAML documents.
    public static let bodyBytes = 1 << 20
    public static let nestingDepth = 32

    /// One photo uploaded with a form, and the photos of one response.
    public static let photoBytes = 5 << 20
    public static let photosPerResponse = 3
    /// A form post with its photos.
    public static let formBytes = photoBytes * photosPerResponse + bodyBytes
}

/// The kinds of photo a form takes, told by their first bytes, not by what the sender claims.
public enum PhotoType: String, Sendable, CaseIterable {
    case jpeg = "image/jpeg"
    case png = "image/png"
    case webp = "image/webp"
    case heic = "image/heic"

    public static func detect(_ bytes: some Collection<UInt8>) -> PhotoType? {
        let head = Array(bytes.prefix(12))
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if head.count == 12, head.starts(with: Array("RIFF".utf8)), Array(head[8..<12]) == Array("WEBP".utf8) { return .webp }
        if head.count == 12, Array(head[4..<8]) == Array("ftyp".utf8),
           ["heic", "heix", "mif1", "msf1"].contains(String(decoding: head[8..<12], as: UTF8.self)) { return .heic }
        return nil
    }
}

extension Validate {
    /// A string of at most `maxLength` characters; with `allowEmpty` false, not blank.
    public static func text(_ value: String, field: String, maxLength: Int = Bounds.nameLength, allowEmpty: Bool = false) throws(TendError) -> String {
        let trimmed = value.trimmed
        if !allowEmpty, trimmed.isEmpty {
            throw TendError.invalid(field, .init(en: "must not be empty", zh: "不能为空"))
        }
        guard trimmed.unicodeScalars.count <= maxLength else {
            throw TendError.invalid(field, .init(en: "must be at most \(maxLength) characters", zh: "不能超过 \(maxLength) 个字符"))
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }) else {
            throw TendError.invalid(field, .init(en: "must not contain control characters", zh: "不能包含控制字符"))
        }
        return trimmed
    }

    /// Ids in paths and bodies: printable ASCII without spaces, at most 128 characters.
    public static func identifier(_ value: String, field: String) throws(TendError) -> String {
        guard (1...Bounds.identifierLength).contains(value.utf8.count),
              value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw TendError.invalid(field, .init(en: "must be an id of 1–\(Bounds.identifierLength) printable characters", zh: "应为 1–\(Bounds.identifierLength) 个可见字符的编号"))
        }
        return value
    }

    /// A list of at most `max` items.
    public static func count<C: Collection>(_ items: C, field: String, max: Int) throws(TendError) {
        guard items.count <= max else {
            throw TendError.invalid(field, .init(en: "must have at most \(max) items", zh: "最多 \(max) 项"))
        }
    }

    /// A number that is finite and within the field's range.
    public static func number(_ value: Double, field: String, in range: ClosedRange<Double>) throws(TendError) -> Double {
        guard value.isFinite, range.contains(value) else {
            throw TendError.invalid(field, .init(en: "must be a number from \(range.lowerBound.shortText) to \(range.upperBound.shortText)",
                                                 zh: "应为 \(range.lowerBound.shortText) 到 \(range.upperBound.shortText) 之间的数"))
        }
        return value
    }

    /// A calendar date written `YYYY-MM-DD`, in the years Tend accepts.
    public static func date(_ text: String, field: String) throws(TendError) -> LocalDate {
        guard let date = LocalDate(text.trimmed) else {
            throw TendError.invalid(field, .init(en: "must be a date like 2026-12-03 in the years \(Bounds.years.lowerBound)–\(Bounds.years.upperBound)",
                                                 zh: "应为 \(Bounds.years.lowerBound)–\(Bounds.years.upperBound) 年间的日期，如 2026-12-03"))
        }
        return date
    }

    /// An instant within the years Tend accepts.
    public static func instant(_ date: Date, field: String) throws(TendError) -> Date {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite, Bounds.instantMilliseconds.contains(Int64(clamping: seconds * 1000)) else {
            throw TendError.invalid(field, .init(en: "must be a time in the years \(Bounds.years.lowerBound)–\(Bounds.years.upperBound)",
                                                 zh: "应为 \(Bounds.years.lowerBound)–\(Bounds.years.upperBound) 年间的时间"))
        }
        return date
    }
}

extension Int64 {
    /// The nearest Int64 to a double, without trapping: NaN is 0, infinities and values out of
    /// range are the extremes.
    public init(clamping value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9_223_372_036_854_775_807 {
            self = .max
        } else if value <= -9_223_372_036_854_775_808 {
            self = .min
        } else {
            self = Int64(value)
        }
    }
}

extension Double {
    /// `38`, `38.5`: a bound as people write it.
    var shortText: String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self)
    }
}
