public import Foundation
import SQLKit
public import TendCore

/// A due touchpoint under this worker's lease, with what sending it needs.
public struct ClaimedTouchpoint: Sendable {
    public var touchpoint: Touchpoint
    public var programID: String
    public var pathwayID: String
    public var anchors: [String: LocalDate]
    public var patientName: String
    public var patientPhone: String?
    /// The patient's channel preferences, in order: the fallback when none of the step's is set up.
    public var patientChannels: [ContactChannel]
    public var locale: AppLocale
    /// For an escalation step: the id and status of the touchpoint it escalates.
    public var escalates: (id: String, status: TouchpointStatus)?
}

/// What became of one claimed touchpoint, recorded in one transaction with the others of
/// its batch.
public struct DispatchOutcome: Sendable {
    public enum Result: Sendable, Equatable {
        case delivered(ContactChannel)
        case sent(ContactChannel)
        /// A staff task stands in for the message (call steps, voice without a provider).
        case taskCreated(ContactChannel?)
        case retry(at: Date, error: String, channel: ContactChannel?)
        case failed(error: String, channel: ContactChannel?)
        /// Back in the queue without counting an attempt (a channel's rate limit).
        case deferred(until: Date)
        /// An escalation whose confirmation arrived: nothing to do.
        case notNeeded
    }

    public var touchpointID: String
    public var programID: String
    public var patientID: String
    public var result: Result
    /// The in-app message for the patient's portal inbox.
    public var portalMessage: String?
    /// A staff task to create with the outcome (its id is derived from the touchpoint's).
    public var task: StaffTask?
    /// The touchpoint this one escalated, marked `escalated`.
    public var escalated: String?

    public init(touchpointID: String, programID: String, patientID: String, result: Result, portalMessage: String? = nil, task: StaffTask? = nil, escalated: String? = nil) {
        self.touchpointID = touchpointID
        self.programID = programID
        self.patientID = patientID
        self.result = result
        self.portalMessage = portalMessage
        self.task = task
        self.escalated = escalated
    }
}

/// Claim-and-lease over the touchpoints table. A claim marks due touchpoints with this
/// worker's name and a lease end; a worker that dies leaves leases that simply run out.
/// PostgreSQL claims with `FOR UPDATE SKIP LOCKED` so several workers share the queue;
/// SQLite has one writer, and `BEGIN IMMEDIATE` serialises claims.
public struct DispatchStore: ContextualStore {
    let context: StoreContext
    let tasks: TaskStore

    /// Leases up to `limit` touchpoints due by `dueBy` whose lease (or retry wait) ended by
    /// `leaseNow`, and returns them with their patient and enrolment.
    public func claim(dueBy: Date, leaseNow: Date, leaseUntil: Date, owner: String, limit: Int) async throws -> [ClaimedTouchpoint] {
        let lock = database.dialect.skipLocked
        let rows = try await database.transaction { sql in
            let claimed = try await sql.raw("""
                UPDATE touchpoints SET lease_owner = \(bind: owner), lease_until = \(bind: leaseUntil.epochMilliseconds)
                WHERE id IN (
                    SELECT id FROM touchpoints
                    WHERE status = 'scheduled' AND due_at <= \(bind: dueBy.epochMilliseconds)
                      AND (lease_until IS NULL OR lease_until <= \(bind: leaseNow.epochMilliseconds))
                    ORDER BY due_at LIMIT \(unsafeRaw: String(limit))\(unsafeRaw: lock))
                RETURNING id
                """).all().map { try $0.decode(column: "id", as: String.self) }
            guard !claimed.isEmpty else { return [any SQLRow]() }
            return try await sql.raw("""
                SELECT t.id, t.program_id, t.enrolment_id, t.patient_id, t.step_id, t.occurrence, t.due_at, t.local_due, t.channels, t.kind,
                       t.confirm, t.if_unconfirmed, t.status, t.attempts, e.pathway_id, e.anchors, p.name_enc, p.phone_enc, p.locale, p.channels AS patient_channels
                FROM touchpoints t JOIN enrolments e ON e.id = t.enrolment_id JOIN patients p ON p.id = t.patient_id
                WHERE t.id IN (\(binds: claimed)) ORDER BY t.due_at, t.id
                """).all()
        }
        var claimed: [ClaimedTouchpoint] = []
        claimed.reserveCapacity(rows.count)
        for row in rows {
            let touchpoint = try EnrolmentStore.touchpoint(from: row)
            let programID = try row.decode(column: "program_id", as: String.self)
            claimed.append(ClaimedTouchpoint(
                touchpoint: touchpoint,
                programID: programID,
                pathwayID: try row.decode(column: "pathway_id", as: String.self),
                anchors: EnrolmentStore.decodeAnchors(try row.decode(column: "anchors", as: String.self)),
                patientName: try cipher.open(try row.decode(column: "name_enc", as: String.self), for: PatientStore.context(programID, touchpoint.patientID, "name_enc")),
                patientPhone: try row.decode(column: "phone_enc", as: String?.self).map { try cipher.open($0, for: PatientStore.context(programID, touchpoint.patientID, "phone_enc")) },
                patientChannels: try row.decode(column: "patient_channels", as: String.self).split(separator: ",").compactMap { ContactChannel(rawValue: String($0)) },
                locale: AppLocale(rawValue: try row.decode(column: "locale", as: String.self)) ?? .zhHans))
        }
        try await attachEscalated(&claimed)
        return claimed
    }

    /// An escalation step escalates the same occurrence of the step it names, or its only
    /// occurrence when that step does not repeat.
    private func attachEscalated(_ claimed: inout [ClaimedTouchpoint]) async throws {
        var candidates: [String] = []
        for item in claimed {
            guard let step = item.touchpoint.ifUnconfirmed else { continue }
            candidates.append(Touchpoint.id(enrolmentID: item.touchpoint.enrolmentID, stepID: step, occurrence: item.touchpoint.occurrence))
            candidates.append(Touchpoint.id(enrolmentID: item.touchpoint.enrolmentID, stepID: step, occurrence: 1))
        }
        guard !candidates.isEmpty else { return }
        let lookup = Array(Set(candidates))
        let statuses: [String: TouchpointStatus] = try await database.session { sql in
            var found: [String: TouchpointStatus] = [:]
            for row in try await sql.raw("SELECT id, status FROM touchpoints WHERE id IN (\(binds: lookup))").all() {
                found[try row.decode(column: "id", as: String.self)] = TouchpointStatus(rawValue: try row.decode(column: "status", as: String.self))
            }
            return found
        }
        for index in claimed.indices {
            let touchpoint = claimed[index].touchpoint
            guard let step = touchpoint.ifUnconfirmed else { continue }
            for occurrence in [touchpoint.occurrence, 1] {
                let id = Touchpoint.id(enrolmentID: touchpoint.enrolmentID, stepID: step, occurrence: occurrence)
                if let status = statuses[id] {
                    claimed[index].escalates = (id, status)
                    break
                }
            }
        }
    }

    /// Writes a batch's outcomes in one transaction, for the touchpoints this worker still
    /// holds: if its lease ran out and another worker took one over, that worker records it —
    /// its status, and any follow-up task or portal message.
    public func record(_ outcomes: [DispatchOutcome], owner: String, at now: Date) async throws {
        guard !outcomes.isEmpty else { return }
        let nowMs = now.epochMilliseconds
        let sealedMessages = try outcomes.map { outcome in
            try outcome.portalMessage.map { try cipher.seal($0, for: ChannelStore.portalContext(outcome.programID, outcome.touchpointID)) }
        }
        let tasks = self.tasks, dialect = database.dialect
        try await database.transaction { sql in
            let held = try await Self.held(sql, outcomes.map(\.touchpointID), by: owner, dialect: dialect)
            var finishedGroups: [String: [String]] = [:] // "status|channel" → ids
            var retried: [DispatchOutcome] = []
            var sealedPortal: [(DispatchOutcome, String)] = []
            var created: [StaffTask] = []
            var escalations: [String] = []
            for (outcome, sealed) in zip(outcomes, sealedMessages) where held.contains(outcome.touchpointID) {
                switch outcome.result {
                case .delivered(let channel): finishedGroups["delivered|\(channel.rawValue)", default: []].append(outcome.touchpointID)
                case .sent(let channel): finishedGroups["sent|\(channel.rawValue)", default: []].append(outcome.touchpointID)
                case .taskCreated(let channel): finishedGroups["sent|\((channel ?? .inApp) == .voice ? "voice" : "task")", default: []].append(outcome.touchpointID)
                case .notNeeded: finishedGroups["cancelled|", default: []].append(outcome.touchpointID)
                case .retry, .failed, .deferred: retried.append(outcome)
                }
                if let sealed { sealedPortal.append((outcome, sealed)) }
                if let task = outcome.task { created.append(task) }
                if let id = outcome.escalated { escalations.append(id) }
            }
            for (key, ids) in finishedGroups.sorted(by: { $0.key < $1.key }) {
                let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                let channel: String? = parts[1].isEmpty ? nil : parts[1]
                for start in stride(from: 0, to: ids.count, by: 1000) {
                    let slice = Array(ids[start..<min(start + 1000, ids.count)])
                    try await sql.raw("""
                        UPDATE touchpoints SET status = \(bind: parts[0]), channel = \(bind: channel), sent_at = \(bind: parts[0] == "cancelled" ? nil : nowMs),
                               lease_owner = NULL, lease_until = NULL, last_error = \(bind: parts[0] == "cancelled" ? "confirmed before escalation" : nil),
                               attempts = attempts + \(unsafeRaw: parts[0] == "cancelled" ? "0" : "1"), updated_at = \(bind: nowMs)
                        WHERE id IN (\(binds: slice)) AND lease_owner = \(bind: owner)
                        """).run()
                }
            }
            for outcome in retried {
                switch outcome.result {
                case .retry(let at, let error, let channel):
                    try await sql.raw("""
                        UPDATE touchpoints SET attempts = attempts + 1, lease_owner = NULL, lease_until = \(bind: at.epochMilliseconds),
                               last_error = \(bind: error), channel = \(bind: channel?.rawValue), updated_at = \(bind: nowMs)
                        WHERE id = \(bind: outcome.touchpointID) AND lease_owner = \(bind: owner)
                        """).run()
                case .failed(let error, let channel):
                    try await sql.raw("""
                        UPDATE touchpoints SET status = 'failed', attempts = attempts + 1, lease_owner = NULL, lease_until = NULL,
                               last_error = \(bind: error), channel = \(bind: channel?.rawValue), updated_at = \(bind: nowMs)
                        WHERE id = \(bind: outcome.touchpointID) AND lease_owner = \(bind: owner)
                        """).run()
                case .deferred(let until):
                    try await sql.raw("""
                        UPDATE touchpoints SET lease_owner = NULL, lease_until = \(bind: until.epochMilliseconds), updated_at = \(bind: nowMs)
                        WHERE id = \(bind: outcome.touchpointID) AND lease_owner = \(bind: owner)
                        """).run()
                default: break
                }
            }
            try await MultiRowInsert("INSERT INTO portal_messages (id, program_id, patient_id, touchpoint_id, body_enc, created_at)", tail: "ON CONFLICT (id) DO NOTHING")
                .run(sql, rows: sealedPortal.map { outcome, sealed in [outcome.touchpointID, outcome.programID, outcome.patientID, outcome.touchpointID, sealed, nowMs] })
            for task in created {
                try await tasks.insert(sql, task)
            }
            if !escalations.isEmpty {
                try await sql.raw("""
                    UPDATE touchpoints SET status = 'escalated', updated_at = \(bind: nowMs)
                    WHERE id IN (\(binds: escalations)) AND status IN ('sent', 'delivered', 'failed', 'skipped', 'no_response')
                    """).run()
            }
        }
    }

    /// Which of these touchpoints this worker still holds, locked until the transaction ends
    /// so no other worker can take one over meanwhile.
    static func held(_ sql: any SQLDatabase, _ ids: [String], by owner: String, dialect: StorageDialect) async throws -> Set<String> {
        var held = Set<String>()
        for start in stride(from: 0, to: ids.count, by: 1000) {
            let slice = Array(ids[start..<min(start + 1000, ids.count)])
            for row in try await sql.raw("""
                SELECT id FROM touchpoints WHERE id IN (\(binds: slice)) AND lease_owner = \(bind: owner)\(unsafeRaw: dialect.lockingRead)
                """).all() {
                held.insert(try row.decode(column: "id", as: String.self))
            }
        }
        return held
    }

    /// Touchpoints still leased (by anyone): zero once every worker finished cleanly.
    public func leasedCount() async throws -> Int {
        try await database.session { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM touchpoints WHERE lease_owner IS NOT NULL").first()!.decode(column: "n", as: Int.self)
        }
    }

    /// Due touchpoints not yet sent, and of those how many wait for a retry.
    public func pendingCount(dueBy: Date) async throws -> Int {
        try await database.session { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM touchpoints WHERE status = 'scheduled' AND due_at <= \(bind: dueBy.epochMilliseconds)")
                .first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// The earliest moment (on the lease clock) a leased or waiting due touchpoint can be
    /// claimed again; nil when none waits.
    public func nextRetry(dueBy: Date) async throws -> Date? {
        try await database.session { sql in
            try await sql.raw("""
                SELECT MIN(lease_until) AS next FROM touchpoints
                WHERE status = 'scheduled' AND due_at <= \(bind: dueBy.epochMilliseconds) AND lease_until IS NOT NULL
                """).first()?.decode(column: "next", as: Int64?.self).map(Date.init(epochMilliseconds:))
        }
    }
}
