import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TendCore
import TendServer
import TendStore
import TendServerTestSupport
import TendTestSupport
import NIOFoundationEssentialsCompat
import SQLKit
import TendEngine

/// A morning in a program's groups: what people post, by how it should be handled.
enum MorningMessages {
    static let urgent = ["刚测血糖2.7，手抖心慌出冷汗", "胸口痛，喘不上气", "my wife fainted and won't wake up", "体温39.2度，化疗后第7天", "BP 170/115 and a bad headache"]
    static let privateOnes = ["我想私下问一下流产的事", "不方便在群里说，我最近有点抑郁", "can I ask privately about my insurance?"]
    static let general = ["孕期可以吃水果吗？", "餐后多久测血糖？", "How should I store insulin?", "复诊怎么预约挂号？", "空腹血糖5.4正常吗"]
    static let social = ["早上好", "打卡✅", "谢谢老师", "good morning everyone", "晚安"]
    static let compliance = ["加我微信，祖传秘方包治糖尿病", "需要的私我，代购进口药价格便宜"]

    /// `count` messages round-robin over the kinds, in `groups` groups.
    static func morning(count: Int) -> [(text: String, kind: String)] {
        let kinds: [(String, [String])] = [("social", social), ("general", general), ("urgent", urgent), ("social", social), ("general", general),
                                           ("private", privateOnes), ("compliance", compliance), ("general", general)]
        return (0..<count).map { index in
            let (kind, texts) = kinds[index % kinds.count]
            return (texts[(index / kinds.count) % texts.count], kind)
        }
    }
}

@Suite struct InboxTests {
    @Test(arguments: TestBackend.available)
    func aMorningOf800MessagesAcross60GroupsLandsInUrgencyOrder(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            var groups: [String] = []
            for index in 0..<60 {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/groups", method: .post, headers: bearer(manager),
                                         body: json("{\"name\": \"控糖营 \(index + 1) 群\", \"channel\": \"wecom\", \"binding\": \"wr-chat-\(index)\"}")) { response in
                    #expect(response.status == .created)
                    groups.append(object(response)["id"] as? String ?? "")
                }
            }
            let morning = MorningMessages.morning(count: 800)
            for (index, message) in morning.enumerated() {
                app.clock.advance(by: 2)
                let body: [String: Any] = ["channel": "wecom", "group_binding": "wr-chat-\(index % 60)", "sender_name": "成员\(index % 97)", "text": message.text]
                try await client.execute(uri: "/api/v1/programs/gdm-camp/inbound", method: .post, headers: bearer(manager),
                                         body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: body))) { response in
                    #expect(response.status == .created, "\(String(buffer: response.body))")
                }
            }
            // The demo's own morning is in the inbox too; this test looks at its 60 groups.
            let ours = Set(groups)
            let inbox: [[String: Any]] = try await client.execute(uri: "/api/v1/programs/gdm-camp/inbox?limit=2000", method: .get, headers: bearer(manager)) { response in
                (object(response)["items"] as? [[String: Any]] ?? []).filter { ours.contains($0["group_id"] as? String ?? "") }
            }
            let expectedUrgent = morning.filter { $0.kind == "urgent" }.count
            let expectedArchived = morning.filter { $0.kind == "social" }.count
            #expect(inbox.count == 800 - expectedArchived, "social messages are archived, not in the open inbox")
            let queues = inbox.map { $0["queue"] as? String ?? "" }
            #expect(queues.prefix(expectedUrgent).allSatisfy { $0 == "urgent" }, "urgent first")
            let ranks = queues.map { InboxQueue(rawValue: $0)!.rank }
            #expect(ranks == ranks.sorted(), "then moderation, private, general")
            // Within a queue the oldest deadline comes first.
            for queue in InboxQueue.allCases {
                let deadlines = inbox.filter { $0["queue"] as? String == queue.rawValue }.compactMap { $0["sla_at"] as? String }
                #expect(deadlines == deadlines.sorted(), "\(queue) by deadline")
            }
            #expect(inbox.filter { ($0["flags"] as? [String])?.contains("compliance") == true }.count == morning.filter { $0.kind == "compliance" }.count)
            let firstUrgent = try #require(inbox.first)
            #expect((firstUrgent["reasons"] as? [[String: Any]])?.isEmpty == false)
            // Every urgent message became an urgent task.
            let urgentIDs = Set(inbox.filter { $0["queue"] as? String == "urgent" }.compactMap { $0["task_id"] as? String })
            #expect(urgentIDs.count == expectedUrgent)
            try await client.execute(uri: "/api/v1/programs/gdm-camp/tasks?limit=1000", method: .get, headers: bearer(manager)) { response in
                let tasks = (object(response)["items"] as? [[String: Any]] ?? []).filter { urgentIDs.contains($0["id"] as? String ?? "") }
                #expect(tasks.count == expectedUrgent && tasks.allSatisfy { $0["priority"] as? String == "urgent" && $0["kind"] as? String == "urgent_message" })
            }
            // Without a limit the inbox comes 50 at a time; the second page continues the first.
            let everything: [String] = try await client.execute(uri: "/api/v1/programs/gdm-camp/inbox?limit=2000", method: .get, headers: bearer(manager)) { response in
                (object(response)["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            }
            for offset in [0, 50] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/inbox?offset=\(offset)", method: .get, headers: bearer(manager)) { response in
                    let page = (object(response)["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                    #expect(page == Array(everything.dropFirst(offset).prefix(50)))
                }
            }
            // General questions come with ready answers.
            let question = try #require(inbox.first { $0["text"] as? String == "孕期可以吃水果吗？" })
            #expect((question["suggestions"] as? [String])?.first?.contains("水果") == true)
            // Archived greetings can still be found.
            try await client.execute(uri: "/api/v1/programs/gdm-camp/messages/search?q=%E6%97%A9%E4%B8%8A%E5%A5%BD", method: .get, headers: bearer(manager)) { response in
                let found = object(response)["items"] as? [[String: Any]] ?? []
                #expect(!found.isEmpty && found.allSatisfy { $0["status"] as? String == "archived" })
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func staffActionsAndFeedback(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            try await client.execute(uri: "/api/v1/programs/gdm-camp/groups", method: .post, headers: bearer(manager),
                                     body: json(#"{"name": "一群", "channel": "wecom", "binding": "chat-1"}"#)) { #expect($0.status == .created) }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/groups", method: .post, headers: bearer(manager),
                                     body: json(#"{"name": "重复", "channel": "wecom", "binding": "chat-1"}"#)) { response in
                #expect(response.status == .conflict && object(response)["field"] as? String == "binding")
            }
            func post(_ text: String) async throws -> [String: Any] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/inbound", method: .post, headers: bearer(manager),
                                         body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: ["channel": "wecom", "group_binding": "chat-1", "text": text]))) { response in
                    #expect(response.status == .created)
                    return object(response)["message"] as? [String: Any] ?? [:]
                }
            }
            func act(_ id: Any?, _ body: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/messages/\(id ?? "")/actions", method: .post, headers: bearer(manager), body: json(body)) {
                    ($0.status, object($0))
                }
            }
            let question = try await post("孕期可以吃水果吗？")
            #expect(question["queue"] as? String == "general")
            var (status, answer) = try await act(question["id"], #"{"action": "reply", "text": "可以，两餐之间吃。"}"#)
            #expect(status == .ok && answer["status"] as? String == "resolved")
            let sensitive = try await post("不方便在群里说，我最近有点抑郁")
            #expect(sensitive["queue"] as? String == "private" && sensitive["moved_to_private"] as? Bool == true)
            #expect((sensitive["suggestions"] as? [String])?.isEmpty == false, "a private reply is suggested")
            let missed = try await post("最近总是头晕眼花")
            (status, answer) = try await act(missed["id"], #"{"action": "escalate"}"#)
            #expect(status == .ok && answer["queue"] as? String == "urgent" && answer["task_id"] as? String != nil)
            (status, answer) = try await act(missed["id"], #"{"action": "misgraded", "level": "urgent"}"#)
            #expect(answer["feedback_level"] as? String == "urgent")
            (status, answer) = try await act(missed["id"], #"{"action": "misgraded", "level": "critical"}"#)
            #expect(status == .badRequest && answer["field"] as? String == "level")
            (status, answer) = try await act(missed["id"], #"{"action": "reply"}"#)
            #expect(status == .badRequest && answer["field"] as? String == "text")
            (status, _) = try await act("nope", #"{"action": "resolve"}"#)
            #expect(status == .notFound)
            let program = try #require(try await app.stores.programs.find(slug: "gdm-camp"))
            #expect(try await app.stores.messages.feedback(programID: program.id).map(\.text) == ["最近总是头晕眼花"])
            // `tend triage feedback export` writes it as a corpus row labelled with the staff's level, and the read is audited.
            let rows = try await app.dependencies.actions.messages.feedback(programID: program.id, by: .cli)
            #expect(rows.map(\.text) == ["最近总是头晕眼花"] && rows.first?.level == "urgent" && rows.first?.locale == "zh")
            #expect(rows.first?.graded != "urgent" && rows.first?.category == "feedback")
            let exports = try await app.stores.database.session { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'triage.feedback.export'").first()?.decode(column: "n", as: Int.self)
            }
            #expect(exports == 1)
            // Message texts are sealed at rest.
            let raw = try await app.stores.database.session { sql in
                try await sql.raw("SELECT text_enc FROM messages").all().map { try $0.decode(column: "text_enc", as: String.self) }
            }
            #expect(!raw.contains { $0.contains("抑郁") })
            // Another program's staff see nothing of it.
            let doctor = try await app.token(for: "doctor@tend.demo")
            try await client.execute(uri: "/api/v1/programs/gdm-camp/inbox", method: .get, headers: bearer(doctor)) { #expect($0.status == .notFound) }
        }
    }

    @Test(arguments: TestBackend.available)
    func sendersAreMatchedByPhoneFamilyPhoneOrChannelUser(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let manager = try await app.token(for: "manager@tend.demo")
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "周梅", "phone": "13911112222", "caregivers": [{"name": "周建国", "relation": "父亲", "phone": "13733334444"}]}"#)
            let patientID = patient["id"] as? String ?? ""
            try await client.execute(uri: "/api/v1/programs/gdm-camp/groups", method: .post, headers: bearer(manager),
                                     body: json(#"{"name": "家属群", "channel": "wecom", "binding": "family-chat"}"#)) { #expect($0.status == .created) }
            func post(_ fields: [String: String]) async throws -> [String: Any] {
                var body = fields
                body["channel"] = "wecom"
                return try await client.execute(uri: "/api/v1/programs/gdm-camp/inbound", method: .post, headers: bearer(manager),
                                                body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: body))) { response in
                    #expect(response.status == .created, "\(String(buffer: response.body))")
                    return object(response)["message"] as? [String: Any] ?? [:]
                }
            }
            var message = try await post(["group_binding": "family-chat", "phone": "139 1111 2222", "text": "今天空腹5.0"])
            #expect(message["patient_id"] as? String == patientID)
            // The father's phone: the message is about the patient, from her father.
            message = try await post(["group_binding": "family-chat", "phone": "13733334444", "text": "她早上有点头晕"])
            #expect(message["patient_id"] as? String == patientID)
            #expect((message["sender_name"] as? String)?.contains("父亲") == true)
            // A WeCom user id, once bound to the patient.
            message = try await post(["group_binding": "family-chat", "sender_id": "wx-zhoumei", "text": "谢谢"])
            #expect(message["patient_id"] == nil)
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(patientID)/identities", method: .post, headers: bearer(manager),
                                     body: json(#"{"channel": "wecom", "user_id": "wx-zhoumei"}"#)) { #expect($0.status == .noContent) }
            message = try await post(["group_binding": "family-chat", "sender_id": "wx-zhoumei", "text": "谢谢"])
            #expect(message["patient_id"] as? String == patientID)
            // Changing the caregivers replaces their phones.
            try await client.execute(uri: "/api/v1/programs/gdm-camp/patients/\(patientID)", method: .patch, headers: bearer(manager),
                                     body: json(#"{"caregivers": []}"#)) { #expect($0.status == .ok) }
            message = try await post(["group_binding": "family-chat", "phone": "13733334444", "text": "在吗"])
            #expect(message["patient_id"] == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func programsExtendTheRulesAndThresholds(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let admin = try await app.token(for: "admin@tend.demo")
            let manager = try await app.token(for: "manager@tend.demo")
            // The shipped rules do not know the program's insulin pumps; the program adds them.
            let before = TriageClassifier().classify("胰岛素泵报警了", locale: .zhHans)
            #expect(before.level != .urgent)
            let settings = #"{"phrases": {"zh-Hans": [{"id": "urgent.pump_alarm", "level": "urgent", "phrases": ["泵报警"], "negatable": true}]}, "thresholds": {"glucose_low": 4.4}}"#
            try await client.execute(uri: "/api/v1/programs/gdm-camp/triage/settings", method: .put, headers: bearer(admin), body: json(settings)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
            }
            try await client.execute(uri: "/api/v1/programs/gdm-camp/triage/settings", method: .put, headers: bearer(manager), body: json(settings)) { #expect($0.status == .forbidden) }
            for (bad, field) in [(#"{"phrases": {"fr": []}}"#, "phrases.fr"), (#"{"thresholds": {"temperature": 50}}"#, "thresholds.temperature"),
                                 (#"{"phrases": {"en": [{"id": "x", "phrases": ["y"]}]}}"#, "phrases.en[0].level"),
                                 (#"{"thresholds": {"glucose_low": 12}}"#, "thresholds.glucose_low"), (#"{"thresholds": {"systolic": 1e400}}"#, "body")] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/triage/settings", method: .put, headers: bearer(admin), body: json(bad)) { response in
                    #expect(response.status == .badRequest && object(response)["field"] as? String == field, "\(bad): \(String(buffer: response.body))")
                }
            }
            let patient = try await createPatient(client, token: manager, program: "gdm-camp", body: #"{"name": "韩梅"}"#)
            for (text, level) in [("胰岛素泵报警了", "urgent"), ("空腹血糖4.2", "urgent"), ("胰岛素泵今天没有泵报警", "general"), ("宝宝胎动正常，没有胎动减少", "general")] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/inbound", method: .post, headers: bearer(manager),
                                         body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: ["channel": "in_app", "patient_id": patient["id"] ?? "", "text": text]))) { response in
                    #expect((object(response)["message"] as? [String: Any])?["level"] as? String == level, "\(text)")
                }
            }
            // The other program keeps the shipped rules.
            let lungPatient = try await createPatient(client, token: manager, program: "lung-followup", body: #"{"name": "李雷"}"#)
            try await client.execute(uri: "/api/v1/programs/lung-followup/inbound", method: .post, headers: bearer(manager),
                                     body: ByteBuffer(data: try JSONSerialization.data(withJSONObject: ["channel": "in_app", "patient_id": lungPatient["id"] ?? "", "text": "空腹血糖4.2"]))) { response in
                #expect((object(response)["message"] as? [String: Any])?["level"] as? String == "general")
            }
        }
    }
}
