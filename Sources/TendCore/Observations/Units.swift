import Foundation

/// A unit in UCUM spelling (`mmol/L`, `Cel`, `[degF]`, `[lb_av]`, `mm[Hg]`), the spelling FHIR
/// and lab systems exchange. `UnitName.parse` also accepts what people and devices type
/// (`mg/dl`, `°F`, `lbs`, `mmHg`, `bpm`) and returns the UCUM form.
public enum UnitName {
    public static let mmolPerL = "mmol/L"
    public static let mgPerDL = "mg/dL"
    public static let celsius = "Cel"
    public static let fahrenheit = "[degF]"
    public static let kilogram = "kg"
    public static let gram = "g"
    public static let pound = "[lb_av]"
    public static let jin = "{jin}"
    public static let centimetre = "cm"
    public static let metre = "m"
    public static let inch = "[in_i]"
    public static let foot = "[ft_i]"
    public static let mmHg = "mm[Hg]"
    public static let kPa = "kPa"
    public static let percent = "%"
    public static let perMinute = "/min"
    public static let perLitre9 = "10*9/L"
    public static let perMicrolitre3 = "10*3/uL"
    public static let perMicrolitre = "/uL"
    public static let gramPerLitre = "g/L"
    public static let gramPerDL = "g/dL"
    public static let mmolPerMol = "mmol/mol"
    public static let kgPerM2 = "kg/m2"
    public static let score = "{score}"

    /// Other spellings, lowercased, to their UCUM form.
    static let aliases: [String: String] = [
        "mmol/l": mmolPerL, "mmol": mmolPerL, "毫摩尔/升": mmolPerL,
        "mg/dl": mgPerDL, "mg%": mgPerDL,
        "cel": celsius, "c": celsius, "°c": celsius, "℃": celsius, "celsius": celsius, "度": celsius,
        "[degf]": fahrenheit, "f": fahrenheit, "°f": fahrenheit, "℉": fahrenheit, "degf": fahrenheit, "fahrenheit": fahrenheit,
        "kg": kilogram, "kgs": kilogram, "公斤": kilogram, "千克": kilogram,
        "g": gram, "克": gram,
        "[lb_av]": pound, "lb": pound, "lbs": pound, "pound": pound, "pounds": pound, "磅": pound,
        "{jin}": jin, "jin": jin, "斤": jin,
        "cm": centimetre, "厘米": centimetre, "m": metre, "米": metre,
        "[in_i]": inch, "in": inch, "inch": inch, "inches": inch, "英寸": inch,
        "[ft_i]": foot, "ft": foot, "feet": foot, "foot": foot,
        "mm[hg]": mmHg, "mmhg": mmHg, "毫米汞柱": mmHg, "kpa": kPa,
        "%": percent, "percent": percent,
        "/min": perMinute, "bpm": perMinute, "次/分": perMinute, "beats/min": perMinute, "{beats}/min": perMinute, "{breaths}/min": perMinute,
        "10*9/l": perLitre9, "10^9/l": perLitre9, "x10^9/l": perLitre9, "×10^9/l": perLitre9,
        "10*3/ul": perMicrolitre3, "10^3/ul": perMicrolitre3, "k/ul": perMicrolitre3,
        "/ul": perMicrolitre, "cells/ul": perMicrolitre, "/mm3": perMicrolitre, "cells/mm3": perMicrolitre,
        "g/l": gramPerLitre, "g/dl": gramPerDL,
        "mmol/mol": mmolPerMol,
        "kg/m2": kgPerM2, "kg/m^2": kgPerM2, "kg/m²": kgPerM2,
        "{score}": score, "score": score, "分": score,
    ]

    /// The UCUM spelling of a unit as written, or nil when Tend does not know it.
    public static func parse(_ text: String) -> String? {
        let key = text.trimmed.lowercased()
        guard !key.isEmpty, key.count <= 40 else { return nil }
        return aliases[key]
    }
}

/// A linear conversion into a canonical unit: `canonical = value × scale + offset`.
public struct UnitConversion: Sendable, Equatable {
    public var unit: String
    public var scale: Double
    public var offset: Double

    public init(_ unit: String, scale: Double = 1, offset: Double = 0) {
        self.unit = unit
        self.scale = scale
        self.offset = offset
    }

    public func toCanonical(_ value: Double) -> Double { value * scale + offset }
    public func fromCanonical(_ value: Double) -> Double { (value - offset) / scale }
}

/// The families of units Tend converts between, each given relative to its canonical unit.
/// Glucose needs its molar mass (180.16 g/mol: 1 mmol/L = 18.016 mg/dL), so it is a family
/// of its own rather than a general mass-per-volume rule.
public enum UnitFamily {
    public static let glucose = [UnitConversion(UnitName.mmolPerL), UnitConversion(UnitName.mgPerDL, scale: 1 / 18.016)]
    public static let temperature = [
        UnitConversion(UnitName.celsius),
        UnitConversion(UnitName.fahrenheit, scale: 5.0 / 9.0, offset: -32.0 * 5.0 / 9.0),
    ]
    public static let mass = [
        UnitConversion(UnitName.kilogram), UnitConversion(UnitName.gram, scale: 0.001),
        UnitConversion(UnitName.pound, scale: 0.45359237), UnitConversion(UnitName.jin, scale: 0.5),
    ]
    public static let length = [
        UnitConversion(UnitName.centimetre), UnitConversion(UnitName.metre, scale: 100),
        UnitConversion(UnitName.inch, scale: 2.54), UnitConversion(UnitName.foot, scale: 30.48),
    ]
    public static let pressure = [UnitConversion(UnitName.mmHg), UnitConversion(UnitName.kPa, scale: 7.500_617)]
    /// Blood cell counts: 10⁹/L is the same as 10³/µL; a plain count per µL is a thousandth.
    public static let cellCount = [
        UnitConversion(UnitName.perLitre9), UnitConversion(UnitName.perMicrolitre3),
        UnitConversion(UnitName.perMicrolitre, scale: 0.001),
    ]
    public static let haemoglobin = [UnitConversion(UnitName.gramPerLitre), UnitConversion(UnitName.gramPerDL, scale: 10)]
    /// HbA1c: NGSP % canonical; IFCC mmol/mol = (NGSP − 2.15) × 10.929.
    public static let hba1c = [UnitConversion(UnitName.percent), UnitConversion(UnitName.mmolPerMol, scale: 1 / 10.929, offset: 2.15)]
    public static let rate = [UnitConversion(UnitName.perMinute)]
    public static let percent = [UnitConversion(UnitName.percent)]
    public static let bmi = [UnitConversion(UnitName.kgPerM2)]
    public static let score = [UnitConversion(UnitName.score)]

    static let all = [glucose, temperature, mass, length, pressure, cellCount, haemoglobin, hba1c, rate, percent, bmi, score]

    /// The units a value of `unit` may also be entered in (its own first): what a form offers.
    public static func alternatives(of unit: String) -> [String] {
        guard let family = all.first(where: { $0.contains { $0.unit == unit } }) else { return [unit] }
        return [unit] + family.map(\.unit).filter { $0 != unit }
    }
}

extension Double {
    /// Rounded to `decimals` places (0…6), half away from zero.
    public func rounded(decimals: Int) -> Double {
        let places = Swift.min(Swift.max(decimals, 0), 6)
        var factor = 1.0
        for _ in 0..<places { factor *= 10 }
        return (self * factor).rounded(.toNearestOrAwayFromZero) / factor
    }

    /// `38.6`, `5`, `16.7`: at most `decimals` places, without trailing zeros.
    public func text(decimals: Int) -> String {
        let value = rounded(decimals: decimals)
        if abs(value) < 1e15, let whole = Int64(exactly: value) { return String(whole) }
        var text = String(format: "%.\(Swift.min(Swift.max(decimals, 0), 6))f", value)
        while text.contains("."), text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
