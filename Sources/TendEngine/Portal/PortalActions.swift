public import Foundation
public import TendCore
public import TendStore

/// Someone signed in to the portal, with the patients they may act for (resolved at every
/// request, so a family member taken off a patient's profile loses access at once).
public struct PortalVisitor: Sendable {
    public var session: PortalSession
    public var program: Program
    public var people: [PortalPerson]
    /// The patients' names and languages, by id, for choosing whom to act for.
    public var patients: [String: Patient]

    /// The person entry for this patient, or nil when the visitor may not act for them.
    public func person(_ patientID: String) -> PortalPerson? {
        people.first { $0.patientID == patientID }
    }

    public func actor(for person: PortalPerson, requestID: String?) -> AuditActor {
        PortalActor.of(session, person, requestID: requestID)
    }
}

/// A touchpoint as the patient sees it, with the link that acts on it when one is due.
public struct PortalItem: Sendable {
    public var touchpoint: Touchpoint
    public var title: String
    public var message: String
    /// `/c/<token>` to confirm, or `/q/<token>` for a questionnaire, when the patient has one to act on.
    public var actionPath: String?
    public var isQuestionnaire: Bool
}

/// The patient's side of the portal: everything a patient or family member can see and do,
/// each read audited with them as the actor.
public struct PortalHome: Sendable {
    public var patient: Patient
    public var today: [PortalItem]
    public var toConfirm: [PortalItem]
    public var questionnaires: [PortalItem]
}

public struct PortalRecord: Sendable {
    public var patient: Patient
    public var enrolments: [Enrolment]
    public var pathways: [String: StoredPathway]
    /// Past touchpoints, newest first (the treatment history: cycles, visits, check-ins).
    public var history: [PortalItem]
    public var observations: [ObservationPoint]
    public var responses: [QuestionnaireResponse]
}

public struct PortalConversation: Sendable {
    public var patient: Patient
    public var delivered: [PortalMessage]
    public var thread: [StoredMessage]
}

public struct PortalActions: Sendable {
    let stores: Stores
    let channels: any ChannelFactory
    let links: ConfirmationLinks
    let messages: MessageActions
    let patients: PatientActions
    /// How long the links the portal shows for acting on a touchpoint stay valid.
    static let actionLinkLifetime: TimeInterval = 2 * 3600

    public init(stores: Stores, channels: any ChannelFactory, links: ConfirmationLinks, messages: MessageActions, patients: PatientActions) {
        self.stores = stores
        self.channels = channels
        self.links = links
        self.messages = messages
        self.patients = patients
    }

    // MARK: Signing in

    public enum CodeRequest: Sendable, Equatable {
        /// Said whether or not the phone is known, so the page tells nobody who is registered.
        case sent
        case throttled
        /// The program has no SMS channel: sign in through a link from a message instead.
        case noChannel
        case sendFailed
    }

    public func program(slug: String) async throws -> Program {
        guard let program = try await stores.programs.find(slug: slug) else { throw TendError.notFound("program") }
        return program
    }

    /// Sends a sign-in code to `phone` through the program's SMS channel when the phone belongs
    /// to a patient or a family member someone named; throttled per phone and per address.
    public func requestCode(programSlug: String, phone raw: String, address: String) async throws -> CodeRequest {
        let program = try await program(slug: programSlug)
        guard let phone = try PatientFields.phone(raw, field: "phone") else { throw TendError.missing("phone") }
        let key = stores.portal.phoneKey(phone, program: program.id)
        let recent = try await stores.portal.recentRequests(programID: program.id, phoneKey: key, address: address)
        guard recent.phone < PortalPolicy.codesPerPhone, recent.address < PortalPolicy.codesPerAddress else { return .throttled }
        guard let sms = try await stores.channels.list(programID: program.id).first(where: { $0.channel == .sms }) else { return .noChannel }
        let people = try await stores.portal.people(programID: program.id, phoneKey: key)
        guard let first = people.first, let patient = try await stores.patients.fetch(programID: program.id, ids: [first.patientID]).first else {
            try await stores.portal.recordRequest(programID: program.id, phoneKey: key, address: address, code: nil, reaching: [])
            return .sent
        }
        var generator = SystemRandomNumberGenerator()
        let code = String(format: "%06d", Int.random(in: 0..<1_000_000, using: &generator))
        let codeID = try await stores.portal.recordRequest(programID: program.id, phoneKey: key, address: address, code: code, reaching: people)
        let text = LocalizedText(en: "\(program.name): your sign-in code is \(code). It is valid for 10 minutes. Do not share it.",
                                 zh: "【\(program.name)】您的登录验证码是 \(code)，10分钟内有效，请勿告诉他人。").text(in: patient.profile.locale)
        let message = OutboundMessage(idempotencyKey: codeID, programID: program.id, patientID: first.patientID, phone: phone,
                                      locale: patient.profile.locale, stepID: "portal-code", dueAt: stores.clock.now(), text: text, confirmURL: nil)
        switch await channels.channel(for: sms).send(message) {
        case .sent: return .sent
        default: return .sendFailed
        }
    }

    public enum SignIn: Sendable {
        case signedIn(secret: String, visitor: PortalVisitor)
        case refused(CodeCheck)
    }

    /// Signs in with the code sent to `phone`.
    public func signIn(programSlug: String, phone raw: String, code rawCode: String, requestID: String?) async throws -> SignIn {
        let program = try await program(slug: programSlug)
        guard let phone = try PatientFields.phone(raw, field: "phone") else { throw TendError.missing("phone") }
        let code = try PortalPolicy.code(rawCode)
        let key = stores.portal.phoneKey(phone, program: program.id)
        let check = try await stores.portal.check(programID: program.id, phoneKey: key, code: code)
        guard check == .valid else { return .refused(check) }
        let people = try await stores.portal.people(programID: program.id, phoneKey: key)
        guard !people.isEmpty else { return .refused(.none) }
        let (secret, session) = try await stores.portal.startSession(programID: program.id, phoneKey: key, patientID: nil, reaching: people, requestID: requestID)
        return .signedIn(secret: secret, visitor: try await visitor(session, program: program, people: people))
    }

    /// Signs in the patient a confirmation or questionnaire link from a message was sent to.
    public func enter(link token: String, requestID: String?) async throws -> (secret: String, visitor: PortalVisitor)? {
        let now = stores.clock.now()
        var touchpointID: String?
        for kind in [ConfirmationLinks.Kind.confirm, .form] {
            if case .valid(let id) = links.verify(token, kind, now: now) { touchpointID = id }
        }
        guard let touchpointID, let found = try await stores.confirmations.context(touchpointID: touchpointID),
              let program = try await stores.programs.all().first(where: { $0.id == found.programID }) else { return nil }
        let person = PortalPerson(patientID: found.touchpoint.patientID, relation: nil)
        let (secret, session) = try await stores.portal.startSession(programID: program.id, phoneKey: nil, patientID: person.patientID, reaching: [person],
                                                                    requestID: requestID)
        return (secret, try await visitor(session, program: program, people: [person]))
    }

    /// The visitor behind a portal cookie, or nil when the session is over.
    public func visitor(secret: String) async throws -> PortalVisitor? {
        guard let session = try await stores.portal.session(secret: secret),
              let program = try await stores.programs.all().first(where: { $0.id == session.programID }) else { return nil }
        let people: [PortalPerson] = if let key = session.phoneKey {
            try await stores.portal.people(programID: program.id, phoneKey: key)
        } else {
            session.patientID.map { [PortalPerson(patientID: $0, relation: nil)] } ?? []
        }
        return try await visitor(session, program: program, people: people)
    }

    private func visitor(_ session: PortalSession, program: Program, people: [PortalPerson]) async throws -> PortalVisitor {
        let found = try await stores.patients.fetch(programID: program.id, ids: people.map(\.patientID))
        return PortalVisitor(session: session, program: program, people: people, patients: Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    public func signOut(secret: String) async throws {
        try await stores.portal.endSession(secret: secret)
    }

    // MARK: Pages

    private func access(_ visitor: PortalVisitor, _ patientID: String) throws -> (PortalPerson, Patient) {
        guard let person = visitor.person(patientID), let patient = visitor.patients[patientID] else { throw TendError.notFound("patient") }
        return (person, patient)
    }

    public func home(_ visitor: PortalVisitor, patientID: String, language: AppLocale? = nil, requestID: String?) async throws -> PortalHome {
        let (person, patient) = try access(visitor, patientID)
        let items = try await self.items(visitor.program, patient: patient, language: language)
        try await stores.audit.recordRead(.portalHomeRead, by: visitor.actor(for: person, requestID: requestID), program: visitor.program.id, subject: .patient(patientID))
        let zone = TimeZone(identifier: patient.profile.timeZone) ?? .gmt
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let now = stores.clock.now()
        let today = items.filter { calendar.isDate($0.touchpoint.dueAt, inSameDayAs: now) && !$0.touchpoint.isTask }
        return PortalHome(patient: patient, today: today,
                          toConfirm: items.filter { $0.actionPath != nil && !$0.isQuestionnaire },
                          questionnaires: items.filter { $0.actionPath != nil && $0.isQuestionnaire })
    }

    public func schedule(_ visitor: PortalVisitor, patientID: String, language: AppLocale? = nil, requestID: String?) async throws -> (patient: Patient, coming: [PortalItem], past: [PortalItem]) {
        let (person, patient) = try access(visitor, patientID)
        let items = try await self.items(visitor.program, patient: patient, language: language).filter { !$0.touchpoint.isTask }
        try await stores.audit.recordRead(.portalScheduleRead, by: visitor.actor(for: person, requestID: requestID), program: visitor.program.id, subject: .patient(patientID))
        let now = stores.clock.now()
        let pending: Set<TouchpointStatus> = [.scheduled, .paused]
        let coming = items.filter { pending.contains($0.touchpoint.status) && $0.touchpoint.dueAt >= now.addingTimeInterval(-86400) }
        let past = items.filter { !pending.contains($0.touchpoint.status) }.reversed()
        return (patient, coming, Array(past))
    }

    /// The patient's touchpoints in due order, each with its text in the patient's language and,
    /// when it waits on them, a fresh link to act on it.
    private func items(_ program: Program, patient: Patient, language: AppLocale?) async throws -> [PortalItem] {
        let touchpoints = try await stores.enrolments.schedule(programID: program.id, patientID: patient.id)
        let enrolments = try await stores.enrolments.enrolments(programID: program.id, patientID: patient.id)
        var pathways: [String: StoredPathway] = [:]
        for enrolment in enrolments where pathways[enrolment.pathwayID] == nil {
            pathways[enrolment.pathwayID] = try await stores.pathways.find(programID: program.id, id: enrolment.pathwayID)
        }
        let pathwayOf = Dictionary(enrolments.map { ($0.id, $0.pathwayID) }, uniquingKeysWith: { a, _ in a })
        let waiting: Set<TouchpointStatus> = [.sent, .delivered, .escalated, .noResponse]
        let expires = stores.clock.now().addingTimeInterval(Self.actionLinkLifetime)
        let locale = language ?? patient.profile.locale
        return touchpoints.compactMap { touchpoint in
            guard let pathwayID = pathwayOf[touchpoint.enrolmentID], let pathway = pathways[pathwayID],
                  let step = pathway.pathway.step(touchpoint.stepID) else { return nil }
            let values = TouchpointMessage.values(patientName: patient.profile.name, programName: program.name, touchpoint: touchpoint, anchors: [:], confirmLink: nil)
            let isQuestionnaire = step.questionnaire != nil
            var action: String?
            if waiting.contains(touchpoint.status) {
                if isQuestionnaire {
                    action = "/q/" + links.token(.form, touchpointID: touchpoint.id, expires: expires)
                } else if touchpoint.confirm {
                    action = "/c/" + links.token(touchpointID: touchpoint.id, expires: expires)
                }
            }
            return PortalItem(touchpoint: touchpoint, title: pathway.pathway.name.text(in: locale),
                              message: TouchpointMessage.text(of: step, in: locale, values: values), actionPath: action, isQuestionnaire: isQuestionnaire)
        }
    }

    public func conversation(_ visitor: PortalVisitor, patientID: String, requestID: String?) async throws -> PortalConversation {
        let (person, patient) = try access(visitor, patientID)
        let delivered = try await stores.channels.inbox(programID: visitor.program.id, patientID: patientID)
        let thread = try await stores.messages.thread(programID: visitor.program.id, patientID: patientID).filter { $0.groupID == nil }
        try await stores.audit.recordRead(.portalInboxRead, by: visitor.actor(for: person, requestID: requestID), program: visitor.program.id, subject: .patient(patientID))
        return PortalConversation(patient: patient, delivered: delivered, thread: thread)
    }

    /// A message written in the portal: it goes through triage like any inbound message.
    public func reply(_ visitor: PortalVisitor, patientID: String, text: String, requestID: String?) async throws -> Reception {
        let (person, patient) = try access(visitor, patientID)
        let sender = person.relation.map { "\(patient.profile.name)的\($0) / \($0) of \(patient.profile.name)" }
        return try await messages.receive(programID: visitor.program.id, Arrival(channel: .inApp, patientID: patientID, senderName: sender, text: text),
                                          by: visitor.actor(for: person, requestID: requestID))
    }

    public func record(_ visitor: PortalVisitor, patientID: String, language: AppLocale? = nil, requestID: String?) async throws -> PortalRecord {
        let (person, patient) = try access(visitor, patientID)
        let record = try await record(program: visitor.program, patient: patient, language: language)
        try await stores.audit.recordRead(.portalRecordRead, by: visitor.actor(for: person, requestID: requestID), program: visitor.program.id, subject: .patient(patientID))
        return record
    }

    private func record(program: Program, patient: Patient, language: AppLocale?) async throws -> PortalRecord {
        let enrolments = try await stores.enrolments.enrolments(programID: program.id, patientID: patient.id)
        var pathways: [String: StoredPathway] = [:]
        for enrolment in enrolments where pathways[enrolment.pathwayID] == nil {
            pathways[enrolment.pathwayID] = try await stores.pathways.find(programID: program.id, id: enrolment.pathwayID)
        }
        let done: Set<TouchpointStatus> = [.confirmed, .sent, .delivered, .noResponse, .escalated]
        let history = try await items(program, patient: patient, language: language).filter { done.contains($0.touchpoint.status) && !$0.touchpoint.isTask }.reversed()
            .map { item in var item = item; item.actionPath = nil; return item }
        return PortalRecord(patient: patient, enrolments: enrolments, pathways: pathways, history: history,
                            observations: try await stores.observations.points(programID: program.id, patientID: patient.id),
                            responses: try await stores.responses.list(programID: program.id, patientID: patient.id, limit: 50))
    }

    // MARK: Consent and withdrawal

    public func consents(_ visitor: PortalVisitor, patientID: String, requestID: String?) async throws -> (patient: Patient, consents: [ConsentRecord]) {
        let (person, patient) = try access(visitor, patientID)
        let consents = try await stores.patients.fetch(programID: visitor.program.id, ids: [patientID]).first?.consents ?? []
        try await stores.audit.recordRead(.portalConsentRead, by: visitor.actor(for: person, requestID: requestID), program: visitor.program.id, subject: .patient(patientID))
        return (patient, consents)
    }

    /// Leaves the program: every consent withdrawn and the patient marked withdrawn, which
    /// cancels their future touchpoints and keeps their history, as through the API.
    public func withdraw(_ visitor: PortalVisitor, patientID: String, requestID: String?) async throws {
        let (person, _) = try access(visitor, patientID)
        let actor = visitor.actor(for: person, requestID: requestID)
        for consent in try await stores.patients.fetch(programID: visitor.program.id, ids: [patientID]).first?.consents ?? [] where consent.withdrawnAt == nil {
            _ = try await patients.withdrawConsent(programID: visitor.program.id, patientID: patientID, consentID: consent.id, by: actor)
        }
        _ = try await patients.update(programID: visitor.program.id, patientID: patientID, by: actor) { profile in
            var profile = profile
            profile.status = .withdrawn
            return profile
        }
    }

    // MARK: Sharing the record

    /// A new read-only link to the record, living `lifetime`, optionally behind a passcode.
    public func share(_ visitor: PortalVisitor, patientID: String, lifetime: TimeInterval, passcode: String?, requestID: String?) async throws -> (path: String, share: RecordShare) {
        let (person, _) = try access(visitor, patientID)
        guard (PortalPolicy.shortestShare...PortalPolicy.longestShare).contains(lifetime) else {
            throw TendError.invalid("hours", .init(en: "must be between 1 hour and 30 days", zh: "应在1小时到30天之间"))
        }
        let (secret, share) = try await stores.portal.createShare(programID: visitor.program.id, patientID: patientID, lifetime: lifetime, passcode: passcode,
                                                                  by: visitor.actor(for: person, requestID: requestID))
        return ("/portal/s/" + secret, share)
    }

    public func shares(_ visitor: PortalVisitor, patientID: String) async throws -> [RecordShare] {
        _ = try access(visitor, patientID)
        return try await stores.portal.shares(programID: visitor.program.id, patientID: patientID)
    }

    public func revoke(_ visitor: PortalVisitor, patientID: String, shareID: String, requestID: String?) async throws -> Bool {
        let (person, _) = try access(visitor, patientID)
        return try await stores.portal.revoke(programID: visitor.program.id, patientID: patientID, shareID: shareID, by: visitor.actor(for: person, requestID: requestID))
    }

    public enum SharedView: Sendable {
        case unavailable(ShareCheck)
        case record(program: Program, record: PortalRecord)
    }

    /// What a shared link shows: the record (read-only), a passcode prompt, or why it is gone.
    public func openShare(secret: String, passcode rawPasscode: String?, language: AppLocale? = nil, requestID: String?) async throws -> SharedView {
        let passcode = try rawPasscode.flatMap { try PortalPolicy.passcode($0) }
        let check = try await stores.portal.open(secret: secret, passcode: passcode, requestID: requestID)
        guard case .open(let programID, let patientID, _) = check,
              let program = try await stores.programs.all().first(where: { $0.id == programID }),
              let patient = try await stores.patients.fetch(programID: programID, ids: [patientID]).first else { return .unavailable(check) }
        return .record(program: program, record: try await record(program: program, patient: patient, language: language))
    }

    /// What patients and family members did in the portal, and when their shared record was opened, for staff.
    public func activity(programID: String, patientID: String) async throws -> [AuditEvent] {
        let portalKinds: Set<ActorKind> = [.patient, .caregiver, .sharedLink]
        return try await stores.audit.events(programID: programID, subjectID: patientID, limit: 200).filter { portalKinds.contains($0.actorKind) }
    }
}
