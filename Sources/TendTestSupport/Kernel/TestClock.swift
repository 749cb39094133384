public import Foundation
import Synchronization
public import TendCore

/// A clock tests move by hand.
public final class TestClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_796_112_000)) {  // 2026-12-01T00:00:00Z
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    public var clock: TendClock { TendClock { [self] in now } }
}
