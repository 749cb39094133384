import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

/// The console's Today page (a staff member's tasks and the program's pool, overdue first)
/// and the patient-facing confirmation page behind the signed links messages carry.
struct TaskConsole: Sendable {
    let console: ConsoleRoutes
    private var tasks: TaskActions { console.dependencies.actions.tasks }
    private var renderer: PageRenderer { console.renderer }
    private var clock: TendClock { console.dependencies.clock }

    struct TaskForm: Decodable {
        var csrf: String?
        var outcome: String?
        var note: String?
    }

    /// Times on the console are shown in China Standard Time, where the demo programs run.
    static let consoleZone = TimeZone.shanghai

    static func format(_ date: Date) -> String {
        LocalDateTime(instant: date, in: consoleZone).description
    }

    func register(on router: Router<TendRequestContext>) {
        router.get("/p/:program/today") { request, context -> Response in
            let page = try await console.programPage(.readPatients, request, context)
            let me = page.grant.identity.user.id
            let tasks = try await tasks.list(programID: page.grant.program.id, filter: TaskFilter(mineOrPool: me), by: page.actor)
            let now = clock.now()
            let t = UIStrings.strings(for: context.locale)
            let outcomes = TaskOutcome.allCases.map { ["value": $0.rawValue, "label": $0.label.text(in: context.locale)] }
            let rows: [[String: Any]] = tasks.map { task in
                [
                    "id": task.id, "title": task.title.text(in: context.locale),
                    "priority": task.priority.rawValue, "priority_label": task.priority.label.text(in: context.locale),
                    "due": Self.format(task.dueAt), "sla": Self.format(task.slaAt), "overdue": task.isOverdue(at: now),
                    "mine": task.assigneeID == me, "pool": task.assigneeID == nil,
                    "patient_id": task.patientID ?? "", "has_patient": task.patientID != nil,
                    "kind_label": t["task_kind_\(task.kind.rawValue)"] ?? task.kind.rawValue,
                    "outcomes": outcomes,
                ]
            }
            let values: [String: Any] = [
                "program": page.programValues, "tasks": rows, "has_tasks": !rows.isEmpty, "can_write": page.canWrite,
                "overdue_count": tasks.filter { $0.isOverdue(at: now) }.count, "task_count": tasks.count,
            ]
            return renderer.render("today", values, chrome: page.chrome, locale: context.locale)
        }

        router.post("/p/:program/tasks/:task/claim") { request, context -> Response in
            let page = try await console.programPage(.writePatients, request, context)
            let form = try await console.decodeForm(TaskForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            _ = try await tasks.claim(programID: page.grant.program.id, taskID: try context.parameters.require("task"),
                                      staffID: page.grant.identity.user.id, by: page.actor)
            return .redirect(to: "/p/\(page.grant.program.slug)/today")
        }

        router.post("/p/:program/tasks/:task/complete") { request, context -> Response in
            let page = try await console.programPage(.writePatients, request, context)
            let form = try await console.decodeForm(TaskForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            guard let outcome = form.outcome.flatMap(TaskOutcome.init(rawValue:)) else {
                throw TendError.invalid("outcome", .init(en: "choose what happened", zh: "请选择处理结果"))
            }
            _ = try await tasks.complete(programID: page.grant.program.id, taskID: try context.parameters.require("task"), outcome: outcome,
                                         note: form.note, staffID: page.grant.identity.user.id, by: page.actor)
            return .redirect(to: "/p/\(page.grant.program.slug)/today")
        }

        // The patient's side: GET only shows (link previews fetch it), POST confirms.
        router.get("/c/:token") { request, context -> Response in
            try await confirmationPage(request, context, confirming: false)
        }
        router.post("/c/:token") { request, context -> Response in
            try await confirmationPage(request, context, confirming: true)
        }
    }

    private func confirmationPage(_ request: Request, _ context: TendRequestContext, confirming: Bool) async throws -> Response {
        let token = try context.parameters.require("token")
        // The patient's own language, unless they switched on this page.
        let chosen = request.cookies[CookieName.language] != nil ? context.locale : nil
        let shown = try await console.dependencies.actions.confirmations.open(token, confirming: confirming, language: chosen, requestID: context.requestID)
        let chrome = PageRenderer.Chrome(path: request.uri.path)
        let locale = shown.locale ?? context.locale
        var page: [String: Any] = ["action": "/c/\(token)"]
        switch shown.state {
        case .invalid: return renderer.render("confirm", ["invalid": true], chrome: chrome, locale: locale, status: .notFound)
        case .expired:
            page["expired"] = true
            return renderer.render("confirm", page, chrome: chrome, locale: locale, status: .gone)
        case .done: page["done"] = true
        case .closed: page["closed"] = true
        case .ask(let programName, let message):
            page["program_name"] = programName
            page["message"] = message
            page["ask"] = true
        }
        return renderer.render("confirm", page, chrome: chrome, locale: locale)
    }
}
