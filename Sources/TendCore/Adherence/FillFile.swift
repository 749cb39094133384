import Foundation

/// Fills as NDJSON, one object a line: `{"drug", "class"?, "filled_on": "YYYY-MM-DD",
/// "days_supply"}`. Every line is checked on its own; a bad one is refused naming its line
/// and field, so a file with one typo still says everything that is wrong with it.
public enum FillFile {
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var field: String?
        public var message: String
        public var description: String { "line \(line)\(field.map { ", \($0)" } ?? ""): \(message)" }
    }

    public static let maximumLines = 2_000_000

    public static func parse(_ text: String) -> (fills: [Fill], problems: [Problem]) {
        var fills: [Fill] = []
        var problems: [Problem] = []
        var number = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            guard number <= maximumLines else {
                problems.append(Problem(line: number, field: nil, message: "more than \(maximumLines) lines"))
                break
            }
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            switch fill(trimmed, line: number) {
            case .success(let fill): fills.append(fill)
            case .failure(let problem): problems.append(problem)
            }
        }
        return (fills, problems)
    }

    private struct Line: Decodable {
        let drug: String
        let `class`: String?
        let filled_on: String
        let days_supply: Int
    }

    static func fill(_ text: String, line: Int) -> Result<Fill, Problem> {
        guard text.utf8.count <= 4096, JSONNesting.depth(text.utf8) <= 1,
              let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return .failure(Problem(line: line, field: nil, message: "not a JSON object of at most 4 KiB"))
        }
        let known: Set<String> = ["drug", "class", "filled_on", "days_supply"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            return .failure(Problem(line: line, field: String(unknown.prefix(40)), message: "is not a field of a fill (drug, class, filled_on, days_supply)"))
        }
        let decoded: Line
        do {
            decoded = try JSONDecoder().decode(Line.self, from: Data(text.utf8))
        } catch let DecodingError.keyNotFound(key, _) {
            return .failure(Problem(line: line, field: key.stringValue, message: "is missing"))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context), let DecodingError.dataCorrupted(context) {
            // A number too large for a whole number is reported without its key: find it.
            let field = context.codingPath.first?.stringValue ?? ["drug", "class", "filled_on", "days_supply"].first { key in
                switch (key, object[key]) {
                case ("days_supply", let value?): (value as? Int) == nil
                case ("class", nil), ("class", is NSNull): false
                case (_, let value?): !(value is String)
                default: false
                }
            }
            return .failure(Problem(line: line, field: field, message: "has the wrong type (drug and class are text, filled_on a date, days_supply a whole number)"))
        } catch {
            return .failure(Problem(line: line, field: nil, message: "not a fill"))
        }
        let drug = decoded.drug.trimmed
        guard (1...200).contains(drug.count) else { return .failure(Problem(line: line, field: "drug", message: "must be text of 1 to 200 characters")) }
        let drugClass = decoded.class?.trimmed
        if let drugClass, !(1...200).contains(drugClass.count) {
            return .failure(Problem(line: line, field: "class", message: "must be text of 1 to 200 characters"))
        }
        guard let date = LocalDate(decoded.filled_on), Bounds.years.contains(date.year) else {
            return .failure(Problem(line: line, field: "filled_on", message: "must be a date YYYY-MM-DD from \(Bounds.years.lowerBound) to \(Bounds.years.upperBound)"))
        }
        guard Fill.daysSupplyRange.contains(decoded.days_supply) else {
            return .failure(Problem(line: line, field: "days_supply", message: "must be a whole number of days from \(Fill.daysSupplyRange.lowerBound) to \(Fill.daysSupplyRange.upperBound)"))
        }
        return .success(Fill(drug: drug, drugClass: drugClass, filledOn: date, daysSupply: decoded.days_supply))
    }
}
