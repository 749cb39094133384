public import Foundation

/// What one delivery attempt came to, as the channel reports it.
public enum DeliveryResult: Sendable, Equatable {
    /// In the patient's hands (the portal inbox).
    case delivered
    /// Accepted by the gateway; whether it reached the phone is the gateway's business.
    case sent
    /// Worth trying again: a timeout, a refused connection, a 5xx or a 429.
    case retryable(String)
    /// Will never work as it is: any other 4xx, a missing address.
    case permanent(String)
    /// Not attempted: the channel's own rate limit is spent until then. Not an attempt.
    case deferred(until: Date)

    /// How an HTTP status answers a delivery: 2xx sent, 408/429/5xx retry, other 4xx permanent.
    /// Only the status is kept: what the receiver wrote back is its own business.
    public static func fromHTTPStatus(_ status: Int) -> DeliveryResult {
        switch status {
        case 200..<300: return .sent
        case 408, 425, 429, 500..<600: return .retryable("HTTP \(status)")
        default: return .permanent("HTTP \(status)")
        }
    }
}

/// Exponential back-off with jitter. The jitter is a hash of the touchpoint id and attempt, so
/// it spreads retries of different touchpoints without a random source in the logic.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    public var baseDelay: TimeInterval
    public var maxDelay: TimeInterval
    /// ± this fraction of the delay.
    public var jitter: Double

    public init(maxAttempts: Int = 6, baseDelay: TimeInterval = 30, maxDelay: TimeInterval = 3600, jitter: Double = 0.2) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    /// The wait before attempt `failedAttempts + 1`, or nil when the attempts are spent.
    public func delay(afterFailedAttempts failedAttempts: Int, key: String) -> TimeInterval? {
        guard failedAttempts < maxAttempts else { return nil }
        let exponential = min(maxDelay, baseDelay * pow(2, Double(max(0, failedAttempts - 1))))
        let unit = Double(Self.hash("\(key)#\(failedAttempts)") % 10_000) / 10_000 // 0 ..< 1
        return max(0, exponential * (1 + jitter * (unit * 2 - 1)))
    }

    /// FNV-1a: stable across runs and machines, unlike `Hasher`.
    static func hash(_ text: String) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value &*= 0x100_0000_01b3
        }
        return value
    }
}

/// A patient's reply that confirms the pending request: "1", "确认", "confirm" and close forms.
public enum ConfirmationReply {
    static let words: Set<String> = ["1", "确认", "已确认", "确定", "confirm", "confirmed", "yes", "y", "是"]

    public static func isConfirmation(_ text: String) -> Bool {
        let folded = TextFolding.halfWidth(text).lowercased()
            .trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters).union(.symbols))
        return words.contains(folded)
    }
}

// MARK: - Staff tasks

public enum TaskStatus: String, Sendable, Codable, CaseIterable {
    case open
    case done
    case cancelled
}

public enum TaskOutcome: String, Sendable, Codable, CaseIterable {
    case reached
    case noAnswer = "no_answer"
    case wrongNumber = "wrong_number"
    case declined
    /// For tasks that are not calls: the work was done.
    case done

    public var label: LocalizedText {
        switch self {
        case .reached: .init(en: "Reached", zh: "已联系上")
        case .noAnswer: .init(en: "No answer", zh: "无人接听")
        case .wrongNumber: .init(en: "Wrong number", zh: "号码错误")
        case .declined: .init(en: "Declined", zh: "患者拒绝")
        case .done: .init(en: "Done", zh: "已完成")
        }
    }
}

public enum TaskKind: String, Sendable, Codable, CaseIterable {
    /// A pathway step that is work for staff, e.g. "call Li Hua".
    case call
    /// A voice step with no voice provider configured: staff make the call.
    case voiceCall = "voice_call"
    /// A message could not be delivered after the last attempt.
    case deliveryFailed = "delivery_failed"
    /// An inbound message graded urgent.
    case urgentMessage = "urgent_message"
    /// A reading crossed one of the program's alert thresholds.
    case observationAlert = "observation_alert"
}

/// Work for staff: a call, a failed delivery to follow up, an urgent message.
public struct StaffTask: Sendable, Equatable {
    public var id: String
    public var programID: String
    public var patientID: String?
    public var touchpointID: String?
    public var kind: TaskKind
    public var title: LocalizedText
    public var priority: TaskPriority
    public var dueAt: Date
    /// When the task is overdue: its due time plus the SLA of its priority.
    public var slaAt: Date
    public var status: TaskStatus
    public var assigneeID: String?
    public var outcome: TaskOutcome?
    public var note: String?
    public var createdAt: Date
    public var completedAt: Date?
    public var completedBy: String?

    public init(id: String, programID: String, patientID: String?, touchpointID: String?, kind: TaskKind, title: LocalizedText, priority: TaskPriority, dueAt: Date, slaAt: Date, status: TaskStatus = .open, assigneeID: String? = nil, outcome: TaskOutcome? = nil, note: String? = nil, createdAt: Date, completedAt: Date? = nil, completedBy: String? = nil) {
        self.id = id
        self.programID = programID
        self.patientID = patientID
        self.touchpointID = touchpointID
        self.kind = kind
        self.title = title
        self.priority = priority
        self.dueAt = dueAt
        self.slaAt = slaAt
        self.status = status
        self.assigneeID = assigneeID
        self.outcome = outcome
        self.note = note
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.completedBy = completedBy
    }

    public func isOverdue(at now: Date) -> Bool { status == .open && now > slaAt }

    /// How long a task of each priority may stay open past its due time.
    public static func slaWindow(_ priority: TaskPriority) -> TimeInterval {
        switch priority {
        case .urgent: 15 * 60
        case .high: 4 * 3600
        case .normal: 24 * 3600
        case .low: 72 * 3600
        }
    }

    /// The Today order: overdue first, then higher priority, then earlier due.
    public static func todayOrder(now: Date) -> (StaffTask, StaffTask) -> Bool {
        { lhs, rhs in
            let left = (lhs.isOverdue(at: now) ? 0 : 1, -lhs.priority.rank, lhs.dueAt, lhs.id)
            let right = (rhs.isOverdue(at: now) ? 0 : 1, -rhs.priority.rank, rhs.dueAt, rhs.id)
            return left < right
        }
    }
}

extension TaskPriority {
    public var label: LocalizedText {
        switch self {
        case .low: .init(en: "Low", zh: "低")
        case .normal: .init(en: "Normal", zh: "普通")
        case .high: .init(en: "High", zh: "高")
        case .urgent: .init(en: "Urgent", zh: "紧急")
        }
    }
}

// MARK: - Messages

/// The text of a touchpoint: the step's template in the patient's language, filled in.
public enum TouchpointMessage {
    public static func values(patientName: String, programName: String, touchpoint: Touchpoint, anchors: [String: LocalDate], confirmLink: String?,
                              formLink: String? = nil) -> [String: String] {
        let parts = touchpoint.localDue.split(separator: " ", maxSplits: 1).map(String.init)
        var values = [
            "patient.name": patientName,
            "program.name": programName,
            "occurrence": String(touchpoint.occurrence),
            "due.date": parts.first ?? touchpoint.localDue,
            "due.time": parts.count > 1 ? parts[1] : "",
            "confirm.link": confirmLink ?? "",
            "form.link": formLink ?? "",
        ]
        for (name, date) in anchors {
            values["\(name).date"] = date.description
        }
        return values
    }

    /// The step's message or task text, or nil when the pathway has no such step any more.
    /// A step with a questionnaire carries its form link: where the template does not place
    /// `{{form.link}}` (or `{{confirm.link}}`, which is the form link then), it is appended.
    public static func text(of step: PathwayStep, in locale: AppLocale, values: [String: String]) -> String {
        switch step.action {
        case .message(let text), .task(let text, _):
            let template = text.text(in: locale)
            let rendered = Template.render(template, values)
            guard let link = values["form.link"], !link.isEmpty, !template.contains("{{form.link}}"), !template.contains("{{confirm.link}}") else { return rendered }
            return rendered + " " + link
        }
    }

    public static func localized(of step: PathwayStep, values: [String: String]) -> LocalizedText {
        switch step.action {
        case .message(let text), .task(let text, _):
            return LocalizedText(en: Template.render(text.en, values), zh: Template.render(text.zh, values))
        }
    }
}
