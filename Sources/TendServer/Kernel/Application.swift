import Foundation
import Synchronization
public import Hummingbird
public import Logging
public import ServiceLifecycle
public import TendCore
public import TendEngine
public import TendStore

/// Everything the HTTP layer uses, built once and passed in: no globals.
public struct AppDependencies: Sendable {
    public let config: AppConfig
    public let stores: Stores
    public let clock: TendClock
    public let ids: IDGenerator
    public let passwords: PasswordHasher
    public let signIns: SignInThrottle
    public let metrics: ServerMetrics
    public let logger: Logger
    /// Each program's classifier (shipped rules plus its own), built once per settings change.
    public let classifiers = ClassifierCache()
    /// The use cases every entry point calls.
    public let actions: Actions

    /// `operationsClock` times what is not business time — sign-in throttling — and is the
    /// system clock outside tests.
    public init(config: AppConfig, stores: Stores, clock: TendClock, ids: IDGenerator, metrics: ServerMetrics = ServerMetrics(), logger: Logger, operationsClock: TendClock = .system,
                channels: (any ChannelFactory)? = nil) {
        self.config = config
        self.stores = stores
        self.clock = clock
        self.ids = ids
        self.passwords = PasswordHasher(cost: config.passwordCost)
        self.signIns = SignInThrottle(clock: operationsClock)
        self.metrics = metrics
        self.logger = logger
        self.actions = Actions(stores: stores, passwords: passwords, signIns: signIns, classifiers: classifiers,
                               links: ConfirmationLinks(signer: stores.blindIndex, publicURL: config.baseURL),
                               channels: channels ?? HTTPChannels(policy: config.outbound), clock: clock, logger: logger)
    }
}

/// Builds the router: middleware, health and metrics, the API (from its operation table)
/// and the console.
public func buildRouter(_ dependencies: AppDependencies, renderer: PageRenderer) -> Router<TendRequestContext> {
    let router = Router(context: TendRequestContext.self)
    let routeMethods = RouteMethods()
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(middleware: MetricsMiddleware(metrics: dependencies.metrics))
    router.add(middleware: ErrorMiddleware(renderer: renderer, defaultLocale: dependencies.config.defaultLocale, routeMethods: routeMethods))
    router.add(middleware: AuthMiddleware(stores: dependencies.stores, defaultLocale: dependencies.config.defaultLocale))

    router.get("/healthz") { _, _ -> Response in
        let database: String
        do {
            _ = try await dependencies.stores.programs.find(slug: "-")
            database = "ok"
        } catch {
            return try JSONIO.response(["status": "degraded", "database": "unreachable"], status: .serviceUnavailable)
        }
        return try JSONIO.response(["status": "ok", "database": database])
    }
    router.get("/metrics") { _, _ -> Response in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: dependencies.metrics.exposition())))
    }

    let api = APIRoutes(dependencies: dependencies)
    let operations = LockedOperations()
    let endpoints = api.endpoints(openAPI: {
        OpenAPIDocument.build(operations: operations.value, components: APIComponents.all, serverURL: dependencies.config.baseURL)
    })
    operations.set(endpoints.map(\.operation))
    let access = ProgramAccess(stores: dependencies.stores)
    for endpoint in endpoints {
        let operation = endpoint.operation, handler = endpoint.handler
        router.on(RouterPath(operation.routerPath), method: operation.method) { request, context in
            var context = context
            let admitted = try await operation.admit(request, context: &context, access: access)
            return try await handler(admitted, context)
        }
    }

    ConsoleRoutes(dependencies: dependencies, renderer: renderer).register(on: router)
    routeMethods.register(router)
    return router
}

/// The operation list, fixed once the router is built and read by the OpenAPI handler.
final class LockedOperations: Sendable {
    private let operations = Mutex<[APIOperation]>([])

    var value: [APIOperation] {
        operations.withLock { $0 }
    }

    func set(_ operations: [APIOperation]) {
        self.operations.withLock { $0 = operations }
    }
}

public func buildApplication(
    _ dependencies: AppDependencies, services: [any Service] = [],
    onServerRunning: @escaping @Sendable (_ port: Int?) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let renderer = try await PageRenderer.load()
    let router = buildRouter(dependencies, renderer: renderer)
    // A connection that sends nothing for a minute is closed: a request that never finishes (or a
    // CONNECT, which the HTTP parser holds open as a tunnel) cannot hold a connection for good.
    let app = Application(
        router: router,
        server: .http1(configuration: .init(idleTimeout: .seconds(60))),
        configuration: .init(address: .hostname(dependencies.config.host, port: dependencies.config.port), serverName: "tend"),
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port) },
        logger: dependencies.logger)
    return app
}

/// Opens the database, checks its schema and builds the stores: the start-up path
/// shared by `tend serve`, `tend demo` and the tests.
public func openStores(config: AppConfig, clock: TendClock, ids: IDGenerator, logger: Logger, migrate: Bool) async throws -> Stores {
    let keys = try config.loadKeyRing()
    let database = try await Database.open(config.database, logger: logger)
    do {
        let migrator = Migrator(database: database, clock: clock)
        if migrate {
            try await migrator.migrate()
        }
        try await migrator.checkCompatible()
    } catch {
        await database.close()
        throw error
    }
    var keyFile: String?
    if case .file(let path, _) = config.keySource { keyFile = path }
    let stores = Stores(database: database, clock: clock, ids: ids, keys: keys, keyFile: keyFile, sessionIdle: config.sessionIdle)
    do {
        try await CryptoUpgrade(stores: stores, logger: logger).run()
    } catch {
        await database.close()
        throw error
    }
    return stores
}
