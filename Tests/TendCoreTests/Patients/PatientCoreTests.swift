import Foundation
import Testing
import TendCore

@Suite struct CSVReaderTests {
    func records(_ text: String) -> [CSVReader.Record] {
        Array(CSVReader(bytes: Array(text.utf8)))
    }

    @Test func readsQuotedFieldsCRLFAndABOM() {
        let rows = records("\u{FEFF}a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n2,\"multi\nline\",3\n4,,\n")
        #expect(rows.map(\.fields) == [["a", "b", "c"], ["1", "x, y", "say \"hi\""], ["2", "multi\nline", "3"], ["4", "", ""]])
        #expect(rows.map(\.line) == [1, 2, 4, 6])
    }

    @Test func reportsAnUnterminatedQuote() {
        var reader = CSVReader(bytes: Array("a,b\n1,\"open\n2,3\n".utf8))
        #expect(reader.next()?.fields == ["a", "b"])
        #expect(reader.next() == nil)
        #expect(reader.problem == .unterminatedQuote(line: 2))
    }

    @Test func readsChineseText() {
        #expect(records("姓名,手机号\n张三,13800138000\n").last?.fields == ["张三", "13800138000"])
    }

    @Test func escapesWhatNeedsIt() {
        #expect(CSVReader.escape("plain") == "plain")
        #expect(CSVReader.escape("a,b") == "\"a,b\"")
        #expect(CSVReader.escape("say \"x\"") == "\"say \"\"x\"\"\"")
    }
}

@Suite struct PatientFieldTests {
    @Test(arguments: [
        ("138 0013 8000", "13800138000"), ("+86 138-0013-8000", "13800138000"), ("008613800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"), ("(212) 555-0100", "2125550100"),
    ])
    func phonesNormaliseToDigits(input: String, expected: String) throws {
        #expect(try PatientFields.phone(input, field: "phone") == expected)
    }

    @Test func badPhonesAreRejectedByField() {
        for bad in ["123", "call me", "1380013800012345678"] {
            do { _ = try PatientFields.phone(bad, field: "caregivers[0].phone"); Issue.record("accepted \(bad)") } catch { #expect(error.field == "caregivers[0].phone") }
        }
    }

    @Test func idNumbersAreUpperCasedAndChecked() throws {
        #expect(try PatientFields.idNumber(" 11010119900307123x ") == "11010119900307123X")
        #expect(try PatientFields.idNumber("E1234 5678") == "E12345678")
        #expect(throws: TendError.self) { try PatientFields.idNumber("12") }
        #expect(throws: TendError.self) { try PatientFields.idNumber("身份证1234567") }
        // Byte-level (ASCII) and Character-level (anything else) normalisation agree.
        #expect(try PatientFields.idNumber("h12-345\t678") == "H12345678")
        #expect(try PatientFields.idNumber("ｈ１２３４５６７８") == "H12345678")
        #expect(try PatientFields.idNumber(" \t ") == nil)
        #expect(throws: TendError.self) { try PatientFields.idNumber("AB_12345") }
    }

    @Test func emptyOrBlankPhonesAreAbsentNotInvalid() throws {
        for blank in ["", "   ", "\t", "\u{3000}"] {
            #expect(try PatientFields.phone(blank, field: "phone") == nil, "\(blank.debugDescription)")
        }
        #expect(throws: TendError.self) { try PatientFields.phone("138\t0013 8000", field: "phone") }
    }

    @Test func birthDatesAndZonesAreValidated() throws {
        #expect(try PatientFields.birthDate("1990/3/7") == "1990-03-07")
        #expect(throws: TendError.self) { try PatientFields.birthDate("1990-02-30") }
        #expect(throws: TendError.self) { try PatientFields.birthDate("yesterday") }
        #expect(try PatientFields.timeZone("America/New_York") == "America/New_York")
        #expect(throws: TendError.self) { try PatientFields.timeZone("Mars/Olympus") }
        #expect(throws: TendError.self) { try PatientFields.timeZone("EST") }
    }

    @Test func windowsParseAndMayCrossMidnight() throws {
        #expect(try DailyWindow.parse("22:00-07:00", field: "q") == DailyWindow(start: 1320, end: 420))
        #expect(try DailyWindow.parse("12:00–13:30", field: "q").text == "12:00-13:30")
        for bad in ["22-07", "25:00-07:00", "08:00-08:00", "8:0-9:00"] {
            #expect(throws: TendError.self, "\(bad)") { try DailyWindow.parse(bad, field: "q") }
        }
    }

    @Test func namesMatchIgnoringWidthCaseAndSpacing() {
        #expect(PatientFields.normalisedName("  Emma   LI ") == PatientFields.normalisedName("emma li"))
        #expect(PatientFields.normalisedName("Ｅｍｍａ") == "emma")
    }

    @Test func ageIsComputedInThePatientsZone() {
        let profile = PatientProfile(name: "x", birthDate: "1960-12-01", timeZone: "Asia/Shanghai")
        // 2026-11-30T16:30Z is already 12-01 in Shanghai.
        #expect(profile.age(on: Date(timeIntervalSince1970: 1_796_056_200)) == 66)
        #expect(profile.age(on: Date(timeIntervalSince1970: 1_796_000_000)) == 65)
    }
}

@Suite struct TagTests {
    @Test func tagsParseAndValidate() throws {
        #expect(try PatientTag.parse(" Disease = T2DM ") == PatientTag(key: "disease", value: "T2DM"))
        #expect(try PatientTag.parse("stage.v2=化疗 第二周期") == PatientTag(key: "stage.v2", value: "化疗 第二周期"))
        for bad in ["disease", "=x", "bad key=x", "k=a,b", "k=", "k=a\u{2028}b", "k=a;b", "键=x", "k=\(String(repeating: "长", count: 101))"] {
            #expect(throws: TendError.self, "\(bad)") { try PatientTag.parse(bad) }
        }
    }

    @Test func filtersCombineAllAnyAndNone() throws {
        let patient: Set = [PatientTag(key: "disease", value: "T2DM"), PatientTag(key: "stage", value: "chemo")]
        let t2dm = PatientTag(key: "disease", value: "T2DM")
        #expect(TagFilter(all: [t2dm]).matches(patient))
        #expect(!TagFilter(all: [t2dm, PatientTag(key: "stage", value: "surgery")]).matches(patient))
        #expect(TagFilter(any: [PatientTag(key: "stage", value: "surgery"), PatientTag(key: "stage", value: "chemo")]).matches(patient))
        #expect(!TagFilter(none: [PatientTag(key: "stage", value: "*")]).matches(patient))
        #expect(TagFilter(all: try TagFilter.tags("disease=*", field: "tags")).matches(patient))
        #expect(throws: TendError.self) { try TagFilter.tags("disease", field: "tags") }
    }
}

@Suite struct ImportMappingTests {
    @Test func chineseHeadersMapToColumns() throws {
        let columns = try PatientImport.columns(header: ["患者编号", "姓名", "手机号", "身份证号", "标签", "性别"])
        #expect(columns == [.externalID, .name, .phone, .idNumber, .tags, .sex])
        #expect(throws: TendError.self) { try PatientImport.columns(header: ["external_id", "name", "favourite_colour"]) }
        #expect(throws: TendError.self) { try PatientImport.columns(header: ["name", "phone"]) }
    }

    @Test func rowsBecomeCandidatesOrRejectsWithReasons() throws {
        let columns = try PatientImport.columns(header: ["external_id", "name", "sex", "phone", "tags", "status"])
        let good = PatientImport.candidate(line: 2, columns: columns, fields: ["A1", "张三", "女", "138 0013 8000", "disease=GDM;trimester=3", "在管"])
        guard case .success(let candidate) = good else { Issue.record("rejected a good row"); return }
        #expect(candidate.profile.phone == "13800138000" && candidate.profile.sex == .female)
        #expect(candidate.tags == [PatientTag(key: "disease", value: "GDM"), PatientTag(key: "trimester", value: "3")])
        let cases: [([String], String)] = [
            (["", "x", "", "", "", ""], "external_id"),
            (["A2", "", "", "", "", ""], "name"),
            (["A3", "x", "alien", "", "", ""], "sex"),
            (["A4", "x", "", "12", "", ""], "phone"),
            (["A5", "x", "", "", "nokey", ""], "tags"),
            (["A6", "x", "", "", "", "asleep"], "status"),
        ]
        for (fields, field) in cases {
            guard case .failure(let reject) = PatientImport.candidate(line: 9, columns: columns, fields: fields) else {
                Issue.record("accepted \(fields)"); continue
            }
            #expect(reject.field == field && reject.line == 9 && !reject.reason.isEmpty)
        }
        guard case .failure(let short) = PatientImport.candidate(line: 3, columns: columns, fields: ["A7"]) else { Issue.record("short row accepted"); return }
        #expect(short.reason.contains("1 fields"))
    }
}
