public import Foundation
public import TendCore
public import TendStore

/// Signing in and the credentials of staff accounts. Every change ends in an audit event in
/// its own transaction; a password change or a disabled account ends every session and token.
public struct AccessActions: Sendable {
    let stores: Stores
    let passwords: PasswordHasher
    let signIns: SignInThrottle

    public init(stores: Stores, passwords: PasswordHasher, signIns: SignInThrottle) {
        self.stores = stores
        self.passwords = passwords
        self.signIns = signIns
    }

    public enum SignInOutcome: Sendable {
        case signedIn(secret: String, user: StaffUser)
        /// Wrong email or password, or a disabled account: the same answer for each.
        case refused
    }

    /// Throttled per account and address (429 before any hash when they must wait); a wrong
    /// email costs the same time as a wrong password.
    public func signIn(email rawEmail: String, password rawPassword: String, address: String, lifetime: TimeInterval) async throws -> SignInOutcome {
        let email = String(rawEmail.trimmingCharacters(in: .whitespaces).prefix(254))
        let password = String(rawPassword.unicodeScalars.prefix(Validate.maximumPasswordLength))
        let keys = SignInThrottle.keys(email: email, address: address)
        try signIns.begin(keys)
        let credentials: (user: StaffUser, passwordHash: String)?
        let verified: Bool
        do {
            credentials = try await stores.staff.credentials(email: email)
            verified = try await passwords.verify(password, hash: credentials?.passwordHash ?? PasswordHasher.decoyHash)
        } catch {
            signIns.end(keys, succeeded: false)
            throw error
        }
        guard let credentials, verified, !credentials.user.disabled else {
            signIns.end(keys, succeeded: false)
            return .refused
        }
        signIns.end(keys, succeeded: true)
        let user = credentials.user
        let secret: String = try await stores.database.transaction { sql in
            let (secret, _) = try await stores.sessions.create(userID: user.id, lifetime: lifetime, in: sql)
            try await stores.audit.record(.sessionLogin, by: AuditActor(id: user.id, kind: .staff), program: nil, subject: AuditSubject(type: "staff", id: user.id), in: sql)
            return secret
        }
        return .signedIn(secret: secret, user: user)
    }

    /// A new account, with no program yet.
    public func createAccount(email: String, displayName: String, password: String, platformAdmin: Bool, by actor: AuditActor) async throws -> StaffUser {
        let hash = try await passwords.hash(try Validate.password(password, field: "--password"))
        return try await stores.staff.createUser(email: email, displayName: displayName, passwordHash: hash, isPlatformAdmin: platformAdmin)
    }

    public func createToken(userID: String, name: String, expiresInDays: Int?, roleCeiling: StaffRole?, now: Date, by actor: AuditActor) async throws -> (token: APIToken, secret: String) {
        let expiry = expiresInDays.map { now.addingTimeInterval(Double($0) * 86400) }
        return try await stores.database.transaction { sql in
            let (token, secret) = try await stores.tokens.create(userID: userID, name: name, expiresAt: expiry, roleCeiling: roleCeiling, in: sql)
            try await stores.audit.record(.tokenCreate, by: actor, program: nil, subject: AuditSubject(type: "token", id: token.id), in: sql)
            return (token, secret)
        }
    }

    /// Returns false when the user has no such live token.
    public func revokeToken(id: String, userID: String, by actor: AuditActor) async throws -> Bool {
        try await stores.database.transaction { sql in
            guard try await stores.tokens.revoke(id: id, userID: userID, in: sql) else { return false }
            try await stores.audit.record(.tokenRevoke, by: actor, program: nil, subject: AuditSubject(type: "token", id: id), in: sql)
            return true
        }
    }

    /// The caller changes their own password, proving the current one.
    public func changePassword(user: StaffUser, current: String, new: String, by actor: AuditActor) async throws {
        let newPassword = try Validate.password(new, field: "new_password")
        let keys = SignInThrottle.keys(email: user.email, address: "password-change")
        try signIns.begin(keys)
        let verified: Bool
        do {
            let hash = try await stores.staff.credentials(email: user.email)?.passwordHash ?? PasswordHasher.decoyHash
            verified = try await passwords.verify(current, hash: hash)
        } catch {
            signIns.end(keys, succeeded: false)
            throw error
        }
        signIns.end(keys, succeeded: verified)
        guard verified else { throw TendError.invalid("current_password", .init(en: "is not correct", zh: "不正确"), code: "wrong_password") }
        try await setPassword(userID: user.id, password: newPassword, by: actor)
    }

    /// Sets a password (an operator's reset); every session and token of the account ends.
    public func setPassword(userID: String, password: String, by actor: AuditActor) async throws {
        let hash = try await passwords.hash(try Validate.password(password))
        try await stores.database.transaction { sql in
            try await stores.staff.updatePassword(userID: userID, passwordHash: hash, in: sql)
            try await stores.audit.record(.passwordChange, by: actor, program: nil, subject: AuditSubject(type: "staff", id: userID), in: sql)
        }
    }

    /// Disabling ends the account's sessions and tokens; enabling does not bring them back.
    public func setDisabled(userID: String, disabled: Bool, by actor: AuditActor) async throws {
        try await stores.database.transaction { sql in
            try await stores.staff.setDisabled(userID: userID, disabled: disabled, in: sql)
            try await stores.audit.record(disabled ? .staffDisable : .staffEnable, by: actor, program: nil, subject: AuditSubject(type: "staff", id: userID), in: sql)
        }
    }
}
