import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Cryptographically random bytes drawn from the system 4 KiB at a time. Asking the system
/// for every id and nonce costs a system call each: bulk imports make several per patient.
public final class RandomBytes: Sendable {
    private struct Pool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var position = 4096
    }

    private let pool = Mutex(Pool())

    public init() {}

    /// Fills `count` bytes into a new array.
    public func take(_ count: Int) -> [UInt8] {
        pool.withLock { pool in
            var out: [UInt8] = []
            out.reserveCapacity(count)
            while out.count < count {
                if pool.position == pool.buffer.count { Self.refill(&pool) }
                let step = min(count - out.count, pool.buffer.count - pool.position)
                out.append(contentsOf: pool.buffer[pool.position..<pool.position + step])
                pool.position += step
            }
            return out
        }
    }

    public func uint64() -> UInt64 {
        take(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    private static func refill(_ pool: inout Pool) {
        #if canImport(Glibc)
        let filled = pool.buffer.withUnsafeMutableBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return false }
            let descriptor = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return false }
            defer { close(descriptor) }
            var count = 0
            while count < raw.count {
                let result = read(descriptor, base + count, raw.count - count)
                if result > 0 { count += result } else if result < 0 && errno == EINTR { continue } else { return false }
            }
            return true
        }
        if !filled {
            var generator = SystemRandomNumberGenerator()
            for index in pool.buffer.indices { pool.buffer[index] = UInt8.random(in: 0...255, using: &generator) }
        }
        #else
        pool.buffer.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { arc4random_buf(base, raw.count) }
        }
        #endif
        pool.position = 0
    }
}
