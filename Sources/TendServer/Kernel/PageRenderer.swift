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

    /// A page from its typed view: the template finds the view's properties by their names,
    /// then the chrome's.
    func render(_ template: String, view: Any, chrome: Chrome, locale: AppLocale, status: HTTPResponse.Status = .ok) -> Response {
        let page = TemplateValues.object(view).merging(TemplateValues.object(ChromeView(chrome, locale: locale))) { view, _ in view }
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: library.render(page, withTemplate: template) ?? "template \(template) missing")))
    }

    func errorPage(message: String, status: HTTPResponse.Status, context: TendRequestContext) -> Response {
        render("error", view: ErrorPageView(message: message), chrome: Chrome(), locale: context.locale, status: status)
    }
}

/// What the layout reads on every page: the strings, the language switch, the signed-in user
/// and the programs to switch between.
struct ChromeView {
    var t: [String: String]
    var lang: String
    var otherLang: String
    var otherLangName: String
    var csrf: String
    var path: String
    var navProgram: String?
    var user: User?
    var programs: [ProgramChoice]

    struct User {
        var displayName: String
    }

    struct ProgramChoice {
        var slug: String
        var name: String
        var current: Bool
    }

    init(_ chrome: PageRenderer.Chrome, locale: AppLocale) {
        let other: AppLocale = locale == .en ? .zhHans : .en
        t = UIStrings.strings(for: locale)
        lang = locale.rawValue
        otherLang = other.rawValue
        otherLangName = other == .en ? "English" : "中文"
        csrf = chrome.csrf
        path = chrome.path
        navProgram = chrome.navProgram
        user = chrome.user.map { User(displayName: $0.displayName) }
        programs = chrome.user == nil ? [] : chrome.programs.map { ProgramChoice(slug: $0.slug, name: $0.name, current: $0.id == chrome.currentProgramID) }
    }
}

/// A page whose text is all in its template's strings.
struct StringsOnlyView {}

/// The error page's one message.
struct ErrorPageView {
    var message: String
}

/// A typed view as the nested dictionaries and arrays the template engine reads, built once per
/// page: each tag is then a hash lookup, where reflecting on the structs at every tag (as the
/// engine does for a struct) made the patient page 40 % slower.
enum TemplateValues {
    /// A struct's stored properties by name; a nil optional is left out, so its section is skipped.
    static func object(_ view: Any) -> [String: Any] {
        var object: [String: Any] = [:]
        for child in Mirror(reflecting: view).children {
            if let label = child.label, let value = value(child.value) { object[label] = value }
        }
        return object
    }

    static func value(_ value: Any) -> Any? {
        switch value {
        case is String, is Bool, is Int, is Double, is [String: String]: return value
        default: break
        }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional: return mirror.children.first.flatMap { Self.value($0.value) }
        case .collection: return mirror.children.compactMap { Self.value($0.value) }
        case .struct: return object(value)
        default: return value
        }
    }
}
