import Foundation
import Hummingbird
import TendCore
import TendEngine

/// The patient's questionnaire page behind the signed link a touchpoint carries (`/q/<token>`):
/// phone-sized, in the patient's language, no sign-in (the link is the key). GET shows the form;
/// POST records the response, or shows the form again with what is missing or wrong.
struct FormPages: Sendable {
    let console: ConsoleRoutes
    private var renderer: PageRenderer { console.renderer }

    func register(on router: Router<TendRequestContext>) {
        router.get("/q/:token") { request, context -> Response in
            try await page(request, context, posting: false)
        }
        router.post("/q/:token") { request, context -> Response in
            try await page(request, context, posting: true)
        }
    }

    private func page(_ request: Request, _ context: TendRequestContext, posting: Bool) async throws -> Response {
        let token = try context.parameters.require("token")
        let chosen = request.cookies[CookieName.language] != nil ? context.locale : nil
        let body = posting ? try await FormBody.read(request) : nil
        let shown = try await console.dependencies.actions.forms.open(token, fields: body?.fields, photos: body?.photos ?? [], language: chosen,
                                                                     requestID: context.requestID)
        let chrome = PageRenderer.Chrome(path: request.uri.path)
        let locale = shown.locale ?? context.locale
        var page = QuestionnairePageView(action: "/q/\(token)")
        switch shown.state {
        case .invalid:
            return renderer.render("form", view: QuestionnairePageView(action: "", invalid: true), chrome: chrome, locale: locale, status: .notFound)
        case .expired:
            page.expired = true
            return renderer.render("form", view: page, chrome: chrome, locale: locale, status: .gone)
        case .closed: page.closed = true
        case .done(let flags):
            page.done = true
            page.urgent = flags.filter { $0.level == .urgent }.map { $0.reason.text(in: locale) }
        case .ask(let form):
            page.fill(form, locale: locale)
            if posting { return renderer.render("form", view: page, chrome: chrome, locale: locale, status: .unprocessableContent) }
        }
        return renderer.render("form", view: page, chrome: chrome, locale: locale)
    }

    /// UCUM codes as people read them.
    static func unitLabel(_ unit: String) -> String {
        switch unit {
        case UnitName.celsius: "°C"
        case UnitName.fahrenheit: "°F"
        case UnitName.pound: "lb"
        case UnitName.jin: "斤"
        case UnitName.inch: "in"
        case UnitName.foot: "ft"
        case UnitName.mmHg: "mmHg"
        case UnitName.perMinute: "/min"
        case UnitName.score: ""
        default: unit
        }
    }
}
