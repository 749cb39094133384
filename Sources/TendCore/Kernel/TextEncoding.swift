import Foundation

/// The encodings an import file may be in: UTF-8 (with or without a byte-order mark) and
/// GB18030, which Excel on a Chinese Windows writes by default (it contains GBK and GB2312).
/// Anything else is refused with the encoding tried and the first line it cannot read.
public enum TextEncoding: String, Sendable, CaseIterable {
    case utf8 = "utf-8"
    case gb18030

    /// `utf-8`, `utf8`, `gb18030`, `gbk`, `gb2312` (the last two read as GB18030, their superset).
    public init?(name: String) {
        switch name.trimmed.lowercased() {
        case "utf-8", "utf8": self = .utf8
        case "gb18030", "gbk", "gb2312", "cp936": self = .gb18030
        default: return nil
        }
    }

    /// The bytes as UTF-8: decoded from `declared`, or from the encoding detected when nil
    /// (UTF-8 if the bytes are valid UTF-8, else GB18030 if they are valid GB18030).
    public static func utf8(_ bytes: [UInt8], declared: TextEncoding? = nil) throws(TendError) -> (text: [UInt8], encoding: TextEncoding) {
        var body = bytes
        if body.starts(with: [0xEF, 0xBB, 0xBF]) {
            guard declared != .gb18030 else { throw refusal(.gb18030, line: 1) }
            body.removeFirst(3)
        }
        if body.starts(with: [0xFF, 0xFE]) || body.starts(with: [0xFE, 0xFF]) {
            throw TendError.invalid("file", .init(en: "is UTF-16; save it as UTF-8 or GB18030", zh: "是 UTF-16 编码，请另存为 UTF-8 或 GB18030"), code: "bad_encoding")
        }
        let invalidUTF8 = firstInvalidUTF8(body)
        switch declared {
        case .utf8:
            if let offset = invalidUTF8 { throw refusal(.utf8, line: line(of: offset, in: body)) }
            return (body, .utf8)
        case .gb18030:
            return (try decodeGB18030(body), .gb18030)
        case nil:
            guard let offset = invalidUTF8 else { return (body, .utf8) }
            do {
                return (try decodeGB18030(body), .gb18030)
            } catch {
                throw refusal(.utf8, line: line(of: offset, in: body), alsoTried: .gb18030)
            }
        }
    }

    /// The offset of the first byte that does not belong to valid UTF-8, if any.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 { index += 1; continue }
            let length: Int
            let minimum: UInt32
            switch lead {
            case 0xC2...0xDF: length = 2; minimum = 0x80
            case 0xE0...0xEF: length = 3; minimum = 0x800
            case 0xF0...0xF4: length = 4; minimum = 0x10000
            default: return index
            }
            guard index + length <= count else { return index }
            var scalar = UInt32(lead) & (0xFF >> (length + 1))
            for offset in 1..<length {
                let next = bytes[index + offset]
                guard next & 0xC0 == 0x80 else { return index }
                scalar = scalar << 6 | UInt32(next & 0x3F)
            }
            guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return index }
            index += length
        }
        return nil
    }

    static func line(of offset: Int, in bytes: [UInt8]) -> Int {
        1 + bytes[..<offset].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }

    /// GB18030 to UTF-8 through the C library's iconv, refusing at the first byte it cannot read.
    static func decodeGB18030(_ bytes: [UInt8]) throws(TendError) -> [UInt8] {
        let converter = iconv_open("UTF-8", "GB18030")
        guard converter != iconv_t(bitPattern: -1) else {
            throw TendError.invalid("file", .init(en: "cannot be read as GB18030 on this system", zh: "本系统无法读取 GB18030 编码"), code: "bad_encoding")
        }
        defer { iconv_close(converter) }
        var output = [UInt8](repeating: 0, count: bytes.count * 2 + 16)
        var input = bytes
        let (failedAt, written): (Int?, Int) = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                var inPointer = source.baseAddress.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: CChar.self) }
                var inLeft = source.count
                var outPointer = target.baseAddress.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: CChar.self) }
                var outLeft = target.count
                let result = iconv(converter, &inPointer, &inLeft, &outPointer, &outLeft)
                let written = target.count - outLeft
                return (result == -1 || inLeft > 0 ? source.count - inLeft : nil, written)
            }
        }
        if let failedAt { throw refusal(.gb18030, line: line(of: failedAt, in: bytes)) }
        return Array(output[..<written])
    }

    static func refusal(_ encoding: TextEncoding, line: Int, alsoTried other: TextEncoding? = nil) -> TendError {
        let tried = [encoding, other].compactMap { $0?.rawValue.uppercased() }.joined(separator: " / ")
        return TendError.invalid("file", .init(
            en: "is not valid \(tried): line \(line) cannot be read; save the file as UTF-8 or GB18030, or name its encoding with --encoding",
            zh: "不是有效的 \(tried) 编码：第 \(line) 行无法读取；请另存为 UTF-8 或 GB18030，或用 --encoding 指明编码"), code: "bad_encoding")
    }
}
