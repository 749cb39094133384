import Foundation
import SQLKit
import TendCore

/// A segment rule as one SQL condition on a patient row aliased `p`: every clause is a set of
/// patients (a tag, the latest reading in a window that is over a line, …) that the patient is
/// in or not, so the database evaluates the whole program in one statement.
///
/// Over a program on SQLite each clause's set is an uncorrelated `p.id IN (SELECT …)`, which
/// SQLite builds once from the index that leads with the clause's own columns
/// (`patient_tags_by_tag`, `observations_by_code`); PostgreSQL is given `EXISTS` and turns it
/// into a hash semi- or anti-join. For one patient both read a correlated `EXISTS` on the
/// patient's own keys, a few index probes.
///
/// Every clause is true or false, never NULL, so `not` means "did not hold".
struct SegmentSQL {
    enum Scope: Equatable {
        case program
        case patient(String)
    }

    let programID: String
    let now: Date
    let scope: Scope
    let dialect: StorageDialect

    var nowMs: Int64 { now.epochMilliseconds }
    private var correlated: Bool { scope != .program || !dialect.isSQLite }

    /// `SELECT p.id FROM patients p WHERE …` for the rule: the followed patients (active or
    /// paused) of the program for whom it holds.
    func members(_ rule: SegmentExpression) -> SQLQueryString {
        var query = SQLQueryString("SELECT p.id FROM patients p WHERE p.program_id = ")
        query.appendInterpolation(bind: programID)
        if case .patient(let id) = scope {
            query.appendLiteral(" AND p.id = ")
            query.appendInterpolation(bind: id)
        }
        query.appendLiteral(" AND p.status IN ('active', 'paused') AND ")
        append(rule, to: &query)
        return query
    }

    func append(_ expression: SegmentExpression, to query: inout SQLQueryString) {
        switch expression {
        case .all(let parts), .any(let parts):
            let joiner: String
            if case .all = expression { joiner = " AND " } else { joiner = " OR " }
            query.appendLiteral("(")
            for (index, part) in parts.enumerated() {
                if index > 0 { query.appendLiteral(joiner) }
                append(part, to: &query)
            }
            query.appendLiteral(")")
        case .not(let inner):
            query.appendLiteral("NOT (")
            append(inner, to: &query)
            query.appendLiteral(")")
        case .clause(let clause):
            append(clause.condition, to: &query)
        }
    }

    func append(_ condition: SegmentCondition, to query: inout SQLQueryString) {
        switch condition {
        case .tag(let key, let values):
            var set = PatientSet(table: "patient_tags", alias: "t")
            set.condition("t.tag_key = ", bind: key)
            if let values { set.condition("t.tag_value IN ", binds: values) }
            appendMembership(set, to: &query)
        case .age(let comparison, let years):
            appendAge(comparison, years, to: &query)
        case .attribute(let attribute, let values):
            query.appendLiteral("p.\(attribute.rawValue) IN (")
            query.appendInterpolation(binds: values)
            query.appendLiteral(")")
        case .observation(let aggregate, let code, let window, let comparison, let value):
            appendObservation(aggregate, code, window, comparison, value, to: &query)
        case .score(let questionnaire, let window, let comparison, let value):
            var set = latestResponse(questionnaire, window, requireTotal: true)
            set.condition("r.total \(comparison.sql) ", bind: value)
            appendMembership(set, to: &query)
        case .band(let questionnaire, let window, let bands):
            var set = latestResponse(questionnaire, window, requireTotal: false)
            set.condition("r.band IN ", binds: bands)
            appendMembership(set, to: &query)
        case .adherence(let drugClass, let window, let comparison, let value):
            // The PDC statement over the program's dispenses (or the patient's), as a set.
            query.appendLiteral("p.id IN (SELECT q.patient_id FROM (")
            query += DispenseStore.pdcQuery(programID: programID, patientID: patientID, start: adherenceStart(window), end: today,
                                            dialect: dialect)
            query.appendLiteral(") q WHERE q.cls = ")
            query.appendInterpolation(bind: drugClass)
            query.appendLiteral(" AND q.treatment_days >= \(PDC.minimumTreatmentDays) AND \(dialect.rounded("q.covered_days * 1.0 / q.treatment_days", decimals: 4)) \(comparison.sql) ")
            query.appendInterpolation(bind: value)
            query.appendLiteral(")")
        case .enrolled(let pathway, let statuses):
            var set = PatientSet(table: "enrolments", alias: "e")
            var pathways = SQLQueryString("e.pathway_id IN (SELECT w.id FROM pathways w WHERE w.program_id = ")
            pathways.appendInterpolation(bind: programID)
            pathways.appendLiteral(" AND w.slug = ")
            pathways.appendInterpolation(bind: pathway)
            pathways.appendLiteral(")")
            set.conditions.append(pathways)
            set.condition("e.status IN ", binds: statuses.map(\.rawValue))
            appendMembership(set, to: &query)
        }
    }

    // MARK: Clauses

    var today: LocalDate { LocalDate(instant: now, in: .utc) }
    var patientID: String? { if case .patient(let id) = scope { id } else { nil } }

    /// A PDC window's first day: the window's days back from today, or ten years without one.
    func adherenceStart(_ window: SegmentWindow?) -> LocalDate {
        guard let window else { return today.adding(months: -120) }
        return today.adding(days: -((window.hours + 23) / 24) + 1)
    }

    /// Whole years on today's date (UTC): `age >= 65` is a birth date on or before today 65
    /// years ago. A patient with no birth date has no age, and no age clause holds for them.
    private func appendAge(_ comparison: SegmentComparison, _ years: Int, to query: inout SQLQueryString) {
        let today = LocalDate(instant: now, in: .utc)
        // Born on or before `cutoff(n)` ⇔ at least n years old today.
        func cutoff(_ n: Int) -> String { today.adding(months: -12 * n).description }
        let condition: (String, String)? = switch comparison {
        case .greaterOrEqual: ("p.birth_date <= ", cutoff(years))
        case .greater: ("p.birth_date <= ", cutoff(years + 1))
        case .less: ("p.birth_date > ", cutoff(years))
        case .lessOrEqual: ("p.birth_date > ", cutoff(years + 1))
        case .equal, .notEqual: nil
        }
        query.appendLiteral("(p.birth_date IS NOT NULL AND ")
        if let (sql, date) = condition {
            query.appendLiteral(sql)
            query.appendInterpolation(bind: date)
        } else {
            if comparison == .notEqual { query.appendLiteral("NOT ") }
            query.appendLiteral("(p.birth_date <= ")
            query.appendInterpolation(bind: cutoff(years))
            query.appendLiteral(" AND p.birth_date > ")
            query.appendInterpolation(bind: cutoff(years + 1))
            query.appendLiteral(")")
        }
        query.appendLiteral(")")
    }

    private func appendObservation(_ aggregate: ObservationAggregate, _ code: ObservationCode, _ window: SegmentWindow?,
                                   _ comparison: SegmentComparison, _ value: Double, to query: inout SQLQueryString) {
        var set = PatientSet(table: "observations", alias: "o")
        set.condition("o.code = ", bind: code.description)
        appendWindow(&set, column: "o.effective_at", window)
        set.conditions.append("o.value_number IS NOT NULL")
        switch aggregate {
        case .last where !correlated:
            // Over a program on SQLite, each patient's latest reading in the window numbered in one
            // pass over `observations_by_code`, rather than a probe per reading for a later one.
            query.appendLiteral("p.id IN (SELECT x.patient_id FROM (SELECT o.patient_id, o.value_number, ROW_NUMBER() OVER (PARTITION BY o.patient_id ORDER BY o.effective_at DESC, o.id DESC) AS n FROM observations o WHERE o.program_id = ")
            query.appendInterpolation(bind: programID)
            for condition in set.conditions {
                query.appendLiteral(" AND ")
                query += condition
            }
            query.appendLiteral(") x WHERE x.n = 1 AND x.value_number \(comparison.sql) ")
            query.appendInterpolation(bind: value)
            query.appendLiteral(")")
        case .last:
            set.condition("o.value_number \(comparison.sql) ", bind: value)
            // No later reading of the code up to now (a tie on the instant goes to the larger id).
            var later = SQLQueryString("NOT EXISTS (SELECT 1 FROM observations l WHERE l.patient_id = o.patient_id AND l.code = o.code AND l.effective_at <= ")
            later.appendInterpolation(bind: nowMs)
            later.appendLiteral(" AND l.value_number IS NOT NULL AND (l.effective_at > o.effective_at OR (l.effective_at = o.effective_at AND l.id > o.id)))")
            set.conditions.append(later)
            appendMembership(set, to: &query)
        case .min, .max, .mean, .count:
            let function = switch aggregate {
            case .min: "MIN(o.value_number)"
            case .max: "MAX(o.value_number)"
            case .mean: "AVG(o.value_number)"
            default: "COUNT(*)"
            }
            // A count that holds for no readings (`count(…) < 3`) is "not in the set of
            // patients whose count does not hold": those with no readings have no row.
            if aggregate == .count, comparison.holds(0, value) {
                set.having = SQLQueryString("\(unsafeRaw: function) \(unsafeRaw: comparison.negation.sql) \(bind: value)")
                query.appendLiteral("NOT (")
                appendMembership(set, to: &query)
                query.appendLiteral(")")
            } else {
                set.having = SQLQueryString("\(unsafeRaw: function) \(unsafeRaw: comparison.sql) \(bind: value)")
                appendMembership(set, to: &query)
            }
        }
    }

    /// The patients whose latest response to the questionnaire (with a total, for scores) in
    /// the window is the row `r`.
    private func latestResponse(_ questionnaire: String, _ window: SegmentWindow?, requireTotal: Bool) -> PatientSet {
        var set = PatientSet(table: "questionnaire_responses", alias: "r", byPatientOnly: true)
        set.condition("r.questionnaire_id = ", bind: questionnaire)
        appendWindow(&set, column: "r.submitted_at", window)
        let total = requireTotal ? " AND n.total IS NOT NULL" : ""
        if requireTotal { set.conditions.append("r.total IS NOT NULL") }
        var later = SQLQueryString("NOT EXISTS (SELECT 1 FROM questionnaire_responses n WHERE n.patient_id = r.patient_id AND n.questionnaire_id = r.questionnaire_id AND n.submitted_at <= ")
        later.appendInterpolation(bind: nowMs)
        later.appendLiteral("\(total) AND (n.submitted_at > r.submitted_at OR (n.submitted_at = r.submitted_at AND n.id > r.id)))")
        set.conditions.append(later)
        return set
    }

    private func appendWindow(_ set: inout PatientSet, column: String, _ window: SegmentWindow?) {
        if let window {
            set.condition("\(column) >= ", bind: nowMs - Int64(window.hours) * 3_600_000)
        }
        set.condition("\(column) <= ", bind: nowMs)
    }

    // MARK: Sets

    /// Rows of one table that put their `patient_id` in a clause's set.
    struct PatientSet {
        let table: String
        let alias: String
        var conditions: [SQLQueryString] = []
        var having: SQLQueryString?
        /// Read patient by patient even over a program: the table has no index by program.
        var byPatientOnly = false

        mutating func condition(_ sql: String, bind value: some Encodable & Sendable) {
            conditions.append(SQLQueryString("\(unsafeRaw: sql)\(bind: value)"))
        }

        mutating func condition(_ sql: String, binds values: [String]) {
            conditions.append(SQLQueryString("\(unsafeRaw: sql)(\(binds: values))"))
        }
    }

    /// `p.id IN (SELECT patient_id …)` over the program, or `EXISTS (… patient_id = p.id …)`.
    private func appendMembership(_ set: PatientSet, to query: inout SQLQueryString) {
        let a = set.alias
        if correlated || set.byPatientOnly {
            query.appendLiteral("EXISTS (SELECT 1 FROM \(set.table) \(a) WHERE \(a).patient_id = p.id AND \(dialect.neverIndexed("\(a).program_id")) = ")
        } else {
            query.appendLiteral("p.id IN (SELECT \(a).patient_id FROM \(set.table) \(a) WHERE \(a).program_id = ")
        }
        query.appendInterpolation(bind: programID)
        for condition in set.conditions {
            query.appendLiteral(" AND ")
            query += condition
        }
        if let having = set.having {
            query.appendLiteral(" GROUP BY \(a).patient_id HAVING ")
            query += having
        }
        query.appendLiteral(")")
    }
}

extension SegmentComparison {
    var sql: String { self == .notEqual ? "<>" : rawValue }

    var negation: SegmentComparison {
        switch self {
        case .equal: .notEqual
        case .notEqual: .equal
        case .less: .greaterOrEqual
        case .lessOrEqual: .greater
        case .greater: .lessOrEqual
        case .greaterOrEqual: .less
        }
    }
}
