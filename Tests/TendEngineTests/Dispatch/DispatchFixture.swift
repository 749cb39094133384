import Foundation
import Synchronization
import TendCore
import TendEngine
import TendStore
import TendTestSupport

/// A program on a fresh database of the backend whose patients are enrolled in a pathway of
/// webhook messages, and dispatchers over it that run as separate workers do: each with its
/// own connection to the database, its own name and its own channels.
struct DispatchFixture: Sendable {
    let location: DatabaseLocation
    let stores: Stores
    let program: Program
    /// Business time: what is due.
    let clock: TestClock
    /// Real elapsed time as the workers see it: moved by hand to let leases run out.
    let leases: TestClock
    private let workers: WorkerConnections

    /// The first step is due on this day at 09:00 Shanghai time, the next one a day later, and so on.
    static let firstDay = LocalDate(year: 2026, month: 12, day: 2)
    static let hook = ChannelConfig(channel: .webhook, url: "http://127.0.0.1:9/hook", secret: "a-webhook-secret-of-some-length")

    static func with<R: Sendable>(_ backend: TestBackend, _ body: (DispatchFixture) async throws -> R) async throws -> R {
        let (location, cleanup) = try await TestDatabase.makeLocation(backend)
        let workers = WorkerConnections()
        let clock = TestClock()
        do {
            let database = try await workers.open(location)
            try await Migrator(database: database, clock: clock.clock).migrate()
            let stores = try Stores(database: database, clock: clock.clock, ids: .uuidV7(clock: clock.clock), keys: KeyRing.parse(TestKeys.ring, source: "test"))
            let program = try await stores.programs.create(slug: "dispatch-test", name: "Dispatch test")
            try await stores.channels.set(programID: program.id, hook, policy: .testReceivers)
            let fixture = DispatchFixture(location: location, stores: stores, program: program, clock: clock, leases: TestClock(clock.now), workers: workers)
            let result = try await body(fixture)
            await workers.closeAll()
            await cleanup()
            return result
        } catch {
            await workers.closeAll()
            await cleanup()
            throw error
        }
    }

    /// Enrols `patients` new patients in a pathway of `steps` daily webhook messages; returns
    /// their touchpoints, earliest first.
    func enrol(patients: Int, steps: Int) async throws -> [Touchpoint] {
        let pathway = Pathway(
            id: "daily-\(steps)", version: 1, name: LocalizedText(en: "Daily", zh: "每日"), anchors: ["start"],
            steps: (0..<steps).map { index in
                PathwayStep(
                    id: "day-\(index)", anchor: "start", offset: CalendarOffset(days: index), at: LocalTime(hour: 9, minute: 0),
                    timing: .exact, recurrence: nil, channels: [.webhook], action: .message(LocalizedText(en: "Hello {{patient.name}}", zh: "{{patient.name}}您好")),
                    confirm: false, questionnaire: nil, ifUnconfirmed: nil, onlyTags: [], channelsByAge: [], line: index + 1)
            })
        let stored = try await stores.pathways.save(programID: program.id, pathway: pathway, source: "(test)")
        let actor = AuditActor(id: nil, kind: .system)
        var touchpoints: [Touchpoint] = []
        for index in 0..<patients {
            let patient = try await stores.patients.create(programID: program.id, profile: PatientProfile(name: "患者\(index)", channels: [.webhook]), actor: actor)
            _ = try await stores.enrolments.enrol(programID: program.id, pathway: stored, target: .patient(patient.id), anchors: ["start": Self.firstDay], actor: actor)
            touchpoints += try await stores.enrolments.schedule(programID: program.id, patientID: patient.id)
        }
        return touchpoints.sorted { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) }
    }

    /// Moves business time to a day after the first step's, at the given Shanghai hour.
    func moveClock(toDay offset: Int, hour: Int) {
        let when = LocalDateTime(date: Self.firstDay.adding(days: offset), time: LocalTime(hour: hour, minute: 0)).instant(in: TimeZone.shanghai)
        clock.advance(by: when.timeIntervalSince(clock.now))
    }

    /// A worker named `owner` on a connection of its own. `dueBy` overrides what it takes as
    /// now when it looks for due touchpoints (by default the fixture's business time).
    func worker(_ owner: String, channels: RecordingChannels, batchSize: Int = 500, lease: TimeInterval = 60, dueBy: TendClock? = nil) async throws -> Dispatcher {
        let database = try await workers.open(location)
        let stores = try Stores(database: database, clock: clock.clock, ids: .uuidV7(clock: clock.clock), keys: KeyRing.parse(TestKeys.ring, source: "test"))
        return Dispatcher(
            stores: stores, channels: channels, clock: dueBy ?? clock.clock, leaseClock: leases.clock,
            links: ConfirmationLinks(signer: stores.blindIndex, publicURL: "https://tend.example.org"),
            settings: DispatchSettings(batchSize: batchSize, lease: lease), owner: owner, logger: TestDatabase.logger)
    }

    /// The touchpoint as it is stored now.
    func current(_ touchpoint: Touchpoint) async throws -> Touchpoint? {
        try await stores.enrolments.schedule(programID: program.id, patientID: touchpoint.patientID).first { $0.id == touchpoint.id }
    }

    func tasks() async throws -> [StaffTask] {
        try await stores.tasks.list(programID: program.id, filter: TaskFilter(statuses: TaskStatus.allCases, limit: 1000))
    }
}

/// The database connections the fixture opened, closed when the test ends.
final class WorkerConnections: Sendable {
    private let opened = Mutex<[Database]>([])

    func open(_ location: DatabaseLocation) async throws -> Database {
        let database = try await Database.open(location, logger: TestDatabase.logger)
        opened.withLock { $0.append(database) }
        return database
    }

    func closeAll() async {
        for database in opened.withLock({ $0 }) { await database.close() }
    }
}
