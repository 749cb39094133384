import Foundation
public import Logging
import TendCore
public import TendServer
public import TendStore
public import TendTestSupport
import TendEngine

/// A whole application on a fresh database, with the demo programs and logins seeded.
public struct TestApp: Sendable {
    public let dependencies: AppDependencies
    public let clock: TestClock
    /// Operations time (sign-in throttling): moved by hand, so a slow machine cannot let a block
    /// run out between two requests of a test.
    public let operations: TestClock
    /// What the application sent outside (portal sign-in codes by SMS), recorded instead of sent.
    public let channels: RecordingChannels

    public var stores: Stores { dependencies.stores }

    public static func withApp<R: Sendable>(_ backend: TestBackend, seedDemo: Bool = true, logger: Logger = TestDatabase.logger, _ body: (TestApp) async throws -> R) async throws -> R {
        let clock = TestClock()
        let (location, cleanup) = try await TestDatabase.makeLocation(backend)
        let config = AppConfig(database: location, port: 0, keySource: .inline(TestKeys.ring), logLevel: .warning, passwordCost: 4, outbound: .testReceivers,
                               sessionIdle: 7 * 86400)
        let ids = IDGenerator.uuidV7(clock: clock.clock)
        let stores: Stores
        do {
            stores = try await openStores(config: config, clock: clock.clock, ids: ids, logger: logger, migrate: true)
        } catch {
            await cleanup()
            throw error
        }
        let operations = TestClock()
        let channels = RecordingChannels()
        let dependencies = AppDependencies(config: config, stores: stores, clock: clock.clock, ids: ids, logger: logger, operationsClock: operations.clock,
                                           channels: channels)
        do {
            if seedDemo {
                try await DemoSeed.seed(stores: stores, passwords: dependencies.passwords, messages: dependencies.actions.messages, patientsPerProgram: 30, now: clock.now)
            }
            let result = try await body(TestApp(dependencies: dependencies, clock: clock, operations: operations, channels: channels))
            await stores.database.close()
            await cleanup()
            return result
        } catch {
            await stores.database.close()
            await cleanup()
            throw error
        }
    }

    /// A bearer token for a demo login.
    public func token(for email: String) async throws -> String {
        guard let user = try await stores.staff.credentials(email: email)?.user else {
            throw TestSetupError(description: "no user \(email)")
        }
        return try await stores.tokens.create(userID: user.id, name: "test").plaintext
    }
}
