/// A text shown to people, in both languages Tend speaks.
public struct LocalizedText: Sendable, Equatable, Codable {
    public var en: String
    public var zh: String

    public init(en: String, zh: String) {
        self.en = en
        self.zh = zh
    }

    public func text(in locale: AppLocale) -> String {
        switch locale {
        case .en: en
        case .zhHans: zh
        }
    }
}

/// The errors that reach users. Every case maps to a 4xx with a machine-readable code, a
/// message in the user's language and, where one input is at fault, the field's name.
public struct TendError: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case invalidInput
        case unauthenticated
        case forbidden
        case notFound
        case conflict
        case payloadTooLarge
        case rateLimited
        case unavailable
    }

    public var kind: Kind
    public var code: String
    public var message: LocalizedText
    public var field: String?
    /// For `rateLimited`: seconds until a retry may succeed (the Retry-After header).
    public var retryAfter: Int?

    public init(kind: Kind, code: String, message: LocalizedText, field: String? = nil, retryAfter: Int? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.field = field
        self.retryAfter = retryAfter
    }

    public static func rateLimited(retryAfter seconds: Int) -> TendError {
        TendError(kind: .rateLimited, code: "too_many_requests",
                  message: .init(en: "Too many attempts; try again in \(seconds) s", zh: "尝试次数过多，请 \(seconds) 秒后再试"),
                  retryAfter: seconds)
    }

    /// The server has more of this kind of work waiting than it takes on.
    public static let busy = TendError(kind: .rateLimited, code: "busy",
                                       message: .init(en: "The server is busy; try again in a moment", zh: "服务器繁忙，请稍后再试"), retryAfter: 1)

    public static func invalid(_ field: String, _ problem: LocalizedText, code: String = "invalid_field") -> TendError {
        TendError(
            kind: .invalidInput, code: code,
            message: .init(en: "\(field) \(problem.en)", zh: "\(field) \(problem.zh)"),
            field: field)
    }

    public static func missing(_ field: String) -> TendError {
        TendError(
            kind: .invalidInput, code: "missing_field",
            message: .init(en: "\(field) is required", zh: "缺少必填字段 \(field)"),
            field: field)
    }

    public static let unauthenticated = TendError(
        kind: .unauthenticated, code: "unauthenticated",
        message: .init(en: "Sign in or send a valid API token", zh: "请登录或提供有效的 API 令牌"))

    public static let forbidden = TendError(
        kind: .forbidden, code: "forbidden",
        message: .init(en: "Your role does not allow this", zh: "您的角色无权执行此操作"))

    public static func notFound(_ what: String) -> TendError {
        TendError(
            kind: .notFound, code: "not_found",
            message: .init(en: "\(what) not found", zh: "未找到\(what)"))
    }

    /// A reference in the request (a patient id in a body) to something the program does not have.
    public static func notFound(field: String, _ what: LocalizedText) -> TendError {
        TendError(kind: .notFound, code: "not_found", message: .init(en: "\(what.en) not found", zh: "未找到\(what.zh)"), field: field)
    }

    public static func conflict(_ field: String, _ problem: LocalizedText) -> TendError {
        TendError(
            kind: .conflict, code: "conflict",
            message: .init(en: "\(field) \(problem.en)", zh: "\(field) \(problem.zh)"),
            field: field)
    }
}
