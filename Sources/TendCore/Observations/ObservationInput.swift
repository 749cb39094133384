import Foundation

/// One observation as an integration sends it (the API's body, a line of an NDJSON import, a
/// row of a CSV import): a code, a value with its unit, when, and the sender's own id. `reading`
/// and `observation` check it with the same bounds as a questionnaire answer, each problem
/// naming its field (`readings[3].value`).
public struct ObservationInput: Sendable, Equatable, Codable {
    public enum Value: Sendable, Equatable, Codable {
        case number(Double)
        case text(String)
        case flag(Bool)

        public init(from decoder: any Decoder) throws {
            let single = try decoder.singleValueContainer()
            if let flag = try? single.decode(Bool.self) {
                self = .flag(flag)
            } else if let number = try? single.decode(Double.self) {
                self = .number(number)
            } else {
                self = .text(try single.decode(String.self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var single = encoder.singleValueContainer()
            switch self {
            case .number(let number): try single.encode(number)
            case .text(let text): try single.encode(text)
            case .flag(let flag): try single.encode(flag)
            }
        }
    }

    /// A catalog key (`glucose-fasting`), `loinc:CODE` or `program:NAME`.
    public var code: String
    public var value: Value
    /// Required for a number, unless the code's canonical unit is meant.
    public var unit: String?
    /// ISO 8601 with an offset or Z (`2026-12-03T07:42:00+08:00`).
    public var effectiveAt: String
    public var externalID: String?

    enum CodingKeys: String, CodingKey {
        case code, value, unit
        case effectiveAt = "effective_at"
        case externalID = "external_id"
    }

    public init(code: String, value: Value, unit: String? = nil, effectiveAt: String, externalID: String? = nil) {
        self.code = code
        self.value = value
        self.unit = unit
        self.effectiveAt = effectiveAt
        self.externalID = externalID
    }

    /// The checked reading: a number through its code's unit and bounds; a program code's
    /// number with the unit given; text (at most `Bounds.textLength`) as coded when it is a
    /// short code-like word, else text; true/false as boolean.
    public func reading(field: String) throws(TendError) -> ObservationReading {
        let code = try ObservationCatalog.code(code, field: "\(field).code")
        let definition = ObservationCatalog.definition(code: code)
        switch value {
        case .number(let number):
            let unit = try self.unit.map { text throws(TendError) in try Validate.text(text, field: "\(field).unit", maxLength: 40) }
                ?? definition?.canonicalUnit
            guard let unit else { throw TendError.missing("\(field).unit") }
            return try ObservationCatalog.admit(number, unit: unit, code: code, field: "\(field).value",
                                                unitField: self.unit == nil ? nil : "\(field).unit")
        case .text(let text):
            if definition != nil {
                // "101.5 °F" for a measurement: the number and unit in one string.
                guard let parsed = QuestionnaireScorer.quantity(text), let unit = parsed.unit ?? self.unit ?? definition?.canonicalUnit else {
                    throw TendError.invalid("\(field).value", .init(en: "must be a number for \(code)", zh: "\(code) 的值应为数字"))
                }
                return try ObservationCatalog.admit(parsed.value, unit: unit, code: code, field: "\(field).value")
            }
            let checked = try Validate.text(text, field: "\(field).value", maxLength: Bounds.textLength)
            let isCode = checked.count <= 64 && checked.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
            return ObservationReading(code: code, value: isCode ? .coded(checked) : .text(checked))
        case .flag(let flag):
            guard definition == nil else {
                throw TendError.invalid("\(field).value", .init(en: "must be a number for \(code)", zh: "\(code) 的值应为数字"))
            }
            return ObservationReading(code: code, value: .boolean(flag))
        }
    }

    /// The whole observation for a patient, recorded from `source` by `recordedBy`.
    public func observation(patientID: String, programID: String, zone: String, source: ObservationSource,
                            recordedBy: String? = nil, producedBy: String? = nil, field: String) throws(TendError) -> Observation {
        let reading = try reading(field: field)
        guard let instant = Self.instant(effectiveAt) else {
            throw TendError.invalid("\(field).effective_at", .init(en: "must be a time like 2026-12-03T07:42:00+08:00", zh: "应为时间，如 2026-12-03T07:42:00+08:00"))
        }
        let when = try Validate.instant(instant, field: "\(field).effective_at")
        return try Observation(patientID: patientID, programID: programID, reading: reading, effectiveAt: when, zone: zone,
                               source: source, recordedBy: recordedBy, producedBy: producedBy, externalID: externalID)
    }
}

extension ObservationInput {
    static func instant(_ text: String) -> Date? { InstantText.parse(text) }
}
