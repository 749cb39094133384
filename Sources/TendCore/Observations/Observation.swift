public import Foundation

/// What an observation measures: a LOINC code where one exists, else a code the program
/// defines (`program:revisit-attended`). Written `loinc:8310-5` or `program:…` in files.
public struct ObservationCode: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum System: String, Sendable, Hashable, Codable {
        case loinc
        case program
    }

    public var system: System
    public var code: String

    public init(system: System, code: String) {
        self.system = system
        self.code = code
    }

    public static func loinc(_ code: String) -> ObservationCode { .init(system: .loinc, code: code) }

    /// `loinc:8310-5` or `program:revisit-attended`; a program code is 1–64 lowercase letters,
    /// digits, `-`, `_` or `.`.
    public static func parse(_ text: String, field: String) throws(TendError) -> ObservationCode {
        let parts = text.trimmed.split(separator: ":", maxSplits: 1).map(String.init)
        let problem = LocalizedText(en: "must be loinc:CODE or program:NAME (lowercase letters, digits, - _ .)",
                                    zh: "应为 loinc:编码 或 program:名称（小写字母、数字、- _ .）")
        guard parts.count == 2, let system = System(rawValue: parts[0]), (1...64).contains(parts[1].count) else {
            throw TendError.invalid(field, problem)
        }
        let allowed: (Character) -> Bool = switch system {
        case .loinc: { $0.isASCII && ($0.isNumber || $0 == "-") }
        case .program: { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
        }
        guard parts[1].allSatisfy(allowed) else { throw TendError.invalid(field, problem) }
        return ObservationCode(system: system, code: parts[1])
    }

    public var description: String { "\(system.rawValue):\(code)" }
}

/// The value of an observation.
public enum ObservationValue: Sendable, Equatable {
    /// A number with its UCUM unit, stored in the code's canonical unit.
    case quantity(Double, unit: String)
    /// One of a set of codes (an answer option).
    case coded(String)
    case boolean(Bool)
    case text(String)
    /// A questionnaire score (PHQ-9 total, a subscale).
    case score(Double)
}

/// Where an observation came from.
public enum ObservationSource: String, Sendable, Equatable, Codable, CaseIterable {
    case checkIn = "check-in"
    case questionnaire
    case device
    case staff
    case `import`
}

/// What Tend noticed about a value it kept.
public enum ObservationFlag: String, Sendable, Equatable, Codable, CaseIterable {
    /// Possible, but rarely seen: kept, and shown for a person to check (a typo or a real extreme).
    case implausible
}

/// A value that passed its code's bounds, in the canonical unit, with what was noticed.
public struct ObservationReading: Sendable, Equatable {
    public var code: ObservationCode
    public var value: ObservationValue
    public var flags: [ObservationFlag]

    public init(code: ObservationCode, value: ObservationValue, flags: [ObservationFlag] = []) {
        self.code = code
        self.value = value
        self.flags = flags
    }

    /// The number of a quantity or score.
    public var number: Double? {
        switch value {
        case .quantity(let number, _), .score(let number): number
        case .coded, .boolean, .text: nil
        }
    }
}

/// One recorded observation: who, what, when, from where, and what produced it.
public struct Observation: Sendable, Equatable {
    public var patientID: String
    public var programID: String
    public var reading: ObservationReading
    /// When it was measured (an instant; `zone` says the patient's wall time).
    public var effectiveAt: Date
    /// The patient's IANA time zone at that moment.
    public var zone: String
    public var source: ObservationSource
    /// The staff member, device or integration that recorded it.
    public var recordedBy: String?
    /// What produced it: a questionnaire response id, a device reading id, an import row.
    public var producedBy: String?
    /// The sender's own id, for idempotent ingest: one per (source, externalID).
    public var externalID: String?

    public init(patientID: String, programID: String, reading: ObservationReading, effectiveAt: Date, zone: String,
                source: ObservationSource, recordedBy: String? = nil, producedBy: String? = nil, externalID: String? = nil) throws(TendError) {
        self.patientID = try Validate.identifier(patientID, field: "patient_id")
        self.programID = try Validate.identifier(programID, field: "program_id")
        self.reading = reading
        self.effectiveAt = try Validate.instant(effectiveAt, field: "effective_at")
        guard TimeZone(identifier: zone) != nil, zone.utf8.count <= 64 else {
            throw TendError.invalid("zone", .init(en: "must be an IANA time zone such as Asia/Shanghai", zh: "应为 IANA 时区，如 Asia/Shanghai"))
        }
        self.zone = zone
        self.source = source
        self.recordedBy = try recordedBy.map { id throws(TendError) in try Validate.identifier(id, field: "recorded_by") }
        self.producedBy = try producedBy.map { id throws(TendError) in try Validate.identifier(id, field: "produced_by") }
        self.externalID = try externalID.map { id throws(TendError) in try Validate.identifier(id, field: "external_id") }
    }
}
