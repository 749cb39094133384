import Foundation
import Synchronization
public import Logging

/// Keeps every log line, at every level, so tests can look for what must never be logged.
public final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    public var text: String { lines.withLock { $0.joined(separator: "\n") } }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    public var logger: Logger {
        Logger(label: "tend-capture") { label in CapturingHandler(label: label, capture: self) }
    }

    struct CapturingHandler: LogHandler {
        let label: String
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = self.metadata.merging(event.metadata ?? [:]) { _, new in new }
            capture.append("\(event.level) \(label) \(event.message) \(all) \(event.error.map { "\($0)" } ?? "")")
        }
    }
}
