import Foundation
import TendCore
import TendStore

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

/// One class's adherence for a patient over a period.
public struct ClassAdherence: Sendable, Equatable {
    public var drugClass: String
    public var result: PDCResult
}

/// Dispenses in, adherence out: for the API, the console and imports.
public struct AdherenceActions: Sendable {
    let stores: Stores
    let segments: SegmentActions

    public init(stores: Stores) {
        self.stores = stores
        self.segments = SegmentActions(stores: stores)
    }

    /// Checks and stores a batch (`field[i].…` names a bad one); a dispense already stored under
    /// the same source and external id adds nothing. Returns (recorded, duplicates).
    public func record(programID: String, _ submissions: [DispenseSubmission], source: String, by actor: AuditActor,
                       field: String = "dispenses") async throws -> (recorded: Int, duplicates: Int) {
        try Validate.count(submissions, field: field, max: Bounds.observationsPerRequest)
        let known = try await stores.patients.zones(programID: programID, ids: Array(Set(submissions.map(\.patientID))))
        var dispenses: [Dispense] = []
        for (index, submission) in submissions.enumerated() {
            let item = "\(field)[\(index)]"
            guard known[submission.patientID] != nil else { throw TendError.notFound(field: "\(item).patient_id", .init(en: "patient", zh: "患者")) }
            let drug = try Validate.text(submission.drug, field: "\(item).drug")
            let drugClass = try submission.drugClass.map { text throws(TendError) in try Validate.text(text, field: "\(item).class") }
            let day = try Validate.date(submission.filledOn, field: "\(item).filled_on")
            guard Fill.daysSupplyRange.contains(submission.daysSupply) else {
                throw TendError.invalid("\(item).days_supply", .init(en: "must be 1 to \(Fill.daysSupplyRange.upperBound) days", zh: "应为 1 至 \(Fill.daysSupplyRange.upperBound) 天"))
            }
            let quantity = try submission.quantity.map { value throws(TendError) in try Validate.number(value, field: "\(item).quantity", in: 0...1_000_000) }
            let pharmacy = try submission.pharmacy.map { text throws(TendError) in try Validate.text(text, field: "\(item).pharmacy") }
            let externalID = try submission.externalID.map { text throws(TendError) in try Validate.identifier(text, field: "\(item).external_id") }
            dispenses.append(Dispense(patientID: submission.patientID, fill: Fill(drug: drug, drugClass: drugClass, filledOn: day, daysSupply: submission.daysSupply),
                                      quantity: quantity, pharmacy: pharmacy, externalID: externalID))
        }
        let (stores, segments, checked) = (self.stores, self.segments, dispenses)
        let recorded = try await stores.database.transaction { sql in
            let recorded = try await stores.dispenses.record(programID: programID, checked, source: source, actor: actor, in: sql)
            try await segments.reevaluate(programID: programID, patientIDs: Set(checked.map(\.patientID)), after: .dispenses, by: actor, in: sql)
            return recorded
        }
        return (recorded, dispenses.count - recorded)
    }

    /// The patient's PDC per class over `start`…`end` (start: the first fill), audited; nil
    /// when the program has no such patient. A period that ends before it starts holds no fills.
    public func patientAdherence(programID: String, patientID: String, start: LocalDate?, end: LocalDate, by actor: AuditActor) async throws -> [ClassAdherence]? {
        guard try await !stores.patients.zones(programID: programID, ids: [patientID]).isEmpty else { return nil }
        let fills = try await stores.dispenses.fills(programID: programID, patientID: patientID)
        try await stores.audit.recordRead(.adherenceRead, by: actor, program: programID, subject: .patient(patientID))
        // Without a start, the period begins at the first fill, ten years back at most.
        let from = start ?? end.adding(days: -(PDC.maximumPeriodDays - 1))
        return Dictionary(grouping: fills, by: { $0.drugClass ?? $0.drug }).map { drugClass, ofClass in
            ClassAdherence(drugClass: drugClass, result: PDC.compute(ofClass, start: from, end: end))
        }.filter { $0.result.treatmentDays > 0 }.sorted { $0.drugClass < $1.drugClass }
    }
}
