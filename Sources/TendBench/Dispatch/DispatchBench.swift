import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SQLKit
import TendCore
import TendEngine
import TendStore

/// `tend-bench dispatch`: one pass of the real dispatcher over generated due touchpoints
/// against a raw-SQL update floor on the same rows.
struct DispatchBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch",
        abstract: "Dispatch generated due touchpoints (in-app or to a local webhook receiver) and compare with a raw-SQL update floor / 发送生成的到期触点（站内或发往本机 webhook 接收端），并与纯 SQL 更新下限比较")

    @Option(help: "postgres://… or sqlite:PATH (a throw-away database: its tables are dropped) / 一次性数据库（其中的表会被删除）") var database: String
    @Option(help: "How many due touchpoints (ten per patient) / 到期触点数（每名患者十个）") var touchpoints: Int = 100_000
    @Option(help: "in_app or webhook (a receiver runs in this process) / in_app 或 webhook（接收端运行在本进程内）") var channel: String = "in_app"
    @Option(help: "Runs of each measurement; the median is reported / 每项测量的次数，报告中位数") var runs: Int = 3
    @Option(name: .customLong("batch-size"), help: "Touchpoints per claim / 每次认领的触点数") var batchSize: Int = 500

    func validate() throws {
        guard touchpoints >= 10, runs >= 1, (1...5000).contains(batchSize) else {
            throw ValidationError("--touchpoints must be at least 10, --runs at least 1, --batch-size 1–5000 / --touchpoints 至少为 10，--runs 至少为 1，--batch-size 为 1–5000")
        }
    }

    static let stepsPerPatient = 10
    /// Only the receiver in this process is reached.
    static let policy = OutboundPolicy(allowedHosts: ["127.0.0.1"])

    /// Ten message steps a day apart, each through the chosen channel.
    static func pathway(_ channel: ContactChannel) -> Pathway {
        Pathway(
            id: "bench-dispatch", version: 1, name: LocalizedText(en: "Bench", zh: "基准"), anchors: ["start"],
            steps: (0..<stepsPerPatient).map { index in
                PathwayStep(
                    id: "step-\(index)", anchor: "start", offset: CalendarOffset(days: index), at: LocalTime(hour: 9, minute: 0),
                    timing: .exact, recurrence: nil, channels: [channel],
                    action: .message(LocalizedText(en: "Hello {{patient.name}}, day {{occurrence}} of {{program.name}}: {{confirm.link}}",
                                                   zh: "{{patient.name}}您好，这是{{program.name}}的提醒：{{confirm.link}}")),
                    confirm: index == 4, questionnaire: nil, ifUnconfirmed: nil, onlyTags: [], channelsByAge: [], line: index + 1)
            })
    }

    func run() async throws {
        try await runReporting {
            guard let kind = ContactChannel(rawValue: channel), [.inApp, .webhook].contains(kind) else {
                throw TendError.invalid("channel", .init(en: "must be in_app or webhook", zh: "必须是 in_app 或 webhook"))
            }
            let scratch = try ScratchDatabase(database)
            let planned = Date(timeIntervalSince1970: 1_767_225_600) // 2026-01-01: enrolment time
            let due = Date(timeIntervalSince1970: 1_780_272_000)     // 2026-06-01: everything is due
            let patients = touchpoints / Self.stepsPerPatient
            let expected = patients * Self.stepsPerPatient
            let cohort = BenchPatients.cohortFile(rows: patients, channel: kind)
            say("bench dispatch: \(expected) due touchpoints via \(kind.rawValue), database \(scratch.description)")
            let receiver = kind == .webhook ? try await BenchReceiver.start() : nil
            var floorRates: [Double] = [], dispatchRates: [Double] = []
            for run in 1...runs {
                let clock = TendClock.fixed(planned)
                let ids = IDGenerator.uuidV7(clock: .system)
                let database = try await scratch.fresh(clock: clock)
                let stores = scratch.stores(database, clock: clock, ids: ids)
                let program = try await stores.programs.create(slug: "bench", name: "Bench")
                // Imported, so every name is a real ciphertext the dispatcher decrypts as in production.
                try await BenchPatients.importAll(cohort, rows: patients, into: program.id, stores: stores)
                if let receiver {
                    try await stores.channels.set(programID: program.id, ChannelConfig(channel: .webhook, url: receiver.url, secret: "bench-secret-0123456789"), policy: Self.policy)
                }
                let pathway = Self.pathway(kind)
                _ = try await stores.pathways.save(programID: program.id, pathway: pathway, source: "(bench)")
                let enrolled = try await EnrolmentActions(stores: stores).enrol(
                    programID: program.id, pathway: pathway.id, target: .tagged(TagFilter(all: [PatientTag(key: "disease", value: "T2DM")])),
                    anchors: ["start": LocalDate(year: 2026, month: 2, day: 1)], by: BenchPatients.actor)
                guard enrolled.touchpoints == expected else {
                    throw BenchCheckFailed(en: "planned \(enrolled.touchpoints) of \(expected) touchpoints", zh: "仅生成 \(enrolled.touchpoints)/\(expected) 个触点")
                }

                let floor = try await Self.rawFloor(database, dueBy: due, batch: batchSize)
                let dueStores = scratch.stores(database, clock: .fixed(due), ids: ids)
                let dispatcher = Dispatcher(
                    stores: dueStores, channels: HTTPChannels(policy: Self.policy), clock: .fixed(due), leaseClock: .system,
                    links: ConfirmationLinks(signer: dueStores.blindIndex, publicURL: "http://127.0.0.1:8080"),
                    settings: DispatchSettings(batchSize: batchSize), owner: "bench", logger: Logger(label: "bench"))
                await receiver?.reset()
                let start = ContinuousClock.now
                let report = try await dispatcher.runPass()
                let seconds = Measure.seconds(ContinuousClock.now - start)
                await database.close()
                let done = report.delivered + report.sent
                guard done == expected, report.remaining == 0 else {
                    throw BenchCheckFailed(en: "dispatch report \(report)", zh: "发送结果不完整：\(report)")
                }
                if let receiver {
                    let (total, unique) = await receiver.counts()
                    guard unique == done else {
                        throw BenchCheckFailed(en: "the receiver saw \(unique) keys (\(total) requests) for \(done) sends", zh: "接收端收到 \(unique) 个不同的键（\(total) 次请求），应为 \(done)")
                    }
                }
                floorRates.append(Double(expected) / floor)
                dispatchRates.append(Double(done) / seconds)
                say(String(format: "run %d: raw update floor %.0f rows/s (%.2f s), dispatch %.0f touchpoints/s (%.2f s for %d)",
                           run, Double(expected) / floor, floor, Double(done) / seconds, seconds, done))
            }
            let floorMedian = Measure.median(floorRates), dispatchMedian = Measure.median(dispatchRates)
            say(String(format: "median: floor %.0f rows/s, dispatch %.0f touchpoints/s, floor/dispatch %.2f×", floorMedian, dispatchMedian, floorMedian / dispatchMedian))
            try await receiver?.stop()
        }
    }

    /// The least SQL a dispatcher must do: mark every due touchpoint sent, a batch per
    /// statement, picked by the same index. Then the rows are put back for the real run.
    static func rawFloor(_ database: Database, dueBy: Date, batch: Int) async throws -> Double {
        let start = ContinuousClock.now
        while true {
            let changed = try await database.transaction { sql in
                try await sql.raw("""
                    UPDATE touchpoints SET status = 'delivered', sent_at = 1, attempts = attempts + 1, updated_at = 1
                    WHERE id IN (SELECT id FROM touchpoints WHERE status = 'scheduled' AND due_at <= \(bind: dueBy.epochMilliseconds)
                                 ORDER BY due_at LIMIT \(unsafeRaw: String(batch)))
                    RETURNING id
                    """).all().count
            }
            if changed == 0 { break }
        }
        let seconds = Measure.seconds(ContinuousClock.now - start)
        try await database.session { sql in
            try await sql.raw("UPDATE touchpoints SET status = 'scheduled', sent_at = NULL, attempts = 0, updated_at = 0").run()
        }
        return seconds
    }
}

/// A webhook receiver inside the benchmark process: counts requests and distinct keys.
actor BenchReceiver {
    private var keys = Set<String>()
    private var total = 0
    private var task: Task<Void, any Error>?
    private(set) var url = ""

    static func start() async throws -> BenchReceiver {
        let receiver = BenchReceiver()
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            await receiver.record(request.headers[values: .init("Idempotency-Key")!].first ?? "")
            return Response(status: .ok)
        }
        let port = AsyncStream<Int>.makeStream()
        // Quiet: its start and its cancellation at the end are not the benchmark's output.
        var logger = Logger(label: "receiver")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in port.continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        await receiver.run(app)
        var iterator = port.stream.makeAsyncIterator()
        await receiver.setURL("http://127.0.0.1:\(await iterator.next() ?? 0)/hook")
        return receiver
    }

    private func run(_ app: some ApplicationProtocol) {
        task = Task { try await app.runService(gracefulShutdownSignals: []) }
    }

    private func setURL(_ url: String) { self.url = url }
    func record(_ key: String) { total += 1; keys.insert(key) }
    func reset() { keys.removeAll(); total = 0 }
    func counts() -> (Int, Int) { (total, keys.count) }
    func stop() async throws { task?.cancel() }
}
