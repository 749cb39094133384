public import Foundation

public enum PatientStatus: String, Codable, Sendable, CaseIterable {
    case active
    case paused
    case withdrawn
    case deceased
}

public enum Sex: String, Codable, Sendable, CaseIterable {
    case female
    case male
    case other
    case unknown

    /// Accepts the English words, single letters and the Chinese characters used on forms.
    public init?(loose text: String) {
        switch text.trimmed.lowercased() {
        case "female", "f", "女", "女性": self = .female
        case "male", "m", "男", "男性": self = .male
        case "other", "o", "其他": self = .other
        case "", "unknown", "u", "未知": self = .unknown
        default: return nil
        }
    }
}

/// A daily span of local wall-clock time, e.g. quiet hours 22:00–07:00 (it may cross midnight).
public struct DailyWindow: Codable, Sendable, Equatable {
    /// Minutes after local midnight.
    public var start: Int
    public var end: Int

    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }

    /// Parses `HH:MM-HH:MM` (also with an en dash or "~").
    public static func parse(_ text: String, field: String) throws(TendError) -> DailyWindow {
        let parts = text.split(whereSeparator: { $0 == "-" || $0 == "–" || $0 == "~" }).map { $0.trimmed }
        guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]), start != end else {
            throw TendError.invalid(field, .init(en: "must look like 22:00-07:00", zh: "格式应为 22:00-07:00"))
        }
        return DailyWindow(start: start, end: end)
    }

    /// Like `parse`, but equal start and end times mean no window at all.
    public static func parseOrClear(_ text: String, field: String) throws(TendError) -> DailyWindow? {
        let parts = text.split(whereSeparator: { $0 == "-" || $0 == "–" || $0 == "~" }).map { $0.trimmed }
        if parts.count == 2, let start = minutes(parts[0]), start == minutes(parts[1]) { return nil }
        return try parse(text, field: field)
    }

    static func minutes(_ text: String) -> Int? {
        let pieces = text.split(separator: ":")
        guard pieces.count == 2, let hour = Int(pieces[0]), let minute = Int(pieces[1]),
              (0...23).contains(hour), (0...59).contains(minute), pieces[1].count == 2 else { return nil }
        return hour * 60 + minute
    }

    public var text: String {
        func two(_ value: Int) -> String { DecimalText.padded(value, width: 2) }
        return "\(two(start / 60)):\(two(start % 60))-\(two(end / 60)):\(two(end % 60))"
    }
}

/// A family member or carer (家属) who may receive messages for the patient.
public struct Caregiver: Codable, Sendable, Equatable {
    public var name: String
    public var relation: String
    public var phone: String?

    public init(name: String, relation: String, phone: String?) {
        self.name = name
        self.relation = relation
        self.phone = phone
    }
}

public enum ContactChannel: String, Codable, Sendable, CaseIterable {
    case inApp = "in_app"
    case sms
    case wecom
    case voice
    case webhook
}

/// Everything about a patient that staff edit. PII fields (name, phone, ID number,
/// address, caregivers) are encrypted by the store; the rest is stored as is.
public struct PatientProfile: Codable, Sendable, Equatable {
    public var externalID: String?
    public var name: String
    public var sex: Sex
    public var birthDate: String?
    public var phone: String?
    public var idNumber: String?
    public var address: String?
    public var locale: AppLocale
    public var timeZone: String
    public var contactWindow: DailyWindow?
    public var quietHours: DailyWindow?
    public var channels: [ContactChannel]
    public var caregivers: [Caregiver]
    public var status: PatientStatus

    public init(
        externalID: String? = nil, name: String, sex: Sex = .unknown, birthDate: String? = nil, phone: String? = nil,
        idNumber: String? = nil, address: String? = nil, locale: AppLocale = .zhHans, timeZone: String = "Asia/Shanghai",
        contactWindow: DailyWindow? = nil, quietHours: DailyWindow? = nil, channels: [ContactChannel] = [.inApp],
        caregivers: [Caregiver] = [], status: PatientStatus = .active
    ) {
        self.externalID = externalID
        self.name = name
        self.sex = sex
        self.birthDate = birthDate
        self.phone = phone
        self.idNumber = idNumber
        self.address = address
        self.locale = locale
        self.timeZone = timeZone
        self.contactWindow = contactWindow
        self.quietHours = quietHours
        self.channels = channels
        self.caregivers = caregivers
        self.status = status
    }

    /// Checks and normalises every field; the first problem is thrown naming its field.
    public func validated() throws(TendError) -> PatientProfile {
        var profile = self
        profile.name = try Validate.name(name, field: "name")
        if let externalID {
            let trimmed = externalID.trimmed
            guard trimmed.count <= 64, !trimmed.contains(where: { $0.isNewline }) else {
                throw TendError.invalid("external_id", .init(en: "must be at most 64 characters on one line", zh: "不能超过 64 个字符且不能换行"))
            }
            profile.externalID = trimmed.isEmpty ? nil : trimmed
        }
        if let birthDate {
            profile.birthDate = try PatientFields.birthDate(birthDate)
        }
        if let phone {
            profile.phone = try PatientFields.phone(phone, field: "phone")
        }
        if let idNumber {
            profile.idNumber = try PatientFields.idNumber(idNumber)
        }
        if let address {
            let trimmed = address.trimmed
            guard trimmed.count <= 300 else {
                throw TendError.invalid("address", .init(en: "must be at most 300 characters", zh: "不能超过 300 个字符"))
            }
            profile.address = trimmed.isEmpty ? nil : trimmed
        }
        profile.timeZone = try PatientFields.timeZone(timeZone)
        for (index, caregiver) in caregivers.enumerated() {
            profile.caregivers[index].name = try Validate.name(caregiver.name, field: "caregivers[\(index)].name", maxLength: 100)
            profile.caregivers[index].relation = try Validate.name(caregiver.relation, field: "caregivers[\(index)].relation", maxLength: 40)
            if let phone = caregiver.phone {
                profile.caregivers[index].phone = try PatientFields.phone(phone, field: "caregivers[\(index)].phone")
            }
        }
        var seen = Set<ContactChannel>()
        profile.channels = channels.filter { seen.insert($0).inserted }
        return profile
    }

    /// Age in whole years on the given day, in the patient's zone; nil without a birth date.
    public func age(on instant: Date) -> Int? {
        guard let birthDate, let zone = TimeZone(identifier: timeZone) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = birthDate.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, let born = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])) else { return nil }
        return calendar.dateComponents([.year], from: born, to: instant).year
    }
}

/// Normalisation of the fields that are looked up through blind indexes, so that the same
/// value always yields the same index whatever its spelling.
public enum PatientFields {
    /// Digits only; a leading +86/0086 country code is dropped for mainland mobile numbers.
    public static func normalisedPhone(_ text: String) -> String {
        // ASCII digits only: no byte of a multi-byte UTF-8 sequence is one.
        var digits = text.utf8.filter { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        if digits.count == 13, digits.starts(with: "86".utf8) { digits.removeFirst(2) }
        if digits.count == 15, digits.starts(with: "0086".utf8) { digits.removeFirst(4) }
        return String(decoding: digits, as: UTF8.self)
    }

    public static func phone(_ text: String, field: String) throws(TendError) -> String? {
        let fullWidthFolded = TextFolding.halfWidth(text)
        let allowed = "0123456789+-() ".utf8
        guard fullWidthFolded.utf8.allSatisfy({ allowed.contains($0) }) else {
            guard !fullWidthFolded.trimmed.isEmpty else { return nil }
            throw TendError.invalid(field, .init(en: "may hold only digits, spaces, +, - and brackets", zh: "只能包含数字、空格、+、- 和括号"))
        }
        guard fullWidthFolded.utf8.contains(where: { $0 != UInt8(ascii: " ") }) else { return nil }
        let digits = normalisedPhone(fullWidthFolded)
        guard (5...15).contains(digits.count) else {
            throw TendError.invalid(field, .init(en: "must have 5 to 15 digits", zh: "应为 5–15 位数字"))
        }
        return digits
    }

    /// Upper-cased, without spaces: 18-character mainland IDs end in a digit or X; other
    /// documents (passports, HK/Macau permits) are 5–32 letters and digits.
    public static func normalisedIDNumber(_ text: String) -> String {
        let folded = TextFolding.halfWidth(text)
        guard folded.utf8.allSatisfy({ $0 < 0x80 }) else {
            return folded.uppercased().filter { !$0.isWhitespace && $0 != "-" }
        }
        // ASCII, byte by byte: the same result without Character's Unicode machinery.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(folded.utf8.count)
        for byte in folded.utf8 where byte != UInt8(ascii: "-") && byte != 0x20 && !(0x09...0x0D).contains(byte) {
            bytes.append((UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 0x20 : byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func idNumber(_ text: String) throws(TendError) -> String? {
        let value = normalisedIDNumber(text)
        guard !value.isEmpty else { return nil }
        let letterOrDigit = { (byte: UInt8) in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard (5...32).contains(value.utf8.count), value.utf8.allSatisfy(letterOrDigit) else {
            throw TendError.invalid("id_number", .init(en: "must be 5–32 letters or digits", zh: "应为 5–32 位字母或数字"))
        }
        return value
    }

    /// Exact-name lookups ignore surrounding space, case and full-width forms.
    public static func normalisedName(_ text: String) -> String {
        let folded = TextFolding.halfWidth(text)
        return folded.trimmed.lowercased()
            .split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    public static func birthDate(_ text: String) throws(TendError) -> String? {
        let trimmed = text.trimmed
        guard !trimmed.isEmpty else { return nil }
        let parts = trimmed.split(whereSeparator: { $0 == "-" || $0 == "/" }).compactMap { Int($0) }
        guard parts.count == 3, (1900...2100).contains(parts[0]), (1...12).contains(parts[1]),
              (1...daysIn(month: parts[1], year: parts[0])).contains(parts[2]) else {
            throw TendError.invalid("birth_date", .init(en: "must be a date like 1990-03-07", zh: "应为日期，如 1990-03-07"))
        }
        return "\(DecimalText.padded(parts[0], width: 4))-\(DecimalText.padded(parts[1], width: 2))-\(DecimalText.padded(parts[2], width: 2))"
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// IANA zone names this system knows; looked up once, as `TimeZone(identifier:)` is slow.
    static let knownZones: Set<String> = Set(TimeZone.knownTimeZoneIdentifiers).union(["UTC"])
    /// The zones a patient may have, sorted: what the API document lists.
    public static let timeZoneNames: [String] = knownZones.filter { $0.contains("/") || $0 == "UTC" }.sorted()

    public static func timeZone(_ text: String) throws(TendError) -> String {
        let trimmed = text.trimmed
        guard trimmed.contains("/") || trimmed == "UTC", knownZones.contains(trimmed) || TimeZone(identifier: trimmed) != nil else {
            throw TendError.invalid("time_zone", .init(en: "must be an IANA time zone such as Asia/Shanghai", zh: "应为 IANA 时区，如 Asia/Shanghai"))
        }
        return trimmed
    }
}

public struct PatientTag: Codable, Sendable, Equatable, Hashable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// `key=value`; keys are lowercase identifiers, values free text without separators.
    public static func parse(_ text: String, field: String = "tags") throws(TendError) -> PatientTag {
        let parts = splitScalars(text, at: "=", maxSplits: 1)
        guard parts.count == 2 else {
            throw TendError.invalid(field, .init(en: "must be written key=value, got \(text)", zh: "应写作 key=value，实际为 \(text)"))
        }
        return try PatientTag(key: parts[0], value: parts[1]).validated(field: field)
    }

    public func validated(field: String = "tags") throws(TendError) -> PatientTag {
        let key = self.key.trimmed.lowercased()
        let value = self.value.trimmed
        let keyByte = { (byte: UInt8) in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "_-.".utf8.contains(byte)
        }
        guard (1...40).contains(key.utf8.count), key.utf8.allSatisfy(keyByte) else {
            throw TendError.invalid(field, .init(en: "tag key \(self.key) must be 1–40 letters, digits, _ - or .", zh: "标签键 \(self.key) 应为 1–40 个字母、数字或 _ - ."))
        }
        let separator = value.utf8.contains { ",;=".utf8.contains($0) || (0x0A...0x0D).contains($0) }
            || (!value.utf8.allSatisfy { $0 < 0x80 } && value.contains(where: \.isNewline))
        guard !value.isEmpty, value.utf8.count <= 100 || value.count <= 100, !separator else {
            throw TendError.invalid(field, .init(en: "tag value for \(key) must be 1–100 characters without , ; =", zh: "标签 \(key) 的值应为 1–100 个字符，且不含 , ; ="))
        }
        return PatientTag(key: key, value: value)
    }

    public var text: String { "\(key)=\(value)" }

    /// Pieces between separators, trimmed, split code point by code point as the API's document
    /// reads `key=value,…` (a combining mark after "=" would otherwise hide it in one character).
    static func splitScalars(_ text: some StringProtocol, at separator: Unicode.Scalar, maxSplits: Int = .max) -> [String] {
        text.unicodeScalars.split(separator: separator, maxSplits: maxSplits, omittingEmptySubsequences: false)
            .map { String(String.UnicodeScalarView($0)).trimmed }
    }
}

/// A tag as stored: who or what set it, and when.
public struct AppliedTag: Sendable, Equatable, Codable {
    public var tag: PatientTag
    public var setBy: String?
    public var source: String
    public var setAt: Date

    public init(tag: PatientTag, setBy: String?, source: String, setAt: Date) {
        self.tag = tag
        self.setBy = setBy
        self.source = source
        self.setAt = setAt
    }
}

/// Which patients a list shows: all of these tags, any of those, none of these.
/// A tag with value `*` matches any value of its key.
public struct TagFilter: Sendable, Equatable {
    public var all: [PatientTag] = []
    public var any: [PatientTag] = []
    public var none: [PatientTag] = []

    public init(all: [PatientTag] = [], any: [PatientTag] = [], none: [PatientTag] = []) {
        self.all = all
        self.any = any
        self.none = none
    }

    public var isEmpty: Bool { all.isEmpty && any.isEmpty && none.isEmpty }

    /// Parses a comma-separated list of `key=value` (or `key=*`).
    public static func tags(_ text: String, field: String) throws(TendError) -> [PatientTag] {
        var tags: [PatientTag] = []
        for piece in PatientTag.splitScalars(text, at: ",") where !piece.isEmpty {
            let parts = PatientTag.splitScalars(piece, at: "=", maxSplits: 1)
            if parts.count == 2, parts[1] == "*" {
                let key = try PatientTag(key: parts[0], value: "x").validated(field: field).key
                tags.append(PatientTag(key: key, value: "*"))
            } else {
                tags.append(try PatientTag.parse(String(piece), field: field))
            }
        }
        return tags
    }

    /// Whether a patient with these tags passes; the store's SQL implements the same rule.
    public func matches(_ tags: Set<PatientTag>) -> Bool {
        func has(_ wanted: PatientTag) -> Bool {
            wanted.value == "*" ? tags.contains { $0.key == wanted.key } : tags.contains(wanted)
        }
        return all.allSatisfy(has) && (any.isEmpty || any.contains(where: has)) && !none.contains(where: has)
    }
}

public struct ConsentRecord: Codable, Sendable, Equatable {
    public var id: String
    public var kind: String
    public var version: String
    public var grantedAt: Date
    public var withdrawnAt: Date?
    public var recordedBy: String?

    public init(id: String, kind: String, version: String, grantedAt: Date, withdrawnAt: Date?, recordedBy: String?) {
        self.id = id
        self.kind = kind
        self.version = version
        self.grantedAt = grantedAt
        self.withdrawnAt = withdrawnAt
        self.recordedBy = recordedBy
    }
}

public struct Patient: Sendable, Equatable {
    public var id: String
    public var programID: String
    public var profile: PatientProfile
    public var tags: [AppliedTag]
    public var consents: [ConsentRecord]
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, programID: String, profile: PatientProfile, tags: [AppliedTag], consents: [ConsentRecord], createdAt: Date, updatedAt: Date) {
        self.id = id
        self.programID = programID
        self.profile = profile
        self.tags = tags
        self.consents = consents
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
