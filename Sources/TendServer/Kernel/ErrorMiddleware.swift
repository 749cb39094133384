import Foundation
import Hummingbird
import Logging
import TendCore

/// Turns every error into a response: `TendError` into its 4xx JSON body (or an HTML page
/// for the console), anything unexpected into a 500 that shows no internals.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = TendRequestContext
    let renderer: PageRenderer
    let defaultLocale: AppLocale
    let routeMethods: RouteMethods

    struct Body: Encodable {
        let error: String
        let message: String
        let field: String?
        let requestID: String

        enum CodingKeys: String, CodingKey {
            case error, message, field
            case requestID = "request_id"
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let redirect as PortalRedirect {
            return .redirect(to: redirect.location)
        } catch let error as TendError {
            return try respond(error, status: Self.status(for: error.kind), request: request, context: context)
        } catch let error as HTTPError {
            let allowed = error.status == .notFound ? routeMethods.allowed(for: request.uri.path) : []
            guard allowed.isEmpty else {
                var response = try respond(Self.translate(HTTPError(.methodNotAllowed)), status: .methodNotAllowed, request: request, context: context)
                response.headers[.allow] = allowed.joined(separator: ", ")
                return response
            }
            let tendError = Self.translate(error)
            return try respond(tendError, status: error.status, request: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error_type": "\(type(of: error))", "error": "\(String(describing: error).prefix(300))"])
            let internalError = TendError(kind: .unavailable, code: "internal_error",
                                          message: .init(en: "Something went wrong on our side; the request id helps us find it", zh: "服务器内部错误，请提供请求编号以便排查"))
            return try respond(internalError, status: .internalServerError, request: request, context: context)
        }
    }

    private func respond(_ error: TendError, status: HTTPResponse.Status, request: Request, context: Context) throws -> Response {
        // This middleware runs outside the one that identifies the caller, so it picks the
        // language from the request alone.
        var context = context
        context.locale = AuthMiddleware.locale(for: request, user: nil, fallback: defaultLocale)
        if request.uri.path.hasPrefix("/api/") || !(request.headers[.accept]?.contains("text/html") ?? false) {
            var response = try JSONIO.response(
                Body(error: error.code, message: error.message.text(in: context.locale), field: error.field, requestID: context.requestID),
                status: status)
            if status == .unauthorized {
                response.headers[.wwwAuthenticate] = "Bearer realm=\"tend\""
            }
            if let seconds = error.retryAfter { response.headers[.retryAfter] = String(seconds) }
            return response
        }
        if status == .unauthorized {
            return .redirect(to: "/login")
        }
        var page = renderer.errorPage(message: error.message.text(in: context.locale), status: status, context: context)
        if let seconds = error.retryAfter { page.headers[.retryAfter] = String(seconds) }
        return page
    }

    static func status(for kind: TendError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .invalidInput: .badRequest
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .rateLimited: .tooManyRequests
        case .unavailable: .serviceUnavailable
        }
    }

    /// Errors Hummingbird raises itself (unknown route, wrong method, body too large).
    static func translate(_ error: HTTPError) -> TendError {
        switch error.status {
        case .notFound:
            return .notFound("route")
        case .methodNotAllowed:
            return TendError(kind: .invalidInput, code: "method_not_allowed", message: .init(en: "This method is not allowed here", zh: "不支持此请求方法"))
        case .contentTooLarge:
            return TendError(kind: .payloadTooLarge, code: "payload_too_large", message: .init(en: "The body is too large", zh: "请求体过大"))
        default:
            return TendError(kind: .invalidInput, code: "bad_request", message: .init(en: error.body ?? "Bad request", zh: "请求无效"))
        }
    }
}
