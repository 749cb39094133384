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
        var object = values
        object["t"] = UIStrings.strings(for: locale)
        object["lang"] = locale.rawValue
        let other: AppLocale = locale == .en ? .zhHans : .en
        object["other_lang"] = other.rawValue
        object["other_lang_name"] = other == .en ? "English" : "中文"
        object["csrf"] = chrome.csrf
        object["path"] = chrome.path
        object["nav_program"] = chrome.navProgram
        if let user = chrome.user {
            object["user"] = ["display_name": user.displayName]
            object["display_name"] = user.displayName
            object["programs"] = chrome.programs.map { ["slug": $0.slug, "name": $0.name, "current": $0.id == chrome.currentProgramID] as [String: Any] }
        }
        let html = library.render(object, withTemplate: template) ?? "template \(template) missing"
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func errorPage(message: String, status: HTTPResponse.Status, context: TendRequestContext) -> Response {
        render("error", ["message": message], chrome: Chrome(), locale: context.locale, status: status)
    }
}
