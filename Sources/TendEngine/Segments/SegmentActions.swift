public import Foundation
import SQLKit
public import TendCore
import TendFormats
public import TendStore

/// A segment with how many patients are in it now.
public struct SegmentSummary: Sendable {
    public var segment: StoredSegment
    public var members: Int
}

/// Why a patient is (or is not) in a segment: each clause, whether it holds for them now and
/// the value that decided it ("8.2 mmol/L on 2026-11-28").
public struct SegmentExplanation: Sendable {
    public struct Clause: Sendable {
        public var text: String
        public var holds: Bool
        public var evidence: SegmentEvidence?
    }

    public var segment: StoredSegment
    public var member: SegmentMembership?
    public var clauses: [Clause]
}

/// Who a rule would take in, before it is saved.
public struct SegmentPreview: Sendable {
    public var count: Int
    public var patients: [Patient]
}

/// Segments: saving one evaluates it over the program at once; a change to a patient (a reading,
/// a response, a tag, their profile) re-evaluates the segments it can affect for that patient in
/// the same transaction; a periodic sweep re-evaluates the segments whose clauses slide with
/// time. Entering and leaving run the segment's actions, set-based over everyone who moved.
public struct SegmentActions: Sendable {
    let stores: Stores

    public init(stores: Stores) {
        self.stores = stores
    }

    /// Checks a segment document (YAML or JSON): its rule, and that the pathways,
    /// questionnaires and groups it names are the program's.
    public func check(programID: String, source: String) async throws -> SegmentDefinition {
        let definition: SegmentDefinition
        do throws(PathwayProblems) { definition = try SegmentFile.parse(source) } catch {
            let first = error.problems.first
            throw TendError(kind: .invalidInput, code: "invalid_segment",
                            message: .init(en: "line \(first?.line ?? 0): \(first?.message ?? "invalid")", zh: "第 \(first?.line ?? 0) 行：\(first?.message ?? "无效")"),
                            field: "body")
        }
        for slug in definition.pathways.sorted() where try await stores.pathways.find(programID: programID, slug: slug) == nil {
            throw TendError(kind: .invalidInput, code: "invalid_segment",
                            message: .init(en: "the segment names pathway \(slug), which the program does not have", zh: "分群引用的随访方案 \(slug) 不存在"), field: "body")
        }
        for id in definition.questionnaires.sorted() where !ShippedQuestionnaires.names.contains(id) {
            guard try await stores.questionnaires.find(programID: programID, id: id) != nil else {
                throw TendError(kind: .invalidInput, code: "invalid_segment",
                                message: .init(en: "the segment names questionnaire \(id), which the program does not have", zh: "分群引用的问卷 \(id) 不存在"), field: "body")
            }
        }
        for group in definition.groups.sorted() where try await stores.messages.group(programID: programID, id: group) == nil {
            throw TendError(kind: .invalidInput, code: "invalid_segment",
                            message: .init(en: "the segment names group \(group), which the program does not have", zh: "分群引用的群 \(group) 不存在"), field: "body")
        }
        return definition
    }

    /// Saves the segment and evaluates it over the program, running the actions of everyone who
    /// enters or leaves, in one transaction.
    public func save(programID: String, source: String, by actor: AuditActor) async throws -> (segment: StoredSegment, change: SegmentChange) {
        let definition = try await check(programID: programID, source: source)
        let stores = self.stores
        return try await stores.database.transaction { sql in
            let saved = try await stores.segments.save(programID: programID, definition: definition, source: source, actor: actor, in: sql)
            let change = try await stores.segments.evaluate(saved, actor: actor, in: sql)
            try await runActions(saved, actor: actor, in: sql)
            return (saved, change)
        }
    }

    public func list(programID: String) async throws -> [SegmentSummary] {
        let counts = try await stores.segments.counts(programID: programID)
        return try await stores.segments.list(programID: programID).map { SegmentSummary(segment: $0, members: counts[$0.id] ?? 0) }
    }

    public func segment(programID: String, id: String) async throws -> SegmentSummary {
        guard let segment = try await stores.segments.find(programID: programID, id: id) else { throw TendError.notFound("segment") }
        return SegmentSummary(segment: segment, members: try await stores.segments.counts(programID: programID)[segment.id] ?? 0)
    }

    /// Who a rule (or a whole segment document) would take in now: the count and the first
    /// `limit` patients, audited as a read of them.
    public func preview(programID: String, rule text: String, limit: Int, by actor: AuditActor) async throws -> SegmentPreview {
        let rule: SegmentRule
        do throws(SegmentRuleError) { rule = try SegmentRule.parse(text) } catch {
            throw TendError(kind: .invalidInput, code: "invalid_rule",
                            message: .init(en: "line \(error.line), column \(error.column): \(error.message.en)", zh: "第 \(error.line) 行第 \(error.column) 列：\(error.message.zh)"),
                            field: "rule")
        }
        let found = try await stores.segments.preview(programID: programID, rule: rule, limit: min(max(limit, 0), 100))
        let patients = try await stores.patients.fetch(programID: programID, ids: found.patientIDs)
        try await stores.audit.recordReads(.segmentPreview, by: actor, program: programID, patients: patients.map(\.id))
        return SegmentPreview(count: found.count, patients: patients)
    }

    /// A page of the segment's current members with why each is in it, audited.
    public func members(programID: String, segmentID: String, limit: Int, offset: Int, by actor: AuditActor) async throws -> [(Patient, SegmentExplanation)] {
        guard let segment = try await stores.segments.find(programID: programID, id: segmentID) else { throw TendError.notFound("segment") }
        let memberships = try await stores.segments.members(segment, limit: limit, offset: offset)
        let patients = Dictionary(try await stores.patients.fetch(programID: programID, ids: memberships.map(\.patientID)).map { ($0.id, $0) },
                                  uniquingKeysWith: { first, _ in first })
        var page: [(Patient, SegmentExplanation)] = []
        for membership in memberships {
            guard let patient = patients[membership.patientID] else { continue }
            page.append((patient, try await explain(segment, patientID: patient.id, member: membership)))
        }
        try await stores.audit.recordReads(.segmentsRead, by: actor, program: programID, patients: page.map(\.0.id))
        return page
    }

    /// Every segment of the program for one patient: in or not, and why, audited.
    public func explain(programID: String, patientID: String, by actor: AuditActor) async throws -> [SegmentExplanation] {
        let explanations = try await explanations(programID: programID, patientID: patientID)
        try await stores.audit.recordRead(.segmentsRead, by: actor, program: programID, subject: .patient(patientID))
        return explanations
    }

    /// The same, for a read that audits itself (the patient's record).
    func explanations(programID: String, patientID: String) async throws -> [SegmentExplanation] {
        let memberships = try await stores.segments.memberships(programID: programID, patientID: patientID)
        var explanations: [SegmentExplanation] = []
        for segment in try await stores.segments.list(programID: programID) {
            let current = memberships.first { $0.segmentID == segment.id && $0.leftAt == nil }
                ?? memberships.first { $0.segmentID == segment.id }
            explanations.append(try await explain(segment, patientID: patientID, member: current))
        }
        return explanations
    }

    private func explain(_ segment: StoredSegment, patientID: String, member: SegmentMembership?) async throws -> SegmentExplanation {
        var clauses: [SegmentExplanation.Clause] = []
        for clause in segment.definition.rule.clauses {
            clauses.append(.init(text: clause.text,
                                 holds: try await stores.segments.holds(clause, programID: segment.programID, patientID: patientID),
                                 evidence: try await stores.segments.evidence(clause, programID: segment.programID, patientID: patientID)))
        }
        return SegmentExplanation(segment: segment, member: member, clauses: clauses)
    }

    // MARK: Re-evaluation

    /// After something about these patients changed, inside the transaction that changed it:
    /// each segment the change can affect is evaluated for them, in the order the segments were
    /// made (a tag an earlier segment sets is seen by a later one), and the actions of anyone
    /// who moved run before the transaction commits.
    func reevaluate(programID: String, patientIDs: Set<String>, after trigger: SegmentTrigger, by actor: AuditActor,
                    in sql: any SQLDatabase) async throws {
        guard !patientIDs.isEmpty else { return }
        let segments = try await stores.segments.list(programID: programID, in: sql)
        for segment in segments where segment.definition.rule.isAffected(by: trigger) {
            var change = SegmentChange()
            for patientID in patientIDs.sorted() {
                change = change + (try await stores.segments.evaluate(segment, patientID: patientID, actor: actor, in: sql))
            }
            if change.entered + change.left > 0 { try await runActions(segment, actor: actor, in: sql) }
        }
    }

    /// Re-evaluates over their whole programs the segments whose clauses slide with time
    /// (windows, age) and that were last evaluated before `notEvaluatedSince` (all of them when
    /// nil), each in its own transaction; returns who moved.
    @discardableResult
    public func sweep(notEvaluatedSince: Date? = nil) async throws -> SegmentChange {
        var total = SegmentChange()
        for program in try await stores.programs.all() {
            for segment in try await stores.segments.list(programID: program.id) where segment.definition.rule.slides {
                if let notEvaluatedSince, let evaluated = segment.evaluatedAt, evaluated > notEvaluatedSince { continue }
                let stores = self.stores
                total = total + (try await stores.database.transaction { sql in
                    let change = try await stores.segments.evaluate(segment, actor: .system, in: sql)
                    try await runActions(segment, actor: .system, in: sql)
                    return change
                })
            }
        }
        return total
    }

    /// Evaluates every segment of the program (that the change can affect) over it, each in its
    /// own transaction (after an import or a bulk enrolment).
    @discardableResult
    public func evaluateAll(programID: String, after trigger: SegmentTrigger = .profile, by actor: AuditActor) async throws -> SegmentChange {
        var total = SegmentChange()
        for segment in try await stores.segments.list(programID: programID) where segment.definition.rule.isAffected(by: trigger) {
            total = total + (try await evaluate(programID: programID, segmentID: segment.id, by: actor))
        }
        return total
    }

    /// Evaluates one segment over its program now (`tend segment evaluate`).
    public func evaluate(programID: String, segmentID: String, by actor: AuditActor) async throws -> SegmentChange {
        guard let segment = try await stores.segments.find(programID: programID, id: segmentID) else { throw TendError.notFound("segment") }
        let stores = self.stores
        return try await stores.database.transaction { sql in
            let change = try await stores.segments.evaluate(segment, actor: actor, in: sql)
            try await runActions(segment, actor: actor, in: sql)
            return change
        }
    }

    /// Runs the segment's actions for its pending moves, then settles them.
    private func runActions(_ segment: StoredSegment, actor: AuditActor, in sql: any SQLDatabase) async throws {
        let now = stores.clock.now()
        for (move, actions) in [(SegmentMove.enter, segment.definition.onEnter), (.leave, segment.definition.onLeave)] {
            for action in actions {
                switch action {
                case .enrol(let slug):
                    guard let pathway = try await stores.pathways.find(programID: segment.programID, slug: slug, in: sql) else { continue }
                    for zone in try await stores.segments.pendingZones(segment.id, move, in: sql) {
                        let today = LocalDate(instant: now, in: TimeZone(identifier: zone) ?? .utc)
                        let anchors = Dictionary(uniqueKeysWithValues: pathway.pathway.anchors.map { ($0, today) })
                        _ = try await stores.enrolments.enrol(programID: segment.programID, pathway: pathway,
                                                              target: .segmentMoved(segmentID: segment.id, move: move.rawValue, timeZone: zone),
                                                              anchors: anchors, actor: actor, in: sql)
                    }
                case .endEnrolment(let slug):
                    _ = try await stores.enrolments.cancel(programID: segment.programID, pathway: slug,
                                                           patientsIn: stores.segments.pendingSource(segment.id, move), actor: actor, in: sql)
                case .setTag(let tag):
                    try await stores.segments.setTag(tag, segment: segment, for: move, actor: actor, in: sql)
                case .clearTag(let tag):
                    try await stores.segments.clearTag(tag, segment: segment, for: move, actor: actor, in: sql)
                case .joinGroup(let group):
                    try await stores.segments.changeGroup(group, join: true, segment: segment, for: move, actor: actor, in: sql)
                case .leaveGroup(let group):
                    try await stores.segments.changeGroup(group, join: false, segment: segment, for: move, actor: actor, in: sql)
                }
            }
        }
        try await stores.segments.settle(segment.id, in: sql)
    }
}
