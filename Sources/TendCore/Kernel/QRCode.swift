import Foundation

/// A QR code (ISO/IEC 18004) for short texts such as share links, drawn as SVG.
///
/// The text is encoded as UTF-8 in byte mode at error correction level M, in the smallest
/// of versions 1 to 10 that holds it (up to 213 bytes); longer texts throw ``TooLong``.
public struct QRCode: Sendable {
    /// The text needs more than version 10 at level M holds.
    public struct TooLong: Error, Sendable {}

    /// Modules per side, 17 + 4 × version, without the quiet zone.
    public let size: Int
    /// Row-major, `size × size`; `true` is dark.
    private let modules: [Bool]

    public init(_ text: String) throws(QRCode.TooLong) {
        // `utf8.count` is checked before copying, so a huge input costs nothing.
        guard let version = QRVersion.smallest(holding: text.utf8.count) else { throw TooLong() }
        let data = QRCodewords.data(Array(text.utf8), version: version)
        let codewords = QRCodewords.withErrorCorrection(data, version: version)

        var unmasked = QRGrid(size: version.size)
        unmasked.drawFunctionPatterns(version)
        unmasked.placeCodewords(codewords)

        let chosen = QRMask.best(for: unmasked)
        var grid = chosen.grid
        grid.drawFormatInformation(mask: chosen.mask)
        grid.drawVersionInformation(version)
        size = grid.size
        modules = grid.dark
    }

    /// Whether the module at column `x`, row `y` is dark; `false` outside the symbol.
    public func isDark(x: Int, y: Int) -> Bool {
        guard (0..<size).contains(x), (0..<size).contains(y) else { return false }
        return modules[y * size + x]
    }

    /// The code as one `<svg>` element: a white background and one black `<path>` of unit
    /// squares, in module units scaled by `viewBox`. `moduleSize` (pixels per module) is
    /// clamped to 1...64 and `quietZone` (light modules around the code) to 0...64.
    public func svg(moduleSize: Int = 4, quietZone: Int = 4) -> String {
        let scale = min(max(moduleSize, 1), 64)
        let margin = min(max(quietZone, 0), 64)
        let side = size + 2 * margin
        var path = ""
        for y in 0..<size {
            for x in 0..<size where isDark(x: x, y: y) {
                path += "M\(x + margin),\(y + margin)h1v1h-1z"
            }
        }
        return """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(side) \(side)" width="\(side * scale)" height="\(side * scale)" \
        shape-rendering="crispEdges" role="img">\
        <rect width="\(side)" height="\(side)" fill="#fff"/>\
        <path d="\(path)" fill="#000"/>\
        </svg>
        """
    }
}

// MARK: - Versions

/// The capacity and layout of one version at error correction level M.
private struct QRVersion: Sendable {
    let number: Int
    let errorCodewordsPerBlock: Int
    /// Data codewords in each block, in order (group 1, then group 2).
    let blockLengths: [Int]
    /// Centre coordinates of alignment patterns (ISO/IEC 18004 Annex E).
    let alignmentCentres: [Int]

    init(_ number: Int, ec: Int, blocks: [(count: Int, length: Int)], alignment: [Int]) {
        self.number = number
        errorCodewordsPerBlock = ec
        blockLengths = blocks.flatMap { Array(repeating: $0.length, count: $0.count) }
        alignmentCentres = alignment
    }

    var size: Int { 17 + 4 * number }
    var dataCodewords: Int { blockLengths.reduce(0, +) }
    var characterCountBits: Int { number < 10 ? 8 : 16 }

    func holds(byteCount: Int) -> Bool {
        4 + characterCountBits + 8 * byteCount <= 8 * dataCodewords
    }

    static func smallest(holding byteCount: Int) -> QRVersion? {
        levelM.first { $0.holds(byteCount: byteCount) }
    }

    /// ISO/IEC 18004 Table 9 (level M) and Annex E, versions 1–10.
    static let levelM: [QRVersion] = [
        QRVersion(1, ec: 10, blocks: [(1, 16)], alignment: []),
        QRVersion(2, ec: 16, blocks: [(1, 28)], alignment: [6, 18]),
        QRVersion(3, ec: 26, blocks: [(1, 44)], alignment: [6, 22]),
        QRVersion(4, ec: 18, blocks: [(2, 32)], alignment: [6, 26]),
        QRVersion(5, ec: 24, blocks: [(2, 43)], alignment: [6, 30]),
        QRVersion(6, ec: 16, blocks: [(4, 27)], alignment: [6, 34]),
        QRVersion(7, ec: 18, blocks: [(4, 31)], alignment: [6, 22, 38]),
        QRVersion(8, ec: 22, blocks: [(2, 38), (2, 39)], alignment: [6, 24, 42]),
        QRVersion(9, ec: 22, blocks: [(3, 36), (2, 37)], alignment: [6, 26, 46]),
        QRVersion(10, ec: 26, blocks: [(4, 43), (1, 44)], alignment: [6, 28, 50]),
    ]
}

// MARK: - Codewords

private enum QRCodewords {
    /// Mode indicator, character count, bytes, terminator and padding (ISO/IEC 18004 §7.4).
    static func data(_ bytes: [UInt8], version: QRVersion) -> [UInt8] {
        let capacity = 8 * version.dataCodewords
        var bits: [Bool] = []
        append(0b0100, width: 4, to: &bits)
        append(bytes.count, width: version.characterCountBits, to: &bits)
        for byte in bytes { append(Int(byte), width: 8, to: &bits) }
        append(0, width: min(4, capacity - bits.count), to: &bits)
        append(0, width: (8 - bits.count % 8) % 8, to: &bits)

        var codewords = pack(bits)
        var padIsEC = true
        while codewords.count < version.dataCodewords {
            codewords.append(padIsEC ? 0xEC : 0x11)
            padIsEC.toggle()
        }
        return codewords
    }

    /// Splits the data into blocks, adds each block's Reed–Solomon codewords, and interleaves
    /// data then error correction codewords (ISO/IEC 18004 §7.5–7.6).
    static func withErrorCorrection(_ data: [UInt8], version: QRVersion) -> [UInt8] {
        var blocks: [[UInt8]] = []
        var rest = data[...]
        for length in version.blockLengths {
            blocks.append(Array(rest.prefix(length)))
            rest = rest.dropFirst(length)
        }
        let divisor = ReedSolomon.generator(degree: version.errorCodewordsPerBlock)
        let errorBlocks = blocks.map { ReedSolomon.remainder(of: $0, dividedBy: divisor) }
        return interleave(blocks) + interleave(errorBlocks)
    }

    private static func append(_ value: Int, width: Int, to bits: inout [Bool]) {
        for shift in stride(from: width - 1, through: 0, by: -1) {
            bits.append((value >> shift) & 1 == 1)
        }
    }

    private static func pack(_ bits: [Bool]) -> [UInt8] {
        stride(from: 0, to: bits.count, by: 8).map { start in
            bits.dropFirst(start).prefix(8).reduce(UInt8(0)) { ($0 << 1) | ($1 ? 1 : 0) }
        }
    }

    private static func interleave(_ blocks: [[UInt8]]) -> [UInt8] {
        let longest = blocks.map(\.count).max() ?? 0
        var result: [UInt8] = []
        for index in 0..<longest {
            for block in blocks where index < block.count {
                result.append(block[index])
            }
        }
        return result
    }
}

/// Reed–Solomon over GF(256) with the QR polynomial x⁸ + x⁴ + x³ + x² + 1 (0x11D).
private enum ReedSolomon {
    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var product: UInt8 = 0
        var a = a
        var b = b
        while b != 0 {
            if b & 1 != 0 { product ^= a }
            let overflows = a & 0x80 != 0
            a <<= 1
            if overflows { a ^= 0x1D }
            b >>= 1
        }
        return product
    }

    /// Coefficients of ∏(x − αⁱ) for i in 0..<degree, highest power first, leading 1 omitted.
    static func generator(degree: Int) -> [UInt8] {
        var coefficients = Array(repeating: UInt8(0), count: max(degree - 1, 0)) + [1]
        var root: UInt8 = 1
        for _ in 0..<degree {
            let next = Array(coefficients.dropFirst()) + [0]
            coefficients = zip(coefficients, next).map { multiply($0, root) ^ $1 }
            root = multiply(root, 2)
        }
        return coefficients
    }

    static func remainder(of data: [UInt8], dividedBy divisor: [UInt8]) -> [UInt8] {
        var remainder = Array(repeating: UInt8(0), count: divisor.count)
        for byte in data {
            let factor = byte ^ (remainder.first ?? 0)
            let shifted = Array(remainder.dropFirst()) + [0]
            remainder = zip(shifted, divisor).map { $0 ^ multiply($1, factor) }
        }
        return remainder
    }
}

// MARK: - Module grid

/// Modules and which of them belong to function patterns; out-of-range access is ignored.
private struct QRGrid: Sendable {
    let size: Int
    private(set) var dark: [Bool]
    private var isFunction: [Bool]

    init(size: Int) {
        self.size = size
        dark = Array(repeating: false, count: size * size)
        isFunction = dark
    }

    private func index(_ x: Int, _ y: Int) -> Int? {
        (0..<size).contains(x) && (0..<size).contains(y) ? y * size + x : nil
    }

    func isDark(_ x: Int, _ y: Int) -> Bool {
        index(x, y).map { dark[$0] } ?? false
    }

    func isFunctionModule(_ x: Int, _ y: Int) -> Bool {
        index(x, y).map { isFunction[$0] } ?? true
    }

    mutating func setFunction(_ x: Int, _ y: Int, dark value: Bool) {
        guard let i = index(x, y) else { return }
        dark[i] = value
        isFunction[i] = true
    }

    mutating func setData(_ x: Int, _ y: Int, dark value: Bool) {
        guard let i = index(x, y), !isFunction[i] else { return }
        dark[i] = value
    }
}

extension QRGrid {
    /// Finders with separators, timing, alignment patterns, and the format and version areas,
    /// reserved light until a mask is chosen.
    mutating func drawFunctionPatterns(_ version: QRVersion) {
        for i in 0..<size {
            setFunction(6, i, dark: i % 2 == 0)
            setFunction(i, 6, dark: i % 2 == 0)
        }
        for (x, y) in [(3, 3), (size - 4, 3), (3, size - 4)] {
            drawFinder(centreX: x, centreY: y)
        }
        drawAlignmentPatterns(version.alignmentCentres)
        reserveFormatAndVersionAreas(version)
    }

    private mutating func drawFinder(centreX: Int, centreY: Int) {
        for dy in -4...4 {
            for dx in -4...4 {
                let ring = max(abs(dx), abs(dy))
                setFunction(centreX + dx, centreY + dy, dark: ring != 2 && ring != 4)
            }
        }
    }

    private mutating func drawAlignmentPatterns(_ centres: [Int]) {
        guard let first = centres.first, let last = centres.last else { return }
        let underFinders = [(first, first), (first, last), (last, first)]
        for y in centres {
            for x in centres where !underFinders.contains(where: { $0 == (x, y) }) {
                for dy in -2...2 {
                    for dx in -2...2 {
                        setFunction(x + dx, y + dy, dark: max(abs(dx), abs(dy)) != 1)
                    }
                }
            }
        }
    }

    private mutating func reserveFormatAndVersionAreas(_ version: QRVersion) {
        drawFormatBits(0, darkModule: false)
        if version.number >= 7 { drawVersionBits(0) }
    }

    /// Format information for level M (bits 00) and `mask`: BCH(15,5) with generator 0x537,
    /// XORed with 0x5412 (ISO/IEC 18004 §7.9), plus the dark module.
    mutating func drawFormatInformation(mask: Int) {
        let data = mask & 0b111
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        drawFormatBits(((data << 10) | remainder) ^ 0x5412, darkModule: true)
    }

    private mutating func drawFormatBits(_ bits: Int, darkModule: Bool) {
        func bit(_ i: Int) -> Bool { (bits >> i) & 1 == 1 }
        // Around the top-left finder.
        for i in 0...5 { setFunction(8, i, dark: bit(i)) }
        setFunction(8, 7, dark: bit(6))
        setFunction(8, 8, dark: bit(7))
        setFunction(7, 8, dark: bit(8))
        for i in 9..<15 { setFunction(14 - i, 8, dark: bit(i)) }
        // Split between the top-right and bottom-left finders.
        for i in 0..<8 { setFunction(size - 1 - i, 8, dark: bit(i)) }
        for i in 8..<15 { setFunction(8, size - 15 + i, dark: bit(i)) }
        setFunction(8, size - 8, dark: darkModule)
    }

    /// Version information, BCH(18,6) with generator 0x1F25 (ISO/IEC 18004 §7.10), v7 and up.
    mutating func drawVersionInformation(_ version: QRVersion) {
        guard version.number >= 7 else { return }
        var remainder = version.number
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        drawVersionBits((version.number << 12) | remainder)
    }

    private mutating func drawVersionBits(_ bits: Int) {
        for i in 0..<18 {
            let value = (bits >> i) & 1 == 1
            let a = size - 11 + i % 3
            let b = i / 3
            setFunction(a, b, dark: value)
            setFunction(b, a, dark: value)
        }
    }

    /// Places the bits in two-module columns, zigzagging up and down from the right and
    /// skipping the vertical timing column; modules left over stay light (remainder bits).
    mutating func placeCodewords(_ codewords: [UInt8]) {
        let bits: [Bool] = codewords.flatMap { (byte: UInt8) -> [Bool] in
            (0..<8).map { (byte >> (7 - $0)) & 1 == 1 }
        }
        var next = bits.makeIterator()
        for pairRight in stride(from: size - 1, through: 1, by: -2) {
            let right = pairRight <= 6 ? pairRight - 1 : pairRight
            let upward = ((right + 1) & 2) == 0
            for step in 0..<size {
                let y = upward ? size - 1 - step : step
                for x in [right, right - 1] where !isFunctionModule(x, y) {
                    setData(x, y, dark: next.next() ?? false)
                }
            }
        }
    }

    func masked(with mask: Int) -> QRGrid {
        var copy = self
        for y in 0..<size {
            for x in 0..<size where !isFunctionModule(x, y) && QRMask.flips(mask, x: x, y: y) {
                copy.setData(x, y, dark: !isDark(x, y))
            }
        }
        return copy
    }
}

// MARK: - Masking

/// Mask selection (ISO/IEC 18004 §7.8). Penalties are scored before format and version
/// information are drawn, with those areas and the dark module light, as §7.8 and the
/// reference encoder used by the tests (segno) do; encoders differ on this.
private enum QRMask {
    static func best(for grid: QRGrid) -> (grid: QRGrid, mask: Int) {
        var best = (grid: grid.masked(with: 0), mask: 0)
        var bestScore = penalty(best.grid)
        for mask in 1..<8 {
            let candidate = grid.masked(with: mask)
            let score = penalty(candidate)
            if score < bestScore {
                best = (candidate, mask)
                bestScore = score
            }
        }
        return best
    }

    /// x is the column, y the row.
    static func flips(_ mask: Int, x: Int, y: Int) -> Bool {
        switch mask {
        case 0: (x + y) % 2 == 0
        case 1: y % 2 == 0
        case 2: x % 3 == 0
        case 3: (x + y) % 3 == 0
        case 4: (x / 3 + y / 2) % 2 == 0
        case 5: (x * y) % 2 + (x * y) % 3 == 0
        case 6: ((x * y) % 2 + (x * y) % 3) % 2 == 0
        case 7: ((x + y) % 2 + (x * y) % 3) % 2 == 0
        default: false
        }
    }

    static func penalty(_ grid: QRGrid) -> Int {
        let range = 0..<grid.size
        let rows = range.map { y in range.map { x in grid.isDark(x, y) } }
        let columns = range.map { x in range.map { y in grid.isDark(x, y) } }
        let lines = rows + columns
        return lines.map(runPenalty).reduce(0, +)
            + lines.map(finderLikePenalty).reduce(0, +)
            + blockPenalty(grid)
            + balancePenalty(grid)
    }

    /// N1: 3 for each run of five same-coloured modules, plus 1 per module beyond five.
    private static func runPenalty(_ line: [Bool]) -> Int {
        var score = 0
        var run = 0
        var previous: Bool?
        for module in line {
            run = module == previous ? run + 1 : 1
            previous = module
            if run == 5 { score += 3 } else if run > 5 { score += 1 }
        }
        return score
    }

    private static let finderLike: [Bool] = [true, false, true, true, true, false, true]

    /// N3: 40 for each dark-light-dark-dark-dark-light-dark with four light modules (or the
    /// edge) on either side; matches are counted without overlap.
    private static func finderLikePenalty(_ line: [Bool]) -> Int {
        var score = 0
        var start = 0
        while start + finderLike.count <= line.count {
            let end = start + finderLike.count
            guard line[start..<end].elementsEqual(finderLike) else {
                start += 1
                continue
            }
            let before = line[max(start - 4, 0)..<start]
            let after = line[end..<min(end + 4, line.count)]
            if !before.contains(true) || !after.contains(true) {
                score += 40
                start = end
            } else {
                start += 1
            }
        }
        return score
    }

    /// N2: 3 for each 2×2 block of one colour (overlapping blocks all count).
    private static func blockPenalty(_ grid: QRGrid) -> Int {
        var score = 0
        for y in 0..<(grid.size - 1) {
            for x in 0..<(grid.size - 1) {
                let colour = grid.isDark(x, y)
                if grid.isDark(x + 1, y) == colour, grid.isDark(x, y + 1) == colour, grid.isDark(x + 1, y + 1) == colour {
                    score += 3
                }
            }
        }
        return score
    }

    /// N4: 10 for each full 5 % that the dark share departs from 50 %.
    private static func balancePenalty(_ grid: QRGrid) -> Int {
        let total = grid.size * grid.size
        guard total > 0 else { return 0 }
        let darkCount = grid.dark.filter { $0 }.count
        return 10 * (abs(20 * darkCount - 10 * total) / total)
    }
}
