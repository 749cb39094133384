import Foundation
public import Logging
import SQLKit
import TendCore

/// Brings data written by earlier versions to the current protections, once, when the keys
/// are at hand (`tend migrate` with a key, `tend serve`, `tend demo`): blind indexes keyed per
/// program, and every sealed field bound to its row. Each step is recorded in `crypto_upgrades`
/// so that it runs once even when several processes start together.
public struct CryptoUpgrade: Sendable {
    let stores: Stores
    let logger: Logger

    public init(stores: Stores, logger: Logger) {
        self.stores = stores
        self.logger = logger
    }

    static let programIndexes = "program_blind_indexes"
    static let boundCiphertexts = "bound_ciphertexts"

    public func run() async throws {
        if try await !isDone(Self.programIndexes) {
            try await rekeyBlindIndexes()
        }
        if try await !isDone(Self.boundCiphertexts) {
            let changed = try await stores.patients.reencryptAll()
            let left = try await stores.patients.countNotUnderActiveKey()
            guard left == 0 else {
                throw FieldCipherError(description: "\(left) sealed fields could not be bound to their rows / 仍有字段未完成加密升级")
            }
            try await mark(Self.boundCiphertexts)
            if changed > 0 { logger.notice("bound sealed fields to their rows", metadata: ["rows": "\(changed)"]) }
        }
    }

    private func isDone(_ step: String) async throws -> Bool {
        try await stores.database.session { sql in
            try await sql.raw("SELECT name FROM crypto_upgrades WHERE name = \(bind: step)").first() != nil
        }
    }

    private func mark(_ step: String) async throws {
        let now = stores.patients.clock.now().epochMilliseconds
        try await stores.database.session { sql in
            try await sql.raw("INSERT INTO crypto_upgrades (name, applied_at) VALUES (\(bind: step), \(bind: now)) ON CONFLICT (name) DO NOTHING").run()
        }
    }

    /// Every stored blind index becomes the program-keyed index of itself, in one transaction
    /// with its marker: applying it twice would break every lookup, so it lands once or not at all.
    private func rekeyBlindIndexes() async throws {
        let indexer = stores.blindIndex
        let now = stores.patients.clock.now().epochMilliseconds
        let rekeyed: Int = try await stores.database.transaction { sql in
            let claimed = try await sql.raw("""
                INSERT INTO crypto_upgrades (name, applied_at) VALUES (\(bind: Self.programIndexes), \(bind: now)) ON CONFLICT (name) DO NOTHING RETURNING name
                """).all()
            guard !claimed.isEmpty else { return 0 }
            try await sql.raw("CREATE TEMPORARY TABLE rekeyed_patients (id TEXT PRIMARY KEY, name_bidx TEXT NOT NULL, phone_bidx TEXT, id_number_bidx TEXT)").run()
            var after = "", count = 0
            while true {
                let rows = try await sql.raw("""
                    SELECT id, program_id, name_bidx, phone_bidx, id_number_bidx FROM patients WHERE id > \(bind: after) ORDER BY id LIMIT 5000
                    """).all()
                guard let last = rows.last else { break }
                var values: [[any Encodable & Sendable]] = []
                for row in rows {
                    let program = try row.decode(column: "program_id", as: String.self)
                    func rekey(_ column: String) throws -> String? {
                        try row.decode(column: column, as: String?.self).map { indexer.programIndex($0, program: program) }
                    }
                    values.append([try row.decode(column: "id", as: String.self), try rekey("name_bidx") ?? "", try rekey("phone_bidx"), try rekey("id_number_bidx")])
                }
                try await MultiRowInsert("INSERT INTO rekeyed_patients (id, name_bidx, phone_bidx, id_number_bidx)").run(sql, rows: values)
                count += rows.count
                after = try last.decode(column: "id", as: String.self)
            }
            try await sql.raw("""
                UPDATE patients SET name_bidx = r.name_bidx, phone_bidx = r.phone_bidx, id_number_bidx = r.id_number_bidx
                FROM rekeyed_patients r WHERE patients.id = r.id
                """).run()
            try await sql.raw("DROP TABLE rekeyed_patients").run()
            let identities = try await sql.raw("SELECT program_id, kind, key_bidx, patient_id, relation FROM sender_identities").all()
            try await sql.raw("DELETE FROM sender_identities").run()
            let rows: [[any Encodable & Sendable]] = try identities.map { row in
                let program = try row.decode(column: "program_id", as: String.self)
                return [program, try row.decode(column: "kind", as: String.self),
                        indexer.programIndex(try row.decode(column: "key_bidx", as: String.self), program: program),
                        try row.decode(column: "patient_id", as: String.self), try row.decode(column: "relation", as: String?.self)]
            }
            try await MultiRowInsert("INSERT INTO sender_identities (program_id, kind, key_bidx, patient_id, relation)").run(sql, rows: rows)
            return count
        }
        if rekeyed > 0 { logger.notice("blind indexes keyed per program", metadata: ["patients": "\(rekeyed)"]) }
    }
}
