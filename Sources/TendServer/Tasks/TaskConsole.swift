import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

/// The console's Today page (a staff member's tasks and the program's pool, overdue first)
/// and the patient-facing confirmation page behind the signed links messages carry.
struct TaskConsole: Sendable {
    let console: ConsoleRoutes
    private var stores: Stores { console.dependencies.stores }
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
            let tasks = try await stores.tasks.list(programID: page.grant.program.id, filter: TaskFilter(mineOrPool: me))
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
            guard try await stores.tasks.claim(programID: page.grant.program.id, id: try context.parameters.require("task"),
                                               staffID: page.grant.identity.user.id, actor: page.actor) != nil else { throw TendError.notFound("task") }
            return .redirect(to: "/p/\(page.grant.program.slug)/today")
        }

        router.post("/p/:program/tasks/:task/complete") { request, context -> Response in
            let page = try await console.programPage(.writePatients, request, context)
            let form = try await console.decodeForm(TaskForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            guard let outcome = form.outcome.flatMap(TaskOutcome.init(rawValue:)) else {
                throw TendError.invalid("outcome", .init(en: "choose what happened", zh: "请选择处理结果"))
            }
            guard try await stores.tasks.complete(
                programID: page.grant.program.id, id: try context.parameters.require("task"), outcome: outcome, note: form.note,
                staffID: page.grant.identity.user.id, actor: page.actor, confirmations: stores.confirmations) != nil else { throw TendError.notFound("task") }
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
        let links = console.dependencies.confirmationLinks
        let verification = links.verify(token, now: clock.now())
        let touchpointID: String
        var expired = false
        switch verification {
        case .invalid:
            return renderer.render("confirm", ["invalid": true], chrome: PageRenderer.Chrome(path: request.uri.path), locale: context.locale, status: .notFound)
        case .expired(let id):
            touchpointID = id
            expired = true
        case .valid(let id):
            touchpointID = id
        }
        guard let found = try await stores.confirmations.context(touchpointID: touchpointID),
              let pathway = try await stores.pathways.find(programID: found.programID, id: found.pathwayID),
              let step = pathway.pathway.step(found.touchpoint.stepID),
              let program = try await stores.programs.all().first(where: { $0.id == found.programID }) else {
            return renderer.render("confirm", ["invalid": true], chrome: PageRenderer.Chrome(path: request.uri.path), locale: context.locale, status: .notFound)
        }
        // The patient's own language, unless they switched on this page.
        let locale = request.cookies[CookieName.language] != nil ? context.locale : found.locale
        // Only a link that can still be used shows the message (which names the patient): an
        // expired, used or closed one shows its state and nothing about anyone.
        var page: [String: Any] = ["action": "/c/\(token)"]
        if expired {
            page["expired"] = true
            return renderer.render("confirm", page, chrome: PageRenderer.Chrome(path: request.uri.path), locale: locale, status: .gone)
        }
        let pending = [.sent, .delivered, .escalated, .noResponse].contains(found.touchpoint.status) && found.touchpoint.confirm
        if found.touchpoint.status == .confirmed {
            page["done"] = true
        } else if !pending {
            page["closed"] = true
        } else if confirming {
            let actor = AuditActor(id: found.touchpoint.patientID, kind: .patient, requestID: context.requestID)
            switch try await stores.confirmations.confirm(programID: found.programID, touchpointID: touchpointID, via: .link, actor: actor) {
            case .confirmed, .alreadyConfirmed: page["done"] = true
            case .notConfirmable: page["closed"] = true
            }
        } else {
            let values = TouchpointMessage.values(patientName: found.patientName, programName: program.name, touchpoint: found.touchpoint,
                                                  anchors: found.anchors, confirmLink: nil)
            page["program_name"] = program.name
            page["message"] = TouchpointMessage.text(of: step, in: locale, values: values)
            page["ask"] = true
        }
        return renderer.render("confirm", page, chrome: PageRenderer.Chrome(path: request.uri.path), locale: locale)
    }
}
