import Foundation
import TendCore

/// Compiling a classifier reads every rule into one matcher, so each program's is kept and
/// rebuilt only when its settings change.
public final class ClassifierCache: @unchecked Sendable {
    private let lock = NSLock()
    private var byProgram: [String: (ProgramTriageSettings, TriageClassifier)] = [:]

    public init() {}

    public func classifier(programID: String, settings: ProgramTriageSettings) -> TriageClassifier {
        if let cached = lock.withLock({ byProgram[programID] }), cached.0 == settings { return cached.1 }
        let built = settings.classifier(base: TriageDefaults.rules)
        lock.withLock { byProgram[programID] = (settings, built) }
        return built
    }
}
