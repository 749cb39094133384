public import Logging
public import TendCore
public import TendStore

/// Every use case, built once over the stores and passed to whatever calls them: the API, the
/// console, the CLI, the demo seed. Each action validates, writes, audits and reacts in one
/// transaction, so no entry point writes SQL or audit events of its own.
public struct Actions: Sendable {
    public let programs: ProgramActions
    public let access: AccessActions
    public let messages: MessageActions
    public let reads: ScheduleReads
    public let patients: PatientActions
    public let enrolments: EnrolmentActions
    public let tasks: TaskActions
    public let confirmations: ConfirmationActions
    public let observations: ObservationActions
    public let questionnaires: QuestionnaireActions
    public let forms: FormActions
    public let missingCheckIns: MissingCheckInSweep
    public let adherence: AdherenceActions
    public let adherenceReports: AdherenceReports
    public let segments: SegmentActions
    public let portal: PortalActions

    public init(stores: Stores, passwords: PasswordHasher, signIns: SignInThrottle, classifiers: ClassifierCache, links: ConfirmationLinks,
                channels: any ChannelFactory, clock: TendClock, logger: Logger) {
        programs = ProgramActions(stores: stores, passwords: passwords)
        access = AccessActions(stores: stores, passwords: passwords, signIns: signIns)
        messages = MessageActions(stores: stores, classifiers: classifiers, clock: clock, logger: logger)
        reads = ScheduleReads(stores: stores)
        patients = PatientActions(stores: stores)
        enrolments = EnrolmentActions(stores: stores)
        tasks = TaskActions(stores: stores)
        confirmations = ConfirmationActions(stores: stores, links: links, clock: clock)
        observations = ObservationActions(stores: stores)
        questionnaires = QuestionnaireActions(stores: stores, observations: observations)
        forms = FormActions(stores: stores, questionnaires: questionnaires, links: links)
        missingCheckIns = MissingCheckInSweep(stores: stores, questionnaires: questionnaires)
        adherence = AdherenceActions(stores: stores)
        adherenceReports = AdherenceReports(stores: stores)
        segments = SegmentActions(stores: stores)
        portal = PortalActions(stores: stores, channels: channels, links: links, messages: messages, patients: patients)
    }
}
