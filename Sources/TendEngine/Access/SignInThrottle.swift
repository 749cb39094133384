public import Foundation
import Synchronization
public import TendCore

/// Slows down password guessing, per account and per client address. The first few failures
/// cost nothing; after that each failure makes the next attempt wait twice as long (1 s, 2 s,
/// 4 s … up to 15 minutes), only one attempt at a time is let through, and an attempt that
/// must wait is refused with 429 and Retry-After before any password is hashed. A failure is
/// forgotten 15 minutes after the last one; a success clears the account's record. Kept in
/// memory: each process throttles what it sees.
public final class SignInThrottle: Sendable {
    struct Record {
        var failures = 0
        var inFlight = 0
        var lastFailure: Date
        var blockedUntil: Date
    }

    public static let freeFailures = 5
    public static let forgetAfter: TimeInterval = 15 * 60
    public static let longestWait: TimeInterval = 15 * 60
    static let maximumRecords = 100_000

    private let records = Mutex<[String: Record]>([:])
    private let clock: TendClock

    public init(clock: TendClock) {
        self.clock = clock
    }

    public static func keys(email: String, address: String) -> [String] {
        ["account:" + email.trimmed.lowercased(), "address:" + address]
    }

    /// Lets an attempt through, or throws 429 when any of its keys must wait. Every attempt
    /// let through is ended with `end`.
    public func begin(_ keys: [String]) throws(TendError) {
        let now = clock.now()
        let wait: TimeInterval = records.withLock { records in
            var wait: TimeInterval = 0
            for key in keys {
                guard let record = records[key], now.timeIntervalSince(record.lastFailure) < Self.forgetAfter else { continue }
                if record.blockedUntil > now {
                    wait = max(wait, record.blockedUntil.timeIntervalSince(now))
                } else if record.failures + record.inFlight >= Self.freeFailures, record.inFlight > 0 {
                    wait = max(wait, 1)
                }
            }
            guard wait == 0 else { return wait }
            for key in keys {
                var record = records[key].flatMap { now.timeIntervalSince($0.lastFailure) < Self.forgetAfter ? $0 : nil }
                    ?? Record(lastFailure: now, blockedUntil: now)
                record.inFlight += 1
                records[key] = record
            }
            return 0
        }
        if wait > 0 { throw TendError.rateLimited(retryAfter: Int(wait.rounded(.up))) }
    }

    public func end(_ keys: [String], succeeded: Bool) {
        let now = clock.now()
        records.withLock { records in
            if records.count >= Self.maximumRecords {
                records = records.filter { $0.value.inFlight > 0 || now.timeIntervalSince($0.value.lastFailure) < Self.forgetAfter }
            }
            for (index, key) in keys.enumerated() {
                guard var record = records[key] else { continue }
                record.inFlight = max(0, record.inFlight - 1)
                if succeeded {
                    // The account's slate is wiped; the address keeps its count.
                    if index == 0 { records.removeValue(forKey: key); continue }
                } else {
                    record.failures += 1
                    record.lastFailure = now
                    let excess = record.failures - Self.freeFailures
                    if excess >= 0 {
                        record.blockedUntil = now.addingTimeInterval(min(Self.longestWait, pow(2, Double(min(excess, 20)))))
                    }
                }
                records[key] = record
            }
        }
    }
}
