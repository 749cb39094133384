import Foundation
import Synchronization

/// Produces time-ordered identifiers (UUIDv7 layout: 48-bit Unix milliseconds, version,
/// random bits), rendered as lowercase 32-hex strings without dashes so they sort by time.
public struct IDGenerator: Sendable {
    private let generate: @Sendable () -> String

    public init(_ generate: @escaping @Sendable () -> String) {
        self.generate = generate
    }

    public func next() -> String { generate() }

    /// Monotonic within one generator: ids made in the same millisecond (or after the clock
    /// stepped back) continue from the previous one, so creation order is id order.
    public static func uuidV7(clock: TendClock) -> IDGenerator {
        let state = MonotonicState()
        return IDGenerator {
            let milliseconds = UInt64(max(0, clock.now().epochMilliseconds))
            return state.next(milliseconds: milliseconds)
        }
    }

    public static func makeUUIDv7(milliseconds: UInt64, using generator: inout some RandomNumberGenerator) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 {
            bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index)))
        }
        for index in 6..<16 {
            bytes[index] = UInt8.random(in: 0...255, using: &generator)
        }
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return Hex.encode(bytes)
    }

    /// Deterministic ids for tests: a fixed prefix and a counter, still ordered.
    public static func sequential(prefix: String = "id") -> IDGenerator {
        let counter = Counter()
        return IDGenerator { prefix + DecimalText.padded(counter.increment(), width: 12) }
    }
}

/// The last id's time and random tail, so the next id can be made strictly greater.
final class MonotonicState: Sendable {
    private let random = RandomBytes()
    /// The last id's milliseconds and counter tail.
    private let last = Mutex<(milliseconds: UInt64, tail: UInt64)>((0, 0))

    func next(milliseconds: UInt64) -> String {
        let draw = random.uint64()
        let (stamp, tail) = last.withLock { last in
            if milliseconds > last.milliseconds {
                last = (milliseconds, draw & ((1 << 40) - 1))
            } else {
                last.tail += 1 + (draw & 0xFFFF)
            }
            return last
        }
        // 12 hex digits of time, the version digit, 16 of the counter, 3 random: fixed width,
        // so string order is (time, counter) order.
        let suffix = Hex.encode(draw >> 52, width: 3)
        return Hex.encode(stamp, width: 12) + "7" + Hex.encode(tail, width: 16) + suffix
    }
}

/// A counter shared by the sequential generator's closure.
final class Counter: Sendable {
    private let value = Mutex(0)

    func increment() -> Int {
        value.withLock { value in
            value += 1
            return value
        }
    }
}
