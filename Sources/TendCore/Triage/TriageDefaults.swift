import Foundation

/// The rules and ready answers Tend ships, read from `Sources/TendCore/Triage/Rules/` — data files a
/// program admin can read, copy and extend (programs add their own phrases, thresholds and
/// answers on top, see `ProgramTriageSettings`).
public enum TriageDefaults {
    public static let rules: [AppLocale: TriageRules] = [
        .zhHans: load(TriageRules.self, "triage-zh-Hans"),
        .en: load(TriageRules.self, "triage-en"),
    ]

    /// The red-flag taxonomy: urgent categories and the concept rules that fire them.
    public static let taxonomy: TriageTaxonomy = load(TriageTaxonomy.self, "triage-taxonomy")

    /// The n-gram backstop; nil when the file is absent.
    public static let model: TriageModel? = loadIfPresent(TriageModel.self, "triage-model")

    public static let answers: [KnowledgeAnswer] = load([KnowledgeAnswer].self, "answers")

    /// The shipped files are part of the build; a broken one is a programming error.
    static func load<T: Decodable>(_ type: T.Type, _ name: String) -> T {
        guard let value = loadIfPresent(type, name) else {
            fatalError("TendCore resource Rules/\(name).json is missing")
        }
        return value
    }

    static func loadIfPresent<T: Decodable>(_ type: T.Type, _ name: String) -> T? {
        guard let url = Bundle.module.url(forResource: "Rules/\(name)", withExtension: "json"),
              let data = try? Data(contentsOf: url) else {
            return nil
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            fatalError("TendCore resource Rules/\(name).json is invalid: \(error)")
        }
    }
}
