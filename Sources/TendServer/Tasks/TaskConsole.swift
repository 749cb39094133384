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

    /// What every task row of one page shares.
    struct TaskRowChrome {
        var strings: [String: String]
        var locale: AppLocale
        var programSlug: String
        var csrf: String
        var canWrite: Bool
        var me: String
        var now: Date

        func text(_ key: String) -> String { HTML.escape(strings[key] ?? key) }
    }

    /// The Today rows in HTML, written here rather than in the template for the same reason as
    /// the inbox's (`InboxConsole.rowsHTML`).
    static func rowsHTML(_ tasks: [StaffTask], chrome: TaskRowChrome) -> String {
        var html = ""
        html.reserveCapacity(tasks.count * 1500)
        let slug = HTML.escape(chrome.programSlug)
        let token = "<input type=\"hidden\" name=\"csrf\" value=\"\(HTML.escape(chrome.csrf))\">"
        let outcomes = TaskOutcome.allCases.map { "<option value=\"\($0.rawValue)\">\(HTML.escape($0.label.text(in: chrome.locale)))</option>" }.joined()
        for task in tasks {
            let id = HTML.escape(task.id), overdue = task.isOverdue(at: chrome.now), pool = task.assigneeID == nil
            html += "<li class=\"card task priority-\(task.priority.rawValue)\(overdue ? " overdue" : "")\" id=\"task-\(id)\" data-task=\"\(id)\">\n"
            html += "<div class=\"task-head\"><span class=\"badge priority-badge\">\(HTML.escape(task.priority.label.text(in: chrome.locale)))</span>"
            html += "<span class=\"badge\">\(chrome.text("task_kind_\(task.kind.rawValue)"))</span>"
            if overdue { html += "<span class=\"badge alert-badge\">\(chrome.text("task_overdue"))</span>" }
            if pool { html += "<span class=\"badge\">\(chrome.text("task_pool"))</span>" }
            if task.assigneeID == chrome.me { html += "<span class=\"badge\">\(chrome.text("task_mine"))</span>" }
            html += "</div>\n<p class=\"task-title\">\(HTML.escape(task.title.text(in: chrome.locale)))</p>\n"
            html += "<p class=\"muted small\">\(chrome.text("task_due")) \(format(task.dueAt)) · \(chrome.text("task_sla")) \(format(task.slaAt))"
            if let patientID = task.patientID {
                html += " · <a href=\"/p/\(slug)/patients/\(HTML.escape(patientID))\">\(chrome.text("task_open_patient"))</a>"
            }
            html += "</p>\n"
            if chrome.canWrite {
                html += "<div class=\"task-actions\">"
                if pool {
                    html += "<form method=\"post\" action=\"/p/\(slug)/tasks/\(id)/claim\" class=\"inline\">\(token)<button type=\"submit\" class=\"task-claim\">\(chrome.text("task_claim"))</button></form>\n"
                }
                html += "<form method=\"post\" action=\"/p/\(slug)/tasks/\(id)/complete\" class=\"task-complete\">\(token)"
                html += "<label>\(chrome.text("task_outcome")) <select name=\"outcome\" class=\"task-outcome\">\(outcomes)</select></label>"
                html += "<label>\(chrome.text("task_note")) <input type=\"text\" name=\"note\" class=\"task-note\" maxlength=\"2000\"></label>"
                html += "<button type=\"submit\" class=\"task-done\">\(chrome.text("task_complete"))</button></form></div>\n"
            }
            html += "</li>\n"
        }
        return html
    }

    func register(on router: Router<TendRequestContext>) {
        router.get("/p/:program/today") { request, context -> Response in
            let page = try await console.programPage(.readPatients, request, context)
            let me = page.grant.identity.user.id
            let rows = PageOfRows(request.query["page"], size: TaskFilter.pageSize, furthestOffset: TaskStore.maxOffset)
            let (tasks, counts) = try await tasks.page(programID: page.grant.program.id,
                                                       filter: TaskFilter(mineOrPool: me, limit: rows.size, offset: rows.offset), by: page.actor)
            let now = clock.now()
            let chrome = TaskRowChrome(strings: UIStrings.strings(for: context.locale), locale: context.locale, programSlug: page.grant.program.slug,
                                       csrf: page.chrome.csrf, canWrite: page.canWrite, me: me, now: now)
            let view = TodayView(program: page.programView, tasksHTML: Self.rowsHTML(tasks, chrome: chrome), taskCount: counts.total,
                                 overdueCount: counts.overdue, paging: rows.view(path: "/p/\(page.grant.program.slug)/today", total: counts.total, shown: tasks.count))
            return renderer.render("today", view: view, chrome: page.chrome, locale: context.locale)
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
        var page = ConfirmationView(action: "/c/\(token)")
        switch shown.state {
        case .invalid:
            return renderer.render("confirm", view: ConfirmationView(action: "", invalid: true), chrome: chrome, locale: locale, status: .notFound)
        case .expired:
            page.expired = true
            return renderer.render("confirm", view: page, chrome: chrome, locale: locale, status: .gone)
        case .done: page.done = true
        case .closed: page.closed = true
        case .ask(let programName, let message):
            page.programName = programName
            page.message = message
            page.ask = true
        }
        return renderer.render("confirm", view: page, chrome: chrome, locale: locale)
    }
}

/// The Today page: the caller's open tasks, written by `TaskConsole.rowsHTML`, and their counts.
struct TodayView {
    var program: ProgramView
    var tasksHTML: String
    var taskCount: Int
    var overdueCount: Int
    var paging: PagingView
}

/// The patient's confirmation page behind a message's link: which state the link is in, and
/// for an open one the program and the message to confirm.
struct ConfirmationView {
    var action: String
    var invalid = false
    var expired = false
    var done = false
    var closed = false
    var ask = false
    var programName: String?
    var message: String?
}
