import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import TendCore

/// One message on its way out. The idempotency key is the touchpoint id, so a receiver can
/// drop the repeat a retry (or a worker that died after sending) produces.
public struct OutboundMessage: Sendable {
    public var idempotencyKey: String
    public var programID: String
    public var patientID: String
    public var phone: String?
    public var locale: AppLocale
    public var stepID: String
    public var dueAt: Date
    public var text: String
    public var confirmURL: String?

    public init(idempotencyKey: String, programID: String, patientID: String, phone: String?, locale: AppLocale, stepID: String, dueAt: Date, text: String, confirmURL: String?) {
        self.idempotencyKey = idempotencyKey
        self.programID = programID
        self.patientID = patientID
        self.phone = phone
        self.locale = locale
        self.stepID = stepID
        self.dueAt = dueAt
        self.text = text
        self.confirmURL = confirmURL
    }
}

/// An outside channel: it sends and says how it went, never throws.
public protocol DeliveryChannel: Sendable {
    func send(_ message: OutboundMessage) async -> DeliveryResult
}

/// Posts JSON over HTTP and classifies the answer.
struct JSONPoster: Sendable {
    let http: HTTPClient
    let timeout: TimeAmount

    func post(_ url: String, body: [UInt8], headers: [(String, String)], interpret: @Sendable (Int, String) -> DeliveryResult = { DeliveryResult.fromHTTPStatus($0, body: $1) }) async -> DeliveryResult {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        request.headers.add(name: "User-Agent", value: "tend-dispatcher")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await http.execute(request, timeout: timeout)
            let answer = try await response.body.collect(upTo: 64 * 1024)
            return interpret(Int(response.status.code), String(buffer: answer))
        } catch let error as HTTPClientError where [HTTPClientError.invalidURL, .emptyHost, .emptyScheme].contains(error) {
            return .permanent("bad URL: \(error)")
        } catch {
            // Timeouts, refused connections, resets: the receiver may come back.
            return .retryable(String(describing: error).prefix(200).description)
        }
    }
}

/// The generic webhook: a JSON body, `Idempotency-Key`, and `X-Tend-Signature:
/// sha256=<hex HMAC of the body>` under the channel's secret. Also the voice provider hook.
public struct WebhookChannel: DeliveryChannel {
    let config: ChannelConfig
    let poster: JSONPoster

    public init(config: ChannelConfig, http: HTTPClient, timeout: TimeAmount = .seconds(10)) {
        self.config = config
        self.poster = JSONPoster(http: http, timeout: timeout)
    }

    public static let signatureHeader = "X-Tend-Signature"

    public static func signature(body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    public func send(_ message: OutboundMessage) async -> DeliveryResult {
        var object: [String: Any] = [
            "touchpoint_id": message.idempotencyKey,
            "program_id": message.programID,
            "patient_id": message.patientID,
            "channel": config.channel.rawValue,
            "step": message.stepID,
            "locale": message.locale.rawValue,
            "due_at": ISO8601DateFormatter().string(from: message.dueAt),
            "text": message.text,
        ]
        if let link = message.confirmURL { object["confirm_url"] = link }
        if let phone = message.phone, config.channel == .voice { object["phone"] = phone }
        guard let body = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return .permanent("cannot encode the message")
        }
        let bytes = [UInt8](body)
        var headers = [("Idempotency-Key", message.idempotencyKey)]
        if let secret = config.secret { headers.append((Self.signatureHeader, Self.signature(body: bytes, secret: secret))) }
        return await poster.post(config.url, body: bytes, headers: headers)
    }
}

/// A WeCom (企业微信) group robot: `{"msgtype":"text","text":{"content":…,"mentioned_mobile_list":[…]}}`
/// or markdown. The robot answers 200 with an `errcode`; 45009 means its limit of 20 messages a
/// minute was hit. A local limiter keeps under that limit so the robot rarely has to say so.
public struct WeComRobotChannel: DeliveryChannel {
    let config: ChannelConfig
    let poster: JSONPoster
    let limiter: RateLimiter
    let clock: TendClock

    public init(config: ChannelConfig, http: HTTPClient, limiter: RateLimiter, clock: TendClock, timeout: TimeAmount = .seconds(10)) {
        self.config = config
        self.poster = JSONPoster(http: http, timeout: timeout)
        self.limiter = limiter
        self.clock = clock
    }

    public static func body(_ message: OutboundMessage, format: ChannelConfig.WeComFormat) -> [String: Any] {
        switch format {
        case .text:
            var text: [String: Any] = ["content": message.text]
            if let phone = message.phone { text["mentioned_mobile_list"] = [phone] }
            return ["msgtype": "text", "text": text]
        case .markdown:
            var content = message.text
            if let link = message.confirmURL { content = content.replacingOccurrences(of: link, with: "[\(link)](\(link))") }
            return ["msgtype": "markdown", "markdown": ["content": content]]
        }
    }

    public func send(_ message: OutboundMessage) async -> DeliveryResult {
        if let wait = await limiter.reserve(at: clock.now()) {
            return .deferred(until: wait)
        }
        guard let body = try? JSONSerialization.data(withJSONObject: Self.body(message, format: config.format ?? .text), options: [.sortedKeys]) else {
            return .permanent("cannot encode the message")
        }
        return await poster.post(config.url, body: [UInt8](body), headers: [("Idempotency-Key", message.idempotencyKey)]) { status, answer in
            guard (200..<300).contains(status) else { return DeliveryResult.fromHTTPStatus(status, body: answer) }
            let reply = (try? JSONSerialization.jsonObject(with: Data(answer.utf8))) as? [String: Any]
            let code = (reply?["errcode"] as? NSNumber)?.intValue ?? 0
            switch code {
            case 0: return .sent
            case 45009, -1: return .retryable("WeCom errcode \(code)")
            default: return .permanent("WeCom errcode \(code): \(reply?["errmsg"] as? String ?? "")")
            }
        }
    }
}

/// An SMS gateway over HTTP: the configured body template with the phone and text filled in.
public struct SMSGatewayChannel: DeliveryChannel {
    let config: ChannelConfig
    let poster: JSONPoster

    public init(config: ChannelConfig, http: HTTPClient, timeout: TimeAmount = .seconds(10)) {
        self.config = config
        self.poster = JSONPoster(http: http, timeout: timeout)
    }

    public func send(_ message: OutboundMessage) async -> DeliveryResult {
        guard let phone = message.phone, !phone.isEmpty else { return .permanent("the patient has no phone number") }
        let body = ChannelConfig.fill(config.bodyTemplate ?? ChannelConfig.defaultSMSBody, [
            "phone": phone, "text": message.text, "idempotency_key": message.idempotencyKey,
        ])
        var headers = [("Idempotency-Key", message.idempotencyKey)]
        for (name, value) in (config.headers ?? [:]).sorted(by: { $0.key < $1.key }) { headers.append((name, value)) }
        return await poster.post(config.url, body: Array(body.utf8), headers: headers)
    }
}

/// At most `perMinute` sends in any 60 seconds; says when the next one may go.
public actor RateLimiter {
    let perMinute: Int
    private var recent: [Date] = []

    public init(perMinute: Int) {
        self.perMinute = perMinute
    }

    /// Takes a slot now and returns nil, or returns when a slot frees up.
    public func reserve(at now: Date) -> Date? {
        recent.removeAll { now.timeIntervalSince($0) >= 60 }
        guard recent.count < perMinute else { return recent[0].addingTimeInterval(60) }
        recent.append(now)
        return nil
    }
}
