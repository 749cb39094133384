import ArgumentParser
import Foundation
import TendCore
import TendFormats
import TendServer
import TendStore
import TendEngine

/// `tend segment validate FILE`, `tend segment save FILE --program P`, `tend segment list
/// --program P` and `tend segment evaluate SLUG --program P [--now T]`.
struct SegmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment", abstract: "Segments: rules that keep their members up to date / 患者分群",
        subcommands: [Validate.self, Save.self, List.self, Evaluate.self])

    static func read(_ file: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            FileHandle.standardError.write(Data("tend: cannot read \(file) / 无法读取文件\n".utf8))
            throw ExitCode.failure
        }
        return text
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a segment file; problems are printed as FILE:LINE: column C: … / 校验分群文件")
        @Argument(help: "The segment file (.yaml or .json)") var file: String

        func run() async throws {
            let text = try SegmentCommand.read(file)
            do throws(PathwayProblems) {
                let segment = try SegmentFile.parse(text)
                say("\(file): ok — \(segment.slug), \(segment.rule.clauses.count) clauses, \(segment.onEnter.count + segment.onLeave.count) actions / 校验通过")
            } catch {
                for problem in error.problems {
                    FileHandle.standardError.write(Data("\(file):\(problem.line): \(problem.message)\n".utf8))
                }
                throw ExitCode.failure
            }
        }
    }

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or replace a program's segment and evaluate it / 保存分群并立即计算成员")
        @OptionGroup var storage: StorageOptions
        @Argument(help: "The segment file") var file: String
        @Option(help: "Program slug") var program: String

        func run() async throws {
            try await runReporting {
                let text = try SegmentCommand.read(file)
                try await withStores(try await loadConfig(storage)) { stores, dependencies in
                    guard let target = try await stores.programs.find(slug: program) else { throw TendError.notFound("program \(program)") }
                    let saved = try await dependencies.actions.segments.save(programID: target.id, source: text, by: .cli)
                    say("Saved \(saved.segment.slug): \(saved.change.entered) entered, \(saved.change.left) left / 已保存分群：进入 \(saved.change.entered) 人，离开 \(saved.change.left) 人")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a program's segments with their member counts / 列出分群及人数")
        @OptionGroup var storage: StorageOptions
        @Option(help: "Program slug") var program: String

        func run() async throws {
            try await runReporting {
                try await withStores(try await loadConfig(storage)) { stores, dependencies in
                    guard let target = try await stores.programs.find(slug: program) else { throw TendError.notFound("program \(program)") }
                    for summary in try await dependencies.actions.segments.list(programID: target.id) {
                        say("\(summary.segment.slug)\t\(summary.members)\t\(summary.segment.name.zh) / \(summary.segment.name.en)\t\(summary.segment.definition.rule.source.trimmed)")
                    }
                }
            }
        }
    }

    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Evaluate a segment over its program now and print who moved / 重新计算分群成员")
        @OptionGroup var storage: StorageOptions
        @Argument(help: "The segment's slug") var segment: String
        @Option(help: "Program slug") var program: String
        @Option(help: "The instant, e.g. 2026-12-01T08:00:00+08:00 (default: now)") var now: String?

        func run() async throws {
            try await runReporting {
                let instant = try instant(fromNowOption: now)
                try await withStores(try await loadConfig(storage), clock: .fixed(instant)) { stores, dependencies in
                    guard let target = try await stores.programs.find(slug: program) else { throw TendError.notFound("program \(program)") }
                    let change = try await dependencies.actions.segments.evaluate(programID: target.id, segmentID: segment, by: .cli)
                    say("{\"entered\":\(change.entered),\"left\":\(change.left)}")
                }
            }
        }
    }
}
