public import Foundation
public import Logging
public import TendCore
public import TendStore

/// A message as it arrives from a group or a one-to-one conversation.
public struct Arrival: Sendable {
    public var channel: ContactChannel
    /// The group, by Tend's id or by the channel's id for the conversation; neither for 1:1.
    public var groupID: String?
    public var groupBinding: String?
    /// The sender: a patient id, a phone (the patient's or a family member's), or the channel's user id.
    public var patientID: String?
    public var phone: String?
    public var senderID: String?
    public var senderName: String?
    public var text: String
    public var sentAt: Date?

    public init(channel: ContactChannel, groupID: String? = nil, groupBinding: String? = nil, patientID: String? = nil, phone: String? = nil,
                senderID: String? = nil, senderName: String? = nil, text: String, sentAt: Date? = nil) {
        self.channel = channel
        self.groupID = groupID
        self.groupBinding = groupBinding
        self.patientID = patientID
        self.phone = phone
        self.senderID = senderID
        self.senderName = senderName
        self.text = text
        self.sentAt = sentAt
    }
}

/// What became of an arrival.
public struct Reception: Sendable {
    public var message: StoredMessage
    public var group: ChatGroup?
    public var settings: ProgramTriageSettings
    public var confirmedTouchpoint: String?
    public var cancelledEscalations: Int
}

/// The inbox: messages graded, routed and stored as they arrive, read, searched and acted on.
public struct MessageActions: Sendable {
    let stores: Stores
    let classifiers: ClassifierCache
    let clock: TendClock
    let logger: Logger

    public init(stores: Stores, classifiers: ClassifierCache, clock: TendClock, logger: Logger) {
        self.stores = stores
        self.classifiers = classifiers
        self.clock = clock
        self.logger = logger
    }

    /// Finds the group and the sender, grades the text with the program's rules, routes and
    /// stores it (an urgent one becomes a task for the on-call member); a one-to-one "1" /
    /// "确认" / "confirm" from the patient also confirms their pending request.
    public func receive(programID: String, _ arrival: Arrival, by actor: AuditActor) async throws -> Reception {
        let text = try Validate.text(arrival.text, field: "text", maxLength: Bounds.textLength)
        let sentAt = try arrival.sentAt.map { (date) throws(TendError) in try Validate.instant(date, field: "sent_at") }
        var group: ChatGroup?
        if let id = arrival.groupID {
            guard let found = try await stores.messages.group(programID: programID, id: id) else { throw TendError.notFound("group") }
            group = found
        } else if let binding = arrival.groupBinding {
            guard let found = try await stores.messages.group(programID: programID, channel: arrival.channel, binding: binding) else { throw TendError.notFound("group") }
            group = found
        }
        var patient: Patient?
        var relation: String?
        if let id = arrival.patientID {
            guard let found = try await stores.patients.fetch(programID: programID, ids: [id]).first else { throw TendError.notFound("patient") }
            patient = found
        } else if arrival.phone != nil || arrival.senderID != nil {
            if let match = try await stores.patients.matchSender(programID: programID, phone: arrival.phone, channel: arrival.channel, userID: arrival.senderID) {
                patient = try await stores.patients.fetch(programID: programID, ids: [match.patientID]).first
                relation = match.relation
            }
            if patient == nil && group == nil { throw TendError.notFound("patient") }
        }
        guard group != nil || patient != nil else { throw TendError.missing("patient_id") }
        // A family member writing: the message is about the patient, from them.
        var senderName = arrival.senderName
        if senderName == nil, let relation, let patient { senderName = "\(patient.profile.name)的\(relation) / \(relation) of \(patient.profile.name)" }
        let (stored, settings) = try await intake(programID: programID, group: group, patient: patient, channel: arrival.channel,
                                                  senderName: senderName, text: text, sentAt: sentAt ?? clock.now(), by: actor)
        if stored.taskID != nil {
            logger.notice("urgent message routed to on-call staff", metadata: ["program": "\(programID)", "message": "\(stored.id)"])
        }
        var reception = Reception(message: stored, group: group, settings: settings, confirmedTouchpoint: nil, cancelledEscalations: 0)
        if group == nil, let patient, relation == nil, ConfirmationReply.isConfirmation(text),
           let pending = try await stores.confirmations.pendingRequest(programID: programID, patientID: patient.id),
           case .confirmed(let id, let count) = try await stores.confirmations.confirm(programID: programID, touchpointID: pending, via: .reply, actor: actor) {
            reception.confirmedTouchpoint = id
            reception.cancelledEscalations = count
        }
        return reception
    }

    /// Grades a message with the program's rules, routes it and stores it (the API, the console
    /// and the demo seed all come through here).
    public func intake(programID: String, group: ChatGroup?, patient: Patient?, channel: ContactChannel, senderName: String?,
                       text: String, sentAt: Date, by actor: AuditActor) async throws -> (StoredMessage, ProgramTriageSettings) {
        let settings = try await stores.messages.settings(programID: programID)
        let classifier = classifiers.classifier(programID: programID, settings: settings)
        let hasHan = text.unicodeScalars.contains { $0.value >= 0x4E00 && $0.value <= 0x9FFF }
        let result = classifier.classify(text, locale: patient?.profile.locale ?? (hasHan ? .zhHans : .en))
        let routing = MessageRouting.route(result, inGroup: group != nil)
        let sender = senderName ?? patient?.profile.name ?? "?"
        let place = group?.name ?? "1:1"
        let title = LocalizedText(en: "Urgent message from \(sender) (\(place)): \(text.prefix(80))",
                                  zh: "紧急消息：\(sender)（\(place)）：\(text.prefix(80))")
        let stored = try await stores.messages.receive(
            programID: programID,
            message: InboundMessage(channel: channel, groupID: group?.id, patientID: patient?.id, senderName: senderName ?? patient?.profile.name, text: text, sentAt: sentAt),
            result: result, routing: routing, urgentTitle: title, onCallStaffID: settings.onCallStaffID, actor: actor)
        return (stored, settings)
    }

    /// Ready answers for a message, in the reader's language (none for archived chatter).
    public static func suggestions(for message: StoredMessage, settings: ProgramTriageSettings, locale: AppLocale) -> [String] {
        SuggestionIndex(settings: settings).suggestions(for: message, locale: locale)
    }

    /// The program's ready answers and the shipped ones, prepared once for a page of messages.
    public struct SuggestionIndex: Sendable {
        let knowledge: KnowledgeBase

        public init(settings: ProgramTriageSettings) {
            knowledge = KnowledgeBase((settings.answers ?? []) + TriageDefaults.answers)
        }

        public func suggestions(for message: StoredMessage, locale: AppLocale) -> [String] {
            guard message.queue != .social else { return [] }
            let privateThread = message.queue == .private || message.movedToPrivate
            return knowledge.suggest(message.text, privateThread: privateThread).map { $0.answer.text(in: locale) }
        }
    }

    /// The open inbox (or one queue, status or group of it), audited as read.
    public func inbox(programID: String, statuses: [MessageStatus] = [.open], queue: InboxQueue? = nil, groupID: String? = nil,
                      limit: Int = InboxCounts.pageSize, offset: Int = 0, counts: InboxCounts? = nil, by actor: AuditActor) async throws -> [StoredMessage] {
        let messages = try await stores.messages.inbox(programID: programID, statuses: statuses, queue: queue, groupID: groupID, limit: limit,
                                                       offset: offset, counts: counts)
        try await stores.audit.recordRead(.inboxRead, by: actor, program: programID, subject: AuditSubject(type: "program", id: programID))
        return messages
    }

    /// One page of the open inbox with the whole inbox's counts, for a page that says how many
    /// there are; audited as one inbox read.
    public func inboxPage(programID: String, limit: Int = InboxCounts.pageSize, offset: Int = 0, by actor: AuditActor) async throws -> (messages: [StoredMessage], counts: InboxCounts) {
        let counts = try await stores.messages.inboxCounts(programID: programID)
        return (try await inbox(programID: programID, limit: limit, offset: offset, counts: counts, by: actor), counts)
    }

    public func search(programID: String, words: String, by actor: AuditActor) async throws -> [StoredMessage] {
        let found = try await stores.messages.search(programID: programID, text: words)
        try await stores.audit.recordRead(.messagesSearch, by: actor, program: programID, subject: AuditSubject(type: "program", id: programID))
        return found
    }

    /// Reply, move to 1:1, escalate, resolve, or mark as graded wrong.
    public func act(programID: String, messageID: String, _ action: MessageAction, staff: StaffUser, by actor: AuditActor) async throws -> StoredMessage {
        guard let message = try await stores.messages.act(programID: programID, id: messageID, action: action, staffID: staff.id,
                                                          staffName: staff.displayName, actor: actor) else { throw TendError.notFound("message") }
        return message
    }

    /// A group bound to a channel conversation. Its patients and staff must all be the
    /// program's own, compared as sets: a repeated own id cannot make room for another's.
    public func createGroup(programID: String, name: String, channel: ContactChannel, binding: String, patientIDs: [String], staffIDs: [String]) async throws -> ChatGroup {
        let name = try Validate.text(name, field: "name", maxLength: 100)
        let binding = try Validate.text(binding, field: "binding")
        let patients = Set(patientIDs), staff = Set(staffIDs)
        if !patients.isEmpty, Set(try await stores.patients.fetch(programID: programID, ids: patients.sorted()).map(\.id)) != patients {
            throw TendError.notFound("patient")
        }
        guard staff.isSubset(of: Set(try await stores.staff.members(programID: programID).map(\.user.id))) else { throw TendError.notFound("staff member") }
        return try await stores.messages.createGroup(programID: programID, name: name, channel: channel, binding: binding,
                                                     patientIDs: patients.sorted(), staffIDs: staff.sorted())
    }

    /// Ties a channel's user id to the patient, so their messages are matched to them.
    public func bindIdentity(programID: String, patientID: String, channel: ContactChannel, userID: String, by actor: AuditActor) async throws {
        let userID = try Validate.text(userID, field: "user_id")
        guard try await stores.patients.fetch(programID: programID, ids: [patientID]).first != nil else { throw TendError.notFound("patient") }
        try await stores.patients.bindChannelUser(programID: programID, patientID: patientID, channel: channel, userID: userID, actor: actor)
    }

    /// A message staff marked as graded wrong, as a row of the triage corpus. Staff choose a
    /// level only, so the row carries no compliance label.
    public struct FeedbackRow: Codable, Sendable, Equatable {
        public var id: String
        public var locale: String
        public var text: String
        public var level: String
        public var category: String
        /// What the classifier said.
        public var graded: String?
    }

    /// The program's "graded wrong" messages, labelled with the level staff chose (audited:
    /// the rows hold what patients wrote).
    public func feedback(programID: String, by actor: AuditActor) async throws -> [FeedbackRow] {
        let messages = try await stores.messages.feedback(programID: programID)
        try await stores.audit.recordRead(.triageFeedbackExport, by: actor, program: programID, subject: AuditSubject(type: "program", id: programID))
        return messages.compactMap { message in
            guard let level = message.feedbackLevel else { return nil }
            let hasHan = message.text.unicodeScalars.contains { $0.value >= 0x4E00 && $0.value <= 0x9FFF }
            return FeedbackRow(id: "feedback-\(message.id)", locale: hasHan ? "zh" : "en", text: message.text, level: level.rawValue,
                               category: "feedback", graded: message.level?.rawValue)
        }
    }

    /// Parses a staff action as the API and the console send it.
    public static func action(_ name: String, text: String?, level: String?) throws(TendError) -> MessageAction {
        switch name {
        case "reply":
            guard let text else { throw TendError.missing("text") }
            return .reply(try Validate.text(text, field: "text", maxLength: Bounds.textLength))
        case "move_to_private": return .moveToPrivate
        case "escalate": return .escalate
        case "resolve": return .resolve
        case "misgraded":
            guard let level = level.flatMap(TriageLevel.init(rawValue:)) else {
                throw TendError.invalid("level", .init(en: "must be one of \(TriageLevel.allCases.map(\.rawValue).joined(separator: ", "))", zh: "分级无效"))
            }
            return .misgraded(level)
        default:
            throw TendError.invalid("action", .init(en: "must be reply, move_to_private, escalate, resolve or misgraded", zh: "操作无效"))
        }
    }
}
