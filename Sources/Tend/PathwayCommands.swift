import ArgumentParser
import Foundation
import TendCore
import TendFormats
import TendServer
import TendStore
import TendEngine

struct PathwayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pathway", abstract: "Follow-up pathways / 随访方案", subcommands: [Validate.self, Load.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a pathway file and print its problems with line numbers / 校验方案文件")
        @Argument(help: "The pathway file (.yaml or .json)") var file: String

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                FileHandle.standardError.write(Data("tend: cannot read \(file) / 无法读取文件\n".utf8))
                throw ExitCode.failure
            }
            do throws(PathwayProblems) {
                let pathway = try PathwayFile.parse(text)
                say("\(file): ok — \(pathway.id) v\(pathway.version), \(pathway.steps.count) steps / 校验通过")
            } catch {
                for problem in error.problems {
                    FileHandle.standardError.write(Data("\(file):\(problem.line): \(problem.message)\n".utf8))
                }
                throw ExitCode.failure
            }
        }
    }

    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a pathway file to a program / 将方案加入项目")
        @OptionGroup var storage: StorageOptions
        @Argument(help: "The pathway file") var file: String
        @Option(help: "Program slug") var program: String

        func run() async throws {
            try await runReporting {
                guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                    throw TendError.invalid("FILE", .init(en: "\(file) cannot be read", zh: "无法读取 \(file)"))
                }
                let pathway: Pathway
                do throws(PathwayProblems) { pathway = try PathwayFile.parse(text) } catch {
                    throw TendError.invalid("FILE", .init(en: "has problems:\n\(error.description)", zh: "有错误：\n\(error.description)"))
                }
                try await withStores(try await loadConfig(storage)) { stores, dependencies in
                    guard let target = try await stores.programs.find(slug: program) else { throw TendError.notFound("program \(program)") }
                    let stored = try await dependencies.actions.programs.savePathway(programID: target.id, pathway, source: text, by: .cli)
                    say("Loaded \(stored.pathway.id) v\(stored.pathway.version) into \(target.slug) / 已加载方案")
                }
            }
        }
    }
}

struct EnrolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enrol", abstract: "Enrol every active patient with the given tags into a pathway / 按标签批量入组")

    @OptionGroup var storage: StorageOptions
    @Option(help: "Program slug") var program: String
    @Option(help: "Pathway id") var pathway: String
    @Option(help: "All of these tags, e.g. disease=T2DM,stage=chemo") var tags: String
    @Option(name: .customLong("not-tags"), help: "None of these tags") var notTags: String?
    @Option(name: .customLong("anchor"), help: "An anchor date, e.g. revisit=2026-12-03 (repeatable)") var anchors: [String] = []

    func run() async throws {
        try await runReporting {
            var filter = TagFilter(all: try TagFilter.tags(tags, field: "--tags"))
            if let notTags { filter.none = try TagFilter.tags(notTags, field: "--not-tags") }
            var dates: [String: LocalDate] = [:]
            for text in anchors {
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let date = LocalDate(parts[1]) else {
                    throw TendError.invalid("--anchor", .init(en: "must be name=YYYY-MM-DD, got \(text)", zh: "格式应为 name=YYYY-MM-DD"))
                }
                dates[parts[0]] = date
            }
            try await withStores(try await loadConfig(storage)) { stores, _ in
                guard let target = try await stores.programs.find(slug: program) else { throw TendError.notFound("program \(program)") }
                guard let stored = try await stores.pathways.find(programID: target.id, slug: pathway) else { throw TendError.notFound("pathway \(pathway)") }
                let start = ContinuousClock.now
                let result = try await stores.enrolments.enrol(programID: target.id, pathway: stored, target: .tagged(filter), anchors: dates, actor: AuditActor(id: nil, kind: .cli))
                let elapsed = ContinuousClock.now - start
                say("Enrolled \(result.enrolled) patients, \(result.touchpoints) touchpoints planned in \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds]))) / 已入组 \(result.enrolled) 人，生成 \(result.touchpoints) 个触点")
            }
        }
    }
}

struct TriageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triage", abstract: "Grade a message and print the result as JSON / 消息分级",
        subcommands: [Grade.self, Evaluate.self, Feedback.self], defaultSubcommand: Grade.self)

    /// `tend triage --locale zh TEXT`: the result as JSON ({level, flags, reasons}).
    struct Grade: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grade a message / 消息分级")
        @Option(help: "zh or en") var locale: String = "zh"
        @Option(help: "The program's kind, for bare numbers: glucose, oncology, pregnancy, asthma, hip") var context: String?
        @Argument(help: "The message") var text: String

        func run() async throws {
            guard let language = AppLocale(identifier: locale) else {
                FileHandle.standardError.write(Data("tend: --locale must be zh or en / --locale 必须是 zh 或 en\n".utf8))
                throw ExitCode.failure
            }
            var programKind: TriageContext?
            if let context {
                guard let parsed = TriageContext(rawValue: context) else {
                    FileHandle.standardError.write(Data("tend: --context must be one of \(TriageContext.allCases.map(\.rawValue).joined(separator: ", ")) / --context 无效\n".utf8))
                    throw ExitCode.failure
                }
                programKind = parsed
            }
            let result = TriageClassifier().classify(text, locale: language, context: programKind)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            say(String(decoding: try encoder.encode(result), as: UTF8.self))
        }
    }

    /// `tend triage evaluate FILE`: issue 16's figures for a labelled file — corpus or feedback
    /// NDJSON rows, or `level⇥locale⇥category⇥text` lines — graded with the shipped rules.
    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Grade a labelled file and print urgent recall, precision and level accuracy / 用标注文件评估分级",
            discussion: "Reads NDJSON rows (locale, text, level, optional category, flags, context), as `tend triage feedback export` writes them, or tab-separated level, locale, category, text.")
        static let largestFile = 256 << 20
        @Argument(help: "The labelled file") var file: String
        @Flag(help: "Also print every message graded at another level than its label") var misses = false

        func run() async throws {
            try await runReporting {
                let url = URL(fileURLWithPath: file)
                let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
                guard size <= Self.largestFile else {
                    throw TendError.invalid("file", .init(en: "is larger than \(Self.largestFile >> 20) MB", zh: "超过 \(Self.largestFile >> 20) MB"))
                }
                let evaluation = TriageEvaluation(try LabelledMessage.parse(try String(contentsOf: url, encoding: .utf8)))
                say("all / 全部: \(evaluation.all)")
                for (locale, figures) in evaluation.byLocale.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { say("\(locale.rawValue): \(figures)") }
                guard misses else { return }
                for miss in evaluation.misses {
                    let flagged = miss.row.expectsCompliance && !miss.result.flags.contains(.compliance) ? " (compliance missed)" : ""
                    say("\(miss.row.level.rawValue) → \(miss.result.level.rawValue)\(flagged)\t\(miss.row.category)\t\(miss.row.text)\t\(miss.result.reasons.map(\.rule).joined(separator: ","))")
                }
            }
        }
    }

    struct Feedback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Messages staff marked as graded wrong / 分级反馈", subcommands: [Export.self])

        /// The program's "graded wrong" messages as labelled rows for the tuning split
        /// (Tests/TendCoreTests/Triage/TriageCorpus): one JSON object a line.
        struct Export: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write the messages marked graded wrong as labelled NDJSON rows for the tuning corpus / 导出分级反馈",
                discussion: "The rows hold the patients' own words: keep the file as you keep patient data, and review it before it joins the corpus.")
            @OptionGroup var storage: StorageOptions
            @Option(help: "Program slug") var program: String
            @Option(help: "Write here instead of standard output") var out: String?

            func run() async throws {
                try await runReporting {
                    try await withStores(try await loadConfig(storage)) { stores, dependencies in
                        guard let found = try await stores.programs.find(slug: program) else { throw TendError.notFound("program \(program)") }
                        let rows = try await dependencies.actions.messages.feedback(programID: found.id, by: .cli)
                        let lines = try rows.map { String(decoding: try JSONEncoder.sortedKeys.encode($0), as: UTF8.self) }
                        let text = lines.map { $0 + "\n" }.joined()
                        if let out {
                            try text.write(toFile: out, atomically: true, encoding: .utf8)
                            say("Wrote \(lines.count) rows to \(out) / 已导出 \(lines.count) 条")
                        } else {
                            FileHandle.standardOutput.write(Data(text.utf8))
                        }
                    }
                }
            }
        }
    }
}

extension JSONEncoder {
    static var sortedKeys: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
