import Foundation
import Hummingbird
import HTTPTypes
import Synchronization

/// Headers every response carries: no framing, no sniffing, no referrer leaking a patient's
/// URL, and scripts, styles and forms only from this origin.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = TendRequestContext

    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    static let referrerPolicy = HTTPField.Name("Referrer-Policy") ?? .contentSecurityPolicy
    static let frameOptions = HTTPField.Name("X-Frame-Options") ?? .contentSecurityPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[Self.referrerPolicy] = "no-referrer"
        response.headers[Self.frameOptions] = "DENY"
        return response
    }
}

/// The methods each route path answers, for `405 Method Not Allowed` with an `Allow` header
/// when a path exists but not with the method asked (the router itself only knows 404).
final class RouteMethods: Sendable {
    private let routes = Mutex<[(segments: [Substring], methods: Set<String>)]>([])

    func register(_ router: Router<TendRequestContext>) {
        var byPath: [String: Set<String>] = [:]
        for route in router.routes {
            byPath[route.path.description, default: []].insert(route.method.rawValue)
        }
        let table = byPath.map { (segments: $0.key.split(separator: "/"), methods: $0.value) }
        routes.withLock { $0 = table }
    }

    /// The methods of the route the router would pick for this path (a constant segment wins
    /// over a parameter, as in the router's trie); empty when none matches.
    func allowed(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        func isParameter(_ pattern: Substring) -> Bool { pattern.hasPrefix(":") || pattern.hasPrefix("{") || pattern == "*" }
        let matching = routes.withLock { table in
            table.filter { route in
                route.segments.count == segments.count && zip(route.segments, segments).allSatisfy { pattern, actual in isParameter(pattern) || pattern == actual }
            }
        }
        // Compare constant-ness segment by segment; the first difference decides.
        guard let best = matching.max(by: { left, right in
            zip(left.segments, right.segments).first { isParameter($0) != isParameter($1) }.map { isParameter($0.0) } ?? false
        }) else { return [] }
        let key = best.segments.map(isParameter)
        return matching.filter { $0.segments.map(isParameter) == key }.reduce(into: Set<String>()) { $0.formUnion($1.methods) }.sorted()
    }
}

/// Where a form may send the browser afterwards: a path on this site, decided by parsing the
/// value as a URL reference rather than by looking at its first characters.
enum SafeRedirect {
    static func localPath(_ next: String?) -> String {
        guard let next, next.utf8.count <= 2000,
              next.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && $0 != "\\" }),
              next.hasPrefix("/"), !next.hasPrefix("//"),
              let components = URLComponents(string: next),
              components.scheme == nil, components.host == nil, components.user == nil,
              components.percentEncodedPath.hasPrefix("/"), !components.percentEncodedPath.hasPrefix("//"),
              !components.path.hasPrefix("//"), !components.path.contains("\\"),
              !components.path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return "/" }
        return next
    }
}
