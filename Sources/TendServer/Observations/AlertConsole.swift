import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

/// The console's alerts page: readings that crossed the program's thresholds, unresolved,
/// urgent first, each with its patient and a button to resolve it.
struct AlertConsole: Sendable {
    let console: ConsoleRoutes
    private var observations: ObservationActions { console.dependencies.actions.observations }

    /// What an alert is called on the console: its rule's title, or the shipped rule's name.
    static func title(_ alert: ObservationAlert, strings t: [String: String], locale: AppLocale) -> String {
        let title = alert.title.text(in: locale)
        return title.isEmpty ? (t["alert_\(alert.ruleID)"] ?? alert.ruleID) : title
    }

    /// What its count counts: readings over the line, or check-ins missed.
    static func breachesLabel(_ alert: ObservationAlert, strings t: [String: String]) -> String {
        (alert.ruleID.hasPrefix("missing.") ? t["alert_missed"] : t["alert_breaches"]) ?? ""
    }

    struct ResolveForm: Decodable {
        var csrf: String?
        var note: String?
    }

    func register(on router: Router<TendRequestContext>) {
        router.get("/p/:program/alerts") { request, context -> Response in
            let page = try await console.programPage(.readPatients, request, context)
            let alerts = try await observations.alerts(programID: page.grant.program.id, by: page.actor)
            let t = UIStrings.strings(for: context.locale)
            let view = AlertsView(
                program: page.programView, canWrite: page.canWrite,
                alerts: alerts.map { AlertsView.Row($0, strings: t, locale: context.locale) },
                urgentCount: alerts.filter { $0.priority == .urgent }.count)
            return console.renderer.render("alerts", view: view, chrome: page.chrome, locale: context.locale)
        }

        router.post("/p/:program/alerts/:alert/resolve") { request, context -> Response in
            let page = try await console.programPage(.writePatients, request, context)
            let form = try await console.decodeForm(ResolveForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            _ = try await observations.changeAlert(programID: page.grant.program.id, alertID: try context.parameters.require("alert"), to: .resolved,
                                                   staffID: page.grant.identity.user.id, note: form.note, by: page.actor)
            return .redirect(to: "/p/\(page.grant.program.slug)/alerts")
        }
    }
}

/// The program's open alerts, urgent first.
struct AlertsView {
    var program: ProgramView
    var canWrite: Bool
    var alerts: [Row]
    var urgentCount: Int

    struct Row {
        var id: String
        var patientID: String
        var rule: String
        var priority: String
        var priorityLabel: String
        var status: String
        var breaches: Int
        var breachesLabel: String
        var openedAt: String

        init(_ alert: ObservationAlert, strings t: [String: String], locale: AppLocale) {
            id = alert.id
            patientID = alert.patientID
            rule = AlertConsole.title(alert, strings: t, locale: locale)
            priority = alert.priority.rawValue
            priorityLabel = alert.priority.label.text(in: locale)
            status = t["alert_status_\(alert.status.rawValue)"] ?? alert.status.rawValue
            breaches = alert.breaches
            breachesLabel = AlertConsole.breachesLabel(alert, strings: t)
            openedAt = TaskConsole.format(alert.openedAt)
        }
    }
}
