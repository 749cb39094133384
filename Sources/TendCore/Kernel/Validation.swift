import Foundation

/// Field-level validation shared by the API, the console forms and the CLI, so that one
/// input is judged the same way everywhere.
public enum Validate {
    /// Program slugs appear in URLs: lowercase ASCII letters, digits and single hyphens.
    public static func slug(_ value: String, field: String = "slug") throws(TendError) -> String {
        let trimmed = value.trimmed
        let allowed = trimmed.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        guard (2...48).contains(trimmed.count), allowed, !trimmed.hasPrefix("-"), !trimmed.hasSuffix("-"), !trimmed.contains("--") else {
            throw TendError.invalid(field, .init(
                en: "must be 2–48 lowercase letters, digits or single hyphens",
                zh: "须为 2–48 个小写字母、数字或单个连字符"))
        }
        return trimmed
    }

    public static func email(_ value: String, field: String = "email") throws(TendError) -> String {
        let normalised = value.trimmed.lowercased()
        let parts = normalised.split(separator: "@", omittingEmptySubsequences: false)
        guard normalised.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !normalised.contains(" ") else {
            throw TendError.invalid(field, .init(en: "is not a valid email address", zh: "不是有效的电子邮件地址"))
        }
        return normalised
    }

    public static func name(_ value: String, field: String = "name", maxLength: Int = 200) throws(TendError) -> String {
        let trimmed = value.trimmed
        guard !trimmed.isEmpty else {
            throw TendError.invalid(field, .init(en: "must not be empty", zh: "不能为空"))
        }
        guard trimmed.count <= maxLength else {
            throw TendError.invalid(field, .init(en: "must be at most \(maxLength) characters", zh: "不能超过 \(maxLength) 个字符"))
        }
        return trimmed
    }

    public static let minimumPasswordLength = 10
    public static let maximumPasswordLength = 72

    /// 10 to 72 characters (Unicode scalars, as the API document counts them).
    public static func password(_ value: String, field: String = "password") throws(TendError) -> String {
        guard value.unicodeScalars.count >= minimumPasswordLength else {
            throw TendError.invalid(field, .init(
                en: "must be at least \(minimumPasswordLength) characters",
                zh: "至少需要 \(minimumPasswordLength) 个字符"))
        }
        guard value.unicodeScalars.count <= maximumPasswordLength else {
            throw TendError.invalid(field, .init(en: "must be at most \(maximumPasswordLength) characters", zh: "不能超过 \(maximumPasswordLength) 个字符"))
        }
        return value
    }

    public static func role(_ value: String, field: String = "role") throws(TendError) -> StaffRole {
        guard let role = StaffRole(rawValue: value.trimmed.lowercased()) else {
            let names = StaffRole.allCases.map(\.rawValue).joined(separator: ", ")
            throw TendError.invalid(field, .init(en: "must be one of: \(names)", zh: "必须是以下之一：\(names)"))
        }
        return role
    }
}
