import Foundation
import Testing
import TendCore
import TendServer
import TendStore
import TendTestSupport
import Logging

@Suite struct ConfigTests {
    func load(flags: [String: String] = [:], environment: [String: String] = [:], file: String? = nil) async throws -> AppConfig {
        let reader = try await AppConfig.reader(flags: flags, environment: environment, configFile: file)
        return try AppConfig.load(from: reader, defaultDataDirectory: "/data")
    }

    @Test func defaultsGiveAnEmbeddedSQLiteDatabaseAndAKeyFileInTheDataFolder() async throws {
        let config = try await load()
        #expect(config.database == .sqlite(path: "/data/tend.sqlite"))
        #expect(config.keySource == .file(path: "/data/master.key", create: false))
        #expect(config.port == 8080 && config.host == "127.0.0.1")
        #expect(config.defaultLocale == .zhHans)
    }

    @Test func flagsBeatTheEnvironmentWhichBeatsTheFile() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tend-config-\(UUID().uuidString).json")
        try Data(#"{"tend": {"port": "7000", "host": "0.0.0.0", "log": {"level": "debug"}}}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let fromFile = try await load(file: file.path)
        #expect(fromFile.port == 7000 && fromFile.host == "0.0.0.0" && fromFile.logLevel == .debug)
        let fromEnvironment = try await load(environment: ["TEND_PORT": "7100"], file: file.path)
        #expect(fromEnvironment.port == 7100 && fromEnvironment.host == "0.0.0.0")
        let fromFlags = try await load(flags: [AppConfig.Key.port: "7200"], environment: ["TEND_PORT": "7100"], file: file.path)
        #expect(fromFlags.port == 7200)
    }

    @Test func wrongValuesAreReportedByName() async throws {
        let cases: [([String: String], String)] = [
            (["TEND_PORT": "eighty"], "TEND_PORT"),
            (["TEND_PORT": "70000"], "TEND_PORT"),
            (["TEND_DATABASE": "mysql://x/y"], "TEND_DATABASE"),
            (["TEND_LOG_LEVEL": "loud"], "TEND_LOG_LEVEL"),
            (["TEND_SESSION_HOURS": "-1"], "TEND_SESSION_HOURS"),
            (["TEND_DEFAULT_LOCALE": "fr"], "TEND_DEFAULT_LOCALE"),
            (["TEND_PUBLIC_URL": "ftp://x"], "TEND_PUBLIC_URL"),
        ]
        for (environment, name) in cases {
            do {
                _ = try await load(environment: environment)
                Issue.record("\(environment) was accepted")
            } catch let error as ConfigError {
                #expect(error.description.contains(name))
                #expect(!error.description.contains("\n"))
            }
        }
        await #expect(throws: ConfigError.self) { _ = try await load(file: "/nonexistent/tend.json") }
    }

    @Test func secretsStayOutOfTheLoggedSummary() async throws {
        let config = try await load(environment: [
            "TEND_MASTER_KEY": TestKeys.single,
            "TEND_DATABASE": "postgres://tend:hunter2-secret@db:5432/tend",
        ])
        #expect(config.keySource == .inline(TestKeys.single))
        let summary = config.redactedSummary
        #expect(!summary.contains("hunter2") && !summary.contains(TestKeys.single.dropFirst(3)))
        #expect(summary.contains("postgres://tend@db:5432/tend"))
    }

    @Test func aMissingKeyFileStopsStartUpWithOneLine() async throws {
        let config = try await load(flags: [AppConfig.Key.keyFile: "/nonexistent/master.key"])
        do {
            _ = try config.loadKeyRing()
            Issue.record("a missing key file was accepted")
        } catch let error as KeyRingError {
            #expect(error.description.contains("/nonexistent/master.key"))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func httpsPublicURLsTurnOnSecureCookies() async throws {
        #expect(try await load(environment: ["TEND_PUBLIC_URL": "https://tend.example.org"]).secureCookies)
        #expect(try await load().secureCookies == false)
    }
}
