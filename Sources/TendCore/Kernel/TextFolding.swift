/// Folds full-width ASCII forms (ＡＢＣ１２３，＋) and the ideographic space to their
/// ordinary ASCII counterparts, as people type both on Chinese keyboards.
public enum TextFolding {
    public static func halfWidth(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { (0xFF01...0xFF5E).contains($0.value) || $0.value == 0x3000 }) else {
            return text
        }
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if (0xFF01...0xFF5E).contains(scalar.value), let folded = Unicode.Scalar(scalar.value - 0xFEE0) {
                scalars.append(folded)
            } else if scalar.value == 0x3000 {
                scalars.append(" ")
            } else {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    /// Whether `text` contains `part`, byte for byte in UTF-8 (both already folded as the caller
    /// wants). Foundation's `contains` compares character clusters through NSString: on an
    /// inbox page of 200 messages that was most of the page's time.
    public static func contains(_ text: String, _ part: String) -> Bool {
        var text = text, part = part
        return text.withUTF8 { haystack in
            part.withUTF8 { needle in
                guard let first = needle.first else { return true }
                guard needle.count <= haystack.count else { return false }
                var start = 0
                while start <= haystack.count - needle.count {
                    if haystack[start] == first {
                        var offset = 1
                        while offset < needle.count, haystack[start + offset] == needle[offset] { offset += 1 }
                        if offset == needle.count { return true }
                    }
                    start += 1
                }
                return false
            }
        }
    }
}

extension StringProtocol {
    /// The text without surrounding spaces, tabs, line breaks, no-break or ideographic
    /// spaces. Much faster than Foundation's `trimmingCharacters(in:)` on hot import paths.
    public var trimmed: String {
        let scalars = unicodeScalars
        guard let first = scalars.first, let last = scalars.last else { return "" }
        if !Self.isSpace(first) && !Self.isSpace(last) { return String(self) }
        var start = scalars.startIndex, end = scalars.endIndex
        while start < end, Self.isSpace(scalars[start]) { start = scalars.index(after: start) }
        while end > start, Self.isSpace(scalars[scalars.index(before: end)]) { end = scalars.index(before: end) }
        return String(String.UnicodeScalarView(scalars[start..<end]))
    }

    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x20, 0x09...0x0D, 0xA0, 0x3000, 0xFEFF, 0x2028, 0x2029: true
        default: false
        }
    }
}
