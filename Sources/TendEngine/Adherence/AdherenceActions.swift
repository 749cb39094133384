import Foundation
public import TendCore
public import TendStore

/// A dispense as the pharmacy system or a pharmacist sends it.
public struct DispenseSubmission: Sendable, Equatable {
    public var patientID: String
    public var drug: String
    public var drugClass: String?
    public var filledOn: String
    public var daysSupply: Int
    public var quantity: Double?
    public var pharmacy: String?
    public var externalID: String?

    public init(patientID: String, drug: String, drugClass: String? = nil, filledOn: String, daysSupply: Int, quantity: Double? = nil,
                pharmacy: String? = nil, externalID: String? = nil) {
        self.patientID = patientID
        self.drug = drug
        self.drugClass = drugClass
        self.filledOn = filledOn
        self.daysSupply = daysSupply
        self.quantity = quantity
        self.pharmacy = pharmacy
        self.externalID = externalID
    }
}

extension DispenseFileRow {
    /// The row as a submission; a value that is not a number fails the check that reads it.
    func submission(patientID: String) -> DispenseSubmission {
        DispenseSubmission(patientID: patientID, drug: values["drug"] ?? "", drugClass: values["class"], filledOn: values["filled_on"] ?? "",
                           daysSupply: values["days_supply"].flatMap { Int($0) } ?? 0, quantity: values["quantity"].flatMap { Double($0) } ?? values["quantity"].map { _ in Double.nan },
                           pharmacy: values["pharmacy"], externalID: values["external_id"])
    }
}

/// A regimen as a prescriber or pharmacist enters it.
public struct RegimenSubmission: Sendable, Equatable {
    public var drug: String
    public var drugClass: String?
    public var strength: String?
    public var dose: String
    public var frequency: String
    public var startOn: String
    public var stopOn: String?
    public var prescriber: String?

    public init(drug: String, drugClass: String? = nil, strength: String? = nil, dose: String, frequency: String, startOn: String, stopOn: String? = nil,
                prescriber: String? = nil) {
        self.drug = drug
        self.drugClass = drugClass
        self.strength = strength
        self.dose = dose
        self.frequency = frequency
        self.startOn = startOn
        self.stopOn = stopOn
        self.prescriber = prescriber
    }
}

/// One class's adherence for a patient over a period.
public struct ClassAdherence: Sendable, Equatable {
    public var drugClass: String
    public var result: PDCResult
}

/// Dispenses in, adherence out: for the API, the console and imports.
public struct AdherenceActions: Sendable {
    let stores: Stores
    let segments: SegmentActions
    let refills: RefillFollowUp

    public init(stores: Stores) {
        self.stores = stores
        self.segments = SegmentActions(stores: stores)
        self.refills = RefillFollowUp(stores: stores)
    }

    /// Checks and stores a batch (`field[i].…` names a bad one); a dispense already stored under
    /// the same source and external id adds nothing. Refill pathways follow the new supply in
    /// the same transaction (see `RefillFollowUp`). Returns (recorded, duplicates).
    public func record(programID: String, _ submissions: [DispenseSubmission], source: String, by actor: AuditActor,
                       field: String = "dispenses") async throws -> (recorded: Int, duplicates: Int) {
        try Validate.count(submissions, field: field, max: Bounds.observationsPerRequest)
        let known = try await stores.patients.zones(programID: programID, ids: Array(Set(submissions.map(\.patientID))))
        var dispenses: [Dispense] = []
        for (index, submission) in submissions.enumerated() {
            let item = "\(field)[\(index)]"
            guard known[submission.patientID] != nil else { throw TendError.notFound(field: "\(item).patient_id", .init(en: "patient", zh: "患者")) }
            dispenses.append(try Self.checked(submission, field: item))
        }
        let recorded = try await store(programID: programID, dispenses, source: source, by: actor)
        return (recorded, dispenses.count - recorded)
    }

    /// Imports a file's rows a thousand at a time: a row that is not valid is refused on its
    /// own (its line and field handed to `reject`), the rest are stored as `record` stores them.
    public func importRows(_ rows: [Result<DispenseFileRow, PatientImport.Reject>], programID: String, source: String, by actor: AuditActor,
                           reject: (PatientImport.Reject) -> Void) async throws -> RowImportSummary {
        try await RowImport(stores: stores).run(rows, programID: programID, reject: reject) { batch in
            var refused: [PatientImport.Reject] = []
            var dispenses: [Dispense] = []
            for (row, patientID, _) in batch {
                do throws(TendError) {
                    dispenses.append(try Self.checked(row.submission(patientID: patientID), field: "row"))
                } catch {
                    refused.append(RowImport.refusal(line: row.line, error))
                }
            }
            let recorded = try await store(programID: programID, dispenses, source: source, by: actor)
            return (recorded, dispenses.count - recorded, refused)
        }
    }

    /// One submission checked field by field (`field.…` names what is wrong).
    static func checked(_ submission: DispenseSubmission, field item: String) throws(TendError) -> Dispense {
        let drug = try Validate.text(submission.drug, field: "\(item).drug")
        let drugClass = try submission.drugClass.map { text throws(TendError) in try Validate.text(text, field: "\(item).class") }
        let day = try Validate.date(submission.filledOn, field: "\(item).filled_on")
        guard Fill.daysSupplyRange.contains(submission.daysSupply) else {
            throw TendError.invalid("\(item).days_supply", .init(en: "must be 1 to \(Fill.daysSupplyRange.upperBound) days", zh: "应为 1 至 \(Fill.daysSupplyRange.upperBound) 天"))
        }
        let quantity = try submission.quantity.map { value throws(TendError) in try Validate.number(value, field: "\(item).quantity", in: 0...1_000_000) }
        let pharmacy = try submission.pharmacy.map { text throws(TendError) in try Validate.text(text, field: "\(item).pharmacy") }
        let externalID = try submission.externalID.map { text throws(TendError) in try Validate.identifier(text, field: "\(item).external_id") }
        return Dispense(patientID: submission.patientID, fill: Fill(drug: drug, drugClass: drugClass, filledOn: day, daysSupply: submission.daysSupply),
                        quantity: quantity, pharmacy: pharmacy, externalID: externalID)
    }

    /// Stores checked dispenses of known patients in one transaction with what follows from
    /// them: refill pathways move on (`RefillFollowUp`), segments are evaluated again.
    private func store(programID: String, _ dispenses: [Dispense], source: String, by actor: AuditActor) async throws -> Int {
        guard !dispenses.isEmpty else { return 0 }
        let (stores, segments, refills) = (self.stores, self.segments, self.refills)
        let refillPathways = try await refills.pathways(programID: programID)
        return try await stores.database.transaction { sql in
            let recorded = try await stores.dispenses.record(programID: programID, dispenses, source: source, actor: actor, in: sql)
            let enrolled = try await refills.follow(programID: programID, dispenses: dispenses, pathways: refillPathways, by: actor, in: sql)
            let patients = Set(dispenses.map(\.patientID))
            try await segments.reevaluate(programID: programID, patientIDs: patients, after: .dispenses, by: actor, in: sql)
            if !enrolled.isEmpty { try await segments.reevaluate(programID: programID, patientIDs: enrolled, after: .enrolments, by: actor, in: sql) }
            return recorded
        }
    }

    /// Throws not-found unless the program has the patient: what an entry point asks before it
    /// reads a request's body, so that a missing patient is a 404 whatever the body.
    public func requirePatient(programID: String, patientID: String) async throws {
        guard try await !stores.patients.zones(programID: programID, ids: [patientID]).isEmpty else { throw TendError.notFound("patient") }
    }

    /// Checks and stores a regimen for a known patient (`regimen.…` names a bad field; a stop
    /// before the start conflicts with it: 409).
    public func startRegimen(programID: String, patientID: String, _ submission: RegimenSubmission, by actor: AuditActor) async throws -> Regimen {
        guard try await !stores.patients.zones(programID: programID, ids: [patientID]).isEmpty else { throw TendError.notFound("patient") }
        let regimen = try Self.checked(submission, patientID: patientID)
        return try await stores.regimens.start(programID: programID, regimen, actor: actor)
    }

    static func checked(_ submission: RegimenSubmission, patientID: String) throws(TendError) -> Regimen {
        let drug = try Validate.text(submission.drug, field: "regimen.drug")
        let drugClass = try submission.drugClass.map { text throws(TendError) in try Validate.text(text, field: "regimen.class") }
        let strength = try submission.strength.map { text throws(TendError) in try Validate.text(text, field: "regimen.strength") }
        let dose = try Validate.text(submission.dose, field: "regimen.dose")
        guard let frequency = DoseFrequency(rawValue: submission.frequency.trimmed) else {
            throw TendError.invalid("regimen.frequency", .init(en: "must be one of \(DoseFrequency.allCases.map(\.rawValue).joined(separator: ", "))",
                                                              zh: "应为 \(DoseFrequency.allCases.map(\.rawValue).joined(separator: "、")) 之一"))
        }
        let startOn = try Validate.date(submission.startOn, field: "regimen.start_on")
        let stopOn = try submission.stopOn.map { text throws(TendError) in try Validate.date(text, field: "regimen.stop_on") }
        if let stopOn, stopOn < startOn {
            throw TendError.conflict("regimen.stop_on", .init(en: "must be on or after the start", zh: "应不早于开始日期"))
        }
        let prescriber = try submission.prescriber.map { text throws(TendError) in try Validate.text(text, field: "regimen.prescriber") }
        return Regimen(id: "", patientID: patientID, drug: drug, drugClass: drugClass, strength: strength, dose: dose, frequency: frequency,
                       startOn: startOn, stopOn: stopOn, prescriber: prescriber)
    }

    /// Ends a regimen on `stopOn`; the refill follow-up of its drug or class past that day ends
    /// with it, in the same transaction. Nil when the patient has no such regimen.
    public func stopRegimen(programID: String, patientID: String, regimenID: String, stopOn text: String, by actor: AuditActor) async throws -> Regimen? {
        let day = try Validate.date(text, field: "stop_on")
        let current = try await stores.regimens.list(programID: programID, patientID: patientID)
        guard let regimen = current.first(where: { $0.id == regimenID }) else { return nil }
        guard day >= regimen.startOn else { throw TendError.conflict("stop_on", .init(en: "must be on or after the start", zh: "应不早于开始日期")) }
        let (stores, refills) = (self.stores, self.refills)
        let pathways = try await refills.pathways(programID: programID)
        return try await stores.database.transaction { sql in
            let stopped = try await stores.regimens.stop(programID: programID, patientID: patientID, regimenID: regimenID, on: day, actor: actor, in: sql)
            if let stopped { try await refills.stop(programID: programID, regimen: stopped, on: day, pathways: pathways, by: actor, in: sql) }
            return stopped
        }
    }

    /// The patient's regimens, audited; nil when the program has no such patient.
    public func regimens(programID: String, patientID: String, by actor: AuditActor) async throws -> [Regimen]? {
        guard try await !stores.patients.zones(programID: programID, ids: [patientID]).isEmpty else { return nil }
        let regimens = try await stores.regimens.list(programID: programID, patientID: patientID)
        try await stores.audit.recordRead(.adherenceRead, by: actor, program: programID, subject: .patient(patientID))
        return regimens
    }

    /// The patient's PDC per class over `start`…`end` (start: the first fill), audited; nil
    /// when the program has no such patient. A period that ends before it starts holds no fills.
    public func patientAdherence(programID: String, patientID: String, start: LocalDate?, end: LocalDate, by actor: AuditActor) async throws -> [ClassAdherence]? {
        guard try await !stores.patients.zones(programID: programID, ids: [patientID]).isEmpty else { return nil }
        let fills = try await stores.dispenses.fills(programID: programID, patientID: patientID)
        try await stores.audit.recordRead(.adherenceRead, by: actor, program: programID, subject: .patient(patientID))
        return Self.classes(fills, start: start, end: end)
    }

    /// PDC per class (a drug without one is its own) of fills already read, classes with no
    /// fill in the period left out.
    public static func classes(_ fills: [Fill], start: LocalDate?, end: LocalDate) -> [ClassAdherence] {
        // Without a start, the period begins at the first fill, ten years back at most.
        let from = start ?? end.adding(days: -(PDC.maximumPeriodDays - 1))
        return Dictionary(grouping: fills, by: { $0.drugClass ?? $0.drug }).map { drugClass, ofClass in
            ClassAdherence(drugClass: drugClass, result: PDC.compute(ofClass, start: from, end: end))
        }.filter { $0.result.treatmentDays > 0 }.sorted { $0.drugClass < $1.drugClass }
    }
}
