import Synchronization
public import TendCore

/// Compiling a classifier reads every rule into one matcher, so each program's is kept and
/// rebuilt only when its settings change.
public final class ClassifierCache: Sendable {
    private let byProgram = Mutex<[String: (ProgramTriageSettings, TriageClassifier)]>([:])

    public init() {}

    public func classifier(programID: String, settings: ProgramTriageSettings) -> TriageClassifier {
        if let cached = byProgram.withLock({ $0[programID] }), cached.0 == settings { return cached.1 }
        let built = settings.classifier(base: TriageDefaults.rules)
        byProgram.withLock { $0[programID] = (settings, built) }
        return built
    }
}
