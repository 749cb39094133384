import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Cryptographically random bytes drawn from the system 4 KiB at a time. Asking the system
/// for every id and nonce costs a system call each: bulk imports make several per patient.
public final class RandomBytes: @unchecked Sendable {
    private var buffer = [UInt8](repeating: 0, count: 4096)
    private var position = 4096
    private let lock = NSLock()

    public init() {}

    /// Fills `count` bytes into a new array.
    public func take(_ count: Int) -> [UInt8] {
        lock.withLock {
            var out: [UInt8] = []
            out.reserveCapacity(count)
            while out.count < count {
                if position == buffer.count { refill() }
                let step = min(count - out.count, buffer.count - position)
                out.append(contentsOf: buffer[position..<position + step])
                position += step
            }
            return out
        }
    }

    public func uint64() -> UInt64 {
        take(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    private func refill() {
        #if canImport(Glibc)
        let filled = buffer.withUnsafeMutableBytes { raw -> Bool in
            let descriptor = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return false }
            defer { close(descriptor) }
            var count = 0
            while count < raw.count {
                let result = read(descriptor, raw.baseAddress! + count, raw.count - count)
                if result > 0 { count += result } else if result < 0 && errno == EINTR { continue } else { return false }
            }
            return true
        }
        if !filled {
            var generator = SystemRandomNumberGenerator()
            for index in buffer.indices { buffer[index] = UInt8.random(in: 0...255, using: &generator) }
        }
        #else
        buffer.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, $0.count) }
        #endif
        position = 0
    }
}
