public import TendCore
import Yams

/// Reads a hand-written YAML (or JSON) definition file into a `DocumentNode`, refusing what
/// a definition never needs and a hostile file uses to exhaust the server: nesting deeper than
/// `Bounds.nestingDepth`, anchors and aliases (which can expand exponentially), and more nodes
/// than `maximumNodes`. The parser recurses per level, so depth is checked on the text first.
public enum YAMLDocument {
    public static let maximumNodes = 200_000
    public static let maximumBytes = Bounds.bodyBytes

    public static func parse(_ text: String) throws(PathwayProblems) -> DocumentNode {
        if let problem = refusal(text) { throw PathwayProblems(problems: [problem]) }
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
        var budget = maximumNodes
        guard let document = document(root, depth: 0, budget: &budget) else {
            throw PathwayProblems(problems: [PathwayProblem(line: 1, message: "the file has more than \(maximumNodes) values or is nested deeper than \(Bounds.nestingDepth) levels")])
        }
        return document
    }

    /// What is wrong with the text before it is parsed, if anything: its size, an anchor or
    /// alias, or nesting (flow brackets, indentation, `- - -` on one line) past the limit.
    static func refusal(_ text: String) -> PathwayProblem? {
        guard text.utf8.count <= maximumBytes else {
            return PathwayProblem(line: 1, message: "the file is larger than \(maximumBytes) bytes")
        }
        var line = 1, flowDepth = 0
        var quote: UInt8? = nil, escaped = false, inComment = false
        var atLineStart = true, indent = 0, compactIndicators = 0
        var previous: UInt8 = UInt8(ascii: "\n")
        let bytes = Array(text.utf8)
        for (index, byte) in bytes.enumerated() {
            defer { previous = byte }
            if byte == UInt8(ascii: "\n") {
                line += 1
                inComment = false
                atLineStart = true
                indent = 0
                compactIndicators = 0
                continue
            }
            if inComment { continue }
            if let open = quote {
                if escaped { escaped = false } else if open == UInt8(ascii: "\""), byte == UInt8(ascii: "\\") { escaped = true } else if byte == open { quote = nil }
                continue
            }
            let next = index + 1 < bytes.count ? bytes[index + 1] : UInt8(ascii: "\n")
            let separated = next == UInt8(ascii: " ") || next == UInt8(ascii: "\n") || next == UInt8(ascii: "\r")
            if atLineStart {
                if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                    indent += 1
                    if indent > 2 * Bounds.nestingDepth {
                        return PathwayProblem(line: line, message: "indented deeper than \(2 * Bounds.nestingDepth) spaces")
                    }
                    continue
                }
                if (byte == UInt8(ascii: "-") || byte == UInt8(ascii: "?")) && separated {
                    compactIndicators += 1
                    if compactIndicators > Bounds.nestingDepth / 4 {
                        return PathwayProblem(line: line, message: "too many nested list items on one line")
                    }
                    continue
                }
                atLineStart = false
            }
            let startsNode = previous == UInt8(ascii: " ") || previous == UInt8(ascii: "\n") || previous == UInt8(ascii: "[")
                || previous == UInt8(ascii: "{") || previous == UInt8(ascii: ",") || previous == UInt8(ascii: "\t")
            switch byte {
            case UInt8(ascii: "#") where startsNode:
                inComment = true
            case UInt8(ascii: "'"), UInt8(ascii: "\"") where startsNode:
                quote = byte
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                flowDepth += 1
                if flowDepth > Bounds.nestingDepth {
                    return PathwayProblem(line: line, message: "nested deeper than \(Bounds.nestingDepth) levels")
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                flowDepth = max(0, flowDepth - 1)
            case UInt8(ascii: "&"), UInt8(ascii: "*") where startsNode && !separated:
                return PathwayProblem(line: line, message: "anchors and aliases (& and *) are not allowed; write each value out")
            default:
                break
            }
        }
        return nil
    }

    static func document(_ node: Yams.Node, depth: Int, budget: inout Int) -> DocumentNode? {
        budget -= 1
        guard budget >= 0, depth <= Bounds.nestingDepth else { return nil }
        let line = node.mark?.line ?? 1
        switch node {
        case .scalar(let scalar):
            return .scalar(scalar.string, line: line)
        case .sequence(let sequence):
            var items: [DocumentNode] = []
            for item in sequence {
                guard let converted = document(item, depth: depth + 1, budget: &budget) else { return nil }
                items.append(converted)
            }
            return .list(items, line: line)
        case .mapping(let mapping):
            var entries: [DocumentEntry] = []
            for (key, value) in mapping {
                guard let converted = document(value, depth: depth + 1, budget: &budget) else { return nil }
                entries.append(DocumentEntry(key: key.string ?? "", line: key.mark?.line ?? line, value: converted))
            }
            return .map(entries, line: line)
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
