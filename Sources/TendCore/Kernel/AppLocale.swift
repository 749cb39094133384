import Foundation
/// The languages Tend speaks. Every user-facing string exists in both.
public enum AppLocale: String, Sendable, Codable, CaseIterable {
    case zhHans = "zh-Hans"
    case en

    /// Accepts the spellings people and browsers use: zh, zh-CN, zh-Hans, zh_CN, en-US …
    public init?(identifier: String) {
        let lowered = identifier.trimmed.lowercased().replacingOccurrences(of: "_", with: "-")
        if lowered == "zh" || lowered.hasPrefix("zh-") {
            self = .zhHans
        } else if lowered == "en" || lowered.hasPrefix("en-") {
            self = .en
        } else {
            return nil
        }
    }

    /// Picks the best supported language from an `Accept-Language` header, honouring q-values.
    public static func negotiate(acceptLanguage header: String?, fallback: AppLocale = .zhHans) -> AppLocale {
        guard let header, !header.isEmpty else { return fallback }
        var best: (locale: AppLocale, quality: Double, order: Int)?
        for (order, part) in header.split(separator: ",").enumerated() {
            let pieces = part.split(separator: ";").map { $0.trimmed }
            guard let tag = pieces.first, let locale = AppLocale(identifier: tag) else { continue }
            var quality = 1.0
            for parameter in pieces.dropFirst() where parameter.hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)) ?? 0
            }
            guard quality > 0 else { continue }
            if quality > (best?.quality ?? 0) {
                best = (locale, quality, order)
            }
        }
        return best?.locale ?? fallback
    }
}
