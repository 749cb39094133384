public import TendCore

/// Reads questionnaire files (YAML, which includes JSON) into `Questionnaire`, reporting every
/// problem with its line.
public enum QuestionnaireFile {
    public static func parse(_ text: String) throws(PathwayProblems) -> Questionnaire {
        try QuestionnaireDecoder.decode(YAMLDocument.parse(text))
    }

    /// A shipped definition by name (`phq-9`), or nil when there is none of that name.
    public static func shipped(_ name: String) throws(PathwayProblems) -> Questionnaire? {
        guard let text = ShippedQuestionnaires.source(name) else { return nil }
        return try parse(text)
    }
}
