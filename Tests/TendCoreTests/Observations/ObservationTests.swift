import Foundation
import Testing
import TendCore

@Suite struct UnitConversionTests {
    func value(_ number: Double, _ unit: String, _ key: String) throws -> Double? {
        let code = try #require(ObservationCatalog.definition(key: key)).code
        return try ObservationCatalog.admit(number, unit: unit, code: code, field: "value").number
    }

    @Test(arguments: [
        // (entered, unit, code, stored in the canonical unit)
        (101.5, "[degF]", "body-temperature", 38.6),
        (100.4, "°F", "body-temperature", 38.0),
        (98.6, "F", "body-temperature", 37.0),
        (38.6, "Cel", "body-temperature", 38.6),
        (39.2, "度", "body-temperature", 39.2),
        (70, "mg/dL", "glucose-fasting", 3.9),
        (48, "mg/dl", "glucose-fasting", 2.7),
        (300, "mg/dL", "glucose-post-meal", 16.7),
        (5.6, "mmol/L", "glucose-fasting", 5.6),
        (154, "lb", "body-weight", 69.9),
        (120, "斤", "body-weight", 60),
        (65, "[in_i]", "body-height", 165.1),
        (1.72, "m", "body-height", 172),
        (16, "kPa", "bp-systolic", 120),
        (3500, "/uL", "wbc", 3.5),
        (3.5, "10*3/uL", "wbc", 3.5),
        (12.5, "g/dL", "hemoglobin", 125),
        (53, "mmol/mol", "hba1c", 7.0),
    ] as [(Double, String, String, Double)])
    func convertsToTheCanonicalUnit(entered: Double, unit: String, key: String, stored: Double) throws {
        #expect(try value(entered, unit, key) == stored)
    }

    @Test func eachCodeHasOneCanonicalUnit() throws {
        let reading = try ObservationCatalog.admit(101.5, unit: "[degF]", code: .loinc("8310-5"), field: "temperature")
        #expect(reading.value == .quantity(38.6, unit: "Cel"))
        let glucose = try ObservationCatalog.admit(90, unit: "mg/dL", code: .loinc("14770-2"), field: "glucose")
        #expect(glucose.value == .quantity(5.0, unit: "mmol/L"))
    }

    @Test func displaysInTheProgramsUnit() throws {
        let temperature = try ObservationCatalog.admit(38.6, unit: "Cel", code: .loinc("8310-5"), field: "t")
        #expect(ObservationCatalog.display(temperature) == "38.6 °C")
        #expect(ObservationCatalog.display(temperature, in: "[degF]") == "101.5 °F")
        let glucose = try ObservationCatalog.admit(5.6, unit: "mmol/L", code: .loinc("14770-2"), field: "g")
        var units = DisplayUnits()
        try units.set("mg/dL", for: .loinc("14770-2"))
        #expect(units.display(glucose) == "101 mg/dL")
        #expect(ObservationCatalog.display(glucose) == "5.6 mmol/L")
        let weight = try ObservationCatalog.admit(70, unit: "kg", code: .loinc("29463-7"), field: "w")
        #expect(ObservationCatalog.display(weight, in: "lb") == "154.3 lb")
    }

    @Test func aDisplayUnitMustFitTheCode() {
        var units = DisplayUnits()
        do {
            try units.set("kg", for: .loinc("14770-2"), field: "display_units.glucose")
            Issue.record("kg accepted for glucose")
        } catch {
            #expect(error.field == "display_units.glucose")
        }
    }

    @Test func roundsHalfAwayFromZero() {
        #expect(38.65.rounded(decimals: 1) == 38.7)
        #expect(3.85.rounded(decimals: 1) == 3.9)
        #expect(16.666.text(decimals: 1) == "16.7")
        #expect(120.0.text(decimals: 1) == "120")
    }
}

@Suite struct ObservationBoundsTests {
    func refusal(_ number: Double, _ unit: String, _ key: String, field: String) throws -> TendError? {
        let code = try #require(ObservationCatalog.definition(key: key)).code
        do {
            _ = try ObservationCatalog.admit(number, unit: unit, code: code, field: field)
            return nil
        } catch {
            return error
        }
    }

    @Test func anImpossibleGlucoseIsRefusedNamingTheField() throws {
        let error = try #require(try refusal(300, "mmol/L", "glucose-fasting", field: "fasting"))
        #expect(error.field == "fasting")
        #expect(error.code == "impossible_value")
        #expect(error.message.en.contains("not a possible fasting glucose"))
        #expect(error.message.zh.contains("空腹血糖"))
    }

    @Test(arguments: [
        (0.2, "mmol/L", "glucose-random"),
        (3000, "mg/dL", "glucose-post-meal"),
        (50, "Cel", "body-temperature"),
        (70, "[degF]", "body-temperature"),
        (0, "kg", "body-weight"),
        (400, "mm[Hg]", "bp-systolic"),
        (101, "%", "spo2"),
        (-1, "10*9/L", "wbc"),
        (30, "%", "hba1c"),
    ] as [(Double, String, String)])
    func impossibleValuesAreRefused(number: Double, unit: String, key: String) throws {
        let error = try #require(try refusal(number, unit, key, field: "value"))
        #expect(error.field == "value")
    }

    @Test func aUnitThatDoesNotFitIsRefused() throws {
        let error = try #require(try refusal(5.6, "kg", "glucose-fasting", field: "readings[0].unit"))
        #expect(error.field == "readings[0].unit")
        #expect(error.message.en.contains("mmol/L, mg/dL"))
    }

    @Test func nonFiniteNumbersAreRefused() throws {
        #expect(try refusal(.nan, "Cel", "body-temperature", field: "t")?.field == "t")
        #expect(try refusal(.infinity, "kg", "body-weight", field: "w")?.field == "w")
    }

    @Test func implausibleButPossibleValuesAreKeptAndFlagged() throws {
        let high = try ObservationCatalog.admit(45, unit: "mmol/L", code: .loinc("14770-2"), field: "g")
        #expect(high.flags == [.implausible])
        #expect(high.number == 45)
        let low = try ObservationCatalog.admit(33.5, unit: "Cel", code: .loinc("8310-5"), field: "t")
        #expect(low.flags == [.implausible])
        let normal = try ObservationCatalog.admit(2.7, unit: "mmol/L", code: .loinc("14770-2"), field: "g")
        #expect(normal.flags.isEmpty)
    }

    @Test func programCodesKeepTheirUnit() throws {
        let code = try ObservationCatalog.code("program:steps", field: "code")
        let reading = try ObservationCatalog.admit(8000, unit: "{steps}", code: code, field: "steps")
        #expect(reading.value == .quantity(8000, unit: "{steps}"))
    }

    @Test func codesParseFromKeysAndSystems() throws {
        #expect(try ObservationCatalog.code("glucose-fasting", field: "c") == .loinc("14770-2"))
        #expect(try ObservationCatalog.code("loinc:8310-5", field: "c") == .loinc("8310-5"))
        #expect(try ObservationCatalog.code("program:revisit-attended", field: "c").system == .program)
        for bad in ["glucose", "loinc:abc", "program:Upper", "snomed:123", "program:", String(repeating: "a", count: 300)] {
            #expect(throws: TendError.self) { try ObservationCatalog.code(bad, field: "observations[0].code") }
        }
    }

    @Test func everyCatalogEntryIsConsistent() {
        #expect(Set(ObservationCatalog.all.map(\.key)).count == ObservationCatalog.all.count)
        #expect(Set(ObservationCatalog.all.map(\.code)).count == ObservationCatalog.all.count)
        for definition in ObservationCatalog.all {
            #expect(definition.possible.contains(definition.plausible.lowerBound), "\(definition.key)")
            #expect(definition.possible.contains(definition.plausible.upperBound), "\(definition.key)")
            #expect(definition.units.first?.unit == definition.canonicalUnit)
            for unit in definition.units { #expect(UnitName.parse(unit.unit) == unit.unit, "\(unit.unit) parses to itself") }
        }
    }

    @Test func anObservationIsBounded() throws {
        let reading = try ObservationCatalog.admit(5.6, unit: "mmol/L", code: .loinc("14770-2"), field: "g")
        let when = Date(timeIntervalSince1970: 1_800_000_000)
        let observation = try Observation(patientID: "p1", programID: "gdm", reading: reading, effectiveAt: when, zone: "Asia/Shanghai",
                                          source: .checkIn, producedBy: "response-1", externalID: "meter-42")
        #expect(observation.source == .checkIn)
        #expect(throws: TendError.self) {
            try Observation(patientID: "p1", programID: "gdm", reading: reading, effectiveAt: when, zone: "Mars/Olympus", source: .device)
        }
        #expect(throws: TendError.self) {
            try Observation(patientID: "", programID: "gdm", reading: reading, effectiveAt: when, zone: "UTC", source: .device)
        }
        #expect(throws: TendError.self) {
            try Observation(patientID: "p1", programID: "gdm", reading: reading, effectiveAt: Date(timeIntervalSince1970: 1e13), zone: "UTC", source: .import)
        }
    }
}

@Suite struct ObservationInputTests {
    @Test func aDeviceReadingInMgPerDLIsStoredInMmolPerL() throws {
        let input = ObservationInput(code: "glucose-fasting", value: .number(48), unit: "mg/dL", effectiveAt: "2026-12-03T07:42:00+08:00", externalID: "meter-7")
        let observation = try input.observation(patientID: "p1", programID: "gdm", zone: "Asia/Shanghai", source: .device, field: "readings[0]")
        #expect(observation.reading.value == .quantity(2.7, unit: "mmol/L"))
        #expect(observation.effectiveAt.timeIntervalSince1970 == 1_796_254_920)
        #expect(observation.externalID == "meter-7")
    }

    @Test func eachProblemNamesItsField() {
        func field(_ input: ObservationInput) -> String? {
            do {
                _ = try input.observation(patientID: "p1", programID: "gdm", zone: "UTC", source: .import, field: "readings[3]")
                return nil
            } catch {
                return error.field
            }
        }
        let when = "2026-12-03T07:42:00Z"
        #expect(field(.init(code: "glucose-fasting", value: .number(300), unit: "mmol/L", effectiveAt: when)) == "readings[3].value")
        #expect(field(.init(code: "glucose-fasting", value: .number(5), unit: "kg", effectiveAt: when)) == "readings[3].unit")
        #expect(field(.init(code: "sugar", value: .number(5), effectiveAt: when)) == "readings[3].code")
        #expect(field(.init(code: "body-temperature", value: .flag(true), effectiveAt: when)) == "readings[3].value")
        #expect(field(.init(code: "program:steps", value: .number(5000), effectiveAt: when)) == "readings[3].unit")
        #expect(field(.init(code: "body-weight", value: .number(70), unit: "kg", effectiveAt: "yesterday")) == "readings[3].effective_at")
        #expect(field(.init(code: "body-weight", value: .number(70), unit: "kg", effectiveAt: "2999-01-01T00:00:00Z")) == "readings[3].effective_at")
    }

    @Test func valuesOfEveryKind() throws {
        let when = "2026-12-03T07:42:00.250Z"
        let temperature = try ObservationInput(code: "loinc:8310-5", value: .text("101.5 °F"), effectiveAt: when).reading(field: "r")
        #expect(temperature.value == .quantity(38.6, unit: "Cel"))
        let canonical = try ObservationInput(code: "heart-rate", value: .number(72), effectiveAt: when).reading(field: "r")
        #expect(canonical.value == .quantity(72, unit: "/min"))
        let attended = try ObservationInput(code: "program:revisit-attended", value: .flag(true), effectiveAt: when).reading(field: "r")
        #expect(attended.value == .boolean(true))
        let coded = try ObservationInput(code: "program:meal", value: .text("lunch"), effectiveAt: when).reading(field: "r")
        #expect(coded.value == .coded("lunch"))
        let note = try ObservationInput(code: "program:note", value: .text("felt dizzy after lunch"), effectiveAt: when).reading(field: "r")
        #expect(note.value == .text("felt dizzy after lunch"))
    }

    @Test func decodesFromJSON() throws {
        let json = #"{"code": "bp-systolic", "value": 128, "unit": "mmHg", "effective_at": "2026-12-03T07:42:00+08:00", "external_id": "cuff-1"}"#
        let input = try JSONDecoder().decode(ObservationInput.self, from: Data(json.utf8))
        #expect(try input.reading(field: "body").value == .quantity(128, unit: "mm[Hg]"))
    }
}

@Suite struct ConversionRoundTripTests {
    /// Every unit of every code: a value shown in that unit and entered again is stored as it was.
    @Test func everyUnitRoundTrips() throws {
        for definition in ObservationCatalog.all {
            let middle = ((definition.plausible.lowerBound + definition.plausible.upperBound) / 2).rounded(decimals: definition.decimals)
            let stored = try ObservationCatalog.admit(middle, unit: definition.canonicalUnit, code: definition.code, field: "v")
            for unit in definition.units {
                let shown = try #require(ObservationCatalog.convert(stored, to: unit.unit))
                let again = try ObservationCatalog.admit(shown, unit: unit.unit, code: definition.code, field: "v")
                #expect(again.number == stored.number, "\(definition.key) via \(unit.unit)")
            }
        }
    }
}
