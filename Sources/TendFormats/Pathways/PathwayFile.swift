public import TendCore

/// Reads pathway files (YAML, which includes JSON) into `Pathway`, reporting every problem
/// with its line.
public enum PathwayFile {
    public static func parse(_ text: String) throws(PathwayProblems) -> Pathway {
        try PathwayDecoder.decode(YAMLDocument.parse(text))
    }
}
