import Foundation
public import TendCore

/// What every store works through, built once by `Stores`: one database, one clock, one id
/// source, one field cipher and blind index, and one audit log (so every store's read events
/// share one group commit).
public struct StoreContext: Sendable {
    public let database: Database
    public let clock: TendClock
    public let ids: IDGenerator
    public let cipher: FieldCipher
    public let blindIndex: BlindIndexer
    public let audit: AuditLog

    public init(database: Database, clock: TendClock, ids: IDGenerator, keys: KeyRing, keyFile: String? = nil) {
        self.database = database
        self.clock = clock
        self.ids = ids
        self.cipher = FieldCipher(source: KeyRingSource(ring: keys, path: keyFile))
        self.blindIndex = BlindIndexer(ring: keys)
        self.audit = AuditLog(database: database, clock: clock, ids: ids)
    }
}

/// A store built on the shared context: its parts read as the store's own.
protocol ContextualStore: Sendable {
    var context: StoreContext { get }
}

extension ContextualStore {
    var database: Database { context.database }
    var clock: TendClock { context.clock }
    var ids: IDGenerator { context.ids }
    var cipher: FieldCipher { context.cipher }
    var blindIndex: BlindIndexer { context.blindIndex }
    var audit: AuditLog { context.audit }
}
