import ArgumentParser
import Foundation
import Hummingbird
import SQLKit
import TendCore
import TendServer
import TendStore

extension BenchCommand {
    struct Dispatch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dispatch",
            abstract: "Dispatch generated due touchpoints (in-app or to a local webhook receiver) and compare with a raw-SQL update floor")

        @Option(help: "postgres://… or sqlite:PATH (a throw-away database)") var database: String
        @Option(help: "How many due touchpoints (ten per patient)") var touchpoints: Int = 100_000
        @Option(help: "in_app or webhook (a receiver runs in this process)") var channel: String = "in_app"
        @Option(help: "Runs of each measurement; the median is reported") var runs: Int = 3
        @Option(name: .customLong("batch-size"), help: "Touchpoints per claim") var batchSize: Int = 500

        /// Ten message steps a day apart, each through the chosen channel.
        static func pathway(_ channel: ContactChannel) -> Pathway {
            Pathway(
                id: "bench-dispatch", version: 1, name: LocalizedText(en: "Bench", zh: "基准"), anchors: ["start"],
                steps: (0..<10).map { index in
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
                let location = try DatabaseLocation.parse(database)
                let keys = try KeyRing.parse(KeyRing.generateKeyLine(id: "k1"), source: "bench")
                let planned = Date(timeIntervalSince1970: 1_767_225_600) // 2026-01-01: enrolment time
                let due = Date(timeIntervalSince1970: 1_780_272_000)     // 2026-06-01: everything is due
                let patients = touchpoints / 10
                say("bench dispatch: \(patients * 10) due touchpoints via \(kind.rawValue), database \(location.redactedDescription)")
                let receiver = kind == .webhook ? try await BenchReceiver.start() : nil
                var floorRates: [Double] = [], dispatchRates: [Double] = []
                for run in 1...runs {
                    let database = try await Database.open(location, logger: .init(label: "bench"))
                    try await ImportPatients.reset(database)
                    let clock = TendClock.fixed(planned)
                    let ids = IDGenerator.uuidV7(clock: .system)
                    try await Migrator(database: database, clock: clock).migrate()
                    let stores = Stores(database: database, clock: clock, ids: ids, keys: keys)
                    let program = try await stores.programs.create(slug: "bench", name: "Bench")
                    // One real ciphertext for every name, so the dispatcher decrypts as in production.
                    try await Enrol.generatePatients(database, programID: program.id, rows: patients, ids: ids, sealName: { try stores.cipher.seal("张三", for: PatientStore.context(program.id, $0, "name_enc")) }, channel: kind)
                    if let receiver {
                        try await stores.channels.set(programID: program.id, ChannelConfig(channel: .webhook, url: receiver.url, secret: "bench-secret-0123456789"), policy: OutboundPolicy(allowedHosts: ["127.0.0.1"]))
                    }
                    let stored = try await stores.pathways.save(programID: program.id, pathway: Self.pathway(kind), source: "(bench)")
                    let enrolled = try await stores.enrolments.enrol(
                        programID: program.id, pathway: stored, target: .tagged(TagFilter(all: [PatientTag(key: "disease", value: "T2DM")])),
                        anchors: ["start": LocalDate(year: 2026, month: 2, day: 1)], actor: AuditActor(id: nil, kind: .cli))
                    guard enrolled.touchpoints == patients * 10 else { throw ValidationError("planned \(enrolled.touchpoints) touchpoints") }

                    let floor = try await Self.rawFloor(database, dueBy: due, batch: batchSize)
                    floorRates.append(Double(patients * 10) / floor)

                    let dueStores = Stores(database: database, clock: .fixed(due), ids: ids, keys: keys)
                    let config = AppConfig(database: location, keySource: .inline(KeyRing.generateKeyLine(id: "unused")), logLevel: .warning)
                    var settings = config.dispatch
                    settings.batchSize = batchSize
                    let dispatcher = AppDependencies(config: config, stores: dueStores, clock: .fixed(due), ids: ids, logger: .init(label: "bench"))
                        .makeDispatcher(settings: settings, owner: "bench")
                    await receiver?.reset()
                    let start = ContinuousClock.now
                    let report = try await dispatcher.runPass()
                    let seconds = ImportPatients.seconds(ContinuousClock.now - start)
                    let done = report.delivered + report.sent
                    guard done == patients * 10, report.remaining == 0 else { throw ValidationError("dispatch report \(report)") }
                    if let receiver {
                        let (total, unique) = await receiver.counts()
                        guard unique == done else { throw ValidationError("the receiver saw \(unique) keys (\(total) requests) for \(done) sends") }
                    }
                    dispatchRates.append(Double(done) / seconds)
                    say(String(format: "run %d: raw update floor %.0f rows/s (%.2f s), dispatch %.0f touchpoints/s (%.2f s for %d)",
                               run, Double(patients * 10) / floor, floor, Double(done) / seconds, seconds, done))
                    await database.close()
                }
                let floorMedian = ImportPatients.median(floorRates), dispatchMedian = ImportPatients.median(dispatchRates)
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
            let seconds = ImportPatients.seconds(ContinuousClock.now - start)
            try await database.session { sql in
                try await sql.raw("UPDATE touchpoints SET status = 'scheduled', sent_at = NULL, attempts = 0, updated_at = 0").run()
            }
            return seconds
        }
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
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in port.continuation.yield(channel.localAddress?.port ?? 0) }, logger: .init(label: "receiver"))
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
