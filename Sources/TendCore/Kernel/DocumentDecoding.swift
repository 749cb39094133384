/// What every decoder of a hand-written definition file (pathways, questionnaires) shares:
/// it walks a `DocumentNode`, collects every problem with its line instead of stopping at
/// the first, and checks keys, shapes and bilingual texts the same way.
protocol DocumentDecoding {
    var problems: [PathwayProblem] { get set }
}

extension DocumentDecoding {
    mutating func fail(_ line: Int, _ message: String) {
        problems.append(PathwayProblem(line: line, message: message))
    }

    mutating func map(_ node: DocumentNode, _ what: String) -> [DocumentEntry]? {
        guard case .map(let entries, _) = node else {
            fail(node.line, "\(what) must be a mapping")
            return nil
        }
        return entries
    }

    mutating func scalar(_ node: DocumentNode, _ what: String) -> String? {
        guard case .scalar(let text, _) = node else {
            fail(node.line, "\(what) must be a single value")
            return nil
        }
        return text
    }

    mutating func list(_ node: DocumentNode, _ what: String) -> [DocumentNode]? {
        switch node {
        case .list(let items, _): return items
        case .scalar: return [node]
        case .map:
            fail(node.line, "\(what) must be a list")
            return nil
        }
    }

    /// Checks the keys of a mapping against the ones allowed, so a typo is an error.
    mutating func keys(_ entries: [DocumentEntry], allowed: Set<String>, in what: String) -> [String: DocumentEntry] {
        var byKey: [String: DocumentEntry] = [:]
        for entry in entries {
            if !allowed.contains(entry.key) {
                fail(entry.line, "unknown key \"\(entry.key)\" in \(what) (allowed: \(allowed.sorted().joined(separator: ", ")))")
            } else if byKey[entry.key] != nil {
                fail(entry.line, "\"\(entry.key)\" appears twice in \(what)")
            } else {
                byKey[entry.key] = entry
            }
        }
        return byKey
    }

    /// A `{zh: …, en: …}` text; both languages are required and every `{{variable}}` must be known.
    mutating func localized(_ node: DocumentNode, what: String, variables: Set<String>?) -> LocalizedText? {
        guard let entries = map(node, what) else { return nil }
        let fields = keys(entries, allowed: ["zh", "en"], in: what)
        var texts: [String: String] = [:]
        for locale in ["zh", "en"] {
            guard let entry = fields[locale] else {
                fail(node.line, "missing locale \(locale) in \(what)")
                continue
            }
            guard let text = scalar(entry.value, "\(what) (\(locale))") else { continue }
            if text.trimmed.isEmpty { fail(entry.line, "the \(locale) text of \(what) is empty") }
            if text.unicodeScalars.count > Bounds.textLength { fail(entry.line, "the \(locale) text of \(what) is longer than \(Bounds.textLength) characters") }
            if let variables {
                for name in Template.variables(in: text) where !variables.contains(name) {
                    fail(entry.line, "unknown variable {{\(name)}} in \(what) (known: \(variables.sorted().joined(separator: ", ")))")
                }
            }
            texts[locale] = text
        }
        guard let zh = texts["zh"], let en = texts["en"] else { return nil }
        return LocalizedText(en: en, zh: zh)
    }
}

extension DocumentDecoding {
    /// A number within `range`, written as people write it (`38`, `38.5`, `-7`).
    mutating func number(_ node: DocumentNode, _ what: String, in range: ClosedRange<Double>) -> Double? {
        guard let text = scalar(node, what) else { return nil }
        guard let value = Double(text.trimmed), value.isFinite, range.contains(value) else {
            fail(node.line, "\(what) must be a number from \(range.lowerBound.shortText) to \(range.upperBound.shortText), not \"\(text.prefix(40))\"")
            return nil
        }
        return value
    }

    /// `true`/`false` (YAML's `yes`/`no` too).
    mutating func boolean(_ node: DocumentNode, _ what: String) -> Bool? {
        guard let text = scalar(node, what) else { return nil }
        switch text.trimmed.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default:
            fail(node.line, "\(what) must be true or false")
            return nil
        }
    }

    /// The problems in file order, as an error; nil when there are none.
    var sortedProblems: PathwayProblems? {
        problems.isEmpty ? nil : PathwayProblems(problems: problems.sorted { ($0.line, $0.message) < ($1.line, $1.message) })
    }
}
