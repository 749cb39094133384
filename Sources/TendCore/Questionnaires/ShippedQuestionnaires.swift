import Foundation

/// The questionnaires Tend ships, as files in `Sources/TendCore/Questionnaires/Definitions/`
/// (YAML, read by TendFormats' `QuestionnaireFile`): PHQ-9 and GAD-7 with their wording (both
/// free to use), ACT as scoring only (its wording is licensed; a program adds it to its own
/// copy), and the forms of the reference scenarios S1, S2 and S3.
public enum ShippedQuestionnaires {
    public static let names = ["phq-9", "gad-7", "act", "revisit-form", "chemo-side-effects", "glucose-daily", "dose-check-in"]

    /// The text of a shipped definition, or nil when `name` is not one.
    public static func source(_ name: String) -> String? {
        guard names.contains(name),
              let url = Bundle.module.url(forResource: "Definitions/\(name)", withExtension: "yaml"),
              let data = try? Data(contentsOf: url) else {
            return nil
        }
        return String(data: data, encoding: .utf8)
    }
}
