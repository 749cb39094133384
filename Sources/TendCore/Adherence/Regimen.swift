/// How often a regimen's dose is taken, as prescriptions write it.
public enum DoseFrequency: String, Sendable, Equatable, CaseIterable, Codable {
    case onceDaily = "qd"
    case twiceDaily = "bid"
    case threeTimesDaily = "tid"
    case fourTimesDaily = "qid"
    case nightly = "qn"
    case weekly = "qw"
    case asNeeded = "prn"

    public var label: LocalizedText {
        switch self {
        case .onceDaily: .init(en: "once a day", zh: "每日一次")
        case .twiceDaily: .init(en: "twice a day", zh: "每日两次")
        case .threeTimesDaily: .init(en: "three times a day", zh: "每日三次")
        case .fourTimesDaily: .init(en: "four times a day", zh: "每日四次")
        case .nightly: .init(en: "every night", zh: "每晚一次")
        case .weekly: .init(en: "once a week", zh: "每周一次")
        case .asNeeded: .init(en: "as needed", zh: "按需")
        }
    }

    /// Whether a day of the regimen expects a dose: what a daily dose check-in asks about.
    public var isDaily: Bool { self != .weekly && self != .asNeeded }
}

/// What a patient is prescribed: a drug at a strength, a dose at a frequency, from a day until
/// a day (open while it runs), by a prescriber.
public struct Regimen: Sendable, Equatable {
    public var id: String
    public var patientID: String
    public var drug: String
    public var drugClass: String?
    public var strength: String?
    public var dose: String
    public var frequency: DoseFrequency
    public var startOn: LocalDate
    public var stopOn: LocalDate?
    public var prescriber: String?

    public init(id: String, patientID: String, drug: String, drugClass: String?, strength: String?, dose: String, frequency: DoseFrequency,
                startOn: LocalDate, stopOn: LocalDate?, prescriber: String?) {
        self.id = id
        self.patientID = patientID
        self.drug = drug
        self.drugClass = drugClass
        self.strength = strength
        self.dose = dose
        self.frequency = frequency
        self.startOn = startOn
        self.stopOn = stopOn
        self.prescriber = prescriber
    }

    public func isActive(on day: LocalDate) -> Bool { startOn <= day && stopOn.map { day <= $0 } ?? true }

    /// Whether a fill is of this regimen: the same drug, or the same class when it has one.
    public func covers(_ fill: Fill) -> Bool { fill.drug == drug || (drugClass != nil && fill.drugClass == drugClass) }
}

/// Dose-level adherence from daily "taken today?" check-ins: of the days a patient answered in
/// a window, on how many the answer was yes (the day's last answer counts). Self-reported, and
/// so shown next to PDC, never mixed into it.
public struct DoseAdherence: Sendable, Equatable {
    public var answeredDays: Int
    public var takenDays: Int
    /// Days in the window on which a daily regimen was active (nil without regimens).
    public var expectedDays: Int?

    public var share: Double? { answeredDays == 0 ? nil : Double(takenDays) / Double(answeredDays) }

    /// `answers`: (local day, taken) in any order; `regimens` decide the days a dose was expected.
    public static func compute(_ answers: [(day: LocalDate, taken: Bool, at: Double)], window: ClosedRange<LocalDate>, regimens: [Regimen]) -> DoseAdherence {
        var lastOfDay: [LocalDate: (taken: Bool, at: Double)] = [:]
        for answer in answers where window.contains(answer.day) {
            if let earlier = lastOfDay[answer.day], earlier.at > answer.at { continue }
            lastOfDay[answer.day] = (answer.taken, answer.at)
        }
        let daily = regimens.filter(\.frequency.isDaily)
        var expected: Int?
        if !daily.isEmpty {
            expected = (window.lowerBound.dayNumber...window.upperBound.dayNumber).filter { number in
                daily.contains { $0.isActive(on: LocalDate(dayNumber: number)) }
            }.count
        }
        return DoseAdherence(answeredDays: lastOfDay.count, takenDays: lastOfDay.values.filter(\.taken).count, expectedDays: expected)
    }
}
