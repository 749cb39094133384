import ArgumentParser
import Foundation
import TendCore
import TendFormats

/// `tend questionnaire validate FILE` and `tend questionnaire score FILE --answers JSON`. FILE is
/// a path, or the name of a shipped definition (`phq-9`, `gad-7`, `act`, `revisit-form`,
/// `chemo-side-effects`, `glucose-daily`) when no such file exists.
struct QuestionnaireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "questionnaire", abstract: "Questionnaires and scales / 问卷与量表",
        subcommands: [Validate.self, Score.self, List.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a questionnaire file and print its problems with line numbers / 校验问卷文件")
        @Argument(help: "The questionnaire file (.yaml or .json), or a shipped one by name") var file: String

        func run() async throws {
            let text = try QuestionnaireCommand.source(file)
            do throws(PathwayProblems) {
                let questionnaire = try QuestionnaireFile.parse(text)
                say("\(file): ok — \(questionnaire.id) v\(questionnaire.version), \(questionnaire.items.count) items / 校验通过")
            } catch {
                QuestionnaireCommand.report(error, in: file)
                throw ExitCode.failure
            }
        }
    }

    /// Prints `{"total", "subscales", "band", "flags", "observations"}`. A refused response
    /// (a wrong answer, or required items missing) prints `{"error", "message", "field",
    /// "missing", "flags"}` instead — the flags the answered items raised, so an urgent answer
    /// is never lost — and exits with status 1.
    struct Score: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score answers and print the result as JSON / 计分",
            discussion: """
                Answers are a JSON object from item id to answer: {"1": 0, "2": 3, …} for the shipped scales (items \
                "1"…"N" in the instrument's order, answered with their scored values); a number item takes 5.6 or \
                {"value": 101.5, "unit": "[degF]"}. An incomplete response is refused (exit 1) naming the missing \
                items, and still prints the flags of what was answered.
                """)
        @Argument(help: "The questionnaire file, or a shipped one by name") var file: String
        @Option(help: "The answers as JSON, or @PATH to read them from a file") var answers: String
        @Option(name: .customLong("context"), help: "A context value, e.g. cycle_day=8 (repeatable)") var contexts: [String] = []

        func run() async throws {
            let text = try QuestionnaireCommand.source(file)
            let questionnaire: Questionnaire
            do throws(PathwayProblems) { questionnaire = try QuestionnaireFile.parse(text) } catch {
                QuestionnaireCommand.report(error, in: file)
                throw ExitCode.failure
            }
            let given = try QuestionnaireCommand.answers(answers)
            var context: [String: Double] = [:]
            for pair in contexts {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let value = Double(parts[1]) else {
                    QuestionnaireCommand.fail("--context must be name=number, got \(pair.prefix(60)) / --context 格式应为 名称=数字")
                }
                context[parts[0]] = value
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let result: Result<ResponseScore, ResponseRefusal>
            do throws(ResponseRefusal) { result = .success(try QuestionnaireScorer(questionnaire).score(given, context: context)) } catch { result = .failure(error) }
            switch result {
            case .success(let score):
                say(String(decoding: try encoder.encode(score), as: UTF8.self))
            case .failure(let refusal):
                say(String(decoding: try encoder.encode(refusal), as: UTF8.self))
                FileHandle.standardError.write(Data("tend: \(refusal.error.message.en) / \(refusal.error.message.zh)\n".utf8))
                throw ExitCode.failure
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the shipped questionnaires / 列出内置问卷")

        func run() async throws {
            for name in ShippedQuestionnaires.names {
                guard let text = ShippedQuestionnaires.source(name), let questionnaire = try? QuestionnaireFile.parse(text) else {
                    say("\(name): missing or invalid")
                    continue
                }
                let wording = questionnaire.wording == .program ? " (scoring only; the program supplies the wording / 仅计分，题目由项目提供)" : ""
                say("\(name)\tv\(questionnaire.version)\t\(questionnaire.items.count) items\t\(questionnaire.name.en) / \(questionnaire.name.zh)\(wording)")
            }
        }
    }

    /// The text of a file, or of the shipped definition of that name when there is no such file.
    static func source(_ file: String) throws -> String {
        if let data = FileManager.default.contents(atPath: file) {
            guard let text = String(data: data, encoding: .utf8) else { fail("\(file) is not UTF-8 text / 文件不是 UTF-8 文本") }
            return text
        }
        if let text = ShippedQuestionnaires.source(file) { return text }
        fail("cannot read \(file), and no shipped questionnaire has that name (\(ShippedQuestionnaires.names.joined(separator: ", "))) / 无法读取文件")
    }

    static func answers(_ option: String) throws -> [String: AnswerValue] {
        var text = option
        if option.hasPrefix("@") {
            let path = String(option.dropFirst())
            guard let data = FileManager.default.contents(atPath: path), data.count <= Bounds.bodyBytes else {
                fail("cannot read the answers file \(path) (at most \(Bounds.bodyBytes) bytes) / 无法读取答案文件")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        guard text.utf8.count <= Bounds.bodyBytes else { fail("--answers is larger than \(Bounds.bodyBytes) bytes / 答案过大") }
        do {
            return try JSONDecoder().decode([String: AnswerValue].self, from: Data(text.utf8))
        } catch {
            fail("--answers must be a JSON object from item id to answer, e.g. {\"1\": 0, \"2\": 3} / --answers 应为 JSON 对象")
        }
    }

    static func report(_ problems: PathwayProblems, in file: String) {
        for problem in problems.problems {
            FileHandle.standardError.write(Data("\(file):\(problem.line): \(problem.message)\n".utf8))
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("tend: \(message)\n".utf8))
        Foundation.exit(ExitCode.failure.rawValue)
    }
}
