import TendCore
import TendStore
import Foundation

/// A row of a file that names its patient by id or by the program's external id.
public protocol PatientFileRow: Sendable {
    var line: Int { get }
    var patientID: String? { get }
    var patientExternalID: String? { get }
}

extension ObservationFileRow: PatientFileRow {}
extension DispenseFileRow: PatientFileRow {}

/// What a file import did: rows stored, rows already there, rows refused.
public struct RowImportSummary: Sendable, Equatable {
    public var recorded = 0
    public var duplicates = 0
    public var rejected = 0

    public init(recorded: Int = 0, duplicates: Int = 0, rejected: Int = 0) {
        self.recorded = recorded
        self.duplicates = duplicates
        self.rejected = rejected
    }
}

/// Imports of readings and dispenses: rows a request's worth at a time, each refused on its own
/// (unreadable, or no such patient in the program), the others handed on with their patient's
/// id and time zone.
struct RowImport {
    let stores: Stores

    /// `store` checks and stores one batch of rows with known patients and returns how many it
    /// recorded, how many were already there and the rows it refused.
    func run<Row: PatientFileRow>(_ rows: [Result<Row, PatientImport.Reject>], programID: String, reject: (PatientImport.Reject) -> Void,
                                  store: ([(row: Row, patientID: String, zone: String)]) async throws -> (recorded: Int, duplicates: Int, refused: [PatientImport.Reject]))
        async throws -> RowImportSummary {
        var summary = RowImportSummary()
        for start in stride(from: 0, to: rows.count, by: Bounds.observationsPerRequest) {
            // A batch's refusals are reported in line order, whichever check refused them.
            var refusals: [PatientImport.Reject] = []
            func refuse(_ refused: PatientImport.Reject) { refusals.append(refused) }
            var batch: [Row] = []
            for row in rows[start..<min(start + Bounds.observationsPerRequest, rows.count)] {
                switch row {
                case .success(let read): batch.append(read)
                case .failure(let refused): refuse(refused)
                }
            }
            let byExternalID = try await stores.patients.ids(programID: programID, externalIDs: Array(Set(batch.compactMap(\.patientExternalID))))
            let patientIDs = batch.compactMap { $0.patientID ?? $0.patientExternalID.flatMap { byExternalID[$0] } }
            let zones = try await stores.patients.zones(programID: programID, ids: Array(Set(patientIDs)))
            var known: [(row: Row, patientID: String, zone: String)] = []
            for row in batch {
                guard let patientID = row.patientID ?? row.patientExternalID.flatMap({ byExternalID[$0] }), let zone = zones[patientID] else {
                    refuse(PatientImport.Reject(line: row.line, field: row.patientID == nil ? "patient_external_id" : "patient_id",
                                                reason: "no such patient in the program / 项目中无此患者"))
                    continue
                }
                known.append((row, patientID, zone))
            }
            let stored = try await store(known)
            refusals += stored.refused
            refusals.sort { $0.line < $1.line }
            refusals.forEach(reject)
            summary.rejected += refusals.count
            summary.recorded += stored.recorded
            summary.duplicates += stored.duplicates
        }
        return summary
    }

    /// A row refused for a field the use case checked (`row.field` becomes `field`).
    static func refusal(line: Int, _ error: TendError) -> PatientImport.Reject {
        PatientImport.Reject(line: line, field: error.field.map { $0.replacingOccurrences(of: "row.", with: "") }, reason: "\(error.message.en) / \(error.message.zh)")
    }
}
