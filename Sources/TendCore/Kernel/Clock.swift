public import Foundation

/// The source of "now" for all logic. Production code receives `.system`; tests and
/// `tend dispatch --now` receive a fixed or manually advanced clock.
public struct TendClock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ read: @escaping @Sendable () -> Date) {
        self.read = read
    }

    public func now() -> Date { read() }

    public static let system = TendClock { Date() }

    public static func fixed(_ instant: Date) -> TendClock {
        TendClock { instant }
    }
}
