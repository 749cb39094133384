import Foundation

/// How a program reaches patients through one outside channel. In-app needs no settings;
/// the others name an HTTP endpoint. Stored sealed: URLs carry robot keys, secrets sign bodies.
public struct ChannelConfig: Sendable, Equatable, Codable {
    public enum WeComFormat: String, Sendable, Codable {
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

    /// Checks what a program admin typed; errors name the field.
    public func validated() throws -> ChannelConfig {
        guard Self.configurable.contains(channel) else {
            throw TendError.invalid("channel", .init(en: "must be one of webhook, wecom, sms, voice", zh: "必须是 webhook、wecom、sms 或 voice"))
        }
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme), parsed.host != nil else {
            throw TendError.invalid("url", .init(en: "must be an http or https URL", zh: "必须是 http 或 https 地址"))
        }
        if channel == .webhook, (secret ?? "").count < 16 {
            throw TendError.invalid("secret", .init(en: "must be at least 16 characters for a webhook", zh: "webhook 的签名密钥至少 16 个字符"))
        }
        if let rate = ratePerMinute, !(1...10_000).contains(rate) {
            throw TendError.invalid("rate_per_minute", .init(en: "must be between 1 and 10000", zh: "必须在 1 到 10000 之间"))
        }
        if let template = bodyTemplate, !template.contains("{{text}}") {
            throw TendError.invalid("body_template", .init(en: "must contain {{text}}", zh: "必须包含 {{text}}"))
        }
        return self
    }

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
