import Foundation

/// A rule over readings of some codes. A threshold: a reading below `below`, or at or above
/// `atOrAbove`, breaches it. Sustained: `count` of the patient's last `of` readings of the code
/// breach the threshold. Change: the reading is `by` or more above (`rise`) or below (`fall`)
/// the lowest or highest reading of the code in the `withinDays` before it. Rules of one `group`
/// are alternatives (a fever, a high fever): only the most severe one breached opens an alert.
public struct ObservationAlertRule: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case threshold
        case sustained(count: Int, of: Int)
        case change(by: Double, rise: Bool, withinDays: Int)
    }

    public var id: String
    public var group: String
    public var codes: Set<ObservationCode>
    public var below: Double?
    public var atOrAbove: Double?
    public var kind: Kind
    public var priority: TaskPriority
    public var title: LocalizedText

    public init(id: String, group: String? = nil, codes: Set<ObservationCode>, below: Double? = nil, atOrAbove: Double? = nil,
                kind: Kind = .threshold, priority: TaskPriority, title: LocalizedText) {
        self.id = id
        self.group = group ?? id
        self.codes = codes
        self.below = below
        self.atOrAbove = atOrAbove
        self.kind = kind
        self.priority = priority
        self.title = title
    }

    /// Whether a value crosses the rule's threshold.
    public func crosses(_ value: Double) -> Bool {
        if let below, value < below { return true }
        if let atOrAbove, value >= atOrAbove { return true }
        return false
    }

    /// Whether a reading alone breaches a threshold rule (other kinds need the patient's history).
    public func isBreached(by reading: ObservationReading) -> Bool {
        guard kind == .threshold, codes.contains(reading.code), let value = reading.number else { return false }
        return crosses(value)
    }

    /// The readings of the code before this one a rule needs: the last `of − 1`, or those of
    /// the window. Nil for a threshold.
    public var history: (count: Int?, days: Int?)? {
        switch kind {
        case .threshold: nil
        case .sustained(_, let of): (of - 1, nil)
        case .change(_, _, let days): (nil, days)
        }
    }

    /// Whether a reading with the patient's earlier readings of its code (newest first, as
    /// `history` asked for) breaches a sustained or change rule.
    public func isBreached(by reading: ObservationReading, after earlier: [Double]) -> Bool {
        guard codes.contains(reading.code), let value = reading.number else { return false }
        switch kind {
        case .threshold: return crosses(value)
        case .sustained(let count, let of):
            let recent = [value] + earlier.prefix(of - 1)
            return recent.count >= count && recent.filter(crosses).count >= count
        case .change(let by, let rise, _):
            guard let reference = rise ? earlier.min() : earlier.max() else { return false }
            return rise ? value - reference >= by : reference - value >= by
        }
    }

    /// The rules a program's readings are held to, from the same thresholds its triage reads in
    /// messages (`TriageThresholds`), so "2.7" typed into a group and 2.7 from a meter are one
    /// emergency.
    public static func rules(from thresholds: TriageThresholds) -> [ObservationAlertRule] {
        let glucose: Set<ObservationCode> = [.loinc("14770-2"), .loinc("14760-3"), .loinc("14743-9")]
        let t = thresholds
        func text(_ en: String, _ zh: String) -> LocalizedText { LocalizedText(en: en, zh: zh) }
        return [
            ObservationAlertRule(id: "glucose-low", codes: glucose, below: t.glucoseLow, priority: .urgent,
                                 title: text("Low glucose (below \(t.glucoseLow.formatted()) mmol/L)", "低血糖（低于 \(t.glucoseLow.formatted()) mmol/L）")),
            ObservationAlertRule(id: "glucose-high", codes: glucose, atOrAbove: t.glucoseHigh, priority: .urgent,
                                 title: text("Very high glucose (\(t.glucoseHigh.formatted()) mmol/L or more)", "血糖过高（≥ \(t.glucoseHigh.formatted()) mmol/L）")),
            ObservationAlertRule(id: "fever-high", group: "fever", codes: [.loinc("8310-5")], atOrAbove: t.temperatureHigh, priority: .urgent,
                                 title: text("High fever (\(t.temperatureHigh.formatted()) °C or more)", "高热（≥ \(t.temperatureHigh.formatted()) °C）")),
            ObservationAlertRule(id: "fever", group: "fever", codes: [.loinc("8310-5")], atOrAbove: t.temperature, priority: .high,
                                 title: text("Fever (\(t.temperature.formatted()) °C or more)", "发热（≥ \(t.temperature.formatted()) °C）")),
            ObservationAlertRule(id: "temperature-low", codes: [.loinc("8310-5")], below: t.temperatureLow, priority: .urgent,
                                 title: text("Low body temperature (below \(t.temperatureLow.formatted()) °C)", "体温过低（低于 \(t.temperatureLow.formatted()) °C）")),
            ObservationAlertRule(id: "spo2-low", codes: [.loinc("59408-5")], below: t.oxygenSaturation, priority: .urgent,
                                 title: text("Low oxygen saturation (below \(t.oxygenSaturation.formatted()) %)", "血氧偏低（低于 \(t.oxygenSaturation.formatted())%）")),
            ObservationAlertRule(id: "bp-systolic-severe", codes: [.loinc("8480-6")], below: t.systolicVeryLow, atOrAbove: t.systolicSevere, priority: .urgent,
                                 title: text("Systolic pressure at \(t.systolicSevere.formatted()) or more, or below \(t.systolicVeryLow.formatted()) mmHg",
                                             "收缩压 ≥ \(t.systolicSevere.formatted()) 或低于 \(t.systolicVeryLow.formatted()) mmHg")),
            ObservationAlertRule(id: "bp-diastolic-severe", codes: [.loinc("8462-4")], atOrAbove: t.diastolicSevere, priority: .urgent,
                                 title: text("Diastolic pressure \(t.diastolicSevere.formatted()) mmHg or more", "舒张压 ≥ \(t.diastolicSevere.formatted()) mmHg")),
            ObservationAlertRule(id: "heart-rate", codes: [.loinc("8867-4")], below: t.heartRateLow, atOrAbove: t.heartRateHigh, priority: .urgent,
                                 title: text("Heart rate below \(t.heartRateLow.formatted()) or from \(t.heartRateHigh.formatted()) per minute",
                                             "心率低于 \(t.heartRateLow.formatted()) 或 ≥ \(t.heartRateHigh.formatted()) 次/分")),
            ObservationAlertRule(id: "respiratory-rate", codes: [.loinc("9279-1")], atOrAbove: t.respiratoryRate, priority: .urgent,
                                 title: text("Breathing \(t.respiratoryRate.formatted()) per minute or more", "呼吸 ≥ \(t.respiratoryRate.formatted()) 次/分")),
        ]
    }

    /// The rules a reading breaches, the most severe of each group only.
    public static func breached(by reading: ObservationReading, in rules: [ObservationAlertRule]) -> [ObservationAlertRule] {
        var byGroup: [String: ObservationAlertRule] = [:]
        var order: [String] = []
        for rule in rules where rule.isBreached(by: reading) {
            if let held = byGroup[rule.group] {
                if rule.priority > held.priority { byGroup[rule.group] = rule }
            } else {
                byGroup[rule.group] = rule
                order.append(rule.group)
            }
        }
        return order.compactMap { byGroup[$0] }
    }
}
