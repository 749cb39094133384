import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix
import Synchronization
import TendCore

/// bcrypt hashing on a pool of its own, so that a flood of sign-ins never takes the threads
/// that database queries run on. At most `maximumWaiting` hashes wait for it; past that a
/// sign-in is refused at once with 429 rather than queued behind the flood.
public final class PasswordHasher: Sendable {
    public let cost: UInt8
    private let pool: NIOThreadPool
    private let waiting = Atomic(0)
    static let maximumWaiting = 16

    public init(cost: UInt8, threads: Int = 1) {
        self.cost = cost
        self.pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    deinit {
        pool.shutdownGracefully { _ in }
    }

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost, input = Self.bcryptInput(password)
        return try await run { Bcrypt.hash(input, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        let input = Self.bcryptInput(password)
        return try await run { Bcrypt.verify(input, hash: hash) }
    }

    private func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws -> T {
        guard waiting.add(1, ordering: .relaxed).newValue <= Self.maximumWaiting else {
            waiting.subtract(1, ordering: .relaxed)
            throw TendError.busy
        }
        defer { waiting.subtract(1, ordering: .relaxed) }
        return try await pool.runIfActive(work)
    }

    /// bcrypt reads at most 72 bytes; a longer password (72 characters of Chinese are 216
    /// bytes) is hashed with SHA-256 first, so that all of it counts.
    static func bcryptInput(_ password: String) -> String {
        guard password.utf8.count > 72 else { return password }
        return "sha256:" + Data(SHA256.hash(data: Data(password.utf8))).base64EncodedString()
    }

    /// A hash of nothing in particular, verified against when an email is unknown so that
    /// a failed sign-in takes the same time whether or not the account exists.
    public static let decoyHash = "$2b$11$0123456789012345678901uSsLaaAMi7/0e7sPk0KSB4sCk8NwrRO"
}
