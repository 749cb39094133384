import Foundation

/// What Tend knows about one kind of measurement: its code, name, the one canonical unit it is
/// stored in, the units it accepts, and two ranges in the canonical unit — values outside
/// `possible` are refused as typos (a glucose of 300 mmol/L), values outside `plausible` are
/// kept and flagged `implausible`.
public struct ObservationDefinition: Sendable, Equatable {
    /// The short name used in definition files and the API (`glucose-fasting`).
    public var key: String
    public var code: ObservationCode
    public var name: LocalizedText
    public var canonicalUnit: String
    public var units: [UnitConversion]
    public var possible: ClosedRange<Double>
    public var plausible: ClosedRange<Double>
    /// Decimal places kept in the canonical unit (38.6 °C, 5.6 mmol/L, 120 mm[Hg]).
    public var decimals: Int

    public init(key: String, code: ObservationCode, name: LocalizedText, units: [UnitConversion],
                possible: ClosedRange<Double>, plausible: ClosedRange<Double>, decimals: Int) {
        self.key = key
        self.code = code
        self.name = name
        self.canonicalUnit = units.first?.unit ?? UnitName.score
        self.units = units
        self.possible = possible
        self.plausible = plausible
        self.decimals = decimals
    }

    public func conversion(for unit: String) -> UnitConversion? {
        units.first { $0.unit == unit }
    }

    /// The accepted units, for messages.
    public var unitList: String { units.map(\.unit).joined(separator: ", ") }
}

/// The measurements Tend knows, by key and by code. A program's own codes
/// (`program:…`) are not in it: they carry whatever unit the definition gives, unconverted.
public enum ObservationCatalog {
    public static let all: [ObservationDefinition] = [
        // Glucose in mmol/L (the unit of Chinese and most non-US guidelines), with LOINC's
        // substance-concentration codes for capillary blood by meter, as patients measure it
        // at home; the stored unit is mmol/L whatever unit was entered.
        .init(key: "glucose-fasting", code: .loinc("14770-2"), name: .init(en: "Fasting glucose", zh: "空腹血糖"),
              units: UnitFamily.glucose, possible: 0.5...100, plausible: 1.5...35, decimals: 1),
        .init(key: "glucose-post-meal", code: .loinc("14760-3"), name: .init(en: "Post-meal glucose", zh: "餐后血糖"),
              units: UnitFamily.glucose, possible: 0.5...100, plausible: 1.5...35, decimals: 1),
        .init(key: "glucose-random", code: .loinc("14743-9"), name: .init(en: "Glucose", zh: "随机血糖"),
              units: UnitFamily.glucose, possible: 0.5...100, plausible: 1.5...35, decimals: 1),
        .init(key: "bp-systolic", code: .loinc("8480-6"), name: .init(en: "Systolic blood pressure", zh: "收缩压"),
              units: UnitFamily.pressure, possible: 30...320, plausible: 60...260, decimals: 0),
        .init(key: "bp-diastolic", code: .loinc("8462-4"), name: .init(en: "Diastolic blood pressure", zh: "舒张压"),
              units: UnitFamily.pressure, possible: 10...220, plausible: 30...160, decimals: 0),
        .init(key: "body-temperature", code: .loinc("8310-5"), name: .init(en: "Body temperature", zh: "体温"),
              units: UnitFamily.temperature, possible: 25...45, plausible: 34...42.5, decimals: 1),
        .init(key: "body-weight", code: .loinc("29463-7"), name: .init(en: "Body weight", zh: "体重"),
              units: UnitFamily.mass, possible: 0.2...650, plausible: 2...300, decimals: 1),
        .init(key: "body-height", code: .loinc("8302-2"), name: .init(en: "Body height", zh: "身高"),
              units: UnitFamily.length, possible: 20...275, plausible: 45...230, decimals: 1),
        .init(key: "bmi", code: .loinc("39156-5"), name: .init(en: "Body mass index", zh: "体重指数"),
              units: UnitFamily.bmi, possible: 5...150, plausible: 10...70, decimals: 1),
        .init(key: "spo2", code: .loinc("59408-5"), name: .init(en: "Oxygen saturation (pulse oximetry)", zh: "血氧饱和度"),
              units: UnitFamily.percent, possible: 20...100, plausible: 60...100, decimals: 0),
        .init(key: "heart-rate", code: .loinc("8867-4"), name: .init(en: "Heart rate", zh: "心率"),
              units: UnitFamily.rate, possible: 10...350, plausible: 30...220, decimals: 0),
        .init(key: "respiratory-rate", code: .loinc("9279-1"), name: .init(en: "Respiratory rate", zh: "呼吸频率"),
              units: UnitFamily.rate, possible: 1...120, plausible: 6...60, decimals: 0),
        .init(key: "wbc", code: .loinc("6690-2"), name: .init(en: "White blood cells", zh: "白细胞计数"),
              units: UnitFamily.cellCount, possible: 0...1_000, plausible: 0.1...100, decimals: 2),
        .init(key: "anc", code: .loinc("751-8"), name: .init(en: "Absolute neutrophil count", zh: "中性粒细胞绝对值"),
              units: UnitFamily.cellCount, possible: 0...500, plausible: 0...60, decimals: 2),
        .init(key: "platelets", code: .loinc("777-3"), name: .init(en: "Platelets", zh: "血小板计数"),
              units: UnitFamily.cellCount, possible: 0...5_000, plausible: 1...1_500, decimals: 0),
        .init(key: "hemoglobin", code: .loinc("718-7"), name: .init(en: "Hemoglobin", zh: "血红蛋白"),
              units: UnitFamily.haemoglobin, possible: 10...300, plausible: 30...220, decimals: 0),
        .init(key: "hba1c", code: .loinc("4548-4"), name: .init(en: "HbA1c", zh: "糖化血红蛋白"),
              units: UnitFamily.hba1c, possible: 2...25, plausible: 3.5...18, decimals: 1),
        .init(key: "phq-9", code: .loinc("44261-6"), name: .init(en: "PHQ-9 total score", zh: "PHQ-9 总分"),
              units: UnitFamily.score, possible: 0...27, plausible: 0...27, decimals: 0),
        .init(key: "gad-7", code: .loinc("70274-6"), name: .init(en: "GAD-7 total score", zh: "GAD-7 总分"),
              units: UnitFamily.score, possible: 0...21, plausible: 0...21, decimals: 0),
        .init(key: "act", code: .init(system: .program, code: "act-total"), name: .init(en: "Asthma Control Test score", zh: "哮喘控制测试评分"),
              units: UnitFamily.score, possible: 5...25, plausible: 5...25, decimals: 0),
    ]

    static let byKey: [String: ObservationDefinition] = Dictionary(all.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
    static let byCode: [ObservationCode: ObservationDefinition] = Dictionary(all.map { ($0.code, $0) }, uniquingKeysWith: { first, _ in first })

    public static func definition(key: String) -> ObservationDefinition? { byKey[key] }
    public static func definition(code: ObservationCode) -> ObservationDefinition? { byCode[code] }

    /// A code as written in a file or request: a catalog key (`glucose-fasting`),
    /// `loinc:NNNN-N` or `program:name`.
    public static func code(_ text: String, field: String) throws(TendError) -> ObservationCode {
        if let known = byKey[text.trimmed] { return known.code }
        return try ObservationCode.parse(text, field: field)
    }

    /// The largest magnitude any number may have (program codes have no range of their own).
    public static let numberLimit = 1e9

    /// Checks a number for a code and converts it to the canonical unit: refused (naming
    /// `field`) when the unit does not fit the code or the value is impossible; kept and
    /// flagged when implausible. Program codes keep the value and unit they were given.
    /// `unitField` names the unit when it was given on its own (else a wrong unit names `field`).
    public static func admit(_ value: Double, unit: String, code: ObservationCode, field: String, unitField: String? = nil) throws(TendError) -> ObservationReading {
        guard value.isFinite, abs(value) <= numberLimit else {
            throw TendError.invalid(field, .init(en: "must be a finite number", zh: "应为有效数字"))
        }
        guard let definition = byCode[code] else {
            guard let ucum = UnitName.parse(unit) ?? (unit.isEmpty ? nil : unit), ucum.utf8.count <= 40 else {
                throw TendError.invalid(field, .init(en: "needs a unit", zh: "需要单位"))
            }
            return ObservationReading(code: code, value: .quantity(value, unit: ucum))
        }
        let spelled = UnitName.parse(unit) ?? unit
        guard let conversion = definition.conversion(for: spelled) else {
            throw TendError.invalid(unitField ?? field, .init(
                en: "has unit \"\(unit.prefix(40))\", which \(definition.name.en) is not measured in (use \(definition.unitList))",
                zh: "的单位“\(unit.prefix(40))”不适用于\(definition.name.zh)（可用：\(definition.unitList)）"))
        }
        let canonical = conversion.toCanonical(value).rounded(decimals: definition.decimals)
        guard definition.possible.contains(canonical) else {
            let low = definition.possible.lowerBound.text(decimals: definition.decimals)
            let high = definition.possible.upperBound.text(decimals: definition.decimals)
            throw TendError.invalid(field, .init(
                en: "\(value.text(decimals: 3)) \(spelled) is not a possible \(definition.name.en.lowercased()) (\(low)–\(high) \(definition.canonicalUnit)); check for a typo or the wrong unit",
                zh: "\(value.text(decimals: 3)) \(spelled) 不是可能的\(definition.name.zh)值（\(low)–\(high) \(definition.canonicalUnit)），请检查是否输错或单位有误"),
                code: "impossible_value")
        }
        let flags: [ObservationFlag] = definition.plausible.contains(canonical) ? [] : [.implausible]
        let stored: ObservationValue = definition.canonicalUnit == UnitName.score
            ? .score(canonical) : .quantity(canonical, unit: definition.canonicalUnit)
        return ObservationReading(code: code, value: stored, flags: flags)
    }

    /// A stored number shown in the unit a program chose (or the canonical one when that unit
    /// does not fit the code): `101.5 [degF]` → "38.6 °C" / "101.5 °F".
    public static func display(_ reading: ObservationReading, in unit: String? = nil) -> String {
        switch reading.value {
        case .coded(let code): return code
        case .boolean(let flag): return flag ? "yes" : "no"
        case .text(let text): return text
        case .score(let number): return number.text(decimals: 2)
        case .quantity(let number, let stored):
            guard let definition = byCode[reading.code] else { return "\(number.text(decimals: 3)) \(symbol(stored))" }
            let target = unit.flatMap { UnitName.parse($0) ?? $0 }.flatMap(definition.conversion(for:))
                ?? definition.conversion(for: stored) ?? UnitConversion(stored)
            let shown = target.fromCanonical(number)
            // As precise as the canonical unit: a unit ten times smaller shows one place fewer.
            let decimals = min(max(definition.decimals + (Int(exactly: log10(target.scale).rounded()) ?? 0), 0), 3)
            return "\(shown.text(decimals: decimals)) \(symbol(target.unit))"
        }
    }

    /// The number of a stored quantity (or score) in another unit of its code, or nil when it does not convert.
    public static func convert(_ reading: ObservationReading, to unit: String) -> Double? {
        guard let number = reading.number, let definition = byCode[reading.code],
              let target = definition.conversion(for: UnitName.parse(unit) ?? unit) else { return nil }
        return target.fromCanonical(number)
    }

    /// How a unit is printed for people.
    public static func symbol(_ unit: String) -> String {
        switch unit {
        case UnitName.celsius: "°C"
        case UnitName.fahrenheit: "°F"
        case UnitName.pound: "lb"
        case UnitName.inch: "in"
        case UnitName.foot: "ft"
        case UnitName.jin: "斤"
        case UnitName.mmHg: "mmHg"
        case UnitName.perLitre9: "×10⁹/L"
        case UnitName.perMicrolitre3: "×10³/µL"
        case UnitName.perMicrolitre: "/µL"
        case UnitName.perMinute: "/min"
        case UnitName.score: ""
        default: unit
        }
    }
}

/// The units a program shows its observations in (a US program shows glucose in mg/dL);
/// each is checked against the code when set.
public struct DisplayUnits: Sendable, Equatable {
    public private(set) var units: [ObservationCode: String] = [:]

    public init() {}

    public mutating func set(_ unit: String, for code: ObservationCode, field: String = "display_unit") throws(TendError) {
        let spelled = UnitName.parse(unit) ?? unit
        guard let definition = ObservationCatalog.definition(code: code), definition.conversion(for: spelled) != nil else {
            throw TendError.invalid(field, .init(en: "\(unit.prefix(40)) is not a unit of \(code)", zh: "\(unit.prefix(40)) 不是 \(code) 的单位"))
        }
        units[code] = spelled
    }

    public func display(_ reading: ObservationReading) -> String {
        ObservationCatalog.display(reading, in: units[reading.code])
    }
}
