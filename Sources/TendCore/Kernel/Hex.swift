/// Lowercase hexadecimal without `String(format:)`, which is slow on hot paths
/// (ids, blind indexes).
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `value` as exactly `width` hex digits (the low bits; wider values are truncated).
    public static func encode(_ value: UInt64, width: Int) -> String {
        var out = [UInt8](repeating: UInt8(ascii: "0"), count: width)
        var rest = value
        for index in stride(from: width - 1, through: 0, by: -1) {
            out[index] = digits[Int(rest & 0x0F)]
            rest >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Zero-padded decimals ("07", "0042") without `String(format:)`.
public enum DecimalText {
    public static func padded(_ value: Int, width: Int) -> String {
        var digits = Array(String(value).utf8)
        if digits.count < width { digits.insert(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - digits.count), at: 0) }
        return String(decoding: digits, as: UTF8.self)
    }
}
