public import AsyncHTTPClient
import Crypto
public import Foundation
public import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
public import TendCore

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

/// Posts JSON over HTTP and classifies the answer. The target's addresses are checked
/// against the outbound policy just before each request, so a host name that resolves inside
/// is refused however it was saved. A failure keeps only a classified reason, never what the
/// other server answered: that text would reach staff screens and tasks.
struct JSONPoster: Sendable {
    let http: HTTPClient
    let policy: OutboundPolicy
    let timeout: TimeAmount

    func post(_ url: String, body: [UInt8], headers: [(String, String)], interpret: @Sendable (Int, String) -> DeliveryResult = { status, _ in DeliveryResult.fromHTTPStatus(status) }) async -> DeliveryResult {
        guard let host = URL(string: url)?.host, !host.isEmpty else { return .permanent("bad URL") }
        switch await OutboundResolution.check(host: host, policy: policy) {
        case .allowed: break
        case .refused: return .permanent("target address not allowed")
        case .unresolved: return .retryable("host name not found")
        }
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
            return .permanent("bad URL")
        } catch let error as HTTPClientError where [HTTPClientError.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            return .retryable("timed out")
        } catch {
            // Refused connections, resets, TLS failures: the receiver may come back.
            return .retryable("connection failed")
        }
    }
}

/// Resolves a channel's host and holds every address to the outbound policy. Allow-listed
/// hosts and address literals need no lookup.
enum OutboundResolution {
    enum Verdict: Sendable { case allowed, refused, unresolved }

    static func check(host: String, policy: OutboundPolicy) async -> Verdict {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if policy.allowedHosts.contains(bare.lowercased()) { return .allowed }
        if let literal = OutboundPolicy.address(bare) {
            return policy.permits(resolved: literal, host: bare) ? .allowed : .refused
        }
        guard policy.permits(host: bare) else { return .refused }
        guard let addresses = try? await NIOThreadPool.singleton.runIfActive({ resolve(bare) }), !addresses.isEmpty else { return .unresolved }
        return addresses.allSatisfy { policy.permits(resolved: $0, host: bare) } ? .allowed : .refused
    }

    /// Every address `getaddrinfo` gives for the name, as bytes.
    static func resolve(_ name: String) -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &results) == 0 else { return [] }
        defer { freeaddrinfo(results) }
        var addresses: [[UInt8]] = []
        var cursor = results
        while let entry = cursor {
            if let socket = entry.pointee.ai_addr {
                switch Int32(socket.pointee.sa_family) {
                case AF_INET:
                    socket.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        addresses.append(withUnsafeBytes(of: v4.pointee.sin_addr) { Array($0) })
                    }
                case AF_INET6:
                    socket.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        addresses.append(withUnsafeBytes(of: v6.pointee.sin6_addr) { Array($0) })
                    }
                default:
                    break
                }
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }
}

/// The generic webhook: a JSON body, `Idempotency-Key`, `X-Tend-Timestamp: <unix seconds>` and
/// `X-Tend-Signature: sha256=<hex HMAC of "<timestamp>.<body>">` under the channel's secret, so
/// a receiver can check both who sent it and that it is fresh (and drop a replay older than a
/// few minutes). Also the voice provider hook.
public struct WebhookChannel: DeliveryChannel {
    let config: ChannelConfig
    let poster: JSONPoster
    let clock: TendClock

    init(config: ChannelConfig, poster: JSONPoster, clock: TendClock) {
        self.config = config
        self.poster = poster
        self.clock = clock
    }

    public static let signatureHeader = "X-Tend-Signature"
    public static let timestampHeader = "X-Tend-Timestamp"

    public static func signature(body: [UInt8], timestamp: Int64, secret: String) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        mac.update(data: Data("\(timestamp).".utf8))
        mac.update(data: body)
        return "sha256=" + Hex.encode(Data(mac.finalize()))
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
        let timestamp = Int64(clamping: clock.now().timeIntervalSince1970.rounded(.down))
        var headers = [("Idempotency-Key", message.idempotencyKey), (Self.timestampHeader, String(timestamp))]
        if let secret = config.secret { headers.append((Self.signatureHeader, Self.signature(body: bytes, timestamp: timestamp, secret: secret))) }
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

    init(config: ChannelConfig, poster: JSONPoster, limiter: RateLimiter, clock: TendClock) {
        self.config = config
        self.poster = poster
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
            guard (200..<300).contains(status) else { return DeliveryResult.fromHTTPStatus(status) }
            let reply = (try? JSONSerialization.jsonObject(with: Data(answer.utf8))) as? [String: Any]
            let code = (reply?["errcode"] as? NSNumber)?.intValue ?? 0
            switch code {
            case 0: return .sent
            case 45009, -1: return .retryable("WeCom errcode \(code)")
            default: return .permanent("WeCom errcode \(code)")
            }
        }
    }
}

/// An SMS gateway over HTTP: the configured body template with the phone and text filled in.
public struct SMSGatewayChannel: DeliveryChannel {
    let config: ChannelConfig
    let poster: JSONPoster

    init(config: ChannelConfig, poster: JSONPoster) {
        self.config = config
        self.poster = poster
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

/// Makes the sender for one of a program's channel settings: how the dispatcher reaches the
/// outside world, injected so that tests can put fakes in its place.
public protocol ChannelFactory: Sendable {
    func channel(for config: ChannelConfig) -> any DeliveryChannel
}

/// The real channels: HTTP through one client, every target held to the outbound policy,
/// one rate limiter per WeCom robot kept for the factory's life.
public final class HTTPChannels: ChannelFactory {
    let poster: JSONPoster
    let clock: TendClock
    private let limiters = Mutex<[String: RateLimiter]>([:])

    /// `clock` stamps webhook signatures and paces robots: real time outside tests.
    public init(http: HTTPClient = .shared, policy: OutboundPolicy, timeout: TimeAmount = .seconds(10), clock: TendClock = .system) {
        self.poster = JSONPoster(http: http, policy: policy, timeout: timeout)
        self.clock = clock
    }

    public func channel(for config: ChannelConfig) -> any DeliveryChannel {
        switch config.channel {
        case .wecom:
            WeComRobotChannel(config: config, poster: poster, limiter: limiter(for: config.url, perMinute: config.effectiveRatePerMinute ?? ChannelConfig.weComRatePerMinute), clock: clock)
        case .sms:
            SMSGatewayChannel(config: config, poster: poster)
        case .webhook, .voice, .inApp:
            WebhookChannel(config: config, poster: poster, clock: clock)
        }
    }

    private func limiter(for url: String, perMinute: Int) -> RateLimiter {
        limiters.withLock { byURL in
            if let existing = byURL[url] { return existing }
            let created = RateLimiter(perMinute: perMinute)
            byURL[url] = created
            return created
        }
    }
}
