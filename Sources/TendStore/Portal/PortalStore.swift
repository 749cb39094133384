public import Foundation
import SQLKit
public import TendCore

/// A signed-in portal browser. The cookie holds the secret; the database holds its hash.
public struct PortalSession: Sendable, Equatable {
    public var programID: String
    /// The phone that signed in with a code (its blind index), or nil for a patient who came
    /// through a link from a message.
    public var phoneKey: String?
    /// The patient a link sign-in is for.
    public var patientID: String?
    public var csrfToken: String
    public var expiresAt: Date
}

/// What trying a one-time code found.
public enum CodeCheck: Sendable, Equatable {
    /// No live code for this phone (never sent, already used, or replaced).
    case none
    case expired
    /// Too many wrong tries: the code is spent.
    case spent
    case wrong(remaining: Int)
    case valid
}

/// A read-only link to a patient's record, as the patient sees it in the portal.
public struct RecordShare: Sendable, Equatable {
    public var id: String
    public var patientID: String
    public var hasPasscode: Bool
    public var createdAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?
    public var lockedAt: Date?
    public var firstOpenedAt: Date?
    public var lastOpenedAt: Date?
    public var openedCount: Int

    public func isLive(at now: Date) -> Bool {
        revokedAt == nil && lockedAt == nil && expiresAt > now
    }
}

/// What opening a shared record found.
public enum ShareCheck: Sendable, Equatable {
    case unknown
    case revoked
    case expired
    case locked
    /// A passcode is asked for; `wrong` after a wrong one (the share now has `remaining` tries).
    case needsPasscode(wrong: Bool, remaining: Int)
    case open(programID: String, patientID: String, shareID: String)
}

/// The portal's own records: sign-in codes, portal sessions and shared-record links. Everything
/// secret is kept as a hash; every write that concerns a patient is audited in its transaction.
public struct PortalStore: ContextualStore {
    let context: StoreContext
    let patients: PatientStore

    /// The blind index a normalised phone is found by in this program.
    public func phoneKey(_ phone: String, program: String) -> String {
        patients.phoneIndex(phone, program: program)
    }

    private func codeHash(_ code: String, codeID: String, program: String) -> String {
        blindIndex.index(code, purpose: "portal-code:\(codeID)", program: program)
    }

    private func passcodeHash(_ passcode: String, shareID: String, program: String) -> String {
        blindIndex.index(passcode, purpose: "share-passcode:\(shareID)", program: program)
    }

    // MARK: Codes

    /// The patients this phone may act for: the patient whose phone it is, and every patient
    /// who named it as a family member's, with the relation.
    public func people(programID: String, phoneKey: String) async throws -> [PortalPerson] {
        try await database.read { sql in
            let own = try await sql.raw("""
                SELECT id FROM patients WHERE program_id = \(bind: programID) AND phone_bidx = \(bind: phoneKey) ORDER BY id
                """).all().map { PortalPerson(patientID: try $0.decode(column: "id", as: String.self), relation: nil) }
            let cared = try await sql.raw("""
                SELECT patient_id, relation FROM sender_identities
                WHERE program_id = \(bind: programID) AND kind = 'caregiver_phone' AND key_bidx = \(bind: phoneKey) ORDER BY patient_id
                """).all().map { PortalPerson(patientID: try $0.decode(column: "patient_id", as: String.self), relation: try $0.decode(column: "relation", as: String?.self)) }
            let ownIDs = Set(own.map(\.patientID))
            return own + cared.filter { !ownIDs.contains($0.patientID) }
        }
    }

    /// How many codes this phone was sent, and this address asked for, in their windows.
    public func recentRequests(programID: String, phoneKey: String, address: String) async throws -> (phone: Int, address: Int) {
        let now = clock.now()
        let phoneSince = now.addingTimeInterval(-PortalPolicy.phoneWindow).epochMilliseconds
        let addressSince = now.addingTimeInterval(-PortalPolicy.addressWindow).epochMilliseconds
        return try await database.read { sql in
            let phone = try await sql.raw("""
                SELECT COUNT(*) AS n FROM portal_codes WHERE program_id = \(bind: programID) AND phone_bidx = \(bind: phoneKey) AND created_at > \(bind: phoneSince)
                """).first()?.decode(column: "n", as: Int.self) ?? 0
            let fromAddress = try await sql.raw("""
                SELECT COUNT(*) AS n FROM portal_codes WHERE address = \(bind: address) AND created_at > \(bind: addressSince)
                """).first()?.decode(column: "n", as: Int.self) ?? 0
            return (phone, fromAddress)
        }
    }

    /// Records a code request; with `code`, the code that was sent (it replaces any earlier one).
    /// Audited for each patient the phone reaches.
    @discardableResult
    public func recordRequest(programID: String, phoneKey: String, address: String, code: String?, reaching people: [PortalPerson]) async throws -> String {
        let now = clock.now()
        let id = ids.next()
        let hash = code.map { codeHash($0, codeID: id, program: programID) }
        let actor = AuditActor(id: phoneKey, kind: .caregiver)
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO portal_codes (id, program_id, phone_bidx, address, code_hash, created_at, expires_at)
                VALUES (\(bind: id), \(bind: programID), \(bind: phoneKey), \(bind: address), \(bind: hash), \(bind: now.epochMilliseconds),
                        \(bind: now.addingTimeInterval(PortalPolicy.codeLifetime).epochMilliseconds))
                """).run()
            for person in people {
                try await audit.record(.portalCodeRequest, by: person.relation == nil ? AuditActor(id: person.patientID, kind: .patient) : actor,
                                       program: programID, subject: .patient(person.patientID), in: sql)
            }
        }
        return id
    }

    /// Tries `code` against the newest code sent to this phone; a right one is used up, a wrong
    /// one counts against it.
    public func check(programID: String, phoneKey: String, code: String) async throws -> CodeCheck {
        let now = clock.now().epochMilliseconds
        return try await database.transaction { sql in
            guard let row = try await sql.raw("""
                SELECT id, code_hash, expires_at, attempts, used_at FROM portal_codes
                WHERE program_id = \(bind: programID) AND phone_bidx = \(bind: phoneKey) AND code_hash IS NOT NULL
                ORDER BY created_at DESC, id DESC LIMIT 1
                """).first() else { return .none }
            let id = try row.decode(column: "id", as: String.self)
            guard try row.decode(column: "used_at", as: Int64?.self) == nil else { return .none }
            guard try row.decode(column: "expires_at", as: Int64.self) > now else { return .expired }
            let attempts = try row.decode(column: "attempts", as: Int.self)
            guard attempts < PortalPolicy.codeAttempts else { return .spent }
            let stored = try row.decode(column: "code_hash", as: String.self)
            if Secrets.constantTimeEquals(stored, self.codeHash(code, codeID: id, program: programID)) {
                try await sql.raw("UPDATE portal_codes SET used_at = \(bind: now) WHERE id = \(bind: id)").run()
                return .valid
            }
            try await sql.raw("UPDATE portal_codes SET attempts = attempts + 1 WHERE id = \(bind: id)").run()
            let remaining = PortalPolicy.codeAttempts - attempts - 1
            return remaining > 0 ? .wrong(remaining: remaining) : .spent
        }
    }

    // MARK: Sessions

    /// Starts a portal session; returns the cookie secret with it. Audited as a sign-in for each
    /// patient the session reaches, in the same transaction.
    public func startSession(programID: String, phoneKey: String?, patientID: String?, reaching people: [PortalPerson],
                             requestID: String?) async throws -> (secret: String, session: PortalSession) {
        let secret = Secrets.random()
        let now = clock.now()
        let session = PortalSession(programID: programID, phoneKey: phoneKey, patientID: patientID, csrfToken: Secrets.random(),
                                    expiresAt: now.addingTimeInterval(PortalPolicy.sessionLifetime))
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO portal_sessions (token_hash, program_id, phone_bidx, patient_id, csrf_token, created_at, expires_at, last_seen_at)
                VALUES (\(bind: Secrets.sha256Hex(secret)), \(bind: programID), \(bind: phoneKey), \(bind: patientID), \(bind: session.csrfToken),
                        \(bind: now.epochMilliseconds), \(bind: session.expiresAt.epochMilliseconds), \(bind: now.epochMilliseconds))
                """).run()
            for person in people {
                try await audit.record(.portalSignIn, by: PortalActor.of(session, person, requestID: requestID), program: programID,
                                       subject: .patient(person.patientID), in: sql)
            }
        }
        return (secret, session)
    }

    /// The live portal session with this secret.
    public func session(secret: String) async throws -> PortalSession? {
        let now = clock.now().epochMilliseconds
        let idleSince = now - Int64(PortalPolicy.sessionIdle * 1000)
        let hash = Secrets.sha256Hex(secret)
        let found = try await database.read { sql -> (PortalSession, Int64)? in
            guard let row = try await sql.raw("""
                SELECT program_id, phone_bidx, patient_id, csrf_token, expires_at, last_seen_at FROM portal_sessions
                WHERE token_hash = \(bind: hash) AND expires_at > \(bind: now) AND last_seen_at > \(bind: idleSince)
                """).first() else { return nil }
            return (PortalSession(programID: try row.decode(column: "program_id", as: String.self),
                                  phoneKey: try row.decode(column: "phone_bidx", as: String?.self),
                                  patientID: try row.decode(column: "patient_id", as: String?.self),
                                  csrfToken: try row.decode(column: "csrf_token", as: String.self),
                                  expiresAt: Date(epochMilliseconds: try row.decode(column: "expires_at", as: Int64.self))),
                    try row.decode(column: "last_seen_at", as: Int64.self))
        }
        guard let (session, lastSeen) = found else { return nil }
        if lastSeen < now - SessionStore.touchInterval {
            try await database.session { sql in
                try await sql.raw("UPDATE portal_sessions SET last_seen_at = \(bind: now) WHERE token_hash = \(bind: hash)").run()
            }
        }
        return session
    }

    public func endSession(secret: String) async throws {
        try await database.session { sql in
            try await sql.raw("DELETE FROM portal_sessions WHERE token_hash = \(bind: Secrets.sha256Hex(secret))").run()
        }
    }

    // MARK: Shares

    /// A new share of the patient's record; returns the link's secret with it.
    public func createShare(programID: String, patientID: String, lifetime: TimeInterval, passcode: String?, by actor: AuditActor) async throws -> (secret: String, share: RecordShare) {
        let now = clock.now()
        let id = ids.next()
        let secret = Secrets.random(bytes: 24)
        let share = RecordShare(id: id, patientID: patientID, hasPasscode: passcode != nil, createdAt: now, expiresAt: now.addingTimeInterval(lifetime),
                                revokedAt: nil, lockedAt: nil, firstOpenedAt: nil, lastOpenedAt: nil, openedCount: 0)
        let passcodeHash = passcode.map { self.passcodeHash($0, shareID: id, program: programID) }
        try await database.transaction { sql in
            let open = try await sql.raw("""
                SELECT COUNT(*) AS n FROM record_shares WHERE program_id = \(bind: programID) AND patient_id = \(bind: patientID)
                AND revoked_at IS NULL AND locked_at IS NULL AND expires_at > \(bind: now.epochMilliseconds)
                """).first()?.decode(column: "n", as: Int.self) ?? 0
            guard open < PortalPolicy.openSharesPerPatient else {
                throw TendError(kind: .conflict, code: "too_many_shares",
                                message: .init(en: "You already have \(PortalPolicy.openSharesPerPatient) open shares; revoke one first",
                                               zh: "您已有\(PortalPolicy.openSharesPerPatient)个有效的分享，请先撤销一个"))
            }
            try await sql.raw("""
                INSERT INTO record_shares (id, program_id, patient_id, token_hash, passcode_hash, created_by_kind, created_at, expires_at)
                VALUES (\(bind: id), \(bind: programID), \(bind: patientID), \(bind: Secrets.sha256Hex(secret)), \(bind: passcodeHash),
                        \(bind: actor.kind.rawValue), \(bind: now.epochMilliseconds), \(bind: share.expiresAt.epochMilliseconds))
                """).run()
            try await audit.record(.shareCreate, by: actor, program: programID, subject: .patient(patientID), in: sql)
        }
        return (secret, share)
    }

    /// The patient's shares, newest first.
    public func shares(programID: String, patientID: String) async throws -> [RecordShare] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT id, patient_id, passcode_hash, created_at, expires_at, revoked_at, locked_at, first_opened_at, last_opened_at, opened_count
                FROM record_shares WHERE program_id = \(bind: programID) AND patient_id = \(bind: patientID) ORDER BY created_at DESC, id DESC LIMIT 100
                """).all().map(Self.share)
        }
    }

    /// Revokes one of the patient's shares at once; false when there is no such live share.
    public func revoke(programID: String, patientID: String, shareID: String, by actor: AuditActor) async throws -> Bool {
        let now = clock.now().epochMilliseconds
        return try await database.transaction { sql in
            let rows = try await sql.raw("""
                UPDATE record_shares SET revoked_at = \(bind: now)
                WHERE id = \(bind: shareID) AND program_id = \(bind: programID) AND patient_id = \(bind: patientID) AND revoked_at IS NULL
                RETURNING id
                """).all()
            guard !rows.isEmpty else { return false }
            try await audit.record(.shareRevoke, by: actor, program: programID, subject: .patient(patientID), in: sql)
            return true
        }
    }

    /// Opens the share behind `secret`: checks it is live and, when it has one, the passcode (a
    /// wrong one counts, the fifth locks the share). An opening is recorded and audited with the
    /// share as the actor, in the same transaction.
    public func open(secret: String, passcode: String?, requestID: String?) async throws -> ShareCheck {
        let now = clock.now().epochMilliseconds
        let hash = Secrets.sha256Hex(secret)
        return try await database.transaction { sql in
            guard let row = try await sql.raw("""
                SELECT id, program_id, patient_id, passcode_hash, expires_at, revoked_at, locked_at, failed_attempts FROM record_shares WHERE token_hash = \(bind: hash)
                """).first() else { return .unknown }
            let id = try row.decode(column: "id", as: String.self)
            let programID = try row.decode(column: "program_id", as: String.self)
            let patientID = try row.decode(column: "patient_id", as: String.self)
            let actor = AuditActor(id: id, kind: .sharedLink, requestID: requestID)
            if try row.decode(column: "revoked_at", as: Int64?.self) != nil { return .revoked }
            if try row.decode(column: "locked_at", as: Int64?.self) != nil { return .locked }
            if try row.decode(column: "expires_at", as: Int64.self) <= now { return .expired }
            if let stored = try row.decode(column: "passcode_hash", as: String?.self) {
                let failed = try row.decode(column: "failed_attempts", as: Int.self)
                guard let passcode else { return .needsPasscode(wrong: false, remaining: PortalPolicy.sharePasscodeAttempts - failed) }
                guard Secrets.constantTimeEquals(stored, self.passcodeHash(passcode, shareID: id, program: programID)) else {
                    let remaining = PortalPolicy.sharePasscodeAttempts - failed - 1
                    if remaining <= 0 {
                        try await sql.raw("UPDATE record_shares SET failed_attempts = failed_attempts + 1, locked_at = \(bind: now) WHERE id = \(bind: id)").run()
                        try await audit.record(.shareLocked, by: actor, program: programID, subject: .patient(patientID), in: sql)
                        return .locked
                    }
                    try await sql.raw("UPDATE record_shares SET failed_attempts = failed_attempts + 1 WHERE id = \(bind: id)").run()
                    return .needsPasscode(wrong: true, remaining: remaining)
                }
            }
            try await sql.raw("""
                UPDATE record_shares SET first_opened_at = COALESCE(first_opened_at, \(bind: now)), last_opened_at = \(bind: now), opened_count = opened_count + 1
                WHERE id = \(bind: id)
                """).run()
            try await audit.record(.shareOpen, by: actor, program: programID, subject: .patient(patientID), in: sql)
            return .open(programID: programID, patientID: patientID, shareID: id)
        }
    }

    static func share(_ row: any SQLRow) throws -> RecordShare {
        func date(_ column: String) throws -> Date? { try row.decode(column: column, as: Int64?.self).map(Date.init(epochMilliseconds:)) }
        return RecordShare(
            id: try row.decode(column: "id", as: String.self), patientID: try row.decode(column: "patient_id", as: String.self),
            hasPasscode: try row.decode(column: "passcode_hash", as: String?.self) != nil,
            createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)),
            expiresAt: Date(epochMilliseconds: try row.decode(column: "expires_at", as: Int64.self)),
            revokedAt: try date("revoked_at"), lockedAt: try date("locked_at"), firstOpenedAt: try date("first_opened_at"),
            lastOpenedAt: try date("last_opened_at"), openedCount: try row.decode(column: "opened_count", as: Int.self))
    }
}

/// Who the audit log names for something done in the portal: the patient, or the family member
/// (by their phone's blind index) acting for them.
public enum PortalActor {
    public static func of(_ session: PortalSession, _ person: PortalPerson, requestID: String?) -> AuditActor {
        if person.relation != nil, let phoneKey = session.phoneKey {
            return AuditActor(id: phoneKey, kind: .caregiver, requestID: requestID)
        }
        return AuditActor(id: person.patientID, kind: .patient, requestID: requestID)
    }
}
