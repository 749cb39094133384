public import Foundation
public import SQLKit
public import TendCore

/// Where a questionnaire response came from.
public enum ResponseSource: String, Sendable, Codable, CaseIterable {
    /// The patient, through the signed link of a touchpoint.
    case link
    /// Staff entered it (on a call, at a visit).
    case staff
    /// An integration, through the API.
    case api
}

/// A questionnaire response as stored: every answer, what it scored and what it flagged.
public struct QuestionnaireResponse: Sendable, Equatable {
    public var id: String
    public var programID: String
    public var patientID: String
    public var questionnaireID: String
    public var version: Int
    public var touchpointID: String?
    public var answers: [String: AnswerValue]
    public var total: Double?
    public var band: String?
    /// Ids of the flags raised.
    public var flags: [String]
    public var source: ResponseSource
    public var recordedBy: String?
    public var submittedAt: Date

    public init(id: String, programID: String, patientID: String, questionnaireID: String, version: Int, touchpointID: String?,
                answers: [String: AnswerValue], total: Double?, band: String?, flags: [String], source: ResponseSource,
                recordedBy: String?, submittedAt: Date) {
        self.id = id
        self.programID = programID
        self.patientID = patientID
        self.questionnaireID = questionnaireID
        self.version = version
        self.touchpointID = touchpointID
        self.answers = answers
        self.total = total
        self.band = band
        self.flags = flags
        self.source = source
        self.recordedBy = recordedBy
        self.submittedAt = submittedAt
    }
}

/// Questionnaire responses. Answers are sealed as one JSON document (they hold what patients
/// wrote); total, band and flags stay readable for lists and charts.
public struct ResponseStore: ContextualStore {
    let context: StoreContext

    static let columns = "id, program_id, patient_id, questionnaire_id, version, touchpoint_id, answers_enc, total, band, flags, source, recorded_by, submitted_at"

    static func context(_ programID: String, _ id: String) -> SealContext {
        SealContext(program: programID, table: "questionnaire_responses", column: "answers_enc", row: id)
    }

    /// Stores the response with its `response.record` event, in the caller's transaction.
    /// False when the touchpoint already has a response (the form was sent twice).
    public func record(_ response: QuestionnaireResponse, actor: AuditActor, in sql: any SQLDatabase) async throws -> Bool {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let answers = String(decoding: try encoder.encode(response.answers), as: UTF8.self)
        let sealed = try cipher.seal(answers, for: Self.context(response.programID, response.id))
        let inserted = try await sql.raw("""
            INSERT INTO questionnaire_responses (\(unsafeRaw: Self.columns))
            VALUES (\(bind: response.id), \(bind: response.programID), \(bind: response.patientID), \(bind: response.questionnaireID),
                    \(bind: response.version), \(bind: response.touchpointID), \(bind: sealed), \(bind: response.total), \(bind: response.band),
                    \(bind: response.flags.joined(separator: ",")), \(bind: response.source.rawValue), \(bind: response.recordedBy),
                    \(bind: response.submittedAt.epochMilliseconds))
            ON CONFLICT (touchpoint_id) DO NOTHING RETURNING id
            """).first() != nil
        guard inserted else { return false }
        try await audit.record(.responseRecord, by: actor, program: response.programID, patient: response.patientID, in: sql)
        return true
    }

    /// A patient's responses, newest first (of one questionnaire). Unaudited: the use case audits the read.
    public func list(programID: String, patientID: String, questionnaireID: String? = nil, limit: Int = 100) async throws -> [QuestionnaireResponse] {
        var query = SQLQueryString("SELECT \(Self.columns) FROM questionnaire_responses WHERE patient_id = ")
        query.appendInterpolation(bind: patientID)
        query.appendInterpolation(unsafeRaw: " AND \(database.dialect.unindexed("program_id")) = ")
        query.appendInterpolation(bind: programID)
        if let questionnaireID {
            query.appendLiteral(" AND questionnaire_id = ")
            query.appendInterpolation(bind: questionnaireID)
        }
        query.appendInterpolation(unsafeRaw: " ORDER BY submitted_at DESC, id DESC LIMIT \(max(1, min(limit, 1000)))")
        let finished = query
        return try await database.read { sql in try await sql.raw(finished).all() }.map(response(from:))
    }

    /// Marks an unanswered touchpoint as counted by a missing-data alert, in the alert's transaction.
    public func countMissing(touchpointID: String, programID: String, alertID: String, at: Date, in sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO missing_checkins (touchpoint_id, program_id, alert_id, counted_at)
            VALUES (\(bind: touchpointID), \(bind: programID), \(bind: alertID), \(bind: at.epochMilliseconds)) ON CONFLICT (touchpoint_id) DO NOTHING
            """).run()
    }

    func response(from row: any SQLRow) throws -> QuestionnaireResponse {
        let id = try row.decode(column: "id", as: String.self), programID = try row.decode(column: "program_id", as: String.self)
        let answersText = try cipher.open(try row.decode(column: "answers_enc", as: String.self), for: Self.context(programID, id))
        guard let answers = try? JSONDecoder().decode([String: AnswerValue].self, from: Data(answersText.utf8)),
              let source = ResponseSource(rawValue: try row.decode(column: "source", as: String.self)) else {
            throw StoreCorruption(what: "response \(id) has answers or a source it cannot read")
        }
        let flags = try row.decode(column: "flags", as: String.self)
        return QuestionnaireResponse(
            id: id, programID: programID, patientID: try row.decode(column: "patient_id", as: String.self),
            questionnaireID: try row.decode(column: "questionnaire_id", as: String.self), version: try row.decode(column: "version", as: Int.self),
            touchpointID: try row.decode(column: "touchpoint_id", as: String?.self), answers: answers,
            total: try row.decode(column: "total", as: Double?.self), band: try row.decode(column: "band", as: String?.self),
            flags: flags.isEmpty ? [] : flags.split(separator: ",").map(String.init), source: source,
            recordedBy: try row.decode(column: "recorded_by", as: String?.self),
            submittedAt: Date(epochMilliseconds: try row.decode(column: "submitted_at", as: Int64.self)))
    }

    /// For each of the touchpoints, whether it still waits for its response: sent at or before
    /// `dueBefore` (and after `dueAfter`), with no response from the patient to that
    /// questionnaire since, and not yet counted by a missing-data alert. What such a rule opens alerts for.
    public func unanswered(programID: String, pathwayID: String, stepID: String, questionnaireID: String,
                           dueAfter: Date, dueBefore: Date, limit: Int = 1000) async throws -> [(touchpointID: String, patientID: String)] {
        let dialect = database.dialect
        var query = SQLQueryString("SELECT t.id, t.patient_id FROM touchpoints t JOIN enrolments e ON e.id = t.enrolment_id WHERE ")
        query.appendInterpolation(unsafeRaw: dialect.unindexed("t.step_id"))
        query.appendLiteral(" = ")
        query.appendInterpolation(bind: stepID)
        query.appendInterpolation(unsafeRaw: " AND \(dialect.unindexed("t.program_id")) = ")
        query.appendInterpolation(bind: programID)
        query.appendLiteral(" AND t.status IN ('sent', 'delivered', 'escalated', 'no_response') AND t.due_at > ")
        query.appendInterpolation(bind: dueAfter.epochMilliseconds)
        query.appendLiteral(" AND t.due_at <= ")
        query.appendInterpolation(bind: dueBefore.epochMilliseconds)
        query.appendLiteral(" AND e.pathway_id = ")
        query.appendInterpolation(bind: pathwayID)
        query.appendLiteral(" AND NOT EXISTS (SELECT 1 FROM questionnaire_responses r WHERE r.patient_id = t.patient_id AND r.questionnaire_id = ")
        query.appendInterpolation(bind: questionnaireID)
        query.appendInterpolation(unsafeRaw: " AND r.submitted_at > t.due_at) AND NOT EXISTS (SELECT 1 FROM missing_checkins m WHERE m.touchpoint_id = t.id) ORDER BY t.due_at LIMIT \(max(1, min(limit, 10000)))")
        let finished = query
        return try await database.read { sql in try await sql.raw(finished).all() }.map {
            (try $0.decode(column: "id", as: String.self), try $0.decode(column: "patient_id", as: String.self))
        }
    }
}
