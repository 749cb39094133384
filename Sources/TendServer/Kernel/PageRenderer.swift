import Foundation
import Hummingbird
import Mustache
import TendCore

struct PageRendererError: Error, CustomStringConvertible {
    var description: String
}

/// Renders console pages from the Mustache templates shipped with the server, filling in
/// the strings of the caller's language and the chrome every page shares.
public struct PageRenderer: Sendable {
    let library: MustacheLibrary

    /// The templates and stylesheet shipped in the module's resource bundle.
    static let assets: URL = Bundle.module.url(forResource: "Assets", withExtension: nil)!

    public static func load() async throws -> PageRenderer {
        let library = try await MustacheLibrary(directory: assets.appendingPathComponent("templates").path)
        guard library.getTemplate(named: "layout") != nil else {
            throw PageRendererError(description: "console templates not found under \(assets.path)")
        }
        return PageRenderer(library: library)
    }

    /// What every page's chrome needs.
    struct Chrome {
        var user: StaffUser?
        var programs: [Program] = []
        var currentProgramID: String?
        var csrf: String = ""
        var path: String = "/"
        /// The program whose sections the navigation links to.
        var navProgram: String?
    }

    func render(_ template: String, _ values: [String: Any], chrome: Chrome, locale: AppLocale, status: HTTPResponse.Status = .ok) -> Response {
        html(library.render(values.merging(chromeValues(chrome, locale: locale)) { _, chrome in chrome }, withTemplate: template), template: template, status: status)
    }

    /// A page from its typed view: the template finds the view's properties by their names,
    /// then the chrome's values.
    func render(_ template: String, view: some Sendable, chrome: Chrome, locale: AppLocale, status: HTTPResponse.Status = .ok) -> Response {
        html(library.render(ViewUnderChrome(view: view, chrome: chromeValues(chrome, locale: locale)), withTemplate: template), template: template, status: status)
    }

    private func html(_ rendered: String?, template: String, status: HTTPResponse.Status) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: rendered ?? "template \(template) missing")))
    }

    /// What the layout reads on every page: the strings, the language switch, the user and programs.
    private func chromeValues(_ chrome: Chrome, locale: AppLocale) -> [String: Any] {
        let other: AppLocale = locale == .en ? .zhHans : .en
        var object: [String: Any] = [
            "t": UIStrings.strings(for: locale), "lang": locale.rawValue,
            "other_lang": other.rawValue, "other_lang_name": other == .en ? "English" : "中文",
            "csrf": chrome.csrf, "path": chrome.path,
        ]
        object["nav_program"] = chrome.navProgram
        if let user = chrome.user {
            object["user"] = ["display_name": user.displayName]
            object["display_name"] = user.displayName
            object["programs"] = chrome.programs.map { ["slug": $0.slug, "name": $0.name, "current": $0.id == chrome.currentProgramID] as [String: Any] }
        }
        return object
    }

    func errorPage(message: String, status: HTTPResponse.Status, context: TendRequestContext) -> Response {
        render("error", ["message": message], chrome: Chrome(), locale: context.locale, status: status)
    }
}

/// A typed page view with the chrome beneath it: a name is the view's stored property when it
/// has one (so `{{canWrite}}` reads `view.canWrite`), else the chrome's value of that name.
struct ViewUnderChrome: MustacheParent {
    let view: Any
    let chrome: [String: Any]

    func child(named name: String) -> Any? {
        guard let property = Mirror(reflecting: view).children.first(where: { $0.label == name }) else { return chrome[name] }
        let value = Mirror(reflecting: property.value)
        return value.displayStyle == .optional ? value.children.first?.value : property.value
    }
}
