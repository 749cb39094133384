public import Logging
public import ServiceLifecycle
public import TendStore

/// Folds SQLite's write-ahead log back into the database file every `interval`, beside the
/// requests instead of inside one of their commits (`Database.checkpointLog`). Runs in the
/// server's and the dispatch worker's service groups until they shut down.
public struct LogCheckpointer: Service {
    let database: Database
    let interval: Duration
    let logger: Logger

    public init(database: Database, interval: Duration = .seconds(1), logger: Logger) {
        self.database = database
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                    try await database.checkpointLog()
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("log checkpoint failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
