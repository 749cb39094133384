import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

/// The console inbox: one list across every group of the program, urgent first, each message
/// with its reasons highlighted, ready answers and the actions staff take.
struct InboxConsole: Sendable {
    let console: ConsoleRoutes
    private var stores: Stores { console.dependencies.stores }
    private var renderer: PageRenderer { console.renderer }

    struct ActionForm: Decodable {
        var csrf: String?
        var action: String?
        var text: String?
        var level: String?
    }

    /// The text cut into plain and highlighted pieces (the matched phrases and values).
    static func segments(_ text: String, reasons: [TriageReason]) -> [(text: String, mark: Bool)] {
        var marks: [Range<String.Index>] = []
        for reason in reasons where !reason.match.isEmpty {
            var searchFrom = text.startIndex
            while let found = text.range(of: reason.match, options: [.caseInsensitive, .widthInsensitive], range: searchFrom..<text.endIndex) {
                if !marks.contains(where: { $0.overlaps(found) }) { marks.append(found) }
                searchFrom = found.upperBound
            }
        }
        marks.sort { $0.lowerBound < $1.lowerBound }
        var pieces: [(text: String, mark: Bool)] = []
        var cursor = text.startIndex
        for mark in marks {
            if cursor < mark.lowerBound { pieces.append((String(text[cursor..<mark.lowerBound]), false)) }
            pieces.append((String(text[mark]), true))
            cursor = mark.upperBound
        }
        if cursor < text.endIndex { pieces.append((String(text[cursor...]), false)) }
        return pieces
    }

    /// One message of the inbox as the page shows it.
    struct MessageRow {
        var message: StoredMessage
        var groupName: String?
        var suggestions: [String]
        var overdue: Bool
    }

    /// What every row of one page shares: the reader's strings, the program, the form token.
    struct RowChrome {
        var strings: [String: String]
        var programSlug: String
        var csrf: String
        var canWrite: Bool
        var levels: [(value: String, label: String)]

        func text(_ key: String) -> String { HTML.escape(strings[key] ?? key) }
    }

    /// The rows in HTML. Written here rather than in the template: with hundreds of messages the
    /// template engine's lookups were most of the page's time (issue 13).
    static func rowsHTML(_ rows: [MessageRow], chrome: RowChrome) -> String {
        var html = ""
        html.reserveCapacity(rows.count * 3000)
        let slug = HTML.escape(chrome.programSlug), csrf = HTML.escape(chrome.csrf)
        let levelOptions = chrome.levels.map { "<option value=\"\(HTML.escape($0.value))\">\(HTML.escape($0.label))</option>" }.joined()
        for row in rows {
            let message = row.message, id = HTML.escape(message.id), queue = HTML.escape(message.queue.rawValue)
            let action = "/p/\(slug)/messages/\(id)/act"
            html += "<li class=\"card message queue-\(queue)\(row.overdue ? " overdue" : "")\" id=\"message-\(id)\" data-message=\"\(id)\" data-queue=\"\(queue)\">\n"
            html += "<div class=\"task-head\"><span class=\"badge level-badge\">\(chrome.text("queue_\(message.queue.rawValue)"))</span>"
            if message.compliance { html += "<span class=\"badge alert-badge\">\(chrome.text("flag_compliance"))</span>" }
            if row.overdue { html += "<span class=\"badge alert-badge\">\(chrome.text("task_overdue"))</span>" }
            if message.movedToPrivate { html += "<span class=\"badge\">\(chrome.text("inbox_moved"))</span>" }
            let place = row.groupName.map(HTML.escape) ?? chrome.text("inbox_one_to_one")
            let sla = message.slaAt.map { " · \(chrome.text("task_sla")) \(HTML.escape(TaskConsole.format($0)))" } ?? ""
            html += "<span class=\"muted small\">\(place) · \(HTML.escape(message.senderName ?? "—")) · \(HTML.escape(TaskConsole.format(message.sentAt)))\(sla)</span></div>\n"
            html += "<p class=\"message-text\">"
            for piece in segments(message.text, reasons: message.reasons) {
                html += piece.mark ? "<mark>\(HTML.escape(piece.text))</mark>" : HTML.escape(piece.text)
            }
            html += "</p>\n"
            if !message.reasons.isEmpty {
                html += "<p class=\"small muted reasons\">"
                for reason in message.reasons { html += "<span class=\"reason\">\(HTML.escape(reason.rule)): \(HTML.escape(reason.match))</span> " }
                html += "</p>\n"
            }
            if let patientID = message.patientID {
                html += "<p class=\"small\"><a href=\"/p/\(slug)/patients/\(HTML.escape(patientID))\">\(chrome.text("task_open_patient"))</a></p>\n"
            }
            if chrome.canWrite {
                let token = "<input type=\"hidden\" name=\"csrf\" value=\"\(csrf)\">"
                html += "<div class=\"task-actions\"><form method=\"post\" action=\"\(action)\" class=\"reply-form\">\(token)<input type=\"hidden\" name=\"action\" value=\"reply\">"
                if !row.suggestions.isEmpty {
                    html += "<label class=\"small\">\(chrome.text("inbox_suggested")) <select class=\"suggestion\"><option value=\"\"></option>"
                    for suggestion in row.suggestions { let text = HTML.escape(suggestion); html += "<option value=\"\(text)\">\(text)</option>" }
                    html += "</select></label>"
                }
                html += "<textarea name=\"text\" rows=\"2\" class=\"reply-text\" placeholder=\"\(chrome.text("inbox_reply"))\"></textarea>"
                html += "<button type=\"submit\" class=\"reply-send\">\(chrome.text("inbox_reply"))</button></form>\n"
                for (value, css, label) in [("resolve", "resolve", "inbox_resolve"), ("move_to_private", "move-private", "inbox_move_private"), ("escalate", "escalate", "inbox_escalate")] {
                    html += "<form method=\"post\" action=\"\(action)\" class=\"inline\">\(token)<button type=\"submit\" name=\"action\" value=\"\(value)\" class=\"\(css)\">\(chrome.text(label))</button></form>\n"
                }
                html += "<form method=\"post\" action=\"\(action)\" class=\"inline misgraded\">\(token)<input type=\"hidden\" name=\"action\" value=\"misgraded\">"
                html += "<select name=\"level\">\(levelOptions)</select><button type=\"submit\">\(chrome.text("inbox_misgraded"))</button></form></div>\n"
            }
            html += "</li>\n"
        }
        return html
    }

    func register(on router: Router<TendRequestContext>) {
        router.get("/p/:program/inbox") { request, context -> Response in
            let page = try await console.programPage(.readPatients, request, context)
            let programID = page.grant.program.id
            let pageOfRows = PageOfRows(request.query["page"], size: InboxCounts.pageSize, furthestOffset: InboxCounts.maxOffset)
            let (messages, counts) = try await console.dependencies.actions.messages.inboxPage(programID: programID, limit: pageOfRows.size,
                                                                                              offset: pageOfRows.offset, by: page.actor)
            let names = Dictionary(uniqueKeysWithValues: try await stores.messages.groups(programID: programID).map { ($0.id, $0.name) })
            let settings = try await stores.messages.settings(programID: programID)
            let now = console.dependencies.clock.now()
            let t = UIStrings.strings(for: context.locale)
            let answers = MessageActions.SuggestionIndex(settings: settings)
            let rows = messages.map { message in
                MessageRow(message: message, groupName: message.groupID.flatMap { names[$0] },
                           suggestions: answers.suggestions(for: message, locale: context.locale), overdue: message.isOverdue(at: now))
            }
            let chrome = RowChrome(strings: t, programSlug: page.grant.program.slug, csrf: page.chrome.csrf, canWrite: page.canWrite,
                                   levels: TriageLevel.allCases.reversed().map { ($0.rawValue, t["level_\($0.rawValue)"] ?? $0.rawValue) })
            let view = InboxView(program: page.programView, messagesHTML: Self.rowsHTML(rows, chrome: chrome), messageCount: counts.total,
                                 urgentCount: counts.byQueue[.urgent] ?? 0, overdueCount: counts.overdue,
                                 paging: pageOfRows.view(path: "/p/\(page.grant.program.slug)/inbox", total: counts.total, shown: messages.count))
            return renderer.render("inbox", view: view, chrome: page.chrome, locale: context.locale)
        }

        router.post("/p/:program/messages/:message/act") { request, context -> Response in
            let page = try await console.programPage(.writePatients, request, context)
            let form = try await console.decodeForm(ActionForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            let action = try MessageActions.action(form.action ?? "", text: form.text, level: form.level)
            _ = try await console.dependencies.actions.messages.act(programID: page.grant.program.id, messageID: try context.parameters.require("message"),
                                                                    action, staff: page.grant.identity.user, by: page.actor)
            return .redirect(to: "/p/\(page.grant.program.slug)/inbox")
        }
    }
}

/// The inbox page: the open messages by queue, written by `InboxConsole.rowsHTML`, and their counts.
struct InboxView {
    var program: ProgramView
    var messagesHTML: String
    var messageCount: Int
    var urgentCount: Int
    var overdueCount: Int
    var paging: PagingView
}
