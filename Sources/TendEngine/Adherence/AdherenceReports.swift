public import Foundation
public import TendCore
public import TendStore

/// What an adherence report covers: a PDC period, optionally one drug or class and one
/// segment's members, and for the S6 outcome the first day of the follow-up window.
public struct AdherenceReportQuery: Sendable, Equatable {
    public var start: LocalDate
    public var end: LocalDate
    public var drugOrClass: String?
    public var segmentID: String?
    /// The follow-up's first day (the programme's start); nil, or a day after today: no outcome section.
    public var outcomeStart: LocalDate?
    public var outcomeDays: Int

    public static let defaultOutcomeDays = 75
    public static let outcomeDaysRange = 14...365

    public init(start: LocalDate, end: LocalDate, drugOrClass: String? = nil, segmentID: String? = nil, outcomeStart: LocalDate? = nil,
                outcomeDays: Int = Self.defaultOutcomeDays) {
        self.start = start
        self.end = end
        self.drugOrClass = drugOrClass
        self.segmentID = segmentID
        self.outcomeStart = outcomeStart
        self.outcomeDays = outcomeDays
    }
}

/// A patient below 0.80 who reaches it by the period's end if supplied every day from now on.
public struct CatchUpPatient: Sendable, Equatable {
    public var patient: Patient
    public var drugClass: String
    public var result: PDCResult
}

/// The S6 outcome: the windows it compared, the figures, and each patient's row.
public struct OutcomeReport: Sendable, Equatable {
    public var baseline: ClosedRange<LocalDate>
    public var followUp: ClosedRange<LocalDate>
    /// The last day counted: the follow-up's end, or today while it runs.
    public var asOf: LocalDate
    public var outcome: TherapyOutcome
    public var rows: [TherapyOutcomeRow]
}

/// PDC over a period for a program (per class, and for one drug, class or segment), who can
/// still reach 0.80, and the S6 outcome.
public struct AdherenceReport: Sendable, Equatable {
    public var query: AdherenceReportQuery
    public var today: LocalDate
    public var overall: PDCDistribution
    public var byClass: [(drugClass: String, distribution: PDCDistribution)]
    public var catchUpCount: Int
    /// The first `catchUpShown` of them, lowest PDC first.
    public var catchUp: [CatchUpPatient]
    public var outcome: OutcomeReport?

    public static let catchUpShown = 50

    public static func == (lhs: AdherenceReport, rhs: AdherenceReport) -> Bool {
        lhs.query == rhs.query && lhs.today == rhs.today && lhs.overall == rhs.overall && lhs.catchUpCount == rhs.catchUpCount
            && lhs.catchUp == rhs.catchUp && lhs.outcome == rhs.outcome
            && lhs.byClass.map(\.drugClass) == rhs.byClass.map(\.drugClass) && lhs.byClass.map(\.distribution) == rhs.byClass.map(\.distribution)
    }
}

/// Adherence reports for the console, the API and the CLI: each one streamed pass over the
/// program's dispenses (and one over its ACT scores), never a query per patient.
public struct AdherenceReports: Sendable {
    let stores: Stores

    public init(stores: Stores) { self.stores = stores }

    /// How far before the baseline a fill is read for the supply it carries into it.
    static let carryInDays = 365

    /// The report as of `today`. The summary is audited as one `adherence.report` event; each
    /// patient the report names (the catch-up list) as a read of that patient.
    public func report(programID: String, _ query: AdherenceReportQuery, today: LocalDate, zone: TimeZone, by actor: AuditActor) async throws -> AdherenceReport {
        let query = try Self.checked(query)
        var segment: String?
        if let idOrSlug = query.segmentID {
            guard let found = try await stores.segments.find(programID: programID, id: idOrSlug) else { throw TendError.notFound("segment") }
            segment = found.id
        }
        let filter = DispenseStore.FillFilter(drugOrClass: query.drugOrClass, segmentID: segment)
        let (start, end) = (query.start, query.end)
        struct Tally: Sendable {
            var overall = PDCDistribution()
            var byClass: [String: PDCDistribution] = [:]
            var catchUp: [(patientID: String, drugClass: String, result: PDCResult)] = []
        }
        let tally = try await stores.dispenses.foldPatients(programID: programID, from: start, through: end, filter: filter, into: Tally()) { tally, patientID, fills in
            for (drugClass, ofClass) in Dictionary(grouping: fills, by: { $0.drugClass ?? $0.drug }) {
                let result = PDC.compute(ofClass, start: start, end: end)
                tally.overall.add(result)
                tally.byClass[drugClass, default: PDCDistribution()].add(result)
                if result.canStillBeAdherent(after: today) { tally.catchUp.append((patientID, drugClass, result)) }
            }
        }
        let ranked = tally.catchUp.sorted { ($0.result.pdc ?? 0, $0.patientID) < ($1.result.pdc ?? 0, $1.patientID) }.prefix(AdherenceReport.catchUpShown)
        let patients = Dictionary(try await stores.patients.fetch(programID: programID, ids: Array(Set(ranked.map(\.patientID)))).map { ($0.id, $0) },
                                  uniquingKeysWith: { first, _ in first })
        let shown = ranked.compactMap { item in patients[item.patientID].map { CatchUpPatient(patient: $0, drugClass: item.drugClass, result: item.result) } }
        var outcome: OutcomeReport?
        if let first = query.outcomeStart, first <= today {
            outcome = try await self.outcome(programID: programID, filter: filter, start: first, days: query.outcomeDays, today: today, zone: zone)
        }
        try await stores.audit.recordRead(.adherenceReport, by: actor, program: programID, subject: nil)
        try await stores.audit.recordReads(.adherenceReport, by: actor, program: programID, patients: shown.map(\.patient.id))
        return AdherenceReport(query: query, today: today, overall: tally.overall,
                               byClass: tally.byClass.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                               catchUpCount: tally.catchUp.count, catchUp: shown, outcome: outcome)
    }

    /// The query as reported: a period longer than ten years starts ten years before its end
    /// (as a patient's PDC does); one that ends before it starts holds no fills.
    static func checked(_ query: AdherenceReportQuery) throws(TendError) -> AdherenceReportQuery {
        var query = query
        if query.end.dayNumber - query.start.dayNumber >= PDC.maximumPeriodDays { query.start = query.end.adding(days: -(PDC.maximumPeriodDays - 1)) }
        guard AdherenceReportQuery.outcomeDaysRange.contains(query.outcomeDays) else {
            let range = AdherenceReportQuery.outcomeDaysRange
            throw TendError.invalid("outcome_days", .init(en: "must be \(range.lowerBound) to \(range.upperBound) days", zh: "应为 \(range.lowerBound) 至 \(range.upperBound) 天"))
        }
        return query
    }

    /// S6: days on therapy in the `days` before `start` (baseline) and from `start` on
    /// (follow-up, to today while it runs), among patients supplied on a day of either window;
    /// the baseline ACT is their latest in the baseline window or on `start` itself, the
    /// follow-up ACT their latest after `start`.
    func outcome(programID: String, filter: DispenseStore.FillFilter, start: LocalDate, days: Int, today: LocalDate, zone: TimeZone) async throws -> OutcomeReport {
        let baseline = start.adding(days: -days)...start.adding(days: -1)
        let followUp = start...start.adding(days: days - 1)
        let asOf = min(today, followUp.upperBound)
        func instant(_ day: LocalDate) -> Date { LocalDateTime(date: day, time: LocalTime(minutes: 0)).instant(in: zone) }
        guard let act = ObservationCatalog.definition(key: "act")?.code else { throw StoreCorruption(what: "the catalogue has no ACT score") }
        let baselineACT = try await stores.observations.latestNumbers(programID: programID, code: act, from: instant(baseline.lowerBound), until: instant(start.adding(days: 1)))
        let followUpACT = try await stores.observations.latestNumbers(programID: programID, code: act, from: instant(start.adding(days: 1)), until: instant(asOf.adding(days: 1)))
        let counted = followUp.lowerBound...asOf
        let rows = try await stores.dispenses.foldPatients(programID: programID, from: baseline.lowerBound.adding(days: -Self.carryInDays), through: asOf,
                                                           filter: filter, into: [TherapyOutcomeRow]()) { rows, patientID, fills in
            let before = PDC.coveredDays(fills, in: baseline), after = PDC.coveredDays(fills, in: counted)
            guard before > 0 || after > 0 else { return }
            rows.append(TherapyOutcomeRow(patientID: patientID, baselineDays: before, followUpDays: after,
                                          baselineACT: baselineACT[patientID], followUpACT: followUpACT[patientID]))
        }.sorted { $0.patientID < $1.patientID }
        var outcome = TherapyOutcome()
        for row in rows { outcome.add(row) }
        return OutcomeReport(baseline: baseline, followUp: followUp, asOf: asOf, outcome: outcome, rows: rows)
    }
}
