public import TendCore
public import TendStore

/// A patient's record as staff open it: profile, follow-up and conversation, read once and
/// audited once (`patient.read`).
public struct PatientRecord: Sendable {
    public var patient: Patient
    public var enrolments: [Enrolment]
    public var touchpoints: [Touchpoint]
    public var thread: [StoredMessage]
    /// The pathways the enrolments follow, by id.
    public var pathways: [String: StoredPathway]
    /// The newest numeric readings (up to 500), as the chart needs them, and the patient's alerts, unresolved first.
    public var observations: [ObservationPoint]
    public var alerts: [ObservationAlert]
    /// The newest questionnaire responses (up to 20).
    public var responses: [QuestionnaireResponse]
    /// Every segment of the program: whether the patient is in it, and why.
    public var segments: [SegmentExplanation]
    /// The dispenses and refills, oldest first.
    public var fills: [Fill]
    /// What the patient is prescribed, newest start first.
    public var regimens: [Regimen]
}

/// The registry's actions: every read of patient data audited, every write audited in its
/// transaction (by the store), the same for the API, the console and the CLI.
public struct PatientActions: Sendable {
    let stores: Stores

    let segments: SegmentActions

    public init(stores: Stores) {
        self.stores = stores
        self.segments = SegmentActions(stores: stores)
    }

    public func create(programID: String, profile: PatientProfile, tags: [PatientTag], by actor: AuditActor) async throws -> Patient {
        let (stores, segments) = (self.stores, self.segments)
        return try await stores.database.transaction { sql in
            let patient = try await stores.patients.create(programID: programID, profile: profile, tags: tags, actor: actor, in: sql)
            try await segments.reevaluate(programID: programID, patientIDs: [patient.id], after: .profile, by: actor, in: sql)
            return patient
        }
    }

    /// Applies `change` to the stored profile; nil when the program has no such patient.
    public func update(programID: String, patientID: String, by actor: AuditActor,
                       change: (PatientProfile) throws -> PatientProfile) async throws -> Patient? {
        guard let current = try await stores.patients.fetch(programID: programID, ids: [patientID]).first else { return nil }
        let profile = try change(current.profile)
        let (stores, segments) = (self.stores, self.segments)
        let updated = try await stores.database.transaction { sql in
            guard try await stores.patients.updateProfile(programID: programID, patientID: patientID, profile: profile, actor: actor, in: sql) else { return false }
            try await segments.reevaluate(programID: programID, patientIDs: [patientID], after: .profile, by: actor, in: sql)
            return true
        }
        guard updated else { return nil }
        return try await stores.patients.fetch(programID: programID, ids: [patientID]).first
    }

    /// Adds, then removes tags; nil when the program has no such patient.
    public func retag(programID: String, patientID: String, add: [PatientTag], remove: [PatientTag], by actor: AuditActor) async throws -> Patient? {
        let (stores, segments) = (self.stores, self.segments)
        let found = try await stores.database.transaction { sql in
            if !add.isEmpty, try await !stores.patients.addTags(programID: programID, patientID: patientID, tags: add, actor: actor, in: sql) { return false }
            if !remove.isEmpty, try await !stores.patients.removeTags(programID: programID, patientID: patientID, tags: remove, actor: actor, in: sql) { return false }
            try await segments.reevaluate(programID: programID, patientIDs: [patientID], after: .tags, by: actor, in: sql)
            return true
        }
        guard found else { return nil }
        return try await stores.patients.fetch(programID: programID, ids: [patientID]).first
    }

    /// Imports a file's rows batch by batch (upserted by external id; invalid rows reported to
    /// `reject`), each batch with its audit events in one transaction.
    public func importRows(_ reader: ImportRowReader, programID: String, by actor: AuditActor,
                           reject: (PatientImport.Reject) -> Void, progress: (ImportSummary) -> Void = { _ in }) async throws -> ImportSummary {
        let session = PatientImporter.Session()
        try await PatientImporter(store: stores.patients).run(reader, programID: programID, actor: actor, session: session, reject: reject, progress: progress)
        // An import may change thousands of patients: each segment is evaluated over the program
        // once, set-based, rather than patient by patient.
        try await segments.evaluateAll(programID: programID, by: actor)
        return session.summary
    }

    public func recordConsent(programID: String, patientID: String, kind: String, version: String, by actor: AuditActor) async throws -> ConsentRecord? {
        try await stores.patients.recordConsent(programID: programID, patientID: patientID, kind: kind, version: version, actor: actor)
    }

    public func withdrawConsent(programID: String, patientID: String, consentID: String, by actor: AuditActor) async throws -> Bool {
        try await stores.patients.withdrawConsent(programID: programID, patientID: patientID, consentID: consentID, actor: actor)
    }

    public func read(programID: String, patientID: String, by actor: AuditActor) async throws -> Patient? {
        try await stores.patients.get(programID: programID, patientID: patientID, actor: actor)
    }

    /// The patient with everything the patient page shows, one `patient.read` event for all of it.
    public func record(programID: String, patientID: String, by actor: AuditActor) async throws -> PatientRecord? {
        guard let patient = try await stores.patients.get(programID: programID, patientID: patientID, actor: actor) else { return nil }
        let enrolments = try await stores.enrolments.enrolments(programID: programID, patientID: patientID)
        var pathways: [String: StoredPathway] = [:]
        for enrolment in enrolments where pathways[enrolment.pathwayID] == nil {
            pathways[enrolment.pathwayID] = try await stores.pathways.find(programID: programID, id: enrolment.pathwayID)
        }
        return PatientRecord(patient: patient, enrolments: enrolments,
                             touchpoints: try await stores.enrolments.schedule(programID: programID, patientID: patientID),
                             thread: try await stores.messages.thread(programID: programID, patientID: patientID), pathways: pathways,
                             observations: try await stores.observations.points(programID: programID, patientID: patientID),
                             alerts: try await stores.alerts.list(programID: programID, patientID: patientID),
                             responses: try await stores.responses.list(programID: programID, patientID: patientID, limit: 20),
                             segments: try await segments.explanations(programID: programID, patientID: patientID),
                             fills: try await stores.dispenses.fills(programID: programID, patientID: patientID),
                             regimens: try await stores.regimens.list(programID: programID, patientID: patientID))
    }

    public func list(programID: String, query: PatientQuery, by actor: AuditActor) async throws -> PatientPage {
        try await stores.patients.list(programID: programID, query: query, actor: actor)
    }

    public func search(programID: String, phone: String?, idNumber: String?, name: String?, by actor: AuditActor) async throws -> [Patient] {
        try await stores.patients.search(programID: programID, phone: phone, idNumber: idNumber, name: name, actor: actor)
    }

    /// One search box: a phone, else an ID number, else a name, as the text looks.
    public func find(programID: String, text: String, by actor: AuditActor) async throws -> [Patient] {
        let folded = TextFolding.halfWidth(text)
        let looksNumeric = folded.allSatisfy { $0.isNumber || "+-() xX".contains($0) }
        guard looksNumeric else { return try await search(programID: programID, phone: nil, idNumber: nil, name: text, by: actor) }
        var found: [Patient] = []
        if let phone = try? PatientFields.phone(folded, field: "q") {
            found = try await search(programID: programID, phone: phone, idNumber: nil, name: nil, by: actor)
        }
        if found.isEmpty, (try? PatientFields.idNumber(folded)) != nil {
            found = try await search(programID: programID, phone: nil, idNumber: folded, name: nil, by: actor)
        }
        return found
    }
}
