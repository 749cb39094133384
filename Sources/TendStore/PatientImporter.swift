import Foundation
import SQLKit
import TendCore

public struct ImportSummary: Sendable, Equatable, Codable {
    public var created = 0
    public var updated = 0
    public var rejected = 0

    public var processed: Int { created + updated + rejected }
}

/// Upserts imported patients by external id in multi-row statements, one transaction per
/// batch. A row whose phone or ID number belongs to another patient (in the database or
/// earlier in the same file) is rejected, as is a repeated external id.
public struct PatientImporter: Sendable {
    let store: PatientStore
    public let batchSize: Int

    public init(store: PatientStore, batchSize: Int = 400) {
        self.store = store
        self.batchSize = batchSize
    }

    /// Identities seen earlier in this import, so duplicates within one file are caught.
    public final class Session: @unchecked Sendable {
        var externalIDs: [String: Int] = [:]
        var phones: [String: String] = [:]
        var idNumbers: [String: String] = [:]
        public var summary = ImportSummary()

        public init() {}
    }

    /// Imports one batch of parsed rows; rejects (parse failures passed in, and duplicates
    /// found here) go to `reject`.
    public func importBatch(
        programID: String, rows: [Result<PatientImport.Candidate, PatientImport.Reject>], actor: AuditActor,
        session: Session, reject: (PatientImport.Reject) -> Void
    ) async throws {
        var parsed: [Entry] = []
        for row in rows {
            switch row {
            case .failure(let problem):
                session.summary.rejected += 1
                reject(problem)
            case .success(let candidate):
                parsed.append(Entry(
                    candidate: candidate, externalID: candidate.profile.externalID ?? "",
                    phone: candidate.profile.phone.map(store.phoneIndex), idNumber: candidate.profile.idNumber.map(store.idNumberIndex),
                    generatedID: store.ids.next()))
            }
        }
        guard !parsed.isEmpty else { return }
        let now = store.clock.now().epochMilliseconds
        let values = try parsed.map { try store.row(id: $0.generatedID, programID: programID, profile: $0.candidate.profile, createdAt: now, updatedAt: now) }
        let auditIDs = parsed.map { _ in store.ids.next() }
        let entries = parsed

        let outcome: Outcome = try await store.database.transaction { sql in
            let owners = try await Self.owners(sql, programID: programID, entries: entries)
            var outcome = Outcome()
            var keep: [Int] = []
            for (index, entry) in entries.enumerated() {
                if let problem = Self.duplicate(entry, owners: owners, session: session) {
                    outcome.rejects.append(problem)
                    continue
                }
                session.externalIDs[entry.externalID] = entry.candidate.line
                if let phone = entry.phone { session.phones[phone] = entry.externalID }
                if let idNumber = entry.idNumber { session.idNumbers[idNumber] = entry.externalID }
                keep.append(index)
            }
            guard !keep.isEmpty else { return outcome }

            var upsert = SQLQueryString("INSERT INTO patients (\(unsafeRaw: PatientStore.columnList)) VALUES ")
            for (position, index) in keep.enumerated() {
                if position > 0 { upsert.appendLiteral(", ") }
                upsert.appendLiteral("(")
                upsert.appendInterpolation(binds: values[index])
                upsert.appendLiteral(")")
            }
            upsert.appendInterpolation(unsafeRaw: " ON CONFLICT (program_id, external_id) DO UPDATE SET ")
            upsert.appendInterpolation(unsafeRaw: PatientStore.updatableColumns.filter { $0 != "external_id" }.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
            upsert.appendLiteral(" RETURNING id, external_id")
            var patientIDs: [String: String] = [:]
            for row in try await sql.raw(upsert).all() {
                patientIDs[try row.decode(column: "external_id", as: String.self)] = try row.decode(column: "id", as: String.self)
            }
            var tagRows: [[any Encodable & Sendable]] = []
            for index in keep {
                let entry = entries[index]
                guard let patientID = patientIDs[entry.externalID] else { continue }
                if patientID == entry.generatedID { outcome.created.append(patientID) } else { outcome.updated.append(patientID) }
                for tag in entry.candidate.tags {
                    tagRows.append([programID, patientID, tag.key, tag.value, actor.id, "import", now])
                }
            }
            for start in stride(from: 0, to: tagRows.count, by: 1000) {
                var query = SQLQueryString("INSERT INTO patient_tags (program_id, patient_id, tag_key, tag_value, set_by, source, set_at) VALUES ")
                for (position, row) in tagRows[start..<min(start + 1000, tagRows.count)].enumerated() {
                    if position > 0 { query.appendLiteral(", ") }
                    query.appendLiteral("(")
                    query.appendInterpolation(binds: row)
                    query.appendLiteral(")")
                }
                query.appendLiteral(" ON CONFLICT (patient_id, tag_key, tag_value) DO NOTHING")
                try await sql.raw(query).run()
            }
            try await store.audit(sql, programID: programID, patientIDs: outcome.created, action: "patient.import.create", actor: actor,
                                  eventIDs: Array(auditIDs.prefix(outcome.created.count)), at: now)
            try await store.audit(sql, programID: programID, patientIDs: outcome.updated, action: "patient.import.update", actor: actor,
                                  eventIDs: Array(auditIDs.dropFirst(outcome.created.count).prefix(outcome.updated.count)), at: now)
            return outcome
        }
        for problem in outcome.rejects.sorted(by: { $0.line < $1.line }) {
            reject(problem)
        }
        session.summary.rejected += outcome.rejects.count
        session.summary.created += outcome.created.count
        session.summary.updated += outcome.updated.count
    }

    struct Entry: Sendable {
        var candidate: PatientImport.Candidate
        var externalID: String
        var phone: String?
        var idNumber: String?
        var generatedID: String
    }

    struct Outcome: Sendable {
        var created: [String] = []
        var updated: [String] = []
        var rejects: [PatientImport.Reject] = []
    }

    /// The external ids owning the batch's phone and ID-number indexes in the database.
    private static func owners(_ sql: any SQLDatabase, programID: String, entries: [Entry]) async throws -> [String: String] {
        let phones = entries.compactMap(\.phone), idNumbers = entries.compactMap(\.idNumber)
        guard !phones.isEmpty || !idNumbers.isEmpty else { return [:] }
        var query = SQLQueryString("SELECT external_id, phone_bidx, id_number_bidx FROM patients WHERE program_id = \(bind: programID) AND (")
        if phones.isEmpty {
            query.appendLiteral("1 = 0")
        } else {
            query.appendLiteral("phone_bidx IN (")
            query.appendInterpolation(binds: phones)
            query.appendLiteral(")")
        }
        if idNumbers.isEmpty {
            query.appendLiteral(")")
        } else {
            query.appendLiteral(" OR id_number_bidx IN (")
            query.appendInterpolation(binds: idNumbers)
            query.appendLiteral("))")
        }
        var owners: [String: String] = [:]
        for row in try await sql.raw(query).all() {
            let owner = try row.decode(column: "external_id", as: String?.self) ?? "(no external id)"
            if let phone = try row.decode(column: "phone_bidx", as: String?.self) { owners["phone:\(phone)"] = owner }
            if let idNumber = try row.decode(column: "id_number_bidx", as: String?.self) { owners["id:\(idNumber)"] = owner }
        }
        return owners
    }

    /// Why the row cannot be imported: an identity owned by another patient in the database
    /// or earlier in the file, or an external id the file already used.
    private static func duplicate(_ entry: Entry, owners: [String: String], session: Session) -> PatientImport.Reject? {
        let line = entry.candidate.line
        if let phone = entry.phone, let owner = owners["phone:\(phone)"], owner != entry.externalID {
            return .init(line: line, field: "phone", reason: "phone already belongs to patient \(owner) in this program")
        }
        if let idNumber = entry.idNumber, let owner = owners["id:\(idNumber)"], owner != entry.externalID {
            return .init(line: line, field: "id_number", reason: "id_number already belongs to patient \(owner) in this program")
        }
        if let earlier = session.externalIDs[entry.externalID] {
            return .init(line: line, field: "external_id", reason: "external_id \(entry.externalID) already appeared on line \(earlier)")
        }
        if let phone = entry.phone, let owner = session.phones[phone], owner != entry.externalID {
            return .init(line: line, field: "phone", reason: "phone duplicates patient \(owner) earlier in the file")
        }
        if let idNumber = entry.idNumber, let owner = session.idNumbers[idNumber], owner != entry.externalID {
            return .init(line: line, field: "id_number", reason: "id_number duplicates patient \(owner) earlier in the file")
        }
        return nil
    }
}

/// Turns a file's bytes into import rows: CSV with a header, or NDJSON objects.
public enum ImportFormat: String, Sendable, CaseIterable {
    case csv
    case ndjson

    public static func guess(path: String) -> ImportFormat {
        path.lowercased().hasSuffix(".ndjson") || path.lowercased().hasSuffix(".jsonl") ? .ndjson : .csv
    }
}

public struct ImportRowReader: Sequence, IteratorProtocol {
    private var csv: CSVReader?
    private var columns: [PatientImport.Column] = []
    private var lines: [ArraySlice<UInt8>] = []
    private var lineIndex = 0
    private let format: ImportFormat

    /// Fails when a CSV header names an unknown column or lacks a required one.
    public init(bytes: [UInt8], format: ImportFormat) throws(TendError) {
        self.format = format
        switch format {
        case .csv:
            var reader = CSVReader(bytes: bytes)
            guard let header = reader.next() else {
                throw TendError.invalid("file", .init(en: "is empty", zh: "为空"))
            }
            columns = try PatientImport.columns(header: header.fields)
            csv = reader
        case .ndjson:
            lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        }
    }

    public mutating func next() -> Result<PatientImport.Candidate, PatientImport.Reject>? {
        switch format {
        case .csv:
            guard let record = csv?.next() else {
                if let problem = csv?.problem {
                    csv = nil
                    switch problem {
                    case .unterminatedQuote(let line): return .failure(.init(line: line, field: nil, reason: "a quoted field is never closed; the rest of the file was not read"))
                    case .invalidUTF8(let line): return .failure(.init(line: line, field: nil, reason: "is not valid UTF-8; the rest of the file was not read"))
                    }
                }
                return nil
            }
            return PatientImport.candidate(line: record.line, columns: columns, fields: record.fields)
        case .ndjson:
            while lineIndex < lines.count {
                let line = lines[lineIndex]
                lineIndex += 1
                let trimmed = line.drop(while: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
                guard !trimmed.isEmpty else { continue }
                return Self.ndjsonRow(line: lineIndex, bytes: Data(trimmed))
            }
            return nil
        }
    }

    static func ndjsonRow(line: Int, bytes: Data) -> Result<PatientImport.Candidate, PatientImport.Reject> {
        guard let object = (try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any] else {
            return .failure(.init(line: line, field: nil, reason: "is not a JSON object"))
        }
        var values: [PatientImport.Column: String] = [:]
        for (key, value) in object {
            guard let column = PatientImport.Column.named(key) else {
                return .failure(.init(line: line, field: key, reason: "has an unknown field \(key)"))
            }
            switch value {
            case let text as String: values[column] = text
            case let number as NSNumber: values[column] = number.stringValue
            case let list as [Any]: values[column] = list.map { "\($0)" }.joined(separator: ";")
            case let map as [String: Any] where column == .tags:
                values[column] = map.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ";")
            case is NSNull: continue
            default: return .failure(.init(line: line, field: key, reason: "\(key) has an unsupported value"))
            }
        }
        return PatientImport.candidate(line: line, values: values)
    }
}
