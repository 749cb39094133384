import Foundation
/// An RFC 4180 CSV reader over UTF-8 bytes: quoted fields with embedded commas, quotes and
/// new lines; CRLF or LF; a leading byte-order mark is skipped. Each record carries the
/// line it starts on, for reject reports.
public struct CSVReader: Sequence, IteratorProtocol {
    public struct Record: Sendable, Equatable {
        public var line: Int
        public var fields: [String]
    }

    public enum Problem: Error, Equatable {
        case unterminatedQuote(line: Int)
        case invalidUTF8(line: Int)
    }

    private let bytes: [UInt8]
    private var position: Int
    private var line = 1
    public private(set) var problem: Problem?

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        self.position = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    }

    public mutating func next() -> Record? {
        guard problem == nil else { return nil }
        // Skip blank lines between records.
        while position < bytes.count, bytes[position] == UInt8(ascii: "\n") || bytes[position] == UInt8(ascii: "\r") {
            if bytes[position] == UInt8(ascii: "\n") { line += 1 }
            position += 1
        }
        guard position < bytes.count else { return nil }
        let startLine = line
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var fieldStarted = false
        while position < bytes.count {
            let byte = bytes[position]
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "\"") {
                        field.append(byte)
                        position += 2
                        continue
                    }
                    quoted = false
                    position += 1
                    continue
                }
                if byte == UInt8(ascii: "\n") { line += 1 }
                field.append(byte)
                position += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                if !fieldStarted && field.isEmpty {
                    quoted = true
                    fieldStarted = true
                } else {
                    field.append(byte)
                }
                position += 1
            case UInt8(ascii: ","):
                guard let text = String(validating: field, as: UTF8.self) else {
                    problem = .invalidUTF8(line: startLine)
                    return nil
                }
                fields.append(text)
                field.removeAll(keepingCapacity: true)
                fieldStarted = false
                position += 1
            case UInt8(ascii: "\r"):
                position += 1
            case UInt8(ascii: "\n"):
                position += 1
                line += 1
                return finish(fields: &fields, field: field, line: startLine)
            default:
                field.append(byte)
                fieldStarted = true
                position += 1
            }
        }
        if quoted {
            problem = .unterminatedQuote(line: startLine)
            return nil
        }
        return finish(fields: &fields, field: field, line: startLine)
    }

    private mutating func finish(fields: inout [String], field: [UInt8], line: Int) -> Record? {
        guard let text = String(validating: field, as: UTF8.self) else {
            problem = .invalidUTF8(line: line)
            return nil
        }
        fields.append(text)
        return Record(line: line, fields: fields)
    }

    /// Quotes a field for writing when it needs it.
    public static func escape(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
