import SQLKit
public import TendCore
public import TendStore

/// Programs and their teams: each action checks, writes and audits in one transaction.
public struct ProgramActions: Sendable {
    let stores: Stores
    let passwords: PasswordHasher

    public init(stores: Stores, passwords: PasswordHasher) {
        self.stores = stores
        self.passwords = passwords
    }

    public func create(slug: String, name: String, by actor: AuditActor) async throws -> Program {
        try await stores.database.transaction { sql in
            let program = try await stores.programs.create(slug: slug, name: name, in: sql)
            try await stores.audit.record(.programCreate, by: actor, program: program.id, subject: AuditSubject(type: "program", id: program.id), in: sql)
            return program
        }
    }

    /// Adds a staff member to the program, creating the account when the email has none, or
    /// changes their role. A caller who is not a member (a platform admin running the team)
    /// may not add themselves: they manage teams, not patients.
    public func setMember(programID: String, email rawEmail: String, role: StaffRole, newAccountName: String, newAccountPassword: String,
                          callerID: String?, callerIsMember: Bool, by actor: AuditActor) async throws -> ProgramMember {
        let email = try Validate.email(rawEmail)
        let name = try Validate.name(newAccountName, field: "display_name")
        let password = try Validate.password(newAccountPassword)
        let existing = try await stores.staff.credentials(email: email)?.user
        if !callerIsMember, let existing, existing.id == callerID { throw TendError.forbidden }
        if let existing { try await keepsAnAdmin(programID: programID, changing: existing.id, to: role) }
        let hash = existing == nil ? try await passwords.hash(password) : nil
        return try await stores.database.transaction { sql in
            let user: StaffUser
            if let existing {
                user = existing
            } else {
                user = try await stores.staff.createUser(email: email, displayName: name, passwordHash: hash ?? "", in: sql)
            }
            try await setRole(programID: programID, userID: user.id, role: role, by: actor, in: sql)
            return ProgramMember(user: user, role: role)
        }
    }

    /// Gives an existing account this role in the program.
    public func setRole(programID: String, userID: String, role: StaffRole, by actor: AuditActor) async throws {
        try await keepsAnAdmin(programID: programID, changing: userID, to: role)
        try await stores.database.transaction { sql in try await setRole(programID: programID, userID: userID, role: role, by: actor, in: sql) }
    }

    /// A program keeps at least one admin: the last one may not leave or step down.
    private func keepsAnAdmin(programID: String, changing userID: String, to role: StaffRole?) async throws {
        guard role != .admin else { return }
        let admins = try await stores.staff.members(programID: programID).filter { $0.role == .admin }.map(\.user.id)
        if admins == [userID] {
            throw TendError(kind: .conflict, code: "last_admin", message: .init(
                en: "This is the program's only admin; make someone else admin first", zh: "这是本项目唯一的管理员，请先任命其他管理员"), field: "role")
        }
    }

    private func setRole(programID: String, userID: String, role: StaffRole, by actor: AuditActor, in sql: any SQLDatabase) async throws {
        try await stores.staff.setMembership(userID: userID, programID: programID, role: role, in: sql)
        try await stores.audit.record(.membershipSet, by: actor, program: programID, subject: AuditSubject(type: "staff", id: userID), in: sql)
    }

    /// Returns false when the user is not a member.
    public func removeMember(programID: String, userID: String, by actor: AuditActor) async throws -> Bool {
        try await keepsAnAdmin(programID: programID, changing: userID, to: nil)
        return try await stores.database.transaction { sql in
            guard try await stores.staff.removeMembership(userID: userID, programID: programID, in: sql) else { return false }
            try await stores.audit.record(.membershipRemove, by: actor, program: programID, subject: AuditSubject(type: "staff", id: userID), in: sql)
            return true
        }
    }

    /// A program's channel settings, held to the outbound policy.
    public func setChannel(programID: String, _ config: ChannelConfig, policy: OutboundPolicy, by actor: AuditActor) async throws {
        try await stores.database.transaction { sql in
            try await stores.channels.set(programID: programID, config, policy: policy, in: sql)
            try await stores.audit.record(.channelSet, by: actor, program: programID, subject: AuditSubject(type: "channel", id: config.channel.rawValue), in: sql)
        }
    }

    /// The program's own triage rules, thresholds, answers and on-call member.
    public func setTriageSettings(programID: String, _ settings: ProgramTriageSettings, by actor: AuditActor) async throws {
        if let staff = settings.onCallStaffID, try await stores.staff.role(userID: staff, programID: programID) == nil {
            throw TendError.notFound("staff member")
        }
        try await stores.database.transaction { sql in
            try await stores.messages.saveSettings(programID: programID, settings, in: sql)
            try await stores.audit.record(.triageSettings, by: actor, program: programID, subject: AuditSubject(type: "program", id: programID), in: sql)
        }
    }

    /// A new version of a pathway.
    /// Saves a pathway version; a step naming a questionnaire the program cannot use (neither
    /// its own nor a shipped one) is refused with the step's line.
    public func savePathway(programID: String, _ pathway: Pathway, source: String, by actor: AuditActor) async throws -> StoredPathway {
        for step in pathway.steps {
            guard let name = step.questionnaire, !ShippedQuestionnaires.names.contains(name) else { continue }
            guard try await stores.questionnaires.find(programID: programID, id: name) != nil else {
                throw TendError(kind: .invalidInput, code: "invalid_pathway", message: .init(
                    en: "line \(step.line): step \(step.id) names questionnaire \(name.prefix(60)), which the program does not have (add it first, or use a shipped one: \(ShippedQuestionnaires.names.joined(separator: ", ")))",
                    zh: "第 \(step.line) 行：步骤 \(step.id) 引用的问卷 \(name.prefix(60)) 不存在（请先添加，或使用内置问卷：\(ShippedQuestionnaires.names.joined(separator: "、"))）"),
                                field: "body")
            }
        }
        return try await stores.database.transaction { sql in
            let stored = try await stores.pathways.save(programID: programID, pathway: pathway, source: source, in: sql)
            try await stores.audit.record(.pathwaySave, by: actor, program: programID, subject: AuditSubject(type: "pathway", id: stored.id), in: sql)
            return stored
        }
    }
}
