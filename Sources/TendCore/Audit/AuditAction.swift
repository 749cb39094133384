/// Everything the audit log records, by name. Events carry ids, never PII; the raw values are
/// what the log and its API show.
public enum AuditAction: String, Sendable, Codable, CaseIterable {
    // Programs, staff and credentials.
    case programCreate = "program.create"
    case membershipSet = "membership.set"
    case membershipRemove = "membership.remove"
    case sessionLogin = "session.login"
    case passwordChange = "password.change"
    case staffDisable = "staff.disable"
    case staffEnable = "staff.enable"
    case tokenCreate = "token.create"
    case tokenRevoke = "token.revoke"
    case channelSet = "channel.set"
    case triageSettings = "triage.settings"
    case pathwaySave = "pathway.save"

    // Patients.
    case patientCreate = "patient.create"
    case patientUpdate = "patient.update"
    case patientRead = "patient.read"
    case patientList = "patient.list"
    case patientSearch = "patient.search"
    case patientTagAdd = "patient.tag.add"
    case patientTagRemove = "patient.tag.remove"
    case patientConsentRecord = "patient.consent.record"
    case patientConsentWithdraw = "patient.consent.withdraw"
    case patientImportCreate = "patient.import.create"
    case patientImportUpdate = "patient.import.update"
    case patientIdentityBind = "patient.identity.bind"
    case patientScheduleRead = "patient.schedule.read"
    case patientEnrolmentsRead = "patient.enrolments.read"
    case patientInboxRead = "patient.inbox.read"

    // Pathways and touchpoints.
    case patientEnrol = "patient.enrol"
    case enrolmentMoveAnchor = "enrolment.move_anchor"
    case enrolmentPause = "enrolment.pause"
    case enrolmentResume = "enrolment.resume"
    case enrolmentCancel = "enrolment.cancel"
    case enrolmentExtend = "enrolment.extend"
    case touchpointConfirmLink = "touchpoint.confirm.link"
    case touchpointConfirmReply = "touchpoint.confirm.reply"
    case touchpointConfirmCall = "touchpoint.confirm.call"
    case confirmationRead = "confirmation.read"

    // Tasks and messages.
    case taskClaim = "task.claim"
    case taskComplete = "task.complete"
    case taskReassign = "task.reassign"
    case tasksRead = "tasks.read"
    case messageReceive = "message.receive"
    case messageReply = "message.reply"
    case messageMoveToPrivate = "message.move_to_private"
    case messageEscalate = "message.escalate"
    case messageResolve = "message.resolve"
    case messageMisgraded = "message.misgraded"
    case inboxRead = "inbox.read"
    case messagesSearch = "messages.search"
    case triageFeedbackExport = "triage.feedback.export"
    // Observations.
    case observationRecord = "observation.record"
    case observationsRead = "observations.read"
}
