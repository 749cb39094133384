public import Foundation
public import SQLKit
import TendCore

/// A photo a patient uploaded with a form (a lab report, a wound), as staff open it.
public struct StoredPhoto: Sendable, Equatable {
    public var id: String
    public var patientID: String
    public var contentType: String
    public var data: Data
    public var createdAt: Date
}

/// Report photos, sealed like every other patient field and bound to their row; only the
/// program's staff read them, through the use case that audits it.
public struct PhotoStore: ContextualStore {
    let context: StoreContext

    static func context(_ programID: String, _ id: String) -> SealContext {
        SealContext(program: programID, table: "photos", column: "data_enc", row: id)
    }

    /// Stores a photo already checked for size and type under the id its answer names, in the caller's transaction.
    public func store(id: String, programID: String, patientID: String, contentType: String, data: Data, actor: AuditActor, in sql: any SQLDatabase) async throws {
        let sealed = try cipher.seal(bytes: data, for: Self.context(programID, id))
        try await sql.raw("""
            INSERT INTO photos (id, program_id, patient_id, content_type, bytes, data_enc, created_at)
            VALUES (\(bind: id), \(bind: programID), \(bind: patientID), \(bind: contentType), \(bind: data.count), \(bind: sealed), \(bind: clock.now().epochMilliseconds))
            """).run()
        try await audit.record(.photoStore, by: actor, program: programID, patient: patientID, in: sql)
    }

    /// The photo, opened; nil when the program has no such photo. Unaudited: the use case audits the read.
    public func find(programID: String, id: String) async throws -> StoredPhoto? {
        guard let row = try await database.read({ sql in
            try await sql.raw("SELECT id, patient_id, content_type, data_enc, created_at FROM photos WHERE id = \(bind: id) AND program_id = \(bind: programID)").first()
        }) else { return nil }
        return StoredPhoto(
            id: id, patientID: try row.decode(column: "patient_id", as: String.self), contentType: try row.decode(column: "content_type", as: String.self),
            data: try cipher.openBytes(try row.decode(column: "data_enc", as: String.self), for: Self.context(programID, id)),
            createdAt: Date(epochMilliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }
}
