import Foundation
import TendCore

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
        self.database = database
        self.clock = clock
        self.ids = ids
        self.programs = ProgramStore(database: database, clock: clock, ids: ids)
        self.staff = StaffStore(database: database, clock: clock, ids: ids)
        self.sessions = SessionStore(database: database, clock: clock, idleLimit: sessionIdle)
        self.tokens = APITokenStore(database: database, clock: clock, ids: ids)
        self.audit = AuditLog(database: database, clock: clock, ids: ids)
        self.cipher = FieldCipher(source: KeyRingSource(ring: keys, path: keyFile))
        self.blindIndex = BlindIndexer(ring: keys)
        self.pathways = PathwayStore(database: database, clock: clock, ids: ids)
        self.enrolments = EnrolmentStore(database: database, clock: clock, ids: ids)
        self.tasks = TaskStore(database: database, clock: clock, ids: ids, cipher: cipher)
        self.confirmations = ConfirmationStore(database: database, clock: clock, ids: ids, cipher: cipher)
        self.channels = ChannelStore(database: database, clock: clock, cipher: cipher)
        self.dispatch = DispatchStore(database: database, cipher: cipher, tasks: tasks)
        self.messages = MessageStore(database: database, clock: clock, ids: ids, cipher: cipher, tasks: tasks)
        self.patients = PatientStore(database: database, clock: clock, ids: ids, cipher: cipher, blindIndex: blindIndex, audit: audit)
        self.observations = ObservationStore(database: database, clock: clock, ids: ids, cipher: cipher, audit: audit)
        self.alerts = AlertStore(database: database, clock: clock, ids: ids, tasks: tasks, audit: audit, cipher: cipher)
        self.questionnaires = QuestionnaireStore(database: database, clock: clock, audit: audit)
        self.responses = ResponseStore(database: database, cipher: cipher, audit: audit)
        self.dispenses = DispenseStore(database: database, clock: clock, ids: ids, audit: audit)
        self.regimens = RegimenStore(database: database, clock: clock, ids: ids, audit: audit)
        self.segments = SegmentStore(database: database, clock: clock, ids: ids, audit: audit)
        self.portal = PortalStore(database: database, clock: clock, ids: ids, blindIndex: blindIndex, patients: patients, audit: audit)
        self.photos = PhotoStore(database: database, clock: clock, cipher: cipher, audit: audit)
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
