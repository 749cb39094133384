import Foundation
import Testing
import TendCore

/// The expected matrices were made by segno 1.6.6, an independent Python encoder, with
/// `segno.make_qr(text, error="m", mode="byte", encoding="utf-8", boost_error=False, eci=False)`.
/// segno chose the version and the mask itself, so these tests check the version choice, the data
/// and Reed–Solomon codewords, interleaving, placement, function patterns, format and version
/// information, and the penalty-based choice of mask. One fix was applied to segno first: it
/// adds a needless 0x00 codeword when the bit stream already ends on a byte boundary (segno
/// issue #148; ISO/IEC 18004 §7.4.10 adds no padding bits there), which shifts the pad codewords.
/// Rows are hex, most significant bit first (leftmost module), padded with zero bits to whole
/// hex digits.
@Suite struct QRCodeTests {
    struct Reference: Sendable, CustomTestStringConvertible {
        let name: String
        let version: Int
        let mask: Int
        let text: String
        let rows: String
        var testDescription: String { "\(name) (version \(version), mask \(mask))" }

        func matrix() -> [[Bool]] {
            let size = 17 + 4 * version
            return rows.split(whereSeparator: \.isWhitespace).map { row in
                let bits = row.flatMap { digit -> [Bool] in
                    let value = digit.hexDigitValue ?? 0
                    return (0..<4).map { (value >> (3 - $0)) & 1 == 1 }
                }
                return Array(bits.prefix(size))
            }
        }
    }

    static let references: [Reference] = [
        Reference(
            name: "hello", version: 1, mask: 2,
            text: "HELLO",
            rows: """
            fe13f8 822a08 bac2e8 baaae8 bacae8 82f208 feabf8 00c000 be33e0 6d7e60 3e8b70 687e60 5f8928
            00a940 fe74b0 82a1f0 bad4b0 badf40 bacb20 827ee0 fec8b0
            """
        ),
        Reference(
            name: "url40", version: 3, mask: 0,
            text: "https://tend.example.org/portal/s/U8JZpD",
            rows: """
            fe7613f8 82e91a08 ba3ab2e8 ba1ea2e8 baedb2e8 8251b208 feaaabf8 000de800 aa347890 88c78748
            5eea44b8 75f4fe10 12a9ce58 34746e48 d2382e58 e4a458d0 46da5e58 14b88a68 ae6c4998 4580f450
            9749cf80 00cc68b8 fe42fad8 823fc8d0 baa3cf80 ba0ae1b8 baba11c8 82695d10 fe8cdfd8
            """
        ),
        Reference(
            name: "url100", version: 6, mask: 0,
            text: "https://tend.example.org/portal/s/E0iGXlD6gNCFbaEPFjbD0kH8Oool8DklZDOCj2ISaJiHkTj0rLGlkoMXGjtEkDnNfr",
            rows: """
            fe17a225bf8 82d6db77208 ba750b982e8 ba33c326ae8 ba9b8421ae8 8213b7f7a08 feaaaaaabf8 0074f47d800
            aa706cdc090 25034cecc68 42dbcc8a6a8 3008454cb98 2fc44cfde40 4d8f98f9f48 3208ba8a288 09cecedca90
            56685901b58 387a0e18a48 e6f94eea4b8 9c34847cb08 4abf1399e90 04101d8da58 1326c0a84b8 d16c7ed6a90
            5329475df58 f025acc0718 5a2de64a4b8 68e54dded90 465655c1e58 7c76158ce10 9eef66c81b8 704ef6e4718
            9f118d9df88 009478cd8f8 fe6a2405ad8 825cf046890 bac128d4fa8 ba7839d8cd8 baaf6425198 827394edd10
            fece2cccdb8
            """
        ),
        Reference(
            name: "url120", version: 7, mask: 4,
            text: "https://tend.example.org/portal/s/ibxUdl7dXTPyLsxPFkThf4VucSmEHgaKwVJ7faC9qEwjky40UVsWmflzdE1F8ResqEDusTpkr0cStY4qWB8dWK",
            rows: """
            fefaec668bf8 820a02949208 ba2a66bdd2e8 ba8f184d1ae8 ba8b0fe67ae8 82cf58854208 feaaaaaaabf8
            009be8d02000 8babcfb687c8 bd883d66dfc0 93fc81224fb0 540a43cd0000 56f3e2d08550 499a13a39b18
            020ede2b16d0 3c9e3286a410 2bf57ae2b118 590d06375bf8 636a8857cd70 198fd34ea950 7fac6ff6cfc8
            28b338a7c8f0 1a895af40ac0 288c08f1b880 bfdc2fd4dfc0 64286626c130 87590bbedcb0 692e1e252740
            dfffac12ed90 1d6974bfdd60 5a09495ec1a0 ac7d9a44eb90 43177d37c488 dcc063bfc718 0b2882d77550
            78c35e03e590 9a5f1fb2efe0 009f88bfd8f0 fee43adb2ad0 8228d8e78890 babb5f91bfd8 ba5df4364a40
            ba1f326642b0 82766fcd2480 fecca9f48e08
            """
        ),
        Reference(
            name: "url150", version: 8, mask: 3,
            text: "https://tend.example.org/portal/s/nHfDNxSIvPZZ63fFKcZjR4I0b3jRtaWr4Y9OJFLJOqOAf1lLQSAJaiXnkU8Is2g8nprvDd53x83rzjZZZZGeoZDMENcKHVmDGAkJiG8XnBE3NnYJoQ9W",
            rows: """
            fefe114b88bf8 82df86a387a08 ba7eccc6b5ae8 bad133a41d2e8 ba28ebe14c2e8 8274c63e0e208
            feaaaaaaaabf8 00962a3d3b000 b72203ff12258 6441564e846b0 7aaf61d6d8c60 e41c1bd3ef368
            5f6902a31b150 e0d95738174a8 32dc1cb2cfa90 188c78c809308 4e7e9c25e5d98 c1f4c35c70df0
            26676a66d1f58 18d941c47d358 0366d07a76148 c85216de847e8 0fe827f6e8f80 a8917a3bb08f0
            bae80ea17aa88 e8e1de308e890 4fd113ed44ff0 f516cd3cf1e08 63856d76869a0 0daef14c70068
            7f017bd55b7b8 55945b8618d58 9bd07b9872790 0191179e84518 d6dce4e622d80 c1d4fc14a9b68
            462a0344591a0 68795b6d53788 4766954b0f450 70131c7b84e90 e2f3eff680f88 00d2062c798e0
            fe8ccea4c0af8 8288d23c39898 ba6407f871fd0 ba8af46e05398 bacd581b6f1d8 821f590f17d60
            fee358c138e78
            """
        ),
        Reference(
            name: "url200", version: 10, mask: 2,
            text: "https://tend.example.org/portal/s/mXeHH2fdeeTFJGvVvQe1sKhBN88hXJsi6BwhTp3Fs2QhX6KWxOiixgVoOnzyw2MzP0ZvzOMhfWuBByReQMsm9Wcz7uW9XFOGOeMVNen5n1Ae6pWzpF1qH6YytwMe4LbyoVFz8uZdZv8FuKKIBJl5dzpJn0meq7WJjjIBAz",
            rows: """
            fe3d71d200633f8 8216d7d9af2d208 bab4ee0774bf2e8 bac5a0e01d312e8 ba8957bf01f12e8 8296bce22a76208
            feaaaaaaaaaabf8 00ca706273e0000 be4cc47f18153e0 d155c9c61460c08 9700722d50c64f0 45b97ec3ca1d370
            5ee822955801650 255ae5670571cc8 2b559031e3978d0 04d64d641198160 3e3853833c23e28 b8e507af9d659f8
            de7877886682790 199cf3dceca9ca8 1667d7211e11648 6cd064ad0479d00 7bfd15020c2f730 55ccf79c0f0b768
            db175165da14e50 2c7a95a6856dc68 4f9f437fbb5aff0 d8a9a3a3c3398f0 daa6cb2a6a30ae8 c8b01aa314e8888
            ff85c8ff5eeefb0 649ad03425c9260 b6953bfb3a10510 90a430850534260 2bb049ea25c2458 8c59e2adf9b5060
            9ac0db145c76ba0 fcf3e9ae0569e10 feda029a190d5b0 d0a1f62ccdc3060 b2fc39bb7e16b30 d50023a01c3d260
            73f499a778c29b0 487c9b9c16e9a60 9aec0fe22e004c8 112d2d869de1268 a64aeb22c7d7d30 f846041ec17a478
            03d2beff1e56fb8 009583e305e18e8 fe6e92ebabd6ad0 82e7102344a48e8 ba9508ff7f31ff0 bad6016305706c0
            baec3e252783a40 8276353b92da5e0 feb561114871610
            """
        ),
        Reference(
            name: "url213", version: 10, mask: 2,
            text: "https://tend.example.org/portal/s/upGhv7Ib3M03NBQNSgPwlUQia1ID6vW5dql05ha064gIiJhgB3cxLmAxzJLJenuHjDUrhhjeyxG4jDPMRCxGgcjBw56EcUngmgMsRcgizeg8Psh4487Q7j58M1cIaHZcUEqPbENqTyH5xJ8tpqXJQ4I9dOv8GZ4fKq1OKtbgZVaMWUFuXBV",
            rows: """
            fe629fc204f73f8 8258dbb9c401208 baa9c7ab64ff2e8 ba8e49235d312e8 bae722bf99752e8 82a0dc634bf2208
            feaaaaaaaaaabf8 00e7f6a255b8800 be4af0bf1a243e0 49ad81c315f1c00 4a3a614457cf6b0 3d3d4fc1d491af8
            87f28ce34d72220 d524d5c79d61948 b36748ea6e08790 15a4ec51b580170 c38ec2c24e30610 69ae3f875d69998
            375323863c8f6f0 a07e29d883168e0 93472c815a71230 542367af0971d08 bbc21a561f93530 8d2941d4b6ef370
            aea282851b75250 01b8d78ecd69d58 3f8e7b7e3a5cff0 08e7e1a2a5a08b8 2af04b2b2a50ac0 e8d17ce315608d8
            dfc6247edd96fa0 ec6c23a4337d1e8 97181f8f3c24100 1ccd1fa09479e70 aa6a33aa27b2cd8 ac3bb7acd1aa460
            33b03eb74c76a80 05f045a44160010 86ad4e26a70b430 6ceece90d4b6730 42076f614976b40 884938a015a1270
            f6f593ef5a5f8b0 a4922bd0c6afb78 bec37a5f1f060c0 d19c79801d61428 a6664aef7e11530 f9cc1200659b038
            03abaf7f3e26fc0 00f1e7e381308c8 fe33b6ea2fc6af0 82900e234b498f0 babdeb3f7852fa8 bad1fbfb04702c0
            ba983005b957a60 8224279284c0460 fea746411e70810
            """
        ),
        Reference(
            name: "chinese", version: 6, mask: 7,
            text: "https://tend.example.org/portal/s/Zq7?note=我妈妈突然胸口剧痛，喘不上气",
            rows: """
            fe60daf2bf8 827bb665a08 ba1aa954ae8 ba5274fdae8 ba4faef82e8 82d3e75ba08 feaaaaaabf8 003d6f25000
            96faa4f9d00 ed294cecef0 26acd8c3468 59af4a6a530 877824d7a40 3839039af18 cf3068e13a0 448a90b2a98
            47c23f66908 d1268144368 67523d35cf8 6063e2b8160 b660f09deb0 4d0bad2dbf8 caaecbe12d0 1522bfea400
            fb35d65d918 3c62be8d7c0 ef34e928d80 450e8bfee10 6ad84d26610 68ccd45bd38 836b985e1a0 04c1b962540
            aa7f1b98fb8 009c96b4898 fe56491aa90 82b3473b8d0 ba438b8bfa8 baf7c083ec8 ba3d14000b8 820eadedd70
            fee1df95f90
            """
        ),
    ]

    static func matrix(_ code: QRCode) -> [[Bool]] {
        (0..<code.size).map { y in (0..<code.size).map { x in code.isDark(x: x, y: y) } }
    }

    /// Reads the format information around the top-left finder: (error level bits, mask).
    static func format(_ code: QRCode) -> (level: Int, mask: Int) {
        let positions = (0...5).map { (8, $0) } + [(8, 7), (8, 8), (7, 8)] + (9..<15).map { (14 - $0, 8) }
        let bits = positions.enumerated().reduce(0) { word, entry in
            word | (code.isDark(x: entry.element.0, y: entry.element.1) ? 1 << entry.offset : 0)
        }
        let data = (bits ^ 0x5412) >> 10
        return (data >> 3, data & 0b111)
    }

    @Test(arguments: references)
    func matchesTheReferenceEncoderModuleForModule(_ reference: Reference) throws {
        let code = try QRCode(reference.text)
        #expect(code.size == 17 + 4 * reference.version, "smallest version")
        let format = Self.format(code)
        #expect(format.level == 0, "error correction level M")
        #expect(format.mask == reference.mask, "mask chosen by the penalty rules")
        let expected = reference.matrix()
        let actual = Self.matrix(code)
        let differing = zip(expected.joined(), actual.joined()).filter { $0 != $1 }.count
        #expect(expected.count == actual.count && differing == 0, "\(differing) modules differ")
    }

    /// The most bytes each version holds in byte mode at level M.
    static let capacities = [14, 26, 42, 62, 84, 106, 122, 152, 180, 213]

    @Test func picksTheSmallestVersionThatHoldsTheBytes() throws {
        for (index, capacity) in Self.capacities.enumerated() {
            let version = index + 1
            #expect(try QRCode(String(repeating: "a", count: capacity)).size == 17 + 4 * version)
            if version < 10 {
                #expect(try QRCode(String(repeating: "a", count: capacity + 1)).size == 17 + 4 * (version + 1))
            }
        }
        #expect(try QRCode("").size == 21)
    }

    @Test func throwsTooLongPastVersionTen() throws {
        #expect(throws: QRCode.TooLong.self) { try QRCode(String(repeating: "x", count: 400)) }
        #expect(throws: QRCode.TooLong.self) { try QRCode(String(repeating: "x", count: 214)) }
        // Three UTF-8 bytes each: 71 × 3 = 213 fits, 72 × 3 = 216 does not.
        #expect(try QRCode(String(repeating: "痛", count: 71)).size == 57)
        #expect(throws: QRCode.TooLong.self) { try QRCode(String(repeating: "痛", count: 72)) }
        #expect(throws: QRCode.TooLong.self) { try QRCode(String(repeating: "x", count: 1_000_000)) }
    }

    @Test func isLightOutsideTheSymbol() throws {
        let code = try QRCode("HELLO")
        #expect(code.isDark(x: 0, y: 0))
        for (x, y) in [(-1, 0), (0, -1), (21, 0), (0, 21), (Int.min, Int.max)] {
            #expect(!code.isDark(x: x, y: y))
        }
    }

    @Test func svgDrawsOneSquarePerDarkModule() throws {
        let code = try QRCode(Self.references[1].text)
        let svg = code.svg(moduleSize: 5, quietZone: 4)
        let side = code.size + 8
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(side) \(side)\" width=\"\(side * 5)\" height=\"\(side * 5)\""))
        #expect(svg.hasSuffix("</svg>"))
        #expect(svg.contains("shape-rendering=\"crispEdges\"") && svg.contains("role=\"img\""))
        #expect(svg.contains("<rect width=\"\(side)\" height=\"\(side)\" fill=\"#fff\"/>"))
        #expect(svg.components(separatedBy: "<svg").count == 2)
        #expect(svg.components(separatedBy: "<path").count == 2)

        let path = try #require(svg.components(separatedBy: " d=\"").dropFirst().first?.split(separator: "\"").first)
        let squares = path.split(separator: "z").map(String.init)
        #expect(squares.allSatisfy { $0.hasPrefix("M") && $0.hasSuffix("h1v1h-1") })
        let drawn = Set(squares.map { square in
            square.dropFirst().prefix { $0 != "h" }.split(separator: ",").compactMap { Int($0) }
        })
        let dark = Set((0..<code.size).flatMap { y in
            (0..<code.size).filter { code.isDark(x: $0, y: y) }.map { [$0 + 4, y + 4] }
        })
        #expect(squares.count == Self.matrix(code).joined().filter { $0 }.count)
        #expect(drawn == dark)
    }

    @Test func svgClampsItsSizes() throws {
        let code = try QRCode("HELLO")
        #expect(code.svg(moduleSize: 0, quietZone: -3).contains("viewBox=\"0 0 21 21\" width=\"21\" height=\"21\""))
        #expect(code.svg(moduleSize: .max, quietZone: .max).contains("width=\"\((21 + 128) * 64)\""))
        #expect(code.svg().contains("M4,4h1v1h-1z"))
    }
}
