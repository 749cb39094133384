import SQLKit
import TendCore

/// SQL for tag conditions on a patient row aliased `p`, shared by lists and enrolment.
enum TagSQL {
    /// `SELECT 1 FROM patient_tags t WHERE t.patient_id = p.id AND (tag or tag …)`.
    static func appendMatch(_ query: inout SQLQueryString, _ tags: [PatientTag]) {
        query.appendLiteral("SELECT 1 FROM patient_tags t WHERE t.patient_id = p.id AND (")
        for (index, tag) in tags.enumerated() {
            if index > 0 { query.appendLiteral(" OR ") }
            query.appendLiteral("(t.tag_key = ")
            query.appendInterpolation(bind: tag.key)
            if tag.value != "*" {
                query.appendLiteral(" AND t.tag_value = ")
                query.appendInterpolation(bind: tag.value)
            }
            query.appendLiteral(")")
        }
        query.appendLiteral(")")
    }

    /// ` AND …` clauses for a filter: all of, any of, none of.
    static func appendFilter(_ query: inout SQLQueryString, _ filter: TagFilter) {
        for tag in filter.all {
            query.appendLiteral(" AND EXISTS (")
            appendMatch(&query, [tag])
            query.appendLiteral(")")
        }
        if !filter.any.isEmpty {
            query.appendLiteral(" AND EXISTS (")
            appendMatch(&query, filter.any)
            query.appendLiteral(")")
        }
        if !filter.none.isEmpty {
            query.appendLiteral(" AND NOT EXISTS (")
            appendMatch(&query, filter.none)
            query.appendLiteral(")")
        }
    }
}
