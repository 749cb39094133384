import HummingbirdBcrypt
import NIOPosix
import TendCore

/// bcrypt hashing, run on the thread pool so a slow hash never blocks an event loop.
public struct PasswordHasher: Sendable {
    public let cost: UInt8

    public init(cost: UInt8) {
        self.cost = cost
    }

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// A hash of nothing in particular, verified against when an email is unknown so that
    /// a failed sign-in takes the same time whether or not the account exists.
    public static let decoyHash = "$2b$11$0123456789012345678901uSsLaaAMi7/0e7sPk0KSB4sCk8NwrRO"
}
