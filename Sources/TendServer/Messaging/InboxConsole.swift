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
    static func segments(_ text: String, reasons: [TriageReason]) -> [[String: Any]] {
        var marks: [Range<String.Index>] = []
        for reason in reasons where !reason.match.isEmpty {
            var searchFrom = text.startIndex
            while let found = text.range(of: reason.match, options: [.caseInsensitive, .widthInsensitive], range: searchFrom..<text.endIndex) {
                if !marks.contains(where: { $0.overlaps(found) }) { marks.append(found) }
                searchFrom = found.upperBound
            }
        }
        marks.sort { $0.lowerBound < $1.lowerBound }
        var pieces: [[String: Any]] = []
        var cursor = text.startIndex
        for mark in marks {
            if cursor < mark.lowerBound { pieces.append(["text": String(text[cursor..<mark.lowerBound]), "mark": false]) }
            pieces.append(["text": String(text[mark]), "mark": true])
            cursor = mark.upperBound
        }
        if cursor < text.endIndex { pieces.append(["text": String(text[cursor...]), "mark": false]) }
        return pieces
    }

    func register(on router: Router<TendRequestContext>) {
        router.get("/p/:program/inbox") { request, context -> Response in
            let page = try await console.programPage(.readPatients, request, context)
            let programID = page.grant.program.id
            let messages = try await console.dependencies.actions.messages.inbox(programID: programID, by: page.actor)
            let names = Dictionary(uniqueKeysWithValues: try await stores.messages.groups(programID: programID).map { ($0.id, $0.name) })
            let settings = try await stores.messages.settings(programID: programID)
            let now = console.dependencies.clock.now()
            let t = UIStrings.strings(for: context.locale)
            let rows: [[String: Any]] = messages.map { message in
                let suggestions = MessageActions.suggestions(for: message, settings: settings, locale: context.locale)
                return [
                    "id": message.id, "queue": message.queue.rawValue, "queue_label": t["queue_\(message.queue.rawValue)"] ?? message.queue.rawValue,
                    "where": message.groupID.flatMap { names[$0] } ?? (t["inbox_one_to_one"] ?? "1:1"),
                    "sender": message.senderName ?? "—", "sent": TaskConsole.format(message.sentAt),
                    "sla": message.slaAt.map(TaskConsole.format) ?? "", "overdue": message.isOverdue(at: now),
                    "segments": Self.segments(message.text, reasons: message.reasons),
                    "reasons": message.reasons.map { ["rule": $0.rule, "match": $0.match] }, "has_reasons": !message.reasons.isEmpty,
                    "compliance": message.compliance, "moved": message.movedToPrivate,
                    "suggestions": suggestions.map { ["text": $0] }, "has_suggestions": !suggestions.isEmpty,
                    "has_patient": message.patientID != nil, "patient_id": message.patientID ?? "",
                    "levels": TriageLevel.allCases.reversed().map { ["value": $0.rawValue, "label": t["level_\($0.rawValue)"] ?? $0.rawValue] },
                ]
            }
            let values: [String: Any] = [
                "program": page.programValues, "messages": rows, "has_messages": !rows.isEmpty, "can_write": page.canWrite,
                "urgent_count": messages.filter { $0.queue == .urgent }.count, "overdue_count": messages.filter { $0.isOverdue(at: now) }.count,
                "message_count": messages.count,
            ]
            return renderer.render("inbox", values, chrome: page.chrome, locale: context.locale)
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
