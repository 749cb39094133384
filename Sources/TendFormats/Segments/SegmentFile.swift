public import TendCore

/// Reads segment documents (YAML, which includes JSON) into `SegmentDefinition`, reporting
/// every problem with its line, and a rule's with its column.
public enum SegmentFile {
    public static func parse(_ text: String) throws(PathwayProblems) -> SegmentDefinition {
        try SegmentDecoder.decode(YAMLDocument.parse(text), source: text)
    }
}
