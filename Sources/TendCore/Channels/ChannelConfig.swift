import Foundation

/// How a program reaches patients through one outside channel. In-app needs no settings;
/// the others name an HTTP endpoint. Stored sealed: URLs carry robot keys, secrets sign bodies.
public struct ChannelConfig: Sendable, Equatable, Codable {
    public enum WeComFormat: String, Sendable, Codable, CaseIterable {
        case text
        case markdown
    }

    public var channel: ContactChannel
    public var url: String
    /// Webhook (and voice webhook): the HMAC-SHA256 key for the body signature header.
    public var secret: String?
    /// SMS: the request body, with `{{phone}}`, `{{text}}`, `{{idempotency_key}}` filled in
    /// (JSON-escaped). Defaults to `{"to":"{{phone}}","text":"{{text}}"}`.
    public var bodyTemplate: String?
    /// SMS gateways usually want an API key header.
    public var headers: [String: String]?
    /// WeCom group robot: text (with the patient's phone @-mentioned) or markdown.
    public var format: WeComFormat?
    /// WeCom robots accept 20 messages a minute.
    public var ratePerMinute: Int?

    public init(channel: ContactChannel, url: String, secret: String? = nil, bodyTemplate: String? = nil, headers: [String: String]? = nil, format: WeComFormat? = nil, ratePerMinute: Int? = nil) {
        self.channel = channel
        self.url = url
        self.secret = secret
        self.bodyTemplate = bodyTemplate
        self.headers = headers
        self.format = format
        self.ratePerMinute = ratePerMinute
    }

    enum CodingKeys: String, CodingKey {
        case channel, url, secret, headers, format
        case bodyTemplate = "body_template"
        case ratePerMinute = "rate_per_minute"
    }

    public static let defaultSMSBody = #"{"to":"{{phone}}","text":"{{text}}"}"#
    public static let weComRatePerMinute = 20

    /// The channels that take settings; in-app is always there.
    public static let configurable: [ContactChannel] = [.webhook, .wecom, .sms, .voice]

    public var effectiveRatePerMinute: Int? {
        ratePerMinute ?? (channel == .wecom ? Self.weComRatePerMinute : nil)
    }

    /// Checks what a program admin typed, the URL against the outbound policy; errors name the field.
    public func validated(policy: OutboundPolicy) throws -> ChannelConfig {
        guard Self.configurable.contains(channel) else {
            throw TendError.invalid("channel", .init(en: "must be one of webhook, wecom, sms, voice", zh: "必须是 webhook、wecom、sms 或 voice"))
        }
        _ = try policy.validate(url)
        if let secret, !(16...200).contains(secret.unicodeScalars.count) {
            throw TendError.invalid("secret", .init(en: "must be 16 to 200 characters", zh: "须为 16–200 个字符"))
        }
        if channel == .webhook, secret == nil {
            throw TendError.missing("secret")
        }
        if let rate = ratePerMinute, !(1...10_000).contains(rate) {
            throw TendError.invalid("rate_per_minute", .init(en: "must be between 1 and 10000", zh: "必须在 1 到 10000 之间"))
        }
        if let template = bodyTemplate, !template.contains("{{text}}") || template.unicodeScalars.count > 4000 {
            throw TendError.invalid("body_template", .init(en: "must contain {{text}} and be at most 4000 characters", zh: "必须包含 {{text}}，且不超过 4000 个字符"))
        }
        for (name, value) in headers ?? [:] {
            guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy({ Self.tokenBytes.contains($0) }),
                  value.utf8.count <= 1000, value.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
                throw TendError.invalid("headers.\(name.prefix(64))", .init(en: "must be an HTTP header name (letters, digits, -) with a printable ASCII value of at most 1000 characters",
                                                                          zh: "须为合法的 HTTP 头名称（字母、数字、-），值为不超过 1000 个可打印 ASCII 字符"))
            }
        }
        try Validate.count(headers ?? [:], field: "headers", max: 20)
        return self
    }

    /// Characters of an HTTP header name (RFC 9110 token).
    static let tokenBytes = Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// Fills a body template, JSON-escaping each value so a quote in a message cannot break it.
    public static func fill(_ template: String, _ values: [String: String]) -> String {
        Template.render(template, values.mapValues(jsonEscaped))
    }

    static func jsonEscaped(_ text: String) -> String {
        var output = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default:
                if scalar.value < 0x20 {
                    output += String(format: "\\u%04x", scalar.value)
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        return output
    }
}
