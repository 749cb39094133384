public import Foundation

/// Where Tend may send HTTP requests (webhook, WeCom, SMS and voice channels): never to its own
/// machine or network — loopback, link-local (cloud metadata at 169.254.169.254), private and
/// unique-local addresses, IPv4 and IPv6 — unless the operator's allow-list names the host.
/// Channel URLs are checked when they are saved, and every resolved address again at send
/// time, so a host name cannot later point back inside.
public struct OutboundPolicy: Sendable, Equatable {
    /// Hosts (names or addresses, lowercased, IPv6 without brackets) that may be reached even
    /// though they are local: test receivers, an SMS gateway on the operator's own network.
    public var allowedHosts: Set<String>

    public init(allowedHosts: Set<String> = []) {
        self.allowedHosts = Set(allowedHosts.map { Self.normalisedHost($0) })
    }

    /// Parses `TEND_OUTBOUND_ALLOW`: hosts separated by commas.
    public init(allowList: String) {
        self.init(allowedHosts: Set(allowList.split(separator: ",").map { $0.trimmed }.filter { !$0.isEmpty }))
    }

    public static let maximumURLLength = 2_000

    /// Checks a channel URL as it is saved; errors name the field.
    public func validate(_ text: String, field: String = "url") throws(TendError) -> URL {
        guard text.utf8.count <= Self.maximumURLLength, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty else {
            throw TendError.invalid(field, .init(en: "must be an http or https URL", zh: "必须是 http 或 https 地址"))
        }
        guard url.user == nil, url.password == nil else {
            throw TendError.invalid(field, .init(en: "must not carry a user name or password; use the secret or headers", zh: "不能包含用户名或密码，请使用密钥或请求头"))
        }
        guard permits(host: host) else {
            throw TendError.invalid(field, .init(
                en: "points at a loopback, link-local or private address; ask the operator to allow-list the host (TEND_OUTBOUND_ALLOW)",
                zh: "指向本机、链路本地或内网地址；如确需使用，请运维在 TEND_OUTBOUND_ALLOW 中放行该主机"), code: "forbidden_target")
        }
        return url
    }

    /// Whether a host as written in a URL may be contacted (before resolution).
    public func permits(host: String) -> Bool {
        let normalised = Self.normalisedHost(host)
        if allowedHosts.contains(normalised) { return true }
        if let address = Self.address(normalised) { return !Self.isInternal(address) }
        // A name is checked by what it resolves to, when a message is sent; only names that
        // can only mean this machine are refused up front (RFC 6761: *.localhost is loopback).
        let name = normalised.hasSuffix(".") ? String(normalised.dropLast()) : normalised
        return name != "localhost" && !name.hasSuffix(".localhost") && name.contains(".")
    }

    /// Whether a resolved address may be contacted for this host.
    public func permits(resolved address: [UInt8], host: String) -> Bool {
        allowedHosts.contains(Self.normalisedHost(host)) || !Self.isInternal(address)
    }

    static func normalisedHost(_ host: String) -> String {
        var host = host.trimmed.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host
    }

    /// The bytes of an IPv4 (4) or IPv6 (16) literal, or nil for a name. Also reads the forms
    /// `inet_aton` accepts and a URL parser may hand on (`2130706433`, `0x7f.1`), since an
    /// HTTP client would connect to them.
    public static func address(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_aton(text, &v4) != 0 {
            return withUnsafeBytes(of: v4.s_addr) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: v6) { Array($0) }
        }
        return nil
    }

    /// Loopback, unspecified, link-local, private, carrier-grade NAT, unique-local, multicast
    /// and the IPv4 ranges mapped into IPv6.
    public static func isInternal(_ bytes: [UInt8]) -> Bool {
        if bytes.count == 4 {
            let (a, b) = (bytes[0], bytes[1])
            return a == 0 || a == 10 || a == 127 || (a == 169 && b == 254) || (a == 172 && (16...31).contains(b))
                || (a == 192 && b == 168) || (a == 100 && (64...127).contains(b)) || (a == 198 && (18...19).contains(b)) || a >= 224
        }
        guard bytes.count == 16 else { return true }
        if bytes.allSatisfy({ $0 == 0 }) || (bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1) { return true }
        // ::ffff:a.b.c.d and ::a.b.c.d carry an IPv4 address.
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && ((bytes[10] == 0xFF && bytes[11] == 0xFF) || (bytes[10] == 0 && bytes[11] == 0)) {
            return isInternal(Array(bytes[12..<16]))
        }
        // 64:ff9b::/96 (NAT64) carries one too.
        if bytes[0] == 0x00, bytes[1] == 0x64, bytes[2] == 0xFF, bytes[3] == 0x9B, bytes[4..<12].allSatisfy({ $0 == 0 }) {
            return isInternal(Array(bytes[12..<16]))
        }
        return (bytes[0] & 0xFE) == 0xFC || (bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80) || bytes[0] == 0xFF
    }
}
