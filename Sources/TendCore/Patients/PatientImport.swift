import Foundation
/// Maps import rows (CSV with English or Chinese headers, or NDJSON objects) to patient
/// profiles and tags. Pure: the store does the writing.
public enum PatientImport {
    public enum Column: String, CaseIterable, Sendable {
        case externalID = "external_id"
        case name
        case sex
        case birthDate = "birth_date"
        case phone
        case idNumber = "id_number"
        case address
        case locale
        case timeZone = "time_zone"
        case contactWindow = "contact_window"
        case quietHours = "quiet_hours"
        case channels
        case tags
        case status
        case caregiverName = "caregiver_name"
        case caregiverRelation = "caregiver_relation"
        case caregiverPhone = "caregiver_phone"

        /// Header spellings accepted for the column, besides its own name.
        public var aliases: [String] {
            switch self {
            case .externalID: ["externalid", "mrn", "patient_id", "患者编号", "外部编号", "病历号", "住院号"]
            case .name: ["姓名", "患者姓名", "full_name"]
            case .sex: ["gender", "性别"]
            case .birthDate: ["birthdate", "dob", "date_of_birth", "出生日期", "生日"]
            case .phone: ["mobile", "phone_number", "手机", "手机号", "电话", "联系电话"]
            case .idNumber: ["national_id", "id_card", "身份证", "身份证号", "证件号"]
            case .address: ["地址", "住址"]
            case .locale: ["language", "语言"]
            case .timeZone: ["timezone", "tz", "时区"]
            case .contactWindow: ["preferred_window", "联系时段"]
            case .quietHours: ["免打扰", "免打扰时段"]
            case .channels: ["渠道", "联系渠道"]
            case .tags: ["标签"]
            case .status: ["状态"]
            case .caregiverName: ["家属姓名"]
            case .caregiverRelation: ["家属关系", "关系"]
            case .caregiverPhone: ["家属电话", "家属手机"]
            }
        }

        public static func named(_ header: String) -> Column? {
            let key = TextFolding.halfWidth(header).trimmed.lowercased()
                .replacingOccurrences(of: " ", with: "_")
            return allCases.first { $0.rawValue == key || $0.aliases.contains(key) }
        }
    }

    public struct Candidate: Sendable, Equatable {
        public var line: Int
        public var profile: PatientProfile
        public var tags: [PatientTag]

        public init(line: Int, profile: PatientProfile, tags: [PatientTag]) {
            self.line = line
            self.profile = profile
            self.tags = tags
        }
    }

    public struct Reject: Sendable, Equatable, Error {
        public var line: Int
        public var field: String?
        public var reason: String

        public init(line: Int, field: String?, reason: String) {
            self.line = line
            self.field = field
            self.reason = reason
        }
    }

    /// Resolves a CSV header row; unknown headers are an error so that a typo never drops
    /// a column silently.
    public static func columns(header: [String]) throws(TendError) -> [Column] {
        var columns: [Column] = []
        for name in header {
            guard let column = Column.named(name) else {
                throw TendError.invalid("header", .init(en: "has an unknown column \"\(name)\"", zh: "包含未知列“\(name)”"))
            }
            guard !columns.contains(column) else {
                throw TendError.invalid("header", .init(en: "names \(column.rawValue) twice", zh: "重复出现列 \(column.rawValue)"))
            }
            columns.append(column)
        }
        guard columns.contains(.externalID), columns.contains(.name) else {
            throw TendError.invalid("header", .init(en: "must include external_id and name", zh: "必须包含 external_id 和 name 两列"))
        }
        return columns
    }

    public static func candidate(line: Int, values: [Column: String]) -> Result<Candidate, Reject> {
        do throws(TendError) {
            return .success(try makeCandidate(line: line, values: values))
        } catch {
            return .failure(Reject(line: line, field: error.field, reason: error.message.en))
        }
    }

    public static func candidate(line: Int, columns: [Column], fields: [String]) -> Result<Candidate, Reject> {
        guard fields.count == columns.count else {
            return .failure(Reject(line: line, field: nil, reason: "has \(fields.count) fields, the header has \(columns.count)"))
        }
        var values: [Column: String] = [:]
        for (column, field) in zip(columns, fields) { values[column] = field }
        return candidate(line: line, values: values)
    }

    private static func makeCandidate(line: Int, values: [Column: String]) throws(TendError) -> Candidate {
        func value(_ column: Column) -> String? {
            guard let raw = values[column]?.trimmed, !raw.isEmpty else { return nil }
            return raw
        }
        guard let externalID = value(.externalID) else { throw TendError.missing("external_id") }
        guard let name = value(.name) else { throw TendError.missing("name") }
        var profile = PatientProfile(externalID: externalID, name: name)
        if let sex = value(.sex) {
            guard let parsed = Sex(loose: sex) else {
                throw TendError.invalid("sex", .init(en: "must be female, male, other or unknown", zh: "应为 女、男、其他 或 未知"))
            }
            profile.sex = parsed
        }
        profile.birthDate = value(.birthDate)
        profile.phone = value(.phone)
        profile.idNumber = value(.idNumber)
        profile.address = value(.address)
        if let locale = value(.locale) {
            guard let parsed = AppLocale(identifier: locale) else {
                throw TendError.invalid("locale", .init(en: "must be zh-Hans or en", zh: "应为 zh-Hans 或 en"))
            }
            profile.locale = parsed
        }
        if let zone = value(.timeZone) { profile.timeZone = zone }
        if let window = value(.contactWindow) { profile.contactWindow = try DailyWindow.parse(window, field: "contact_window") }
        if let quiet = value(.quietHours) { profile.quietHours = try DailyWindow.parse(quiet, field: "quiet_hours") }
        if let channels = value(.channels) {
            profile.channels = try channels.split(whereSeparator: { $0 == ";" || $0 == "|" }).map { (name) throws(TendError) -> ContactChannel in
                guard let channel = ContactChannel(rawValue: name.trimmed) else {
                    throw TendError.invalid("channels", .init(en: "has an unknown channel \(name)", zh: "包含未知渠道 \(name)"))
                }
                return channel
            }
        }
        if let status = value(.status) {
            guard let parsed = PatientStatus(loose: status) else {
                throw TendError.invalid("status", .init(en: "must be active, paused, withdrawn or deceased", zh: "应为 在管、暂停、退出 或 死亡"))
            }
            profile.status = parsed
        }
        if let caregiverName = value(.caregiverName) {
            profile.caregivers = [Caregiver(name: caregiverName, relation: value(.caregiverRelation) ?? "家属", phone: value(.caregiverPhone))]
        }
        var tags: [PatientTag] = []
        if let text = value(.tags) {
            for piece in text.split(whereSeparator: { $0 == ";" || $0 == "|" }) where !piece.trimmed.isEmpty {
                tags.append(try PatientTag.parse(String(piece)))
            }
        }
        return Candidate(line: line, profile: try profile.validated(), tags: tags)
    }
}

extension PatientStatus {
    public init?(loose text: String) {
        switch text.trimmed.lowercased() {
        case "active", "在管", "在组", "正常": self = .active
        case "paused", "暂停": self = .paused
        case "withdrawn", "退出", "已退出": self = .withdrawn
        case "deceased", "死亡", "已故": self = .deceased
        default: return nil
        }
    }
}
