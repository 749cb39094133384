public import Foundation
public import SQLKit
public import TendCore

public enum ConfirmationSource: String, Sendable {
    /// The POST behind the signed link.
    case link
    /// A text reply ("1", "确认", "confirm") through the inbound API.
    case reply
    /// Staff reached the patient on a call task.
    case call
    /// The patient submitted the step's questionnaire.
    case form

    var auditAction: AuditAction {
        switch self {
        case .link: .touchpointConfirmLink
        case .reply: .touchpointConfirmReply
        case .call: .touchpointConfirmCall
        case .form: .touchpointConfirmForm
        }
    }
}

public enum ConfirmationResult: Sendable, Equatable {
    case confirmed(touchpointID: String, cancelledEscalations: Int)
    case alreadyConfirmed(touchpointID: String)
    /// Not sent yet, cancelled, or not a step that asks for confirmation.
    case notConfirmable
}

/// A touchpoint with what showing or sending it needs.
public struct TouchpointContext: Sendable {
    public var touchpoint: Touchpoint
    public var programID: String
    public var pathwayID: String
    public var anchors: [String: LocalDate]
    public var patientName: String
    public var locale: AppLocale
}

/// Confirmations of touchpoints, from whichever side they come, and the escalations they stop.
public struct ConfirmationStore: ContextualStore {
    let context: StoreContext

    static let confirmable: [TouchpointStatus] = [.sent, .delivered, .escalated, .noResponse]

    /// Confirms the touchpoint and cancels every escalation that still waits on it, directly
    /// or down the chain (a confirmed request stops the call task and the voice reminder after it).
    public func confirm(programID: String, touchpointID: String, via source: ConfirmationSource, requireRequest: Bool = true, actor: AuditActor,
                        in joined: (any SQLDatabase)? = nil) async throws -> ConfirmationResult {
        let now = clock.now().epochMilliseconds
        let audit = AuditLog(database: database, clock: clock, ids: ids)
        let dialect = database.dialect
        return try await database.transaction(joining: joined) { sql in
            var query = SQLQueryString("UPDATE touchpoints SET status = 'confirmed', confirmed_at = ")
            query.appendInterpolation(bind: now)
            query.appendLiteral(", updated_at = ")
            query.appendInterpolation(bind: now)
            query.appendLiteral(" WHERE program_id = ")
            query.appendInterpolation(bind: programID)
            query.appendLiteral(" AND id = ")
            query.appendInterpolation(bind: touchpointID)
            query.appendLiteral(" AND status IN (")
            query.appendInterpolation(binds: Self.confirmable.map(\.rawValue))
            query.appendLiteral(")")
            if requireRequest { query.appendLiteral(" AND confirm = 1") }
            query.appendLiteral(" RETURNING enrolment_id, step_id, occurrence, patient_id")
            guard let row = try await sql.raw(query).first() else {
                let current = try await sql.raw("SELECT status FROM touchpoints WHERE program_id = \(bind: programID) AND id = \(bind: touchpointID)").first()
                if try current?.decode(column: "status", as: String.self) == TouchpointStatus.confirmed.rawValue {
                    return .alreadyConfirmed(touchpointID: touchpointID)
                }
                return .notConfirmable
            }
            let enrolmentID = try row.decode(column: "enrolment_id", as: String.self)
            let occurrence = try row.decode(column: "occurrence", as: Int.self)
            var chain: Set<String> = [try row.decode(column: "step_id", as: String.self)]
            var cancelled = 0
            // Walk the escalation chain: steps waiting on a confirmed step, then steps waiting on those.
            for _ in 0..<16 {
                var update = SQLQueryString("UPDATE touchpoints SET status = 'cancelled', last_error = 'confirmed', updated_at = ")
                update.appendInterpolation(bind: now)
                update.appendLiteral(" WHERE ")
                dialect.appendTouchpoints(of: [enrolmentID], to: &update)
                update.appendLiteral(" AND if_unconfirmed IN (")
                update.appendInterpolation(binds: Array(chain))
                update.appendInterpolation(unsafeRaw: ") AND \(dialect.unindexed("status")) IN ('scheduled', 'paused') AND (occurrence = ")
                update.appendInterpolation(bind: occurrence)
                update.appendLiteral(" OR occurrence = 1) RETURNING step_id")
                let next = try await sql.raw(update).all().map { try $0.decode(column: "step_id", as: String.self) }
                cancelled += next.count
                let grown = chain.union(next)
                if grown == chain { break }
                chain = grown
            }
            try await audit.record(source.auditAction, by: actor, program: programID,
                                   patient: try row.decode(column: "patient_id", as: String.self), in: sql)
            return .confirmed(touchpointID: touchpointID, cancelledEscalations: cancelled)
        }
    }

    /// The request a patient's reply answers: their latest sent touchpoint that asks for
    /// confirmation and has not had it.
    public func pendingRequest(programID: String, patientID: String) async throws -> String? {
        let dialect = database.dialect
        return try await database.session { sql in
            var query = SQLQueryString("SELECT id FROM touchpoints WHERE program_id = ")
            query.appendInterpolation(bind: programID)
            query.appendLiteral(" AND ")
            dialect.appendTouchpoints(of: try await EnrolmentStore.enrolmentIDs(sql, programID: programID, patientID: patientID), to: &query)
            query.appendInterpolation(unsafeRaw: " AND confirm = 1 AND \(dialect.unindexed("status")) IN (")
            query.appendInterpolation(binds: Self.confirmable.map(\.rawValue))
            query.appendLiteral(") ORDER BY due_at DESC LIMIT 1")
            return try await sql.raw(query).first()?.decode(column: "id", as: String.self)
        }
    }

    /// A touchpoint with its enrolment and patient, for the confirmation page.
    public func context(touchpointID: String) async throws -> TouchpointContext? {
        guard let row = try await database.session({ sql in
            try await sql.raw("""
                SELECT t.id, t.program_id, t.enrolment_id, t.patient_id, t.step_id, t.occurrence, t.due_at, t.local_due, t.channels, t.kind,
                       t.confirm, t.if_unconfirmed, t.status, t.attempts, e.pathway_id, e.anchors, p.name_enc, p.locale
                FROM touchpoints t JOIN enrolments e ON e.id = t.enrolment_id JOIN patients p ON p.id = t.patient_id
                WHERE t.id = \(bind: touchpointID)
                """).first()
        }) else { return nil }
        return TouchpointContext(
            touchpoint: try EnrolmentStore.touchpoint(from: row),
            programID: try row.decode(column: "program_id", as: String.self),
            pathwayID: try row.decode(column: "pathway_id", as: String.self),
            anchors: EnrolmentStore.decodeAnchors(try row.decode(column: "anchors", as: String.self)),
            patientName: try cipher.open(try row.decode(column: "name_enc", as: String.self),
                                         for: PatientStore.context(try row.decode(column: "program_id", as: String.self), try row.decode(column: "patient_id", as: String.self), "name_enc")),
            locale: AppLocale(rawValue: try row.decode(column: "locale", as: String.self)) ?? .zhHans)
    }
}

/// Signed, expiring links in touchpoints: `/c/<touchpoint>~<expiry>~<mac>` confirms, `/q/…`
/// opens the step's questionnaire. The MAC is keyed by the blind-index key, so links survive a
/// rotation of the encryption key, and it covers the kind, so one kind never opens the other.
public struct ConfirmationLinks: Sendable {
    public enum Kind: Sendable {
        case confirm
        case form

        var path: String { self == .confirm ? "c" : "q" }
        var purpose: String { self == .confirm ? "confirm-link" : "form-link" }
    }

    let signer: BlindIndexer
    public let publicURL: String

    public init(signer: BlindIndexer, publicURL: String) {
        self.signer = signer
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
    }

    public func token(_ kind: Kind = .confirm, touchpointID: String, expires: Date) -> String {
        let expiry = String(expires.epochMilliseconds / 1000, radix: 36)
        return "\(touchpointID)~\(expiry)~\(mac(kind, touchpointID, expiry))"
    }

    public func url(_ kind: Kind = .confirm, touchpointID: String, expires: Date) -> String {
        "\(publicURL)/\(kind.path)/\(token(kind, touchpointID: touchpointID, expires: expires))"
    }

    public enum Verification: Sendable, Equatable {
        case valid(touchpointID: String)
        case expired(touchpointID: String)
        case invalid
    }

    public func verify(_ token: String, _ kind: Kind = .confirm, now: Date) -> Verification {
        let parts = token.split(separator: "~").map(String.init)
        guard parts.count == 3, let seconds = Int64(parts[1], radix: 36) else { return .invalid }
        let expected = mac(kind, parts[0], parts[1])
        // Compare without an early exit so timing says nothing about the MAC.
        guard expected.utf8.count == parts[2].utf8.count,
              zip(expected.utf8, parts[2].utf8).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else { return .invalid }
        return now.epochMilliseconds / 1000 > seconds ? .expired(touchpointID: parts[0]) : .valid(touchpointID: parts[0])
    }

    private func mac(_ kind: Kind, _ touchpointID: String, _ expiry: String) -> String {
        String(signer.index("\(touchpointID)|\(expiry)", purpose: kind.purpose).prefix(32))
    }
}
