public import Foundation
import SQLKit
public import TendCore
import TendFormats
public import TendStore

/// A photo sent with a form, for one of its photo items.
public struct PhotoUpload: Sendable, Equatable {
    public var item: String
    public var data: Data

    public init(item: String, data: Data) {
        self.item = item
        self.data = data
    }
}

/// A response recorded: what it scored, the observations it became and the alerts it raised.
public struct RecordedResponse: Sendable {
    public var response: QuestionnaireResponse
    public var score: ResponseScore
    public var observations: [StoredObservation]
    public var alerts: [ObservationAlert]
}

/// What became of a response: recorded, or refused for scoring (answers missing or wrong) with
/// the alerts its answered urgent items raised all the same.
public enum ResponseOutcome: Sendable {
    case recorded(RecordedResponse)
    case refused(ResponseRefusal, alerts: [ObservationAlert])
}

/// Questionnaires and their responses: the definitions a program may use (its own, then the
/// shipped ones), and recording a response — scores, observations, flag alerts and the
/// touchpoint it completes, in one transaction — for the patient's form, the API and the console.
public struct QuestionnaireActions: Sendable {
    let stores: Stores
    let observations: ObservationActions

    public init(stores: Stores, observations: ObservationActions) {
        self.stores = stores
        self.observations = observations
    }

    // MARK: Definitions

    /// The program's own questionnaire of that id (that version, or its latest), else the shipped one.
    public func definition(programID: String, id: String, version: Int? = nil) async throws -> Questionnaire? {
        if let stored = try await stores.questionnaires.find(programID: programID, id: id, version: version) {
            do { return try QuestionnaireFile.parse(stored.source) } catch {
                throw StoreCorruption(what: "questionnaire \(id) v\(stored.version) of program \(programID) no longer reads: \(error.problems.first?.message ?? "")")
            }
        }
        guard let shipped = try? QuestionnaireFile.shipped(id), version == nil || version == shipped.version else { return nil }
        return shipped
    }

    /// Every questionnaire the program can use: its own (latest versions), then the shipped ones it has not replaced.
    public func available(programID: String) async throws -> [Questionnaire] {
        var found: [Questionnaire] = []
        for stored in try await stores.questionnaires.latest(programID: programID) {
            if let parsed = try? QuestionnaireFile.parse(stored.source) { found.append(parsed) }
        }
        let own = Set(found.map(\.id))
        for name in ShippedQuestionnaires.names where !own.contains(name) {
            if let shipped = try? QuestionnaireFile.shipped(name) { found.append(shipped) }
        }
        return found
    }

    /// Saves a program's questionnaire file (YAML or JSON) after checking it; a version already
    /// saved is a conflict, since responses name the version they answered.
    public func save(programID: String, source: String, by actor: AuditActor) async throws -> Questionnaire {
        guard source.utf8.count <= Bounds.bodyBytes else {
            throw TendError.invalid("body", .init(en: "must be at most \(Bounds.bodyBytes) bytes", zh: "不能超过 \(Bounds.bodyBytes) 字节"))
        }
        let questionnaire: Questionnaire
        do { questionnaire = try QuestionnaireFile.parse(source) } catch {
            let first = error.problems.first
            throw TendError(kind: .invalidInput, code: "invalid_questionnaire",
                            message: .init(en: "line \(first?.line ?? 0): \(first?.message ?? "invalid")", zh: "第 \(first?.line ?? 0) 行：\(first?.message ?? "无效")"),
                            field: "body")
        }
        guard try await stores.questionnaires.save(programID: programID, id: questionnaire.id, version: questionnaire.version, source: source, actor: actor) else {
            throw TendError(kind: .conflict, code: "version_exists", message: .init(
                en: "\(questionnaire.id) version \(questionnaire.version) is already saved; raise the version", zh: "\(questionnaire.id) 第 \(questionnaire.version) 版已存在，请提高版本号"),
                            field: "version")
        }
        return questionnaire
    }

    // MARK: Responses

    /// Scores the answers and, when the response is complete, stores it with the observations
    /// it becomes, the alerts its flags and readings raise (urgent ones to the on-call member),
    /// its photos, and — given a touchpoint — completes that touchpoint and stops its escalations,
    /// all in one transaction. A refused response stores nothing but the alerts of the urgent
    /// items it did answer.
    public func record(programID: String, patientID: String, questionnaire: Questionnaire, answers: [String: AnswerValue],
                       context: [String: Double] = [:], photos: [PhotoUpload] = [], source: ResponseSource, touchpointID: String? = nil,
                       by actor: AuditActor) async throws -> ResponseOutcome {
        guard let zone = try await stores.patients.zones(programID: programID, ids: [patientID])[patientID] else {
            throw TendError.notFound(field: "patient_id", .init(en: "patient", zh: "患者"))
        }
        let rules = try await observations.alertRules(programID: programID)
        var answers = answers
        let photoIDs = try photoAnswers(photos, questionnaire: questionnaire, into: &answers)
        let scorer = QuestionnaireScorer(questionnaire)
        let score: ResponseScore
        do throws(ResponseRefusal) {
            score = try scorer.score(answers, context: context)
        } catch {
            let source = touchpointID ?? stores.ids.next()
            let alerts = try await stores.database.transaction { sql in
                try await raise(error.flags, questionnaire: questionnaire, programID: programID, patientID: patientID,
                                source: source, onCall: rules.onCallStaffID, by: actor, in: sql)
            }
            return .refused(error, alerts: alerts)
        }
        let now = stores.clock.now()
        let responseID = stores.ids.next()
        let response = QuestionnaireResponse(
            id: responseID, programID: programID, patientID: patientID, questionnaireID: questionnaire.id, version: questionnaire.version,
            touchpointID: touchpointID, answers: answers, total: score.total, band: score.band?.id, flags: score.flags.map(\.id),
            source: source, recordedBy: actor.id, submittedAt: now)
        let readings = try score.observations.map { reading throws(TendError) in
            try Observation(patientID: patientID, programID: programID, reading: reading, effectiveAt: now, zone: zone,
                            source: source == .link ? .checkIn : .questionnaire, recordedBy: actor.id, producedBy: responseID)
        }
        let covered = coveredCodes(score.flags, questionnaire: questionnaire)
        let stores = self.stores, observations = self.observations
        return try await stores.database.transaction { sql in
            for (photo, id) in zip(photos, photoIDs) {
                try await stores.photos.store(id: id, programID: programID, patientID: patientID, contentType: PhotoType.detect(photo.data)?.rawValue ?? "",
                                              data: photo.data, actor: actor, in: sql)
            }
            guard try await stores.responses.record(response, actor: actor, in: sql) else {
                throw TendError(kind: .conflict, code: "already_answered", message: .init(en: "This form has already been answered", zh: "该问卷已填写"), field: "touchpoint_id")
            }
            let recorded = try await observations.store(readings, programID: programID, by: actor, covered: covered, rules: rules, in: sql)
            var alerts = recorded.alerts
            alerts += try await raise(score.flags, questionnaire: questionnaire, programID: programID, patientID: patientID, source: responseID,
                                      onCall: rules.onCallStaffID, by: actor, in: sql)
            if let touchpointID {
                _ = try await stores.confirmations.confirm(programID: programID, touchpointID: touchpointID, via: .form, requireRequest: false, actor: actor, in: sql)
            }
            try await observations.segments.reevaluate(programID: programID, patientIDs: [patientID], after: .responses([questionnaire.id]), by: actor, in: sql)
            return .recorded(RecordedResponse(response: response, score: score, observations: recorded.batch.recorded, alerts: alerts))
        }
    }

    /// The patient's responses, newest first, audited as one read; nil when the program has no such patient.
    public func responses(programID: String, patientID: String, questionnaireID: String? = nil, limit: Int = 100,
                          by actor: AuditActor) async throws -> [QuestionnaireResponse]? {
        guard try await !stores.patients.zones(programID: programID, ids: [patientID]).isEmpty else { return nil }
        let found = try await stores.responses.list(programID: programID, patientID: patientID, questionnaireID: questionnaireID, limit: limit)
        try await stores.audit.recordRead(.responsesRead, by: actor, program: programID, subject: .patient(patientID))
        return found
    }

    /// A photo of the program, for its staff, audited.
    public func photo(programID: String, id: String, by actor: AuditActor) async throws -> StoredPhoto? {
        guard let photo = try await stores.photos.find(programID: programID, id: id) else { return nil }
        try await stores.audit.recordRead(.photoRead, by: actor, program: programID, subject: .patient(photo.patientID))
        return photo
    }

    /// Checks each photo (a photo item of the questionnaire, at most one per item, an image Tend
    /// knows by its bytes, within the size bound) and answers its item with the id it will be stored under.
    private func photoAnswers(_ photos: [PhotoUpload], questionnaire: Questionnaire, into answers: inout [String: AnswerValue]) throws(TendError) -> [String] {
        guard photos.count <= Bounds.photosPerResponse else {
            throw TendError.invalid("photos", .init(en: "at most \(Bounds.photosPerResponse) photos per response", zh: "每份问卷最多 \(Bounds.photosPerResponse) 张照片"))
        }
        var ids: [String] = []
        var seen = Set<String>()
        for photo in photos {
            let field = "answers.\(photo.item.prefix(40))"
            guard let item = questionnaire.item(photo.item), case .photo = item.kind, seen.insert(photo.item).inserted else {
                throw TendError.invalid(field, .init(en: "is not a photo item of \(questionnaire.id), or has two photos", zh: "不是该问卷的照片题，或上传了两张"))
            }
            guard photo.data.count <= Bounds.photoBytes else {
                throw TendError.invalid(field, .init(en: "a photo must be at most \(Bounds.photoBytes >> 20) MiB", zh: "照片不能超过 \(Bounds.photoBytes >> 20) MiB"))
            }
            guard PhotoType.detect(photo.data) != nil else {
                throw TendError.invalid(field, .init(en: "must be a JPEG, PNG, WebP or HEIC photo", zh: "照片须为 JPEG、PNG、WebP 或 HEIC 格式"))
            }
            let id = stores.ids.next()
            ids.append(id)
            answers[photo.item] = .string(id)
        }
        return ids
    }

    /// The codes of the items a raised flag reads, with the highest level that flagged them.
    private func coveredCodes(_ flags: [RaisedFlag], questionnaire: Questionnaire) -> [ObservationCode: TaskPriority] {
        var covered: [ObservationCode: TaskPriority] = [:]
        for flag in flags {
            for item in flag.items {
                guard let code = questionnaire.item(item)?.observation else { continue }
                covered[code] = max(covered[code] ?? .low, flag.level)
            }
        }
        return covered
    }

    /// An alert per raised flag (`q.<questionnaire>.<flag>`), joining the patient's open one.
    private func raise(_ flags: [RaisedFlag], questionnaire: Questionnaire, programID: String, patientID: String, source: String,
                       onCall: String?, by actor: AuditActor, in sql: any SQLDatabase) async throws -> [ObservationAlert] {
        guard !flags.isEmpty else { return [] }
        var alerts: [ObservationAlert] = []
        for flag in flags {
            let rule = ObservationAlertRule(id: "q.\(questionnaire.id).\(flag.id)", codes: [], priority: flag.level,
                                            title: LocalizedText(en: "\(questionnaire.name.en): \(flag.reason.en)", zh: "\(questionnaire.name.zh)：\(flag.reason.zh)"))
            alerts.append(try await stores.alerts.raise(sql, programID: programID, patientID: patientID, rule: rule, observationID: source,
                                                        assignee: flag.level == .urgent ? onCall : nil, actor: actor).alert)
        }
        return alerts
    }
}
