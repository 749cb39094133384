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

    public init(store: PatientStore, batchSize: Int = 1000) {
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

    /// A batch made ready for writing: rows checked, PII sealed, ids drawn. Pure CPU work,
    /// so the next batch can be prepared while the previous one is written.
    public struct PreparedBatch: Sendable {
        let parseRejects: [PatientImport.Reject]
        let entries: [Entry]
        let values: [[any Encodable & Sendable]]
        let auditIDs: [String]
        let now: Int64
    }

    public func prepare(programID: String, rows: [Result<PatientImport.Candidate, PatientImport.Reject>]) throws -> PreparedBatch {
        var parsed: [Entry] = []
        var rejects: [PatientImport.Reject] = []
        parsed.reserveCapacity(rows.count)
        for row in rows {
            switch row {
            case .failure(let problem):
                rejects.append(problem)
            case .success(let candidate):
                parsed.append(Entry(
                    candidate: candidate, externalID: candidate.profile.externalID ?? "",
                    phone: candidate.profile.phone.map(store.phoneIndex), idNumber: candidate.profile.idNumber.map(store.idNumberIndex),
                    generatedID: store.ids.next()))
            }
        }
        let now = store.clock.now().epochMilliseconds
        let values = try parsed.map { try store.row(id: $0.generatedID, programID: programID, profile: $0.candidate.profile, createdAt: now, updatedAt: now) }
        return PreparedBatch(parseRejects: rejects, entries: parsed, values: values, auditIDs: parsed.map { _ in store.ids.next() }, now: now)
    }

    /// Imports one batch of parsed rows; rejects (parse failures passed in, and duplicates
    /// found here) go to `reject`.
    public func importBatch(
        programID: String, rows: [Result<PatientImport.Candidate, PatientImport.Reject>], actor: AuditActor,
        session: Session, reject: (PatientImport.Reject) -> Void
    ) async throws {
        try await write(try prepare(programID: programID, rows: rows), programID: programID, actor: actor, session: session, reject: reject)
    }

    /// Reads every row, preparing each batch while the one before it is written.
    public func run(
        _ reader: ImportRowReader, programID: String, actor: AuditActor, session: Session,
        reject: (PatientImport.Reject) -> Void, progress: (ImportSummary) -> Void = { _ in }
    ) async throws {
        let source = RowSource(reader)
        let batchSize = self.batchSize
        @Sendable func nextBatch() throws -> PreparedBatch? {
            let rows = source.take(batchSize)
            return rows.isEmpty ? nil : try prepare(programID: programID, rows: rows)
        }
        var current = try nextBatch()
        while let batch = current {
            async let upcoming = nextBatch()
            try await write(batch, programID: programID, actor: actor, session: session, reject: reject)
            progress(session.summary)
            current = try await upcoming
        }
    }

    /// Hands out rows to one preparing task at a time.
    final class RowSource: @unchecked Sendable {
        private var reader: ImportRowReader
        private let lock = NSLock()

        init(_ reader: ImportRowReader) {
            self.reader = reader
        }

        func take(_ count: Int) -> [Result<PatientImport.Candidate, PatientImport.Reject>] {
            lock.withLock {
                var rows: [Result<PatientImport.Candidate, PatientImport.Reject>] = []
                rows.reserveCapacity(count)
                while rows.count < count, let row = reader.next() { rows.append(row) }
                return rows
            }
        }
    }

    func write(_ batch: PreparedBatch, programID: String, actor: AuditActor, session: Session, reject: (PatientImport.Reject) -> Void) async throws {
        for problem in batch.parseRejects {
            session.summary.rejected += 1
            reject(problem)
        }
        guard !batch.entries.isEmpty else { return }
        let entries = batch.entries, values = batch.values, auditIDs = batch.auditIDs, now = batch.now

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
            // Family phones become sender identities; an updated patient's old ones are replaced.
            try await store.syncCaregivers(sql, programID: programID, patients: keep.compactMap { index in
                let entry = entries[index]
                guard let patientID = patientIDs[entry.externalID], !entry.candidate.profile.caregivers.isEmpty || patientID != entry.generatedID else { return nil }
                return (patientID, entry.candidate.profile.caregivers)
            })
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

    /// The external ids owning the batch's phone and ID-number indexes in the database. Two
    /// queries, one per index: an OR across both makes SQLite scan the table.
    private static func owners(_ sql: any SQLDatabase, programID: String, entries: [Entry]) async throws -> [String: String] {
        var owners: [String: String] = [:]
        for (column, prefix, values) in [("phone_bidx", "phone", entries.compactMap(\.phone)), ("id_number_bidx", "id", entries.compactMap(\.idNumber))] where !values.isEmpty {
            let rows = try await sql.raw("""
                SELECT external_id, \(unsafeRaw: column) AS bidx FROM patients
                WHERE program_id = \(bind: programID) AND \(unsafeRaw: column) IN (\(binds: values))
                """).all()
            for row in rows {
                let owner = try row.decode(column: "external_id", as: String?.self) ?? "(no external id)"
                owners["\(prefix):\(try row.decode(column: "bidx", as: String.self))"] = owner
            }
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
