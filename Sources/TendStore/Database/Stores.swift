public import Foundation
public import TendCore

/// Every store over one database, built once at start-up and passed down explicitly.
public struct Stores: Sendable {
    public let database: Database
    public let programs: ProgramStore
    public let staff: StaffStore
    public let sessions: SessionStore
    public let tokens: APITokenStore
    public let audit: AuditLog
    public let patients: PatientStore
    public let pathways: PathwayStore
    public let enrolments: EnrolmentStore
    public let tasks: TaskStore
    public let confirmations: ConfirmationStore
    public let channels: ChannelStore
    public let dispatch: DispatchStore
    public let messages: MessageStore
    public let observations: ObservationStore
    public let alerts: AlertStore
    public let questionnaires: QuestionnaireStore
    public let responses: ResponseStore
    public let photos: PhotoStore
    public let dispenses: DispenseStore
    public let regimens: RegimenStore
    public let segments: SegmentStore
    public let portal: PortalStore
    public let cipher: FieldCipher
    public let blindIndex: BlindIndexer
    public let clock: TendClock
    public let ids: IDGenerator

    public init(database: Database, clock: TendClock, ids: IDGenerator, keys: KeyRing, keyFile: String? = nil, sessionIdle: TimeInterval = 2 * 3600) {
        self.init(StoreContext(database: database, clock: clock, ids: ids, keys: keys, keyFile: keyFile), sessionIdle: sessionIdle)
    }

    public init(_ context: StoreContext, sessionIdle: TimeInterval = 2 * 3600) {
        self.database = context.database
        self.clock = context.clock
        self.ids = context.ids
        self.audit = context.audit
        self.cipher = context.cipher
        self.blindIndex = context.blindIndex
        self.programs = ProgramStore(context: context)
        self.staff = StaffStore(context: context)
        self.sessions = SessionStore(context: context, idleLimit: sessionIdle)
        self.tokens = APITokenStore(context: context)
        self.pathways = PathwayStore(context: context)
        self.enrolments = EnrolmentStore(context: context)
        self.tasks = TaskStore(context: context)
        self.confirmations = ConfirmationStore(context: context)
        self.channels = ChannelStore(context: context)
        self.dispatch = DispatchStore(context: context, tasks: tasks)
        self.messages = MessageStore(context: context, tasks: tasks)
        self.patients = PatientStore(context: context)
        self.observations = ObservationStore(context: context)
        self.alerts = AlertStore(context: context, tasks: tasks)
        self.questionnaires = QuestionnaireStore(context: context)
        self.responses = ResponseStore(context: context)
        self.dispenses = DispenseStore(context: context)
        self.regimens = RegimenStore(context: context)
        self.segments = SegmentStore(context: context)
        self.portal = PortalStore(context: context, patients: patients)
        self.photos = PhotoStore(context: context)
    }
}

extension Stores {
    /// An enrolment of the program with the pathway version it follows.
    public func enrolmentWithPathway(programID: String, enrolmentID: String) async throws -> (Enrolment, StoredPathway)? {
        guard let enrolment = try await enrolments.enrolment(programID: programID, id: enrolmentID),
              let pathway = try await pathways.find(programID: programID, id: enrolment.pathwayID) else { return nil }
        return (enrolment, pathway)
    }
}
