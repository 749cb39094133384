import Foundation
import SQLKit
import TendCore
import TendStore

/// Refill reminders and missed-refill tasks through refill pathways (`refill: DRUG-OR-CLASS`,
/// anchor `run_out`): a dispense of what such a pathway follows enrols the patient with the
/// run-out day of their supply; a later dispense that moves the run-out ends that enrolment —
/// its unsent reminder and missed-refill task are cancelled — and starts the next one from the
/// new run-out. The pathway's own steps say when to remind and after how long a missing refill
/// becomes a pharmacist's task.
struct RefillFollowUp: Sendable {
    let stores: Stores

    /// The program's refill pathways, read before the transaction: the newest version of each
    /// (new enrolments start on it) and the slug of every version (earlier enrolments keep theirs).
    struct Pathways: Sendable {
        var latest: [StoredPathway]
        var slugOfVersion: [String: String]
    }

    func pathways(programID: String) async throws -> Pathways {
        let refills = try await stores.pathways.all(programID: programID).filter { $0.pathway.refill != nil }
        var latest: [String: StoredPathway] = [:]
        for stored in refills where (latest[stored.pathway.id]?.pathway.version ?? 0) < stored.pathway.version {
            latest[stored.pathway.id] = stored
        }
        return Pathways(latest: latest.values.sorted { $0.pathway.id < $1.pathway.id },
                        slugOfVersion: Dictionary(uniqueKeysWithValues: refills.map { ($0.id, $0.pathway.id) }))
    }

    /// After `dispenses` were written in `sql`: enrols or re-enrols each patient whose run-out
    /// of a followed drug or class moved. Returns the patients enrolled anew.
    func follow(programID: String, dispenses: [Dispense], pathways: Pathways, by actor: AuditActor, in sql: any SQLDatabase) async throws -> Set<String> {
        guard !pathways.latest.isEmpty else { return [] }
        var started: Set<String> = []
        var followed: [String: Set<String>] = [:]
        for dispense in dispenses {
            for stored in pathways.latest where Self.follows(stored.pathway, dispense.fill) {
                followed[dispense.patientID, default: []].insert(stored.pathway.id)
            }
        }
        for (patientID, slugs) in followed.sorted(by: { $0.key < $1.key }) {
            let fills = try await stores.dispenses.fills(programID: programID, patientID: patientID, in: sql)
            let enrolments = try await stores.enrolments.enrolments(programID: programID, patientID: patientID, in: sql).filter { $0.status != .cancelled }
            for stored in pathways.latest where slugs.contains(stored.pathway.id) {
                guard let runOut = PDC.runOut(fills.filter { Self.follows(stored.pathway, $0) }) else { continue }
                let current = enrolments.filter { pathways.slugOfVersion[$0.pathwayID] == stored.pathway.id }
                if current.contains(where: { $0.anchors[Pathway.runOutAnchor] == runOut }) { continue }
                for enrolment in current {
                    _ = try await stores.enrolments.cancel(programID: programID, enrolmentID: enrolment.id, actor: actor, in: sql)
                }
                _ = try await stores.enrolments.enrol(programID: programID, pathway: stored, target: .patient(patientID),
                                                      anchors: [Pathway.runOutAnchor: runOut], actor: actor, in: sql)
                started.insert(patientID)
            }
        }
        return started
    }

    /// After a regimen stopped on `day` in `sql`: ends the patient's refill follow-up of its
    /// drug or class whose supply runs out after that day — no refill is due for a stopped drug.
    func stop(programID: String, regimen: Regimen, on day: LocalDate, pathways: Pathways, by actor: AuditActor, in sql: any SQLDatabase) async throws {
        let followed = Set(pathways.latest.filter { $0.pathway.refill == regimen.drug || ($0.pathway.refill != nil && $0.pathway.refill == regimen.drugClass) }
            .map(\.pathway.id))
        guard !followed.isEmpty else { return }
        for enrolment in try await stores.enrolments.enrolments(programID: programID, patientID: regimen.patientID, in: sql)
        where enrolment.status != .cancelled && followed.contains(pathways.slugOfVersion[enrolment.pathwayID] ?? "")
            && (enrolment.anchors[Pathway.runOutAnchor].map { $0 > day } ?? false) {
            _ = try await stores.enrolments.cancel(programID: programID, enrolmentID: enrolment.id, actor: actor, in: sql)
        }
    }

    static func follows(_ pathway: Pathway, _ fill: Fill) -> Bool {
        guard let followed = pathway.refill else { return false }
        return fill.drug == followed || fill.drugClass == followed
    }
}
