/// How PDC is spread over a set of patient-classes in one period: ten bands of 0.1 (the last
/// holds 0.9 to 1.0), how many were measurable, how many adherent.
public struct PDCDistribution: Sendable, Equatable {
    public static let bandCount = 10
    public private(set) var bands = [Int](repeating: 0, count: bandCount)
    public private(set) var measurable = 0
    public private(set) var notMeasurable = 0
    public private(set) var adherent = 0
    private var pdcSum = 0.0

    public init() {}

    public mutating func add(_ result: PDCResult) {
        guard let pdc = result.pdc else {
            notMeasurable += 1
            return
        }
        measurable += 1
        pdcSum += pdc
        if result.adherent { adherent += 1 }
        bands[min(Self.bandCount - 1, max(0, Int((pdc * Double(Self.bandCount)).rounded(.down))))] += 1
    }

    /// The share of measurable patient-classes at 0.80 or above; nil when none is measurable.
    public var shareAdherent: Double? { measurable == 0 ? nil : Double(adherent) / Double(measurable) }
    public var meanPDC: Double? { measurable == 0 ? nil : pdcSum / Double(measurable) }
}

/// A patient's part in the S6 outcome: days on therapy in the baseline and the follow-up
/// windows, and the ACT score at the end of each (nil when none was recorded in it).
public struct TherapyOutcomeRow: Sendable, Equatable {
    public var patientID: String
    public var baselineDays: Int
    public var followUpDays: Int
    public var baselineACT: Double?
    public var followUpACT: Double?

    public init(patientID: String, baselineDays: Int, followUpDays: Int, baselineACT: Double?, followUpACT: Double?) {
        self.patientID = patientID
        self.baselineDays = baselineDays
        self.followUpDays = followUpDays
        self.baselineACT = baselineACT
        self.followUpACT = followUpACT
    }

    /// ACT below 20: asthma not well controlled (Nathan et al., 2004).
    public static let controlledFrom = 20.0
    /// The ACT's minimal important difference (Schatz et al., 2009): a rise of 3 points or more.
    public static let importantChange = 3.0

    public var poorlyControlledAtBaseline: Bool { baselineACT.map { $0 < Self.controlledFrom } ?? false }
    /// Poorly controlled at baseline, and at follow-up either up by the important difference or
    /// controlled (20 or more).
    public var improved: Bool? {
        guard poorlyControlledAtBaseline, let baselineACT, let followUpACT else { return nil }
        return followUpACT - baselineACT >= Self.importantChange || followUpACT >= Self.controlledFrom
    }
}

/// S6: after the follow-up window, days on therapy (人均用药天数) against the baseline window
/// of the same length before it, and the share of patients poorly controlled at baseline whose
/// control improved.
public struct TherapyOutcome: Sendable, Equatable {
    /// Patients with supply on at least one day of either window.
    public private(set) var patients = 0
    public private(set) var baselineDays = 0
    public private(set) var followUpDays = 0
    /// Poorly controlled at baseline (ACT < 20).
    public private(set) var poorlyControlled = 0
    /// Of those, the ones with an ACT in the follow-up window.
    public private(set) var reassessed = 0
    public private(set) var improved = 0

    public init() {}

    public mutating func add(_ row: TherapyOutcomeRow) {
        if row.baselineDays > 0 || row.followUpDays > 0 {
            patients += 1
            baselineDays += row.baselineDays
            followUpDays += row.followUpDays
        }
        if row.poorlyControlledAtBaseline { poorlyControlled += 1 }
        if let improved = row.improved {
            reassessed += 1
            if improved { self.improved += 1 }
        }
    }

    public var meanBaselineDays: Double? { patients == 0 ? nil : Double(baselineDays) / Double(patients) }
    public var meanFollowUpDays: Double? { patients == 0 ? nil : Double(followUpDays) / Double(patients) }
    /// Improved among the poorly controlled who were assessed again; nil when none was.
    public var shareImproved: Double? { reassessed == 0 ? nil : Double(improved) / Double(reassessed) }
}
