// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Tend",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tend", targets: ["Tend"]),
        .executable(name: "tend-bench", targets: ["TendBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
    ],
    targets: [
        .target(
            name: "TendCore",
            resources: [.copy("Triage/Rules"), .copy("Questionnaires/Definitions")],
            swiftSettings: swiftSettings
        ),
        .target(name: "CTendSQLite"),
        .target(
            name: "TendStore",
            dependencies: [
                "TendCore",
                "CTendSQLite",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TendFormats",
            dependencies: ["TendCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TendEngine",
            dependencies: [
                "TendCore", "TendStore", "TendFormats",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TendServer",
            dependencies: [
                "TendCore", "TendStore", "TendEngine", "TendFormats",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdRouter", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Assets")],
            // LLVM's SLP vectorizer goes quadratic on a function of this module in release
            // builds (`getSpillCost` renumbering one huge block: over 35 minutes, unfinished).
            // Server code gains nothing from it; the flag turns that one pass off here.
            swiftSettings: swiftSettings + [.unsafeFlags(["-Xllvm", "-vectorize-slp=false"], .when(configuration: .release))]
        ),
        .executableTarget(
            name: "Tend",
            dependencies: [
                "TendServer", "TendEngine", "TendStore", "TendCore", "TendFormats",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "TendBench",
            dependencies: [
                "TendCore", "TendStore", "TendEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SQLKit", package: "sql-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TendTestSupport",
            dependencies: [
                "TendCore", "TendStore", "TendEngine",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TendServerTestSupport",
            dependencies: [
                "TendCore", "TendStore", "TendServer", "TendTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TendCoreTests", dependencies: ["TendCore", "TendTestSupport"], exclude: ["Triage/TriageCorpus", "Triage/TriageChallenge.tsv", "Triage/TriageChallenge2.tsv", "Triage/TriageChallenge3.tsv", "Triage/TriageChallenge4.tsv", "Triage/TriageChallenge5.tsv", "Triage/TriageChallenge6.tsv", "Triage/TriageChallenge7.tsv", "Triage/TriageChallenge8.tsv", "Triage/TriageChallenge9.tsv", "Triage/TriageChallenge10.tsv", "Triage/TriageChallenge11.tsv", "Triage/TriageChallenge12.tsv"], swiftSettings: swiftSettings),
        .testTarget(name: "TendFormatsTests", dependencies: ["TendFormats", "TendCore"], swiftSettings: swiftSettings),
        .testTarget(name: "TendStoreTests", dependencies: ["TendStore", "TendTestSupport", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: swiftSettings),
        .testTarget(name: "TendEngineTests", dependencies: ["TendEngine", "TendStore", "TendCore", "TendFormats", "TendTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TendServerTests",
            dependencies: [
                "TendServer", "TendEngine", "TendFormats", "TendTestSupport", "TendServerTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
