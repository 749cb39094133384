public import Foundation

/// The limits of the patient portal: how a one-time code is sent and tried, how long a portal
/// session lasts, and what a shared record may be given.
public enum PortalPolicy {
    public static let codeDigits = 6
    public static let codeLifetime: TimeInterval = 10 * 60
    /// Wrong tries of one code before it is spent.
    public static let codeAttempts = 5
    /// Codes a phone may be sent in `phoneWindow`, and codes asked for from one client address in `addressWindow`.
    public static let codesPerPhone = 3
    public static let phoneWindow: TimeInterval = 15 * 60
    public static let codesPerAddress = 10
    public static let addressWindow: TimeInterval = 60 * 60

    /// A portal session ends this long after sign-in, or after `sessionIdle` without use.
    public static let sessionLifetime: TimeInterval = 12 * 3600
    public static let sessionIdle: TimeInterval = 3600

    public static let shortestShare: TimeInterval = 3600
    public static let longestShare: TimeInterval = 30 * 86400
    /// Wrong passcodes before a shared record is locked for good.
    public static let sharePasscodeAttempts = 5
    /// The shares a patient may have open at once.
    public static let openSharesPerPatient = 20

    /// The code as typed: digits only (full-width digits and spaces folded), or the error.
    public static func code(_ raw: String, field: String = "code") throws -> String {
        let digits = TextFolding.halfWidth(raw).filter { !$0.isWhitespace && $0 != "-" }
        guard digits.count == codeDigits, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw TendError.invalid(field, .init(en: "must be the \(codeDigits)-digit code from the text message", zh: "应为短信中的\(codeDigits)位验证码"))
        }
        return String(digits)
    }

    /// How long a share lives, in hours as chosen on the page: 1 hour to 30 days.
    public static func shareLifetime(hours raw: String, field: String = "hours") throws -> TimeInterval {
        guard let hours = Int(raw.trimmed), hours >= 1, TimeInterval(hours) * 3600 <= longestShare else {
            throw TendError.invalid(field, .init(en: "must be between 1 hour and 30 days", zh: "应在1小时到30天之间"))
        }
        return TimeInterval(hours) * 3600
    }

    /// A share's optional passcode: 4 to 8 digits; nil when left empty.
    public static func passcode(_ raw: String, field: String = "passcode") throws -> String? {
        let digits = TextFolding.halfWidth(raw).filter { !$0.isWhitespace }
        if digits.isEmpty { return nil }
        guard (4...8).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw TendError.invalid(field, .init(en: "must be 4 to 8 digits, or empty", zh: "应为4到8位数字，或留空"))
        }
        return String(digits)
    }
}

/// Someone signed in to the portal: a patient, or a family member acting for patients who named them.
public struct PortalPerson: Sendable, Equatable {
    public var patientID: String
    /// The family member's relation to the patient ("女儿"); nil when the patient is signed in.
    public var relation: String?

    public init(patientID: String, relation: String?) {
        self.patientID = patientID
        self.relation = relation
    }
}
