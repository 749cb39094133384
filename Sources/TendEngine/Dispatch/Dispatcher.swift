import AsyncHTTPClient
public import Foundation
public import Logging
import NIOCore
public import ServiceLifecycle
public import TendCore
public import TendStore

public struct DispatchSettings: Sendable {
    public var batchSize: Int
    /// How long a claim holds before another worker may take the touchpoint over.
    public var lease: TimeInterval
    public var retry: RetryPolicy
    /// How long a confirmation link stays valid after the message goes out.
    public var linkLifetime: TimeInterval
    /// HTTP sends in flight at once within a batch.
    public var concurrency: Int
    /// The pause between passes of the running service.
    public var pollInterval: TimeInterval
    /// How long one HTTP send may take, connection included (a refused connection is retried
    /// by the HTTP client until then).
    public var requestTimeout: TimeInterval = 10

    public init(batchSize: Int = 500, lease: TimeInterval = 60, retry: RetryPolicy = RetryPolicy(), linkLifetime: TimeInterval = 14 * 86400, concurrency: Int = 32, pollInterval: TimeInterval = 2) {
        self.batchSize = batchSize
        self.lease = lease
        self.retry = retry
        self.linkLifetime = linkLifetime
        self.concurrency = concurrency
        self.pollInterval = pollInterval
    }
}

/// What one pass did.
public struct DispatchReport: Sendable, Equatable, Codable {
    public var claimed = 0
    public var delivered = 0
    public var sent = 0
    public var tasks = 0
    public var retrying = 0
    public var failed = 0
    public var deferred = 0
    /// Escalations whose confirmation had arrived.
    public var notNeeded = 0
    /// Due touchpoints still waiting after the pass (retries, rate limits, other workers' leases).
    public var remaining = 0
    /// Unanswered questionnaire touchpoints the pass counted into missing-data alerts.
    public var missingAlerts = 0
    /// Patients the sweep of sliding segments moved in or out.
    public var segmentMoves = 0

    public init() {}

    mutating func add(_ outcome: DispatchOutcome) {
        claimed += 1
        switch outcome.result {
        case .delivered: delivered += 1
        case .sent: sent += 1
        case .taskCreated: tasks += 1
        case .retry: retrying += 1
        case .failed: failed += 1
        case .deferred: deferred += 1
        case .notNeeded: notNeeded += 1
        }
    }

    enum CodingKeys: String, CodingKey {
        case claimed, delivered, sent, tasks, retrying, failed, deferred, remaining
        case notNeeded = "not_needed"
        case missingAlerts = "missing_alerts"
        case segmentMoves = "segment_moves"
    }
}

/// Sends what is due. Each pass claims batches under a lease, renders every message in the
/// patient's language, sends through the program's channels and records the outcomes, until
/// nothing due is left to claim. Runs as a service in `tend serve` / `tend worker` and as one
/// pass in `tend dispatch --now`.
///
/// Two clocks: `clock` says what is due (the business time, fixed by `--now`), `leaseClock`
/// measures leases and retry waits, which are about real elapsed time even in a one-off pass.
public final class Dispatcher: Service, Sendable {
    let stores: Stores
    let channels: any ChannelFactory
    let clock: TendClock
    let leaseClock: TendClock
    let links: ConfirmationLinks
    let settings: DispatchSettings
    let owner: String
    let logger: Logger

    public init(stores: Stores, channels: any ChannelFactory, clock: TendClock, leaseClock: TendClock, links: ConfirmationLinks, settings: DispatchSettings, owner: String, logger: Logger) {
        self.stores = stores
        self.channels = channels
        self.clock = clock
        self.leaseClock = leaseClock
        self.links = links
        self.settings = settings
        self.owner = owner
        self.logger = logger
    }

    /// Passes until cancelled or shut down gracefully.
    public func run() async throws {
        logger.info("dispatcher started", metadata: ["worker": "\(owner)"])
        var passes = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                // The missing-data sweep reads every questionnaire step's recent touchpoints:
                // once a minute or so is enough for alerts counted in days.
                let report = try await runPass(sweepMissingCheckIns: passes % Self.passesPerSweep == 0)
                passes += 1
                if report.claimed > 0 {
                    logger.info("dispatch pass", metadata: ["claimed": "\(report.claimed)", "failed": "\(report.failed)", "retrying": "\(report.retrying)"])
                }
            } catch {
                logger.error("dispatch pass failed: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(Int(settings.pollInterval * 1000)))
        }
    }

    static let passesPerSweep = 30
    static let segmentSweepInterval: TimeInterval = 3600

    /// Claims and sends until nothing due by the clock's now can be claimed, then opens the
    /// missing-data alerts due.
    public func runPass(sweepMissingCheckIns: Bool = true) async throws -> DispatchReport {
        let dueBy = clock.now()
        var report = DispatchReport()
        let context = try await PassContext.load(stores: stores)
        // Open-ended recurrences (every 3 months until stopped) are planned a rolling horizon ahead.
        while try await stores.enrolments.extendHorizons(pathways: context.pathways) == 500 {}
        while true {
            let leaseNow = leaseClock.now()
            let batch = try await stores.dispatch.claim(
                dueBy: dueBy, leaseNow: leaseNow, leaseUntil: leaseNow.addingTimeInterval(settings.lease), owner: owner, limit: settings.batchSize)
            if batch.isEmpty { break }
            let outcomes = try await process(batch, context: context)
            try await stores.dispatch.record(outcomes, owner: owner, at: clock.now())
            outcomes.forEach { report.add($0) }
        }
        report.remaining = try await stores.dispatch.pendingCount(dueBy: dueBy)
        if sweepMissingCheckIns {
            report.missingAlerts = try await MissingCheckInSweep(stores: stores, questionnaires: QuestionnaireActions(stores: stores, observations: ObservationActions(stores: stores))).run(now: dueBy)
            // Windows slide by the hour at most: a segment evaluated in the last one waits.
            let moved = try await SegmentActions(stores: stores).sweep(notEvaluatedSince: dueBy.addingTimeInterval(-Self.segmentSweepInterval))
            report.segmentMoves = moved.entered + moved.left
        }
        return report
    }

    /// Pathways, program names and channel settings, read once per pass.
    struct PassContext: Sendable {
        var programNames: [String: String]
        var channels: [String: [ContactChannel: ChannelConfig]]
        var pathways: [String: Pathway]

        static func load(stores: Stores) async throws -> PassContext {
            var context = PassContext(programNames: [:], channels: [:], pathways: [:])
            for program in try await stores.programs.all() {
                context.programNames[program.id] = program.name
                for stored in try await stores.pathways.all(programID: program.id) {
                    context.pathways[stored.id] = stored.pathway
                }
            }
            for (programID, config) in try await stores.channels.all() {
                context.channels[programID, default: [:]][config.channel] = config
            }
            return context
        }
    }

    private func process(_ batch: [ClaimedTouchpoint], context: PassContext) async throws -> [DispatchOutcome] {
        // In-app and task outcomes need no I/O; HTTP sends run `concurrency` at a time.
        var outcomes: [DispatchOutcome?] = Array(repeating: nil, count: batch.count)
        var outgoing: [(Int, OutboundMessage, ContactChannel, any DeliveryChannel)] = []
        for (index, item) in batch.enumerated() {
            switch plan(item, context: context) {
            case .done(let outcome): outcomes[index] = outcome
            case .send(let message, let channel, let sender): outgoing.append((index, message, channel, sender))
            }
        }
        try await withThrowingTaskGroup(of: (Int, DeliveryResult).self) { group in
            var next = 0
            func start() {
                let position = next
                let (_, message, _, sender) = outgoing[position]
                group.addTask { (position, await sender.send(message)) }
                next += 1
            }
            while next < min(settings.concurrency, outgoing.count) { start() }
            while let (position, result) = try await group.next() {
                if next < outgoing.count { start() }
                let (index, message, channel, _) = outgoing[position]
                outcomes[index] = outcome(of: result, for: batch[index], channel: channel, text: message.text)
            }
        }
        return outcomes.compactMap { $0 }
    }

    enum Plan {
        case done(DispatchOutcome)
        case send(OutboundMessage, ContactChannel, any DeliveryChannel)
    }

    private func plan(_ item: ClaimedTouchpoint, context: PassContext) -> Plan {
        let touchpoint = item.touchpoint
        func finish(_ result: DispatchOutcome.Result, portal: String? = nil, task: StaffTask? = nil) -> Plan {
            .done(DispatchOutcome(touchpointID: touchpoint.id, programID: item.programID, patientID: touchpoint.patientID, result: result,
                                  portalMessage: portal, task: task, escalated: item.escalates?.id))
        }
        guard let step = context.pathways[item.pathwayID]?.step(touchpoint.stepID) else {
            return finish(.failed(error: "step \(touchpoint.stepID) is not in the pathway any more", channel: nil))
        }
        if let escalated = item.escalates, [.confirmed, .cancelled].contains(escalated.status) {
            return .done(DispatchOutcome(touchpointID: touchpoint.id, programID: item.programID, patientID: touchpoint.patientID, result: .notNeeded))
        }
        let now = clock.now()
        let expires = now.addingTimeInterval(settings.linkLifetime)
        let formLink = step.questionnaire == nil ? nil : links.url(.form, touchpointID: touchpoint.id, expires: expires)
        // A step with a form completes by the form; its confirm link would only skip it.
        let link = formLink ?? (touchpoint.confirm ? links.url(touchpointID: touchpoint.id, expires: expires) : nil)
        let values = TouchpointMessage.values(patientName: item.patientName, programName: context.programNames[item.programID] ?? "",
                                              touchpoint: touchpoint, anchors: item.anchors, confirmLink: link, formLink: formLink)
        if case .task(_, let priority) = step.action {
            let task = StaffTask(
                id: touchpoint.id + ".task", programID: item.programID, patientID: touchpoint.patientID, touchpointID: touchpoint.id, kind: .call,
                title: TouchpointMessage.localized(of: step, values: values), priority: priority, dueAt: touchpoint.dueAt,
                slaAt: touchpoint.dueAt.addingTimeInterval(StaffTask.slaWindow(priority)), createdAt: now)
            return finish(.taskCreated(nil), task: task)
        }
        let text = TouchpointMessage.text(of: step, in: item.locale, values: values)
        // The step's channels first, then the patient's own preferences; the portal inbox is always there.
        let configured = context.channels[item.programID] ?? [:]
        let channel = (touchpoint.channels + item.patientChannels).first { $0 == .inApp || $0 == .voice || configured[$0] != nil } ?? .inApp
        switch (channel, configured[channel]) {
        case (.inApp, _):
            return finish(.delivered(.inApp), portal: text)
        case (.voice, nil):
            // No voice provider: a person makes the call and reads the reminder.
            let call = LocalizedText(en: "Voice reminder — call \(item.patientName): ", zh: "语音提醒——致电\(item.patientName)：")
            let task = StaffTask(
                id: touchpoint.id + ".voice", programID: item.programID, patientID: touchpoint.patientID, touchpointID: touchpoint.id, kind: .voiceCall,
                title: LocalizedText(en: call.en + TouchpointMessage.text(of: step, in: .en, values: values),
                                     zh: call.zh + TouchpointMessage.text(of: step, in: .zhHans, values: values)),
                priority: .high, dueAt: touchpoint.dueAt, slaAt: touchpoint.dueAt.addingTimeInterval(StaffTask.slaWindow(.high)), createdAt: now)
            return finish(.taskCreated(.voice), task: task)
        case (_, let config?):
            let message = OutboundMessage(
                idempotencyKey: touchpoint.id, programID: item.programID, patientID: touchpoint.patientID, phone: item.patientPhone,
                locale: item.locale, stepID: touchpoint.stepID, dueAt: touchpoint.dueAt, text: text, confirmURL: link)
            return .send(message, channel, channels.channel(for: config))
        case (_, nil):
            return finish(.delivered(.inApp), portal: text)
        }
    }

    /// Retries while the policy allows, then fails the touchpoint and asks staff to follow up.
    private func outcome(of result: DeliveryResult, for item: ClaimedTouchpoint, channel: ContactChannel, text: String) -> DispatchOutcome {
        let touchpoint = item.touchpoint
        var outcome = DispatchOutcome(touchpointID: touchpoint.id, programID: item.programID, patientID: touchpoint.patientID, result: .sent(channel), escalated: item.escalates?.id)
        var failure: String?
        switch result {
        case .sent, .delivered:
            outcome.result = result == .delivered ? .delivered(channel) : .sent(channel)
        case .deferred(let until):
            outcome.result = .deferred(until: until)
            outcome.escalated = nil
        case .retryable(let error):
            if let wait = settings.retry.delay(afterFailedAttempts: touchpoint.attempts + 1, key: touchpoint.id) {
                outcome.result = .retry(at: leaseClock.now().addingTimeInterval(wait), error: error, channel: channel)
                outcome.escalated = nil
            } else {
                failure = error
            }
        case .permanent(let error):
            failure = error
        }
        if let failure {
            outcome.result = .failed(error: failure, channel: channel)
            let now = clock.now()
            outcome.task = StaffTask(
                id: touchpoint.id + ".failed", programID: item.programID, patientID: touchpoint.patientID, touchpointID: touchpoint.id, kind: .deliveryFailed,
                title: LocalizedText(en: "Message to \(item.patientName) via \(channel.rawValue) failed (\(failure)) — contact them another way: \(text)",
                                     zh: "发给\(item.patientName)的\(channel.rawValue)消息发送失败（\(failure)），请换其他方式联系：\(text)"),
                priority: .high, dueAt: now, slaAt: now.addingTimeInterval(StaffTask.slaWindow(.high)), createdAt: now)
        }
        return outcome
    }
}
