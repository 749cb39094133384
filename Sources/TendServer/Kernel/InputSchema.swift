import Foundation
import TendCore

/// What one API input may be — a body, a query value, a path segment — written once. The
/// validator holds every request to it before a handler decodes anything, and the OpenAPI
/// document prints the same value, so what the document promises and what the server accepts
/// cannot drift apart. Handlers may still refuse with 404 or 409 (an id that does not exist,
/// a value already taken); they never refuse with 400 what this schema accepts.
indirect enum InputSchema: Sendable {
    case string(StringRule)
    case integer(ClosedRange<Int64>, description: String? = nil)
    case number(ClosedRange<Double>, description: String? = nil)
    case boolean(description: String? = nil)
    case array(InputSchema, count: ClosedRange<Int>, description: String? = nil)
    case object([Property], description: String? = nil)
    /// An object used as a map: any keys matching `keys`, each value of one schema.
    case dictionary(keys: StringRule, values: InputSchema, count: ClosedRange<Int>, description: String? = nil)
    case nullable(InputSchema)
    /// An object that must hold at least one of the named members (not null).
    case needsOneOf([String], InputSchema)
    /// An object whose `key` names which of several shapes it has (`{"action": "reply", "text": …}`).
    case variants(key: String, [Variant], description: String? = nil)
    /// A value of one of several types (a reading is a number, a word or yes/no): the first
    /// schema of the value's own type decides.
    case anyOf([InputSchema], description: String? = nil)

    struct Variant: Sendable {
        var values: [String]
        var properties: [Property]
    }

    struct Property: Sendable {
        var name: String
        var schema: InputSchema
        var required: Bool

        static func required(_ name: String, _ schema: InputSchema) -> Property { Property(name: name, schema: schema, required: true) }
        static func optional(_ name: String, _ schema: InputSchema) -> Property { Property(name: name, schema: schema, required: false) }
    }

    struct StringRule: Sendable {
        enum Format: String, Sendable {
            case date
            case dateTime = "date-time"
        }

        var length: ClosedRange<Int>
        var format: Format?
        var pattern: Pattern?
        var values: [String]?
        var description: String?

        init(length: ClosedRange<Int> = 0...Bounds.nameLength, format: Format? = nil, pattern: Pattern? = nil, values: [String]? = nil, description: String? = nil) {
            self.length = length
            self.format = format
            self.pattern = pattern
            self.values = values
            self.description = description
        }
    }

    /// A regular expression in the subset ECMA-262 (OpenAPI's dialect) and Swift share.
    struct Pattern: Sendable {
        let source: String
        nonisolated(unsafe) let regex: Regex<AnyRegexOutput>

        /// Patterns are literals of this file's callers; one that does not compile is a
        /// programming error found by the OpenAPI tests, and then matches nothing.
        init(_ source: String) {
            self.source = source
            // Code point by code point, as JSON Schema (and the Python engine of the fuzz tests)
            // reads a pattern: by Swift's default, a combining mark after "=" or a space would
            // make one character with it and the literal would not match.
            self.regex = ((try? Regex(source)) ?? (try? Regex("(?!)")) ?? Regex(/(?!)/)).matchingSemantics(.unicodeScalar)
        }

        /// Whether the pattern is found in the text, as JSON Schema reads `pattern`. A final new
        /// line is allowed before `$`, as Python's engine (which generates the fuzz tests)
        /// allows it; handlers trim values anyway.
        func matches(_ text: String) -> Bool {
            if text.firstMatch(of: regex) != nil { return true }
            return source.hasSuffix("$") && text.hasSuffix("\n") && text.dropLast().firstMatch(of: regex) != nil
        }
    }

    // MARK: Shorthands for the schemas the API uses again and again

    static func text(_ length: ClosedRange<Int> = 1...Bounds.nameLength, description: String? = nil) -> InputSchema {
        .string(StringRule(length: length, pattern: length.lowerBound > 0 ? .notBlank : .oneLine, description: description))
    }
    /// Passwords: 10 to 72 characters (longer ones are pre-hashed before bcrypt).
    static func password(description: String? = nil) -> InputSchema {
        .string(StringRule(length: Validate.minimumPasswordLength...Validate.maximumPasswordLength, description: description))
    }
    static func values(_ values: [String], description: String? = nil) -> InputSchema {
        .string(StringRule(length: 1...64, values: values, description: description))
    }
    static func pattern(_ pattern: Pattern, length: ClosedRange<Int>, description: String? = nil) -> InputSchema {
        .string(StringRule(length: length, pattern: pattern, description: description))
    }
    static let identifier = InputSchema.string(StringRule(length: 1...Bounds.identifierLength, pattern: .identifier))
    static let date = InputSchema.string(StringRule(length: 10...10, format: .date, pattern: .date,
                                                    description: "YYYY-MM-DD, years \(Bounds.years.lowerBound)–\(Bounds.years.upperBound)"))
    static let dateTime = InputSchema.string(StringRule(length: 20...35, format: .dateTime, pattern: .dateTime,
                                                        description: "RFC 3339, years \(Bounds.years.lowerBound)–\(Bounds.years.upperBound)"))
    static func ids(max: Int = Bounds.idsPerRequest) -> InputSchema { .array(.identifier, count: 0...max) }
    /// `key=value,key=*,…` as list filters take it.
    static let tagFilter = InputSchema.pattern(.tagFilter, length: 3...2000, description: "key=value,key=value (value * for any)")
}

extension InputSchema.Pattern {
    /// Characters that count as white space in ECMA-262, Python or Foundation, and control
    /// characters: the classes below are written so that every engine agrees on them.
    static let space = #"\u0000-\u0020\u007f-\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"#
    static let control = #"\u0000-\u0008\u000b-\u001f\u007f"#
    static let lineBreak = #"\n\r\u000b\u000c\u0085\u2028\u2029"#

    /// Text with at least one visible character and no control characters but tab and new line.
    static let notBlank = Self("^[^\(control)]*[^\(space)][^\(control)]*$")
    /// One line of text, possibly empty.
    static let oneLine = Self("^[^\(control)\(lineBreak)]*$")
    static let email = Self(#"^[^@\s]+@[^@\s.][^@\s]*\.[^@\s]*[^@\s.]$"#)
    static let phone = Self(#"^[+\-() ]*([0-9][+\-() ]*){5,15}$"#)
    static let idNumber = Self(#"^[\- ]*([A-Za-z0-9][\- ]*){5,32}$"#)
    static let birthDate = Self(#"^(19[0-9]{2}|20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"#)
    static let dailyWindow = Self(#"^ *([01][0-9]|2[0-3]):[0-5][0-9] *[-–~] *([01][0-9]|2[0-3]):[0-5][0-9] *$"#)
    static let tagKey = #"[A-Za-z0-9_.\-]{1,40}"#
    static let tagValue = "[^,;=\(space)][^,;=\(control)\(lineBreak)]{0,99}"
    /// `key=value`.
    static let tag = Self("^ *\(tagKey) *= *\(tagValue)$")
    /// `key=value,key=*,…`: at most `Bounds.tagFilterTerms` terms.
    static let tagFilter = Self("^ *\(tagKey) *= *(\\*|\(tagValue))( *, *\(tagKey) *= *(\\*|\(tagValue))){0,\(Bounds.tagFilterTerms - 1)}$")
    static let identifier = Self(#"^[!-~]+$"#)
    static let observationCode = Self(#"^(loinc:[0-9-]{1,64}|program:[a-z0-9_.\-]{1,64})$"#)
    static let slug = Self(#"^[a-z0-9]+(-[a-z0-9]+)*$"#)
    static let date = Self(#"^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"#)
    static let dateTime = Self(#"^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-7]):[0-5][0-9]|[+-]18:00)$"#)
}

/// A JSON document as read, before it is held to a schema.
enum JSONTree: Decodable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONTree])
    case object([String: JSONTree])

    init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var items: [JSONTree] = []
            while !array.isAtEnd { items.append(try array.decode(JSONTree.self)) }
            self = .array(items)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            var members: [String: JSONTree] = [:]
            for key in object.allKeys { members[key.stringValue] = try object.decode(JSONTree.self, forKey: key) }
            self = .object(members)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let value = try? single.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? single.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? single.decode(Double.self) {
            self = .number(value)
        } else {
            self = .string(try single.decode(String.self))
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer: "integer"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

extension InputSchema {
    /// Holds a value to the schema; the first problem is thrown naming its field.
    func validate(_ value: JSONTree, at path: String) throws(TendError) {
        try validate(value: value, at: path)
    }

    private func validate(value: JSONTree, at path: String) throws(TendError) {
        let field = path.isEmpty ? "body" : path
        switch (self, value) {
        case (.nullable, .null):
            return
        case (_, .null):
            throw TendError.missing(field)
        case (.nullable(let inner), _):
            try inner.validate(value, at: path)
        case (.string(let rule), .string(let text)):
            try rule.check(text, field: field)
        case (.integer(let range, _), .integer(let number)):
            guard range.contains(number) else { throw Self.outOfRange(field, "\(range.lowerBound)", "\(range.upperBound)") }
        case (.number(let range, _), .integer(let number)):
            guard range.contains(Double(number)) else { throw Self.outOfRange(field, range.lowerBound.description, range.upperBound.description) }
        case (.number(let range, _), .number(let number)):
            guard number.isFinite, range.contains(number) else { throw Self.outOfRange(field, range.lowerBound.description, range.upperBound.description) }
        case (.boolean, .bool):
            return
        case (.array(let items, let count, _), .array(let elements)):
            guard count.contains(elements.count) else { throw Self.badCount(field, count) }
            for (index, element) in elements.enumerated() { try items.validate(element, at: "\(path)[\(index)]") }
        case (.object(let properties, _), .object(let members)):
            for property in properties {
                let child = path.isEmpty ? property.name : "\(path).\(property.name)"
                guard let member = members[property.name] else {
                    if property.required { throw TendError.missing(child) }
                    continue
                }
                try property.schema.validate(member, at: child)
            }
        case (.needsOneOf(let names, let inner), .object(let members)):
            try inner.validate(value: value, at: path)
            guard names.contains(where: { name in members[name].map { if case .null = $0 { false } else { true } } ?? false }) else {
                throw TendError.missing(path.isEmpty ? names[0] : "\(path).\(names[0])")
            }
        case (.variants(let key, let variants, _), .object(let members)):
            let child = path.isEmpty ? key : "\(path).\(key)"
            guard let member = members[key] else { throw TendError.missing(child) }
            let allValues = variants.flatMap(\.values)
            guard case .string(let value) = member, let variant = variants.first(where: { $0.values.contains(value) }) else {
                throw TendError.invalid(child, .init(en: "must be one of: \(allValues.joined(separator: ", "))", zh: "必须是以下之一：\(allValues.joined(separator: "、"))"))
            }
            try InputSchema.object(variant.properties).validate(value: .object(members), at: path)
        case (.anyOf(let choices, _), _):
            // The first choice of the value's type that holds; else the first such choice's problem.
            let candidates = choices.filter { $0.accepts(typeOf: value) }
            guard let first = candidates.first else {
                let names = choices.map(\.typeName).joined(separator: ", ")
                throw TendError.invalid(field, .init(en: "must be of type \(names)", zh: "类型应为 \(names)"), code: "wrong_type")
            }
            for candidate in candidates.dropFirst() where (try? candidate.validate(value: value, at: path)) != nil { return }
            try first.validate(value: value, at: path)
        case (.dictionary(let keys, let values, let count, _), .object(let members)):
            guard count.contains(members.count) else { throw Self.badCount(field, count) }
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                let child = path.isEmpty ? key : "\(path).\(key)"
                try keys.check(key, field: child)
                try values.validate(member, at: child)
            }
        default:
            throw TendError.invalid(field, .init(en: "must be of type \(typeName)", zh: "类型应为 \(typeName)"), code: "wrong_type")
        }
    }

    /// Holds a query or path value (always text on the wire) to the schema.
    func validate(text: String, field: String) throws(TendError) {
        switch self {
        case .string(let rule):
            try rule.check(text, field: field)
        case .integer(let range, _):
            guard let number = Int64(text) else {
                throw TendError.invalid(field, .init(en: "must be an integer", zh: "应为整数"), code: "wrong_type")
            }
            guard range.contains(number) else { throw Self.outOfRange(field, "\(range.lowerBound)", "\(range.upperBound)") }
        case .boolean:
            guard text == "true" || text == "false" else {
                throw TendError.invalid(field, .init(en: "must be true or false", zh: "应为 true 或 false"), code: "wrong_type")
            }
        case .nullable(let inner):
            try inner.validate(text: text, field: field)
        default:
            try validate(.string(text), at: field)
        }
    }

    var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .number: "number"
        case .boolean: "boolean"
        case .array: "array"
        case .object, .dictionary, .variants, .needsOneOf: "object"
        case .nullable(let inner): inner.typeName
        case .anyOf(let choices, _): choices.map(\.typeName).joined(separator: " or ")
        }
    }

    /// Whether a value of this JSON type is what the schema is about (not yet whether it is valid).
    private func accepts(typeOf value: JSONTree) -> Bool {
        switch (self, value) {
        case (.string, .string), (.integer, .integer), (.number, .integer), (.number, .number), (.boolean, .bool), (.array, .array): true
        case (.object, .object), (.dictionary, .object), (.variants, .object), (.needsOneOf, .object): true
        case (.nullable(let inner), _): inner.accepts(typeOf: value)
        case (.anyOf(let choices, _), _): choices.contains { $0.accepts(typeOf: value) }
        default: false
        }
    }

    private static func outOfRange(_ field: String, _ low: String, _ high: String) -> TendError {
        TendError.invalid(field, .init(en: "must be from \(low) to \(high)", zh: "应在 \(low) 到 \(high) 之间"), code: "out_of_range")
    }

    private static func badCount(_ field: String, _ count: ClosedRange<Int>) -> TendError {
        TendError.invalid(field, .init(en: "must have \(count.lowerBound) to \(count.upperBound) items", zh: "应有 \(count.lowerBound) 到 \(count.upperBound) 项"), code: "out_of_range")
    }
}

extension InputSchema.StringRule {
    func check(_ text: String, field: String) throws(TendError) {
        let length = text.unicodeScalars.count
        guard self.length.contains(length) else {
            throw TendError.invalid(field, .init(en: "must be \(self.length.lowerBound) to \(self.length.upperBound) characters long",
                                                 zh: "长度应为 \(self.length.lowerBound) 到 \(self.length.upperBound) 个字符"), code: "out_of_range")
        }
        if let values, !values.contains(text) {
            throw TendError.invalid(field, .init(en: "must be one of: \(values.joined(separator: ", "))", zh: "必须是以下之一：\(values.joined(separator: "、"))"))
        }
        if let pattern, !pattern.matches(text) {
            throw TendError.invalid(field, .init(en: "has the wrong form" + (description.map { " (\($0))" } ?? ""),
                                                 zh: "格式不正确" + (description.map { "（\($0)）" } ?? "")), code: "bad_format")
        }
        switch format {
        case .date:
            guard LocalDate(text) != nil else { throw TendError.invalid(field, .init(en: "is not a calendar date", zh: "不是有效日期"), code: "bad_format") }
        case .dateTime:
            guard let instant = InstantText.parse(text) else { throw TendError.invalid(field, .init(en: "is not a valid time", zh: "不是有效时间"), code: "bad_format") }
            _ = try Validate.instant(instant, field: field)
        case nil:
            break
        }
    }
}
