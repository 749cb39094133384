import TendCore
import Yams

/// Reads pathway files (YAML, which includes JSON) into `Pathway`, reporting every problem
/// with its line.
public enum PathwayFile {
    public static func parse(_ text: String) throws(PathwayProblems) -> Pathway {
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw PathwayProblems(problems: [problem(from: error)])
        } catch {
            throw PathwayProblems(problems: [PathwayProblem(line: 1, message: "cannot read the file: \(error)")])
        }
        guard let root else {
            throw PathwayProblems(problems: [PathwayProblem(line: 1, message: "the file is empty")])
        }
        return try PathwayDecoder.decode(document(root))
    }

    static func document(_ node: Yams.Node) -> DocumentNode {
        let line = node.mark?.line ?? 1
        switch node {
        case .scalar(let scalar):
            return .scalar(scalar.string, line: line)
        case .sequence(let sequence):
            return .list(sequence.map(document), line: line)
        case .mapping(let mapping):
            return .map(mapping.map { key, value in
                DocumentEntry(key: key.string ?? "", line: key.mark?.line ?? line, value: document(value))
            }, line: line)
        }
    }

    static func problem(from error: YamlError) -> PathwayProblem {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return PathwayProblem(line: mark.line, message: "not valid YAML: \(problem)")
        default:
            return PathwayProblem(line: 1, message: "not valid YAML: \(error)")
        }
    }
}
