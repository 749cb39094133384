import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TendCore
import TendServer
import TendStore
import TendEngine
import UnixSignals

/// Dispatch settings a command line may override.
struct DispatchOptions: ParsableArguments {
    @Option(name: .customLong("lease-seconds"), help: "How long a claim holds (env TEND_DISPATCH_LEASE_SECONDS)") var leaseSeconds: Double?
    @Option(name: .customLong("batch-size"), help: "Touchpoints per claim (env TEND_DISPATCH_BATCH_SIZE)") var batchSize: Int?
    @Option(name: .customLong("retry-base-seconds"), help: "First retry wait, doubling after (env TEND_RETRY_BASE_SECONDS)") var retryBaseSeconds: Double?
    @Option(name: .customLong("retry-attempts"), help: "Attempts before a touchpoint fails (env TEND_RETRY_ATTEMPTS)") var retryAttempts: Int?
    @Option(name: .customLong("public-url"), help: "The URL confirmation links point at (env TEND_PUBLIC_URL)") var publicURL: String?

    var flags: [String: String] {
        var flags: [String: String] = [:]
        flags[AppConfig.Key.dispatchLeaseSeconds] = leaseSeconds.map { String($0) }
        flags[AppConfig.Key.dispatchBatchSize] = batchSize.map(String.init)
        flags[AppConfig.Key.retryBaseSeconds] = retryBaseSeconds.map { String($0) }
        flags[AppConfig.Key.retryAttempts] = retryAttempts.map(String.init)
        flags[AppConfig.Key.publicURL] = publicURL
        return flags
    }
}

struct DispatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch",
        abstract: "Send everything due by an instant, then exit / 发送截至某时刻到期的全部消息后退出",
        discussion: "Prints a JSON summary. Touchpoints that wait for a retry or another worker's lease are counted as remaining.")

    @OptionGroup var storage: StorageOptions
    @OptionGroup var dispatch: DispatchOptions
    @Option(help: "The instant, e.g. 2026-12-01T08:00:00+08:00 (default: now)") var now: String?

    func run() async throws {
        try await runReporting {
            let instant = try instant(fromNowOption: now)
            let config = try await loadConfig(storage, extraFlags: dispatch.flags)
            bootstrapLogging(level: .warning)
            // What the pass writes (tasks, alerts) is dated by the same instant.
            try await withStores(config, clock: .fixed(instant)) { _, dependencies in
                let dispatcher = dependencies.makeDispatcher(clock: .fixed(instant))
                let report = try await dispatcher.runPass()
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                say(String(decoding: try encoder.encode(report), as: UTF8.self))
            }
        }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run the dispatcher without the HTTP server / 单独运行发送服务")

    @OptionGroup var storage: StorageOptions
    @OptionGroup var dispatch: DispatchOptions

    func run() async throws {
        try await runReporting {
            let config = try await loadConfig(storage, extraFlags: dispatch.flags)
            bootstrapLogging(level: config.logLevel)
            try await withStores(config) { _, dependencies in
                let dispatcher = dependencies.makeDispatcher()
                say("Tend worker is dispatching / Tend 发送服务已启动")
                let group = ServiceGroup(services: [dispatcher, LogCheckpointer(database: dependencies.stores.database, logger: dependencies.logger)], gracefulShutdownSignals: [.sigterm, .sigint], logger: dependencies.logger)
                try await group.run()
            }
        }
    }
}

struct ChannelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "channel", abstract: "Configure a program's channels / 配置项目的发送渠道", subcommands: [Set.self, List.self, Remove.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a channel: webhook, wecom, sms or voice / 设置渠道")
        @OptionGroup var storage: StorageOptions
        @Option(help: "Program slug") var program: String
        @Option(help: "webhook, wecom, sms or voice") var channel: String
        @Option(help: "The endpoint (a WeCom robot's webhook URL, the SMS gateway, the receiver)") var url: String
        @Option(help: "Webhook signing secret (at least 16 characters)") var secret: String?
        @Option(name: .customLong("body-template"), help: "SMS body with {{phone}} and {{text}}") var bodyTemplate: String?
        @Option(help: "WeCom: text or markdown") var format: String?
        @Option(name: .customLong("rate-per-minute"), help: "Sends per minute (WeCom robots: 20)") var ratePerMinute: Int?
        @Option(name: .customLong("header"), help: "Extra header for the SMS gateway, Name: value (repeatable)") var headers: [String] = []

        func run() async throws {
            try await runReporting {
                try await withStores(try await loadConfig(storage)) { stores, dependencies in
                    guard let found = try await stores.programs.find(slug: program) else { throw TendError.notFound("program") }
                    guard let kind = ContactChannel(rawValue: channel) else {
                        throw TendError.invalid("channel", .init(en: "must be one of webhook, wecom, sms, voice", zh: "必须是 webhook、wecom、sms 或 voice"))
                    }
                    var headerMap: [String: String] = [:]
                    for header in headers {
                        let parts = header.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                        guard parts.count == 2, !parts[0].isEmpty else {
                            throw TendError.invalid("header", .init(en: "must look like Name: value", zh: "格式应为 Name: value"))
                        }
                        headerMap[parts[0]] = parts[1]
                    }
                    var weComFormat: ChannelConfig.WeComFormat?
                    if let format {
                        guard let parsed = ChannelConfig.WeComFormat(rawValue: format) else {
                            throw TendError.invalid("format", .init(en: "must be text or markdown", zh: "必须是 text 或 markdown"))
                        }
                        weComFormat = parsed
                    }
                    try await stores.channels.set(programID: found.id, ChannelConfig(
                        channel: kind, url: url, secret: secret, bodyTemplate: bodyTemplate, headers: headerMap.isEmpty ? nil : headerMap,
                        format: weComFormat, ratePerMinute: ratePerMinute), policy: dependencies.config.outbound)
                    say("Channel \(kind.rawValue) set for \(program) / 已设置渠道")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a program's channels (secrets hidden) / 列出渠道")
        @OptionGroup var storage: StorageOptions
        @Option(help: "Program slug") var program: String

        func run() async throws {
            try await runReporting {
                try await withStores(try await loadConfig(storage)) { stores, _ in
                    guard let found = try await stores.programs.find(slug: program) else { throw TendError.notFound("program") }
                    say("in_app  (always on / 始终可用)")
                    for config in try await stores.channels.list(programID: found.id) {
                        let host = URL(string: config.url)?.host ?? "?"
                        say("\(config.channel.rawValue)  \(host)\(config.secret == nil ? "" : "  secret set")")
                    }
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a channel / 删除渠道")
        @OptionGroup var storage: StorageOptions
        @Option(help: "Program slug") var program: String
        @Option(help: "webhook, wecom, sms or voice") var channel: String

        func run() async throws {
            try await runReporting {
                try await withStores(try await loadConfig(storage)) { stores, _ in
                    guard let found = try await stores.programs.find(slug: program), let kind = ContactChannel(rawValue: channel) else {
                        throw TendError.notFound("channel")
                    }
                    say(try await stores.channels.remove(programID: found.id, channel: kind)
                        ? "Removed / 已删除" : "No such channel / 没有该渠道")
                }
            }
        }
    }
}
