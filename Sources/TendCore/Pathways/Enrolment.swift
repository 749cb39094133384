public import Foundation

public enum EnrolmentStatus: String, Sendable, Codable, CaseIterable {
    case active
    case paused
    case cancelled
}

/// A patient following a pathway with their anchor dates.
public struct Enrolment: Sendable, Equatable {
    public var id: String
    public var programID: String
    public var patientID: String
    public var pathwayID: String
    public var anchors: [String: LocalDate]
    public var status: EnrolmentStatus
    /// Open-ended steps are materialised up to this local date; the engine extends it.
    public var plannedUntil: LocalDate
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, programID: String, patientID: String, pathwayID: String, anchors: [String: LocalDate], status: EnrolmentStatus, plannedUntil: LocalDate, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.programID = programID
        self.patientID = patientID
        self.pathwayID = pathwayID
        self.anchors = anchors
        self.status = status
        self.plannedUntil = plannedUntil
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public enum TouchpointStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting for its due time.
    case scheduled
    /// Held while the enrolment is paused.
    case paused
    /// Its time had passed when it was planned (enrolled late, or the anchor moved back).
    case skipped
    /// Will not be sent: enrolment cancelled, patient withdrawn or deceased.
    case cancelled
    case sent
    case delivered
    case confirmed
    case noResponse = "no_response"
    case failed
    case escalated

    /// States a touchpoint can leave by re-planning: nothing has gone out yet.
    public static let unsent: [TouchpointStatus] = [.scheduled, .paused, .skipped]
}

public struct Touchpoint: Sendable, Equatable {
    public var id: String
    public var enrolmentID: String
    public var patientID: String
    public var stepID: String
    public var occurrence: Int
    public var dueAt: Date
    /// The wall-clock time in the patient's zone, as planned: `2026-12-01 07:30`.
    public var localDue: String
    public var channels: [ContactChannel]
    public var isTask: Bool
    public var confirm: Bool
    public var ifUnconfirmed: String?
    public var status: TouchpointStatus
    public var attempts: Int
    /// How it went out (or was last tried), once the dispatcher has had it.
    public var channel: ContactChannel?
    public var lastError: String?
    public var sentAt: Date?
    public var confirmedAt: Date?

    public init(id: String, enrolmentID: String, patientID: String, stepID: String, occurrence: Int, dueAt: Date, localDue: String, channels: [ContactChannel], isTask: Bool, confirm: Bool, ifUnconfirmed: String?, status: TouchpointStatus, attempts: Int) {
        self.id = id
        self.enrolmentID = enrolmentID
        self.patientID = patientID
        self.stepID = stepID
        self.occurrence = occurrence
        self.dueAt = dueAt
        self.localDue = localDue
        self.channels = channels
        self.isTask = isTask
        self.confirm = confirm
        self.ifUnconfirmed = ifUnconfirmed
        self.status = status
        self.attempts = attempts
    }

    /// The touchpoint id for a step occurrence of an enrolment: stable, so re-planning and
    /// dispatch retries reuse it as the idempotency key.
    public static func id(enrolmentID: String, stepID: String, occurrence: Int) -> String {
        "\(enrolmentID).\(stepID).\(occurrence)"
    }
}
