import Foundation
import TendCore
import TendEngine
import TendStore

/// A few hundred realistic, made-up patients per demo program, generated from a fixed
/// seed so every demo looks the same.
enum DemoPatients {
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "高", "罗"]
    static let femaleGiven = ["芳", "娜", "敏", "静", "丽", "艳", "娟", "秀英", "桂英", "婷", "雪", "慧", "晓燕", "玉兰", "佳怡"]
    static let maleGiven = ["伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "建华", "志强", "国庆", "海波", "浩然"]
    static let englishFemale = ["Emma", "Olivia", "Sophia", "Grace", "Lily", "Chloe", "Hannah", "Mia"]
    static let englishMale = ["James", "Daniel", "Henry", "Lucas", "Ethan", "David", "Samuel", "Owen"]
    static let englishSurnames = ["Li", "Chen", "Wong", "Smith", "Taylor", "Brown", "Lee", "Walker"]
    static let abroadZones = ["America/New_York", "Europe/London", "Asia/Singapore", "Australia/Sydney", "America/Los_Angeles"]
    static let relations = ["配偶", "女儿", "儿子", "母亲", "父亲"]

    static func candidates(programSlug: String, count: Int, seed: UInt64) -> [Result<PatientImport.Candidate, PatientImport.Reject>] {
        var random = SeededGenerator(state: seed)
        let isCamp = programSlug == "gdm-camp"
        return (0..<count).map { index in
            let english = Int.random(in: 0..<10, using: &random) == 0
            let female = isCamp || Bool.random(using: &random)
            let name: String
            if english {
                name = "\((female ? englishFemale : englishMale).randomElement(using: &random)!) \(englishSurnames.randomElement(using: &random)!)"
            } else {
                name = surnames.randomElement(using: &random)! + (female ? femaleGiven : maleGiven).randomElement(using: &random)!
            }
            let age = isCamp ? Int.random(in: 24...41, using: &random) : Int.random(in: 42...82, using: &random)
            let birth = String(format: "%04d-%02d-%02d", 2026 - age, Int.random(in: 1...12, using: &random), Int.random(in: 1...28, using: &random))
            let prefix = isCamp ? 1390000 : 1370000
            var profile = PatientProfile(
                externalID: String(format: "%@-%05d", isCamp ? "GDM" : "LC", index + 1),
                name: name, sex: female ? .female : .male, birthDate: birth,
                phone: "\(prefix + index / 10000)\(String(format: "%04d", index % 10000))",
                idNumber: "110101\(birth.replacingOccurrences(of: "-", with: ""))\(String(format: "%03d", index % 1000))\(index % 11 == 10 ? "X" : String(index % 10))",
                address: english ? nil : "北京市朝阳区示例路\(index + 1)号",
                locale: english ? .en : .zhHans,
                timeZone: english ? abroadZones.randomElement(using: &random)! : "Asia/Shanghai",
                contactWindow: Bool.random(using: &random) ? DailyWindow(start: 12 * 60, end: 13 * 60 + 30) : DailyWindow(start: 18 * 60 + 30, end: 21 * 60),
                quietHours: DailyWindow(start: 22 * 60, end: 7 * 60),
                channels: english ? [.inApp, .sms] : [.inApp, .wecom],
                caregivers: age >= 65 || Int.random(in: 0..<4, using: &random) == 0
                    ? [Caregiver(name: surnames.randomElement(using: &random)! + maleGiven.randomElement(using: &random)!, relation: relations.randomElement(using: &random)!, phone: "1360000\(String(format: "%04d", index))")]
                    : [],
                status: Int.random(in: 0..<25, using: &random) == 0 ? .paused : .active)
            var tags: [PatientTag]
            if isCamp {
                profile.channels = [.inApp, .wecom]
                tags = [
                    PatientTag(key: "disease", value: "GDM"), PatientTag(key: "subtype", value: "GDM"),
                    PatientTag(key: "trimester", value: Bool.random(using: &random) ? "2" : "3"),
                    PatientTag(key: "camp_class", value: ["A", "B", "C"].randomElement(using: &random)!),
                ]
                if Int.random(in: 0..<5, using: &random) == 0 { tags.append(PatientTag(key: "insulin", value: "true")) }
            } else {
                let stage = ["chemo", "chemo", "surgery", "followup", "targeted"].randomElement(using: &random)!
                tags = [
                    PatientTag(key: "disease", value: "lung_cancer"), PatientTag(key: "stage", value: stage),
                    PatientTag(key: "histology", value: ["adenocarcinoma", "squamous", "small_cell"].randomElement(using: &random)!),
                ]
                if stage == "chemo" { tags.append(PatientTag(key: "cycle", value: String(Int.random(in: 1...6, using: &random)))) }
                if age >= 65 { tags.append(PatientTag(key: "age_group", value: "65plus")) }
            }
            return .success(PatientImport.Candidate(line: index + 1, profile: profile, tags: tags))
        }
    }

    /// Seeds the program's demo patients unless it already has patients.
    static func seed(stores: Stores, program: Program, count: Int) async throws {
        let existing = try await stores.patients.list(programID: program.id, query: PatientQuery(limit: 1), actor: AuditActor(id: nil, kind: .system))
        guard existing.patients.isEmpty else { return }
        let importer = PatientImporter(store: stores.patients)
        let session = PatientImporter.Session()
        let rows = candidates(programSlug: program.slug, count: count, seed: program.slug == "gdm-camp" ? 2026 : 1126)
        try await importer.importBatch(programID: program.id, rows: rows, actor: AuditActor(id: nil, kind: .system), session: session, reject: { _ in })
    }
}
