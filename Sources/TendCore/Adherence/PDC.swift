import Foundation

/// A medication fill (a dispense or refill) as adherence reads it.
public struct Fill: Sendable, Equatable {
    public var drug: String
    /// The therapeutic class (statins, RAS antagonists …): fills of different drugs of one class
    /// cover the same days. Nil: the drug is its own class.
    public var drugClass: String?
    public var filledOn: LocalDate
    public var daysSupply: Int

    public init(drug: String, drugClass: String? = nil, filledOn: LocalDate, daysSupply: Int) {
        self.drug = drug
        self.drugClass = drugClass
        self.filledOn = filledOn
        self.daysSupply = daysSupply
    }

    public static let daysSupplyRange = 1...1000
}

/// Proportion of days covered, as the Pharmacy Quality Alliance defines it: the treatment period
/// runs from the first fill in the measurement period (the index date) to the period's end; a
/// fill of a drug that overlaps an earlier fill of the same drug starts the day after that
/// supply ends; fills of different drugs of one class are not shifted, and a day counts once if
/// any covers it; days past the period's end do not count. PDC = covered ÷ treatment days;
/// adherent from 0.80; a treatment period under 91 days is not measurable.
public struct PDCResult: Sendable, Equatable {
    /// Nil when not measurable (no fills, or a treatment period under 91 days).
    public var pdc: Double?
    public var coveredDays: Int
    public var treatmentDays: Int
    public var indexDate: LocalDate?
    /// Runs of uncovered days inside the treatment period.
    public var gaps: [ClosedRange<LocalDate>]

    public var measurable: Bool { pdc != nil }
    public var adherent: Bool { (pdc ?? 0) >= PDC.adherentFrom }

    /// Below the threshold now, and still above it at the period's end if supplied every day
    /// after `today`: the days already missed (gaps up to `today`) leave room for it.
    public func canStillBeAdherent(after today: LocalDate) -> Bool {
        guard measurable, !adherent, let indexDate else { return false }
        let end = indexDate.adding(days: treatmentDays - 1)
        guard today < end else { return false }
        let missed = gaps.reduce(0) { sum, gap in
            gap.lowerBound > today ? sum : sum + min(gap.upperBound, today).dayNumber - gap.lowerBound.dayNumber + 1
        }
        return Double(treatmentDays - missed) / Double(treatmentDays) >= PDC.adherentFrom
    }
}

public enum PDC {
    public static let adherentFrom = 0.80
    public static let minimumTreatmentDays = 91
    /// A measurement period of at most ten years.
    public static let maximumPeriodDays = 3660

    /// PDC of one class's fills within `start`…`end` (start: the earliest fill when nil). Fills
    /// before the start or after the end are not part of the period.
    public static func compute(_ fills: [Fill], start: LocalDate? = nil, end: LocalDate) -> PDCResult {
        let inPeriod = fills.filter { fill in
            fill.filledOn <= end && (start.map { fill.filledOn >= $0 } ?? true) && Fill.daysSupplyRange.contains(fill.daysSupply)
        }
        guard let index = inPeriod.map(\.filledOn).min() else {
            return PDCResult(pdc: nil, coveredDays: 0, treatmentDays: 0, indexDate: nil, gaps: [])
        }
        let endDay = end.dayNumber, indexDay = index.dayNumber
        let treatmentDays = endDay - indexDay + 1
        var intervals = shiftedSupply(inPeriod).filter { $0.0 <= endDay }.map { ($0.0, min($0.1, endDay)) }
        // The union over the class: a day counts once.
        intervals.sort { $0.0 < $1.0 }
        var covered = 0
        var gaps: [ClosedRange<LocalDate>] = []
        var cursor = indexDay
        for (first, last) in intervals {
            if first > cursor { gaps.append(LocalDate(dayNumber: cursor)...LocalDate(dayNumber: first - 1)) }
            if last >= cursor {
                covered += last - max(first, cursor) + 1
                cursor = last + 1
            }
        }
        if cursor <= endDay { gaps.append(LocalDate(dayNumber: cursor)...LocalDate(dayNumber: endDay)) }
        let measurable = treatmentDays >= minimumTreatmentDays
        let ratio = (Double(covered) / Double(treatmentDays) * 10_000).rounded() / 10_000
        return PDCResult(pdc: measurable ? ratio : nil, coveredDays: covered, treatmentDays: treatmentDays, indexDate: index, gaps: gaps)
    }

    /// The first day without supply after these fills (one drug's, or a class's: the latest of
    /// its drugs'), each fill starting no earlier than the day after its drug's earlier supply.
    /// Nil without fills.
    public static func runOut(_ fills: [Fill]) -> LocalDate? {
        shiftedSupply(fills.filter { Fill.daysSupplyRange.contains($0.daysSupply) }).map(\.1).max().map { LocalDate(dayNumber: $0 + 1) }
    }

    /// Days of `window` these fills cover (one class's: a day counts once), each drug's supply
    /// shifted as PDC shifts it; a fill handed over before the window counts where its supply
    /// reaches into it. Days on therapy (人均用药天数) over a period.
    public static func coveredDays(_ fills: [Fill], in window: ClosedRange<LocalDate>) -> Int {
        let first = window.lowerBound.dayNumber, last = window.upperBound.dayNumber
        var intervals = shiftedSupply(fills.filter { $0.filledOn <= window.upperBound && Fill.daysSupplyRange.contains($0.daysSupply) })
            .map { (max($0.0, first), min($0.1, last)) }.filter { $0.0 <= $0.1 }
        intervals.sort { $0.0 < $1.0 }
        var covered = 0, cursor = first
        for (from, through) in intervals where through >= cursor {
            covered += through - max(from, cursor) + 1
            cursor = through + 1
        }
        return covered
    }

    /// Each fill's covered days (first, last) as day numbers: each drug's fills in order, each
    /// starting no earlier than the day after that drug's earlier supply ends.
    static func shiftedSupply(_ fills: [Fill]) -> [(Int, Int)] {
        var intervals: [(Int, Int)] = []
        for (_, drugFills) in Dictionary(grouping: fills, by: \.drug) {
            var nextFree = Int.min
            for fill in drugFills.sorted(by: { $0.filledOn < $1.filledOn }) {
                let first = max(fill.filledOn.dayNumber, nextFree)
                let last = first + fill.daysSupply - 1
                nextFree = last + 1
                intervals.append((first, last))
            }
        }
        return intervals
    }
}
