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
        var values: [String: Any] = ["action": "/q/\(token)"]
        switch shown.state {
        case .invalid: return renderer.render("form", ["invalid": true], chrome: chrome, locale: locale, status: .notFound)
        case .expired:
            values["expired"] = true
            return renderer.render("form", values, chrome: chrome, locale: locale, status: .gone)
        case .closed: values["closed"] = true
        case .done(let flags):
            values["done"] = true
            let urgent = flags.filter { $0.level == .urgent }
            values["urgent"] = urgent.map { ["reason": $0.reason.text(in: locale)] }
            values["has_urgent"] = !urgent.isEmpty
        case .ask(let view):
            values.merge(Self.values(of: view, locale: locale)) { $1 }
            values["ask"] = true
            if posting { return renderer.render("form", values, chrome: chrome, locale: locale, status: .unprocessableContent) }
        }
        return renderer.render("form", values, chrome: chrome, locale: locale)
    }

    /// The form's items for the template: texts in the patient's language, the answers sent
    /// back in place, and each problem beside its item.
    static func values(of view: FormView, locale: AppLocale) -> [String: Any] {
        let t = UIStrings.strings(for: locale)
        var errors: [String: String] = [:]
        var general: [String] = []
        for problem in view.problems {
            if let field = problem.field, field.hasPrefix("answers.") {
                errors[String(field.dropFirst("answers.".count))] = problem.message.text(in: locale)
            } else {
                general.append(problem.message.text(in: locale))
            }
        }
        for item in view.missing { errors[item] = t["form_required"] ?? "" }
        let items: [[String: Any]] = view.questionnaire.items.map { item in
            var row: [String: Any] = [
                "id": item.id, "text": item.text?.text(in: locale) ?? item.id, "required": item.required,
                "conditional": item.showIf != nil, "error": errors[item.id] ?? "", "has_error": errors[item.id] != nil,
            ]
            let answer = view.answers[item.id]
            switch item.kind {
            case .single(let options), .multiple(let options):
                let chosen: Set<String> = switch answer {
                case .list(let values)?: Set(values.compactMap { if case .string(let text) = $0 { text } else { nil } })
                case .string(let text)?: [text]
                default: []
                }
                row[item.kind.name == "single" ? "is_single" : "is_multiple"] = true
                row["options"] = options.map { ["code": $0.code, "label": $0.text?.text(in: locale) ?? $0.code, "checked": chosen.contains($0.code)] }
            case .number(let spec):
                row["is_number"] = true
                switch answer {
                case .number(let number)?: row["value"] = number.text(decimals: 6)
                case .quantity(let number, _)?: row["value"] = number.text(decimals: 6)
                case .string(let text)?: row["value"] = text
                default: row["value"] = ""
                }
                var entered = spec.unit
                if case .quantity(_, let unit)? = answer { entered = unit }
                let units = UnitFamily.alternatives(of: spec.unit)
                row["units"] = units.map { ["code": $0, "label": Self.unitLabel($0), "selected": $0 == entered] }
                row["has_units"] = units.count > 1
                row["unit_label"] = Self.unitLabel(spec.unit)
            case .date:
                row["is_date"] = true
                if case .string(let text)? = answer { row["value"] = text }
            case .text(let maxLength):
                row["is_text"] = true
                row["max_length"] = maxLength
                if case .string(let text)? = answer { row["value"] = text }
            case .yesNo:
                row["is_yes_no"] = true
                if case .bool(let flag)? = answer { row[flag ? "yes_checked" : "no_checked"] = true }
            case .photo:
                row["is_photo"] = true
                row["accept"] = PhotoType.allCases.map(\.rawValue).joined(separator: ",")
            }
            return row
        }
        return [
            "program_name": view.programName, "message": view.message, "title": view.questionnaire.name.text(in: locale),
            "items": items, "general_errors": general, "has_errors": !general.isEmpty || !errors.isEmpty,
            "multipart": view.questionnaire.items.contains { if case .photo = $0.kind { true } else { false } },
            "max_photo_mib": Bounds.photoBytes >> 20,
        ]
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
