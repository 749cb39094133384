public import Foundation
import TendCore
import TendFormats
public import TendEngine
public import TendStore

/// The demo programs and logins `tend demo` creates on first run. Seeding is idempotent:
/// a second run finds them and changes nothing.
public enum DemoSeed {
    public struct Login: Sendable {
        public let email: String
        public let role: String
    }

    public static let password = "tend-demo-2026"

    public static let programs: [(slug: String, name: String)] = [
        ("gdm-camp", "妊娠期糖尿病控糖营 GDM Glucose Camp"),
        ("lung-followup", "肺癌随访项目 Lung Cancer Follow-up"),
    ]

    /// email, display name, platform admin, role in each program (nil: not a member)
    static let staff: [(email: String, name: String, platformAdmin: Bool, roles: [String: StaffRole])] = [
        ("admin@tend.demo", "王管理 Wang (admin)", true, ["gdm-camp": .admin, "lung-followup": .admin]),
        ("manager@tend.demo", "李健康 Li (health manager)", false, ["gdm-camp": .manager, "lung-followup": .manager]),
        ("pharmacist@tend.demo", "赵药师 Zhao (pharmacist)", false, ["gdm-camp": .pharmacist]),
        ("doctor@tend.demo", "陈医生 Chen (doctor)", false, ["lung-followup": .doctor]),
    ]

    public static var logins: [Login] {
        staff.map { entry in
            Login(email: entry.email, role: entry.roles.sorted { $0.key < $1.key }.map { "\($0.value.rawValue)@\($0.key)" }.joined(separator: ", "))
        }
    }

    /// Returns true when something was created.
    @discardableResult
    public static func seed(stores: Stores, passwords: PasswordHasher, messages: MessageActions, patientsPerProgram: Int = 300, now: Date) async throws -> Bool {
        let today = LocalDate(instant: now, in: TimeZone.shanghai)
        var created = false
        var programIDs: [String: String] = [:]
        // Only a program created now is filled: a demo folder that already has its programs starts
        // at once, however many patients they have come to hold.
        var newPrograms: [Program] = []
        for (slug, name) in programs {
            if let existing = try await stores.programs.find(slug: slug) {
                programIDs[slug] = existing.id
            } else {
                let program = try await stores.programs.create(slug: slug, name: name)
                programIDs[slug] = program.id
                newPrograms.append(program)
                created = true
            }
        }
        for entry in staff {
            let user: StaffUser
            if let existing = try await stores.staff.credentials(email: entry.email)?.user {
                user = existing
            } else {
                user = try await stores.staff.createUser(
                    email: entry.email, displayName: entry.name, passwordHash: try await passwords.hash(password),
                    isPlatformAdmin: entry.platformAdmin)
                created = true
                for (slug, role) in entry.roles {
                    try await stores.staff.setMembership(userID: user.id, programID: programIDs[slug] ?? "", role: role)
                }
            }
        }
        for program in newPrograms {
            try await DemoPatients.seed(stores: stores, program: program, count: patientsPerProgram)
            try await DemoPathways.seed(stores: stores, program: program, today: today)
            try await seedTasks(stores: stores, program: program, now: now)
            try await seedMessages(stores: stores, messages: messages, program: program, now: now)
            if let segment = segments[program.slug] {
                _ = try await SegmentActions(stores: stores).save(programID: program.id, source: segment, by: AuditActor.system)
            }
        }
        return created
    }

    /// One segment a program: who is off target now, kept up to date as readings arrive.
    static let segments: [String: String] = [
        "gdm-camp": """
            slug: glucose-above-target
            name: {zh: 血糖未达标, en: Glucose above target}
            # GDM targets: fasting < 5.3, two hours after a meal < 6.7 mmol/L.
            rule: |
              disease = GDM and (last(glucose-fasting, 7d) >= 5.3 or max(glucose-post-meal, 7d) >= 6.7)
            on_enter:
              - tag: control=poor
            on_leave:
              - untag: control=poor
            """,
        "lung-followup": """
            slug: needs-attention
            name: {zh: 需重点关注, en: Needs attention}
            rule: |
              disease = lung_cancer and (max(body-temperature, 3d) >= 38.0 or score(phq-9, 30d) >= 10)
            on_enter:
              - tag: attention=yes
            on_leave:
              - untag: attention=yes
            """,
    ]
}

extension DemoSeed {
    /// A morning's work on the Today page: calls the pathways asked for yesterday and today,
    /// one of them overdue, and a message that could not be delivered. Ids are fixed, so a
    /// second run adds nothing.
    static func seedTasks(stores: Stores, program: Program, now: Date) async throws {
        let patients = try await stores.patients.list(programID: program.id, query: PatientQuery(limit: 4), actor: AuditActor(id: nil, kind: .system)).patients
        let hour: TimeInterval = 3600
        for (index, patient) in patients.enumerated() {
            let name = patient.profile.name
            let (kind, priority, due, title): (TaskKind, TaskPriority, Date, LocalizedText) = switch index {
            case 0: (.call, .high, now.addingTimeInterval(-20 * hour), LocalizedText(en: "Call \(name) — revisit not confirmed", zh: "电话联系\(name)：复诊尚未确认"))
            case 1: (.deliveryFailed, .high, now.addingTimeInterval(-1 * hour), LocalizedText(en: "Message to \(name) via sms failed (HTTP 400) — contact them another way", zh: "发给\(name)的短信发送失败（HTTP 400），请换其他方式联系"))
            case 2: (.call, .normal, now.addingTimeInterval(2 * hour), LocalizedText(en: "Call \(name) — no readings for 3 days", zh: "电话联系\(name)：已 3 天未上传记录"))
            default: (.voiceCall, .normal, now.addingTimeInterval(4 * hour), LocalizedText(en: "Voice reminder — call \(name): your revisit is tomorrow", zh: "语音提醒——致电\(name)：明天复诊"))
            }
            try await stores.tasks.create(StaffTask(
                id: "demo-task-\(program.slug)-\(index)", programID: program.id, patientID: patient.id, touchpointID: nil, kind: kind,
                title: title, priority: priority, dueAt: due, slaAt: due.addingTimeInterval(StaffTask.slaWindow(priority)), createdAt: now))
        }
    }
}

extension DemoSeed {
    static let demoGroups: [String: [String]] = [
        "gdm-camp": ["控糖营 1 群", "控糖营 2 群", "孕晚期妈妈群"],
        "lung-followup": ["肺康复交流群", "化疗期互助群"],
    ]

    static let demoMessages: [String: [String]] = [
        "gdm-camp": ["早上好，今天空腹5.1", "刚测血糖2.7，手抖心慌出冷汗", "孕期可以吃水果吗？", "打卡✅", "加我微信，祖传秘方包治糖尿病",
                     "我想私下问一下流产的事", "餐后多久测血糖？", "谢谢老师", "空腹血糖6.1正常吗"],
        "lung-followup": ["化疗后第7天，体温38.9度", "早上好各位", "复诊怎么预约挂号？", "化疗后一直恶心怎么办", "不方便在群里说，我最近有点抑郁", "谢谢医生"],
    ]

    /// A few groups with a morning of messages, graded and routed like any other, so the
    /// inbox has something to show. Skipped once the program has groups.
    static func seedMessages(stores: Stores, messages: MessageActions, program: Program, now: Date) async throws {
        guard try await stores.messages.groups(programID: program.id).isEmpty else { return }
        let system = AuditActor(id: nil, kind: .system)
        var groups: [ChatGroup] = []
        for (index, name) in (demoGroups[program.slug] ?? []).enumerated() {
            groups.append(try await stores.messages.createGroup(programID: program.id, name: name, channel: .wecom, binding: "demo-\(program.slug)-\(index)", patientIDs: [], staffIDs: []))
        }
        let patients = try await stores.patients.list(programID: program.id, query: PatientQuery(limit: 20), actor: system).patients
        guard !groups.isEmpty, !patients.isEmpty else { return }
        for (index, text) in (demoMessages[program.slug] ?? []).enumerated() {
            let patient = patients[index % patients.count]
            _ = try await messages.intake(programID: program.id, group: groups[index % groups.count], patient: patient, channel: .wecom,
                                          senderName: nil, text: text, sentAt: now.addingTimeInterval(Double(index - 20) * 180), by: system)
        }
    }
}

/// The shipped pathway files and the demo enrolments that use them.
public enum DemoPathways {
    public static let files = ["s1-revisit", "s2-chemo-cycles", "s3-gdm-camp", "s5-osteonecrosis-imaging", "s5-tcm-refill"]

    public static func source(_ name: String) throws -> String {
        try String(contentsOf: PageRenderer.assets.appendingPathComponent("pathways/\(name).yaml"), encoding: .utf8)
    }

    static let byProgram: [String: [String]] = [
        "gdm-camp": ["s3-gdm-camp", "s1-revisit"],
        "lung-followup": ["s1-revisit", "s2-chemo-cycles", "s5-osteonecrosis-imaging", "s5-tcm-refill"],
    ]

    /// Loads the pathways and enrols demo patients relative to today; patients already
    /// enrolled are left alone, so running it again changes nothing.
    static func seed(stores: Stores, program: Program, today: LocalDate) async throws {
        var stored: [String: StoredPathway] = [:]
        for name in byProgram[program.slug] ?? [] {
            stored[name] = try await stores.pathways.save(programID: program.id, pathway: try PathwayFile.parse(try source(name)), source: try source(name))
        }
        let system = AuditActor(id: nil, kind: .system)
        func enrol(_ name: String, _ tags: String, _ anchors: [String: LocalDate]) async throws {
            guard let pathway = stored[name] else { return }
            _ = try await stores.enrolments.enrol(programID: program.id, pathway: pathway,
                                                  target: .tagged(TagFilter(all: try TagFilter.tags(tags, field: "tags"))), anchors: anchors, actor: system)
        }
        switch program.slug {
        case "gdm-camp":
            try await enrol("s3-gdm-camp", "disease=GDM", ["camp_start": today.adding(days: -3)])
            try await enrol("s1-revisit", "trimester=3", ["revisit": today.adding(days: 9)])
        default:
            try await enrol("s2-chemo-cycles", "stage=chemo", ["cycle_start": today.adding(days: 2)])
            try await enrol("s1-revisit", "stage=followup", ["revisit": today.adding(days: 6)])
            try await enrol("s1-revisit", "stage=surgery", ["revisit": today.adding(days: 12)])
            try await enrol("s5-osteonecrosis-imaging", "stage=targeted", [:])
        }
    }
}
