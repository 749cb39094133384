import Foundation
import SQLKit
import Synchronization

/// Group commit for read events. A read hands its rows in and waits; one writer at a time
/// commits everything that arrived while the previous batch was committing, in one transaction.
/// A reader is answered only after its batch committed, so "audited before answered" holds,
/// and a batch that fails fails every read in it. Under load a hundred reads cost one commit
/// instead of a hundred queued behind SQLite's single writer; alone, a read waits for nothing.
final class ReadAuditBatch: Sendable {
    private struct Waiting {
        var rows: [[SQLValue]]
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var writing = false
    }

    /// At most this many events in one transaction (the rest wait for the next).
    static let maximumEvents = 5_000

    private let database: Database
    private let state = Mutex(State())

    init(database: Database) {
        self.database = database
    }

    /// Returns once the rows are committed; throws what the batch's commit threw.
    func write(_ rows: [[SQLValue]]) async throws {
        guard !rows.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let startsWriter = state.withLock { state in
                state.waiting.append(Waiting(rows: rows, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            // Detached: the writer must not inherit the caller's task-local session marker,
            // and it outlives the read that started it while others are waiting.
            if startsWriter { Task.detached { await self.drain() } }
        }
    }

    private func drain() async {
        while let batch = nextBatch() {
            do {
                let rows = batch.flatMap(\.rows)
                try await database.transaction { sql in
                    try await AuditLog.insert.run(sql, rows: BoundRows(rows, for: StorageDialect.of(sql).kind))
                }
                for waiting in batch { waiting.continuation.resume() }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }

    /// The reads waiting now, up to `maximumEvents` events; nil (and the writer stops) when none.
    private func nextBatch() -> [Waiting]? {
        state.withLock { state in
            guard !state.waiting.isEmpty else {
                state.writing = false
                return nil
            }
            var events = 0
            var taken = 0
            for waiting in state.waiting {
                if taken > 0, events + waiting.rows.count > Self.maximumEvents { break }
                events += waiting.rows.count
                taken += 1
            }
            let batch = Array(state.waiting.prefix(taken))
            state.waiting.removeFirst(taken)
            return batch
        }
    }
}
