import SQLKit
import TendCore

/// SQL for tag conditions on a patient row aliased `p`, shared by lists and enrolment.
enum TagSQL {
    /// `SELECT 1 FROM patient_tags t WHERE t.patient_id = p.id AND t.program_id = p.program_id AND (tag or tag …)`.
    /// The program term adds no condition (a tag is its patient's program's) but lets PostgreSQL
    /// walk `patient_tags_by_tag` in patient order: without it, a tag on 1 % of the program was a
    /// scan of every tag (37 ms against 0.4 ms at 100,000 patients); SQLite's plan is the same either way.
    static func appendMatch(_ query: inout SQLQueryString, _ tags: [PatientTag]) {
        query.appendLiteral("SELECT 1 FROM patient_tags t WHERE t.patient_id = p.id AND t.program_id = p.program_id AND (")
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
