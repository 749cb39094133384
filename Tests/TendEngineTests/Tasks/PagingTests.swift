import Foundation
import Logging
import Testing
import TendCore
import TendEngine
import TendStore
import TendTestSupport

/// Today and the inbox come in pages of 50: the pages together hold every row once, in the
/// list's order, and the counts are the whole listing's, not the page's.
@Suite struct PagingTests {
    static func program(on database: Database) async throws -> (Stores, Program, TendClock) {
        let clock = TendClock.fixed(Date(timeIntervalSince1970: 1_796_000_000))
        let stores = try Stores(database: database, clock: clock, ids: .uuidV7(clock: clock), keys: KeyRing.parse(TestKeys.ring, source: "test"))
        return (stores, try await stores.programs.create(slug: "paging", name: "Paging"), clock)
    }

    @Test(arguments: TestBackend.available)
    func tasksPageThroughTheWholeListWithItsCounts(backend: TestBackend) async throws {
        try await TestDatabase.withDatabase(backend) { database in
            let (stores, program, clock) = try await Self.program(on: database)
            // 130 open tasks, one in three past its deadline, and 20 done ones that no page shows.
            for index in 0..<150 {
                let due = clock.now().addingTimeInterval(Double(index % 3 == 0 ? -2 : 1) * 86_400 + Double(index))
                try await stores.tasks.create(StaffTask(
                    id: "task-\(String(format: "%03d", index))", programID: program.id, patientID: nil, touchpointID: nil, kind: .call,
                    title: LocalizedText(en: "Call \(index)", zh: "电话 \(index)"), priority: index % 4 == 0 ? .high : .normal, dueAt: due,
                    slaAt: due.addingTimeInterval(3600), status: index < 130 ? .open : .done, createdAt: due, completedAt: index < 130 ? nil : due))
            }
            let actions = TaskActions(stores: stores)
            let whole = try await actions.list(programID: program.id, filter: TaskFilter(limit: 1000), by: .cli)
            #expect(whole.count == 130)
            var paged: [StaffTask] = []
            for offset in stride(from: 0, through: 150, by: TaskFilter.pageSize) {
                let (tasks, counts) = try await actions.page(programID: program.id, filter: TaskFilter(offset: offset), by: .cli)
                #expect(counts == TaskCounts(total: 130, overdue: whole.filter { $0.isOverdue(at: clock.now()) }.count))
                #expect(tasks.count == max(0, min(TaskFilter.pageSize, 130 - offset)))
                paged += tasks
            }
            #expect(paged.map(\.id) == whole.map(\.id))
            #expect(try await actions.list(programID: program.id, filter: TaskFilter(), by: .cli).count == TaskFilter.pageSize)
            #expect(TaskFilter.pageSize == 50)
        }
    }

    @Test(arguments: TestBackend.available)
    func inboxPagesCrossQueuesInOrderWithTheWholeInboxCounts(backend: TestBackend) async throws {
        try await TestDatabase.withDatabase(backend) { database in
            let (stores, program, clock) = try await Self.program(on: database)
            let csv = "external_id,name,phone\n" + (0..<20).map { "p\($0),患者\($0),139\(String(format: "%08d", $0))\n" }.joined()
            _ = try await PatientActions(stores: stores).importRows(try ImportRowReader(bytes: Array(csv.utf8), format: .csv), programID: program.id,
                                                                   by: .cli, reject: { _ in })
            let patients = try await stores.patients.list(programID: program.id, query: PatientQuery(limit: 20), actor: .cli).patients
            let messages = MessageActions(stores: stores, classifiers: ClassifierCache(), clock: clock, logger: Logger(label: "paging"))
            // Urgent, private and general questions, so that pages cross from one queue to the next.
            let texts = ["胸口很痛喘不上气", "请问复诊需要空腹吗", "我想私下问一下我的检查结果", "打卡 今天走了八千步"]
            for index in 0..<140 {
                _ = try await messages.receive(programID: program.id, Arrival(channel: .inApp, patientID: patients[index % patients.count].id, text: texts[index % texts.count]), by: .cli)
            }
            let whole = try await messages.inbox(programID: program.id, limit: 2000, by: .cli)
            let counts = try await stores.messages.inboxCounts(programID: program.id)
            #expect(counts.total == whole.count)
            #expect(counts.byQueue[.urgent] == whole.filter { $0.queue == .urgent }.count)
            #expect(Set(whole.map(\.queue)).count >= 2, "\(Set(whole.map(\.queue)))")
            var paged: [StoredMessage] = []
            for offset in stride(from: 0, through: whole.count + 10, by: InboxCounts.pageSize) {
                let (page, pageCounts) = try await messages.inboxPage(programID: program.id, offset: offset, by: .cli)
                #expect(pageCounts == counts)
                paged += page
            }
            #expect(paged.map(\.id) == whole.map(\.id))
            #expect(try await messages.inbox(programID: program.id, by: .cli).count == min(InboxCounts.pageSize, whole.count))
        }
    }
}
