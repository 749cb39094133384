public import Foundation
import SQLKit
public import TendCore
import TendFormats
public import TendStore

/// One reading for a patient, as an integration, a device gateway or an import sends it.
public struct ObservationSubmission: Sendable, Equatable {
    public var patientID: String
    public var input: ObservationInput

    public init(patientID: String, input: ObservationInput) {
        self.patientID = patientID
        self.input = input
    }
}

/// Recording and reading observations: what the API, `tend import observations` and (later)
/// check-ins and questionnaires call.
public struct ObservationActions: Sendable {
    let stores: Stores
    let segments: SegmentActions

    public init(stores: Stores) {
        self.stores = stores
        self.segments = SegmentActions(stores: stores)
    }

    /// Checks every reading (bounds, units, the patient is the program's), converts it to its
    /// code's canonical unit and stores the batch; a reading already stored under the same
    /// source and external id is counted as a duplicate and adds nothing. `field` names the list
    /// in errors (`observations[3].value`).
    public func record(programID: String, _ submissions: [ObservationSubmission], source: ObservationSource, by actor: AuditActor,
                       field: String = "observations") async throws -> ObservationBatchResult {
        try await recordWithAlerts(programID: programID, submissions, source: source, by: actor, field: field).batch
    }

    /// What a batch came to: the readings stored and the alerts they raised or joined.
    public struct Recorded: Sendable {
        public var batch: ObservationBatchResult
        public var alerts: [ObservationAlert]
    }

    /// The rules a program's readings are held to: those its triage thresholds give, then its
    /// own (sustained, change, more thresholds), with the member urgent alerts go to.
    public struct AlertRuleSet: Sendable {
        public var rules: [ObservationAlertRule]
        public var onCallStaffID: String?
        /// The units the program's staff read codes in, where not the canonical one.
        public var displayUnits: [ObservationCode: String] = [:]
    }

    public func alertRules(programID: String) async throws -> AlertRuleSet {
        let settings = try await stores.messages.settings(programID: programID)
        var rules = ObservationAlertRule.rules(from: settings.thresholds ?? TriageThresholds())
        var units: [ObservationCode: String] = [:]
        if let source = try await stores.alerts.ruleSource(programID: programID) {
            do throws(PathwayProblems) {
                let own = try AlertRuleDecoder.decode(YAMLDocument.parse(source))
                rules += own.rules
                units = own.units
            } catch {
                throw StoreCorruption(what: "the alert rules of program \(programID) no longer read: \(error.problems.first?.message ?? "")")
            }
        }
        return AlertRuleSet(rules: rules, onCallStaffID: settings.onCallStaffID, displayUnits: units)
    }

    /// Checks a program's alert-rule document (YAML or JSON) and makes it the program's own.
    public func saveAlertRules(programID: String, source: String, by actor: AuditActor) async throws -> [ObservationAlertRule] {
        let rules: [ObservationAlertRule]
        do throws(PathwayProblems) { rules = try AlertRuleDecoder.decode(YAMLDocument.parse(source)).rules } catch {
            let first = error.problems.first
            throw TendError(kind: .invalidInput, code: "invalid_alert_rules",
                            message: .init(en: "line \(first?.line ?? 0): \(first?.message ?? "invalid")", zh: "第 \(first?.line ?? 0) 行：\(first?.message ?? "无效")"),
                            field: "body")
        }
        try await stores.alerts.saveRules(programID: programID, source: source, actor: actor)
        return rules
    }

    /// Stores the readings and, in the same transaction, holds each new one to the program's
    /// alert rules: a breach opens an alert with a task (urgent ones to the on-call member), or
    /// joins the patient's open alert of that rule. Sustained and change rules read the patient's
    /// earlier readings of the code in the same transaction.
    /// `covered` names codes whose breaches a questionnaire's own flag already raised at that
    /// level or higher (a fasting 2.7 on the glucose form is one alert, not two).
    /// Inside a caller's transaction (`joined`), the caller passes the program's `rules`:
    /// reading them would open a second session.
    func store(_ observations: [Observation], programID: String, by actor: AuditActor, covered: [ObservationCode: TaskPriority] = [:],
               rules known: AlertRuleSet? = nil, in joined: (any SQLDatabase)? = nil) async throws -> Recorded {
        let ruleSet: AlertRuleSet
        if let known { ruleSet = known } else { ruleSet = try await alertRules(programID: programID) }
        let thresholds = ruleSet.rules.filter { $0.history == nil }
        let historical = ruleSet.rules.filter { $0.history != nil }
        let (stores, segments) = (self.stores, self.segments)
        return try await stores.database.transaction(joining: joined) { sql in
            let batch = try await stores.observations.record(programID: programID, observations, actor: actor, in: sql)
            var alerts: [ObservationAlert] = []
            for stored in batch.recorded {
                let reading = stored.observation.reading
                var breached = ObservationAlertRule.breached(by: reading, in: thresholds)
                for rule in historical where rule.codes.contains(reading.code) && reading.number != nil {
                    guard let history = rule.history else { continue }
                    let earlier = try await stores.observations.earlierNumbers(
                        sql, programID: programID, patientID: stored.observation.patientID, code: reading.code, before: stored.observation.effectiveAt,
                        count: history.count, since: history.days.map { stored.observation.effectiveAt.addingTimeInterval(-Double($0) * 86_400) })
                    if rule.isBreached(by: reading, after: earlier) { breached.append(rule) }
                }
                for rule in breached {
                    if let flagged = covered[reading.code], flagged >= rule.priority { continue }
                    let raised = try await stores.alerts.raise(sql, programID: programID, patientID: stored.observation.patientID, rule: rule,
                                                               observationID: stored.id, assignee: rule.priority == .urgent ? ruleSet.onCallStaffID : nil, actor: actor)
                    alerts.append(raised.alert)
                }
            }
            try await segments.reevaluate(programID: programID, patientIDs: Set(batch.recorded.map(\.observation.patientID)),
                                          after: .observations(Set(batch.recorded.map(\.observation.reading.code))), by: actor, in: sql)
            return Recorded(batch: batch, alerts: alerts)
        }
    }

    /// Records readings and says which alerts they raised (the API answers with both).
    public func recordWithAlerts(programID: String, _ submissions: [ObservationSubmission], source: ObservationSource, by actor: AuditActor,
                                 field: String = "observations") async throws -> Recorded {
        try Validate.count(submissions, field: field, max: Bounds.observationsPerRequest)
        let zones = try await stores.patients.zones(programID: programID, ids: Array(Set(submissions.map(\.patientID))))
        var observations: [Observation] = []
        for (index, submission) in submissions.enumerated() {
            let item = "\(field)[\(index)]"
            guard let zone = zones[submission.patientID] else {
                throw TendError.notFound(field: "\(item).patient_id", .init(en: "patient", zh: "患者"))
            }
            observations.append(try submission.input.observation(
                patientID: submission.patientID, programID: programID, zone: zone, source: source, recordedBy: actor.id, field: item))
        }
        return try await store(observations, programID: programID, by: actor)
    }

    /// The program's unresolved alerts (or one patient's, all of them), urgent first, audited.
    public func alerts(programID: String, patientID: String? = nil, by actor: AuditActor) async throws -> [ObservationAlert] {
        let found = try await stores.alerts.list(programID: programID, patientID: patientID)
        try await stores.audit.recordRead(.alertsRead, by: actor, program: programID,
                                          subject: patientID.map(AuditSubject.patient) ?? AuditSubject(type: "program", id: programID))
        return found
    }

    /// Acknowledge or resolve an alert, with a note of what was done; resolving completes its task.
    public func changeAlert(programID: String, alertID: String, to status: AlertStatus, staffID: String?, note: String? = nil,
                            by actor: AuditActor) async throws -> ObservationAlert {
        let note = try note.map { text throws(TendError) in try Validate.text(text, field: "note", maxLength: Bounds.textLength, allowEmpty: true) }
            .flatMap { $0.isEmpty ? nil : $0 }
        guard let alert = try await stores.alerts.change(programID: programID, id: alertID, to: status, staffID: staffID, note: note, actor: actor) else {
            throw TendError.notFound("alert")
        }
        return alert
    }

    /// What an import came to.
    public typealias ImportSummary = RowImportSummary

    /// Imports a file's rows batch by batch: a row that is not valid is refused on its own
    /// (its line and field handed to `reject`), the rest are stored.
    public func importRows(_ rows: [Result<ObservationFileRow, PatientImport.Reject>], programID: String, source: ObservationSource,
                           by actor: AuditActor, reject: (PatientImport.Reject) -> Void) async throws -> ImportSummary {
        try await RowImport(stores: stores).run(rows, programID: programID, reject: reject) { batch in
            var refused: [PatientImport.Reject] = []
            var observations: [Observation] = []
            for (row, patientID, zone) in batch {
                do throws(TendError) {
                    observations.append(try row.input.observation(patientID: patientID, programID: programID, zone: zone, source: source,
                                                                  recordedBy: actor.id, field: "row"))
                } catch {
                    refused.append(RowImport.refusal(line: row.line, error))
                }
            }
            let result = try await store(observations, programID: programID, by: actor).batch
            return (result.recorded.count, result.duplicates, refused)
        }
    }

    /// The patient's observations, newest first (of one code, since an instant), audited as one
    /// read; nil when the program has no such patient.
    public func list(programID: String, patientID: String, code: String? = nil, since: Date? = nil, limit: Int = 500,
                     by actor: AuditActor) async throws -> [StoredObservation]? {
        guard try await !stores.patients.zones(programID: programID, ids: [patientID]).isEmpty else { return nil }
        let parsed = try code.map { text throws(TendError) in try ObservationCatalog.code(text, field: "code") }
        let found = try await stores.observations.list(programID: programID, patientID: patientID, code: parsed, since: since, limit: limit)
        try await stores.audit.recordRead(.observationsRead, by: actor, program: programID, subject: .patient(patientID))
        return found
    }
}
