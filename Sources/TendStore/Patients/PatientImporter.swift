import Foundation
import SQLKit
import Synchronization
public import TendCore

public struct ImportSummary: Sendable, Equatable, Codable {
    public var created = 0
    public var updated = 0
    public var rejected = 0

    public var processed: Int { created + updated + rejected }
}

/// Upserts imported patients by external id in multi-row statements, one transaction per
/// batch. A row whose phone or ID number belongs to another patient (in the database or
/// earlier in the same file) is rejected, as is a repeated external id.
///
/// Batches are large because most of an import's database time goes to the three blind-index
/// B-trees, whose entries land on random pages: the more rows one transaction holds, the more
/// of them share a page that is written once.
public struct PatientImporter: Sendable {
    let store: PatientStore
    public let batchSize: Int
    public static let defaultBatchSize = 20000

    public init(store: PatientStore, batchSize: Int = defaultBatchSize) {
        self.store = store
        self.batchSize = batchSize
    }

    /// Identities seen earlier in this import, so duplicates within one file are caught, and
    /// those the program had when the import began.
    public final class Session: Sendable {
        struct State {
            var seen = SeenIdentities()
            var known: KnownIdentities?
            var summary = ImportSummary()
        }

        private let state = Mutex(State())

        public init() {}

        public var summary: ImportSummary { state.withLock { $0.summary } }

        func update<Result: Sendable>(_ change: (inout State) -> Result) -> Result {
            state.withLock { change(&$0) }
        }
    }

    /// Who used an external id, phone or ID number earlier in the file.
    struct SeenIdentities: Sendable {
        var externalIDs: [String: Int] = [:]
        var phones: [String: String] = [:]
        var idNumbers: [String: String] = [:]

        mutating func add(_ entry: Entry) {
            externalIDs[entry.externalID] = entry.candidate.line
            if let phone = entry.indexes.phone { phones[phone] = entry.externalID }
            if let idNumber = entry.indexes.idNumber { idNumbers[idNumber] = entry.externalID }
        }

        /// Why the row repeats an earlier one: its external id, or another patient's phone or ID number.
        func duplicate(_ entry: Entry) -> PatientImport.Reject? {
            let line = entry.candidate.line
            if let earlier = externalIDs[entry.externalID] {
                return .init(line: line, field: "external_id", reason: "external_id \(entry.externalID) already appeared on line \(earlier)")
            }
            if let phone = entry.indexes.phone, let owner = phones[phone], owner != entry.externalID {
                return .init(line: line, field: "phone", reason: "phone duplicates patient \(owner) earlier in the file")
            }
            if let idNumber = entry.indexes.idNumber, let owner = idNumbers[idNumber], owner != entry.externalID {
                return .init(line: line, field: "id_number", reason: "id_number duplicates patient \(owner) earlier in the file")
            }
            return nil
        }

        mutating func merge(_ other: SeenIdentities) {
            externalIDs.merge(other.externalIDs) { _, new in new }
            phones.merge(other.phones) { _, new in new }
            idNumbers.merge(other.idNumbers) { _, new in new }
        }
    }

    /// What the program held when the import began, read once: its external ids, and its phone
    /// and ID-number blind indexes as 64-bit prefixes. Rows with an external id not in here are
    /// inserted rather than upserted, and only rows with a phone or ID prefix in here are
    /// looked up in SQL: probing every row of a large file costs a fifth of the import. (A
    /// patient another user adds meanwhile is not in here: an insert that meets their external
    /// id is redone as an upsert; their phone or ID number the create API still checks, and
    /// this import sees it on its next run.)
    struct KnownIdentities: Sendable {
        private var prefixes = Set<UInt64>()
        private var externalIDs = Set<String>()

        static func load(_ sql: any SQLDatabase, dialect: StorageDialect, programID: String) async throws -> KnownIdentities {
            var known = KnownIdentities()
            for column in ["phone_bidx", "id_number_bidx"] {
                let row = try await sql.raw("""
                    SELECT \(unsafeRaw: dialect.stringAggregate("substr(\(column), 1, 16)")) AS prefixes FROM patients WHERE program_id = \(bind: programID)
                    """).first()
                let text = Array((try row?.decode(column: "prefixes", as: String?.self) ?? "").utf8)
                known.prefixes.reserveCapacity(known.prefixes.count + text.count / 16)
                for start in stride(from: 0, to: text.count - 15, by: 16) {
                    if let value = Self.prefix(text[start..<start + 16]) { known.prefixes.insert(value) }
                }
            }
            // Each id preceded by its length in bytes, so any character may appear in one.
            let row = try await sql.raw("""
                SELECT \(unsafeRaw: dialect.stringAggregate("octet_length(external_id) || ':' || external_id")) AS ids FROM patients WHERE program_id = \(bind: programID) AND external_id IS NOT NULL
                """).first()
            known.externalIDs = Self.lengthPrefixed(Array((try row?.decode(column: "ids", as: String?.self) ?? "").utf8))
            return known
        }

        func has(externalID: String) -> Bool { externalIDs.contains(externalID) }

        static func lengthPrefixed(_ bytes: [UInt8]) -> Set<String> {
            var values = Set<String>()
            var position = 0
            while position < bytes.count {
                var length = 0
                while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                    length = length * 10 + Int(bytes[position] - UInt8(ascii: "0"))
                    position += 1
                }
                position += 1  // the colon
                let end = min(position + length, bytes.count)
                values.insert(String(decoding: bytes[position..<end], as: UTF8.self))
                position = end
            }
            return values
        }

        func mightOwn(_ index: String) -> Bool {
            guard let value = Self.prefix(index.utf8.prefix(16)) else { return true }
            return prefixes.contains(value)
        }

        private static func prefix(_ hex: some Collection<UInt8>) -> UInt64? {
            guard hex.count == 16 else { return nil }
            var value: UInt64 = 0
            for digit in hex {
                switch digit {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | UInt64(digit - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | UInt64(digit - UInt8(ascii: "a") + 10)
                default: return nil
                }
            }
            return value
        }
    }

    /// A batch made ready for writing: rows checked, PII sealed, ids drawn, and every row a new
    /// patient writes bound for the database. Pure CPU work, so the next batch can be prepared
    /// while the previous one is written.
    public struct PreparedBatch: Sendable {
        let parseRejects: [PatientImport.Reject]
        let entries: [Entry]
        /// One `patients` row per entry.
        let patientRows: BoundRows
        /// Each entry's tag rows and audit row as a new patient (under its drawn id).
        let newPatientTagRows: BoundRows
        let tagRowsOfEntry: [Range<Int>]
        let newPatientAuditRows: BoundRows
        let now: Int64
    }

    public func prepare(programID: String, actor: AuditActor, rows: [Result<PatientImport.Candidate, PatientImport.Reject>]) throws -> PreparedBatch {
        var entries: [Entry] = []
        var rejects: [PatientImport.Reject] = []
        entries.reserveCapacity(rows.count)
        for row in rows {
            switch row {
            case .failure(let problem):
                rejects.append(problem)
            case .success(let candidate):
                entries.append(Entry(
                    candidate: candidate, externalID: candidate.profile.externalID ?? "",
                    indexes: store.indexes(of: candidate.profile, program: programID), generatedID: store.ids.next(), auditID: store.ids.next()))
            }
        }
        let now = store.clock.now().epochMilliseconds
        let kind = store.database.kind
        var tagRows: [[SQLValue]] = []
        var tagRowsOfEntry: [Range<Int>] = []
        tagRowsOfEntry.reserveCapacity(entries.count)
        for entry in entries {
            let first = tagRows.count
            tagRows += Self.tagRows(entry.candidate.tags, programID: programID, patientID: entry.generatedID, actor: actor, at: now)
            tagRowsOfEntry.append(first..<tagRows.count)
        }
        return PreparedBatch(
            parseRejects: rejects, entries: entries,
            patientRows: BoundRows(try entries.map {
                try store.row(id: $0.generatedID, programID: programID, profile: $0.candidate.profile, indexes: $0.indexes, createdAt: now, updatedAt: now)
            }, for: kind),
            newPatientTagRows: BoundRows(tagRows, for: kind), tagRowsOfEntry: tagRowsOfEntry,
            newPatientAuditRows: BoundRows(entries.map {
                AuditLog.row(id: $0.auditID, program: programID, actor: actor, action: .patientImportCreate, subject: .patient($0.generatedID), at: now)
            }, for: kind),
            now: now)
    }


    static func tagRows(_ tags: [PatientTag], programID: String, patientID: String, actor: AuditActor, at now: Int64) -> [[SQLValue]] {
        tags.map { [.text(programID), .text(patientID), .text($0.key), .text($0.value), SQLValue(actor.id), .text("import"), .integer(now)] }
    }

    /// Imports one batch of parsed rows; rejects (parse failures passed in, and duplicates
    /// found here) go to `reject`.
    public func importBatch(
        programID: String, rows: [Result<PatientImport.Candidate, PatientImport.Reject>], actor: AuditActor,
        session: Session, reject: (PatientImport.Reject) -> Void
    ) async throws {
        try await write(try prepare(programID: programID, actor: actor, rows: rows), programID: programID, actor: actor, session: session, reject: reject)
    }

    /// Reads every row and writes batch after batch, in file order, while the next two are
    /// checked and prepared at the same time: preparing costs as much CPU as writing, so on
    /// two cores both must run side by side, and two preparers fill the gaps either leaves.
    public func run(
        _ reader: ImportRowReader, programID: String, actor: AuditActor, session: Session,
        reject: (PatientImport.Reject) -> Void, progress: (ImportSummary) -> Void = { _ in }
    ) async throws {
        var reader = reader
        var pending: [Task<PreparedBatch?, any Error>] = []
        defer { pending.forEach { $0.cancel() } }
        func prepareNext() {
            var records: [ImportRowReader.Record] = []
            records.reserveCapacity(batchSize)
            while records.count < batchSize, let record = reader.nextRecord() { records.append(record) }
            pending.append(Task {
                try Task.checkCancellation()
                return records.isEmpty ? nil : try prepare(programID: programID, actor: actor, rows: records.map(\.row))
            })
        }
        try await store.database.bulkLoad {
            prepareNext()
            prepareNext()
            while !pending.isEmpty, let batch = try await pending.removeFirst().value {
                prepareNext()
                try await write(batch, programID: programID, actor: actor, session: session, reject: reject)
                progress(session.summary)
            }
        }
    }

    /// Writes one prepared batch in its own transaction, as `run` does batch after batch (the
    /// benchmark's schema floor times this alone).
    public func write(_ batch: PreparedBatch, programID: String, actor: AuditActor, session: Session, reject: (PatientImport.Reject) -> Void) async throws {
        for problem in batch.parseRejects {
            session.update { $0.summary.rejected += 1 }
            reject(problem)
        }
        guard !batch.entries.isEmpty else { return }
        let outcome: Outcome
        do {
            outcome = try await store.database.transaction { sql in
                try await self.write(batch, sql, programID: programID, actor: actor, session: session, upsertingAll: false)
            }
        } catch where isUniqueViolation(error) {
            // Someone added a patient with one of these external ids since the import began.
            outcome = try await store.database.transaction { sql in
                try await self.write(batch, sql, programID: programID, actor: actor, session: session, upsertingAll: true)
            }
        }
        session.update { state in
            state.seen.merge(outcome.seen)
            state.summary.rejected += outcome.rejects.count
            state.summary.created += outcome.created.count
            state.summary.updated += outcome.updated.count
        }
        for problem in outcome.rejects.sorted(by: { $0.line < $1.line }) {
            reject(problem)
        }
    }

    /// One batch in one transaction. New external ids are inserted under the batch's drawn ids,
    /// with the tag and audit rows bound for them beforehand; the program's existing ones (or,
    /// with `upsertingAll`, every row) are upserted.
    private func write(_ batch: PreparedBatch, _ sql: any SQLDatabase, programID: String, actor: AuditActor, session: Session, upsertingAll: Bool) async throws -> Outcome {
        let entries = batch.entries, now = batch.now, kind = store.database.kind
        let known: KnownIdentities
        if let loaded = session.update({ $0.known }) {
            known = loaded
        } else {
            known = try await KnownIdentities.load(sql, dialect: StorageDialect(kind), programID: programID)
            session.update { $0.known = known }
        }
        let owners = try await Self.owners(sql, kind: kind, programID: programID, entries: entries, known: known)
        var outcome = Outcome()
        var inserted: [Int] = [], upserted: [Int] = []
        for (index, entry) in entries.enumerated() {
            if let problem = Self.duplicate(entry, owners: owners) ?? session.update({ $0.seen.duplicate(entry) }) ?? outcome.seen.duplicate(entry) {
                outcome.rejects.append(problem)
                continue
            }
            outcome.seen.add(entry)
            if upsertingAll || known.has(externalID: entry.externalID) { upserted.append(index) } else { inserted.append(index) }
        }
        let everyRowNew = inserted.count == entries.count

        try await Self.insert.run(sql, rows: everyRowNew ? batch.patientRows : batch.patientRows.rows(at: inserted))
        try await PatientStore.tagInsert.run(sql, rows: everyRowNew ? batch.newPatientTagRows : batch.newPatientTagRows.rows(at: inserted.flatMap { batch.tagRowsOfEntry[$0] }))
        try await AuditLog.insert.run(sql, rows: everyRowNew ? batch.newPatientAuditRows : batch.newPatientAuditRows.rows(at: inserted))
        outcome.created = inserted.map { entries[$0].generatedID }

        // Sealed fields are bound to their row: an update is sealed for the patient it updates.
        let existing = try await Self.existingIDs(sql, programID: programID, externalIDs: upserted.map { entries[$0].externalID })
        let sealedFor = upserted.map { existing[entries[$0].externalID] ?? entries[$0].generatedID }
        let upsertRows = try zip(upserted, sealedFor).map { index, id in
            try store.row(id: id, programID: programID, profile: entries[index].candidate.profile, indexes: entries[index].indexes, createdAt: now, updatedAt: now)
        }
        var upsertedIDs: [String: String] = [:]
        for row in try await Self.upsert.returning(sql, rows: BoundRows(upsertRows, for: kind)) {
            upsertedIDs[try row.decode(column: "external_id", as: String.self)] = try row.decode(column: "id", as: String.self)
        }
        // A patient someone created meanwhile (possible on PostgreSQL) was updated under its own id.
        for (index, id) in zip(upserted, sealedFor) {
            let entry = entries[index]
            if let actual = upsertedIDs[entry.externalID], actual != id {
                try await store.rewriteSealed(sql, programID: programID, patientID: actual, profile: entry.candidate.profile)
            }
        }
        var tagRows: [[SQLValue]] = [], auditRows: [[SQLValue]] = []
        for index in upserted {
            let entry = entries[index]
            guard let patientID = upsertedIDs[entry.externalID] else { continue }
            let action: AuditAction
            if patientID == entry.generatedID {
                outcome.created.append(patientID)
                action = .patientImportCreate
            } else {
                outcome.updated.append(patientID)
                action = .patientImportUpdate
            }
            tagRows += Self.tagRows(entry.candidate.tags, programID: programID, patientID: patientID, actor: actor, at: now)
            auditRows.append(AuditLog.row(id: entry.auditID, program: programID, actor: actor, action: action, subject: .patient(patientID), at: now))
        }
        try await PatientStore.tagInsert.run(sql, rows: BoundRows(tagRows, for: kind))
        try await AuditLog.insert.run(sql, rows: BoundRows(auditRows, for: kind))

        // Family phones become sender identities; an updated patient's old ones are replaced.
        try await store.syncCaregivers(sql, programID: programID, patients: (inserted + upserted).compactMap { index in
            let entry = entries[index]
            let patientID = upsertedIDs[entry.externalID] ?? entry.generatedID
            guard !entry.candidate.profile.caregivers.isEmpty || patientID != entry.generatedID else { return nil }
            return (patientID, entry.candidate.profile.caregivers)
        })
        return outcome
    }

    struct Entry: Sendable {
        var candidate: PatientImport.Candidate
        var externalID: String
        var indexes: PatientStore.BlindIndexes
        var generatedID: String
        var auditID: String
    }

    static let insert = MultiRowInsert("INSERT INTO patients (\(PatientStore.columnList))")

    /// The ids of the program's patients with these external ids.
    static func existingIDs(_ sql: any SQLDatabase, programID: String, externalIDs: [String]) async throws -> [String: String] {
        var found: [String: String] = [:]
        for start in stride(from: 0, to: externalIDs.count, by: 1000) {
            let slice = Array(externalIDs[start..<min(start + 1000, externalIDs.count)])
            for row in try await sql.raw("""
                SELECT id, external_id FROM patients WHERE program_id = \(bind: programID) AND external_id IN (\(binds: slice))
                """).all() {
                found[try row.decode(column: "external_id", as: String.self)] = try row.decode(column: "id", as: String.self)
            }
        }
        return found
    }

    /// Known external ids are updated in place (and any that are not after all, inserted).
    static let upsert = MultiRowInsert(
        "INSERT INTO patients (\(PatientStore.columnList))",
        tail: "ON CONFLICT (program_id, external_id) DO UPDATE SET "
            + PatientStore.updatableColumns.filter { $0 != "external_id" }.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
            + " RETURNING id, external_id")

    struct Outcome: Sendable {
        var seen = SeenIdentities()
        var created: [String] = []
        var updated: [String] = []
        var rejects: [PatientImport.Reject] = []
    }

    /// The external ids owning the batch's phone and ID-number indexes in the database, looked
    /// up for the indexes the program might already have. Two queries, one per index: an OR
    /// across both makes SQLite scan the table.
    private static func owners(_ sql: any SQLDatabase, kind: DatabaseKind, programID: String, entries: [Entry], known: KnownIdentities) async throws -> [String: String] {
        var owners: [String: String] = [:]
        let candidates = { (index: String) in known.mightOwn(index) }
        for (column, prefix, values) in [
            ("phone_bidx", "phone", entries.compactMap(\.indexes.phone).filter(candidates)),
            ("id_number_bidx", "id", entries.compactMap(\.indexes.idNumber).filter(candidates)),
        ] {
            var rows: [any SQLRow] = []
            for start in stride(from: 0, to: values.count, by: MultiRowInsert.maxBinds) {
                rows += try await sql.raw("""
                    SELECT external_id, \(unsafeRaw: column) AS bidx FROM patients
                    WHERE \(unsafeRaw: StorageDialect(kind).unindexed("program_id")) = \(bind: programID) AND \(unsafeRaw: column) IN (\(binds: Array(values[start..<min(start + MultiRowInsert.maxBinds, values.count)])))
                    """).all()
            }
            for row in rows {
                let owner = try row.decode(column: "external_id", as: String?.self) ?? "(no external id)"
                owners["\(prefix):\(try row.decode(column: "bidx", as: String.self))"] = owner
            }
        }
        return owners
    }

    /// Why the row cannot be imported: its phone or ID number belongs to another patient in
    /// the database.
    private static func duplicate(_ entry: Entry, owners: [String: String]) -> PatientImport.Reject? {
        guard !owners.isEmpty else { return nil }
        let line = entry.candidate.line
        if let phone = entry.indexes.phone, let owner = owners["phone:\(phone)"], owner != entry.externalID {
            return .init(line: line, field: "phone", reason: "phone already belongs to patient \(owner) in this program")
        }
        if let idNumber = entry.indexes.idNumber, let owner = owners["id:\(idNumber)"], owner != entry.externalID {
            return .init(line: line, field: "id_number", reason: "id_number already belongs to patient \(owner) in this program")
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

    /// Fails when the file is in no encoding Tend reads, or a CSV header names an unknown
    /// column or lacks a required one. Without `encoding`, UTF-8 and GB18030 are told apart.
    public init(bytes raw: [UInt8], format: ImportFormat, encoding: TextEncoding? = nil) throws(TendError) {
        let bytes = try TextEncoding.utf8(raw, declared: encoding).text
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
        nextRecord().map(\.row)
    }

    /// A row as read, not yet checked: reading is sequential and cheap, checking (the costly
    /// part) can then run for several batches at once.
    public struct Record: Sendable {
        enum Content: Sendable {
            case csv(line: Int, columns: [PatientImport.Column], fields: [String])
            case ndjson(line: Int, bytes: Data)
            case unreadable(PatientImport.Reject)
        }

        let content: Content

        public var row: Result<PatientImport.Candidate, PatientImport.Reject> {
            switch content {
            case .csv(let line, let columns, let fields): PatientImport.candidate(line: line, columns: columns, fields: fields)
            case .ndjson(let line, let bytes): ImportRowReader.ndjsonRow(line: line, bytes: bytes)
            case .unreadable(let problem): .failure(problem)
            }
        }
    }

    public mutating func nextRecord() -> Record? {
        switch format {
        case .csv:
            guard let record = csv?.next() else {
                if let problem = csv?.problem {
                    csv = nil
                    switch problem {
                    case .unterminatedQuote(let line): return Record(content: .unreadable(.init(line: line, field: nil, reason: "a quoted field is never closed; the rest of the file was not read")))
                    case .invalidUTF8(let line): return Record(content: .unreadable(.init(line: line, field: nil, reason: "is not valid UTF-8; the rest of the file was not read")))
                    }
                }
                return nil
            }
            return Record(content: .csv(line: record.line, columns: columns, fields: record.fields))
        case .ndjson:
            while lineIndex < lines.count {
                let line = lines[lineIndex]
                lineIndex += 1
                let trimmed = line.drop(while: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
                guard !trimmed.isEmpty else { continue }
                return Record(content: .ndjson(line: lineIndex, bytes: Data(trimmed)))
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
