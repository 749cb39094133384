/// Finds every occurrence of many phrases in one pass over a text (Aho–Corasick over Unicode
/// scalars). Built once per rule set; matching allocates nothing.
///
/// The trie's edges live in one open-addressing table of packed (node, scalar → child) words
/// with a multiplicative hash — several times cheaper per step than a `Dictionary` per node, and
/// small enough to stay in cache — and the root's edges for the scalars below U+A000 (ASCII and
/// the CJK block) in a plain array.
struct PhraseMatcher: Sendable {
    /// scalar (21 bits) << 42 | node (21 bits) << 21 | child (21 bits); `empty` marks a free slot.
    private var table: [UInt64] = []
    private var shift: UInt64 = 0
    private var root: [Int32] = []
    private static let rootSize = 0xA000
    private var failure: [Int32] = []
    /// The patterns that end at each node (its failure chain included): `outputs[outputStart[n]..<outputStart[n + 1]]`.
    private var outputStart: [Int32] = []
    private var outputs: [Int32] = []
    private(set) var lengths: [Int] = []

    private static let empty = UInt64.max

    init(_ patterns: [String]) {
        var transitions: [[UInt32: Int32]] = [[:]]
        var nodeOutputs: [[Int32]] = [[]]
        var failure: [Int32] = [0]
        for pattern in patterns {
            var node: Int32 = 0
            let scalars = pattern.unicodeScalars
            for scalar in scalars {
                if let next = transitions[Int(node)][scalar.value] {
                    node = next
                } else {
                    let created = Int32(transitions.count)
                    transitions.append([:])
                    failure.append(0)
                    nodeOutputs.append([])
                    transitions[Int(node)][scalar.value] = created
                    node = created
                }
            }
            nodeOutputs[Int(node)].append(Int32(lengths.count))
            lengths.append(scalars.count)
        }
        // Breadth-first: each node's failure link is the longest proper suffix that is a prefix.
        var queue: [Int32] = transitions[0].keys.sorted().map { transitions[0][$0]! }
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for scalar in transitions[Int(node)].keys.sorted() {
                let child = transitions[Int(node)][scalar]!
                queue.append(child)
                var fallback = failure[Int(node)]
                while fallback != 0 && transitions[Int(fallback)][scalar] == nil {
                    fallback = failure[Int(fallback)]
                }
                let target = node == 0 ? 0 : (transitions[Int(fallback)][scalar] ?? 0)
                failure[Int(child)] = target == child ? 0 : target
                nodeOutputs[Int(child)] += nodeOutputs[Int(failure[Int(child)])]
            }
        }
        self.failure = failure
        outputStart.reserveCapacity(nodeOutputs.count + 1)
        for list in nodeOutputs {
            outputStart.append(Int32(outputs.count))
            outputs += list
        }
        outputStart.append(Int32(outputs.count))
        precondition(transitions.count < 1 << 21, "too many phrase nodes")
        // The edge table, at most two-thirds full.
        let edges = transitions.reduce(0) { $0 + $1.count }
        var bits: UInt64 = 4
        while (1 << bits) * 2 < edges * 3 { bits += 1 }
        shift = 64 - bits
        table = [UInt64](repeating: Self.empty, count: 1 << Int(bits))
        root = [Int32](repeating: 0, count: Self.rootSize)
        let mask = (1 << Int(bits)) - 1
        for (node, edgesOfNode) in transitions.enumerated() {
            for (scalar, child) in edgesOfNode {
                if node == 0 && scalar < Self.rootSize { root[Int(scalar)] = child }
                let key = UInt64(scalar) << 21 | UInt64(node)
                var slot = Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)
                while table[slot] != Self.empty { slot = (slot + 1) & mask }
                table[slot] = key << 21 | UInt64(child)
            }
        }
    }

    @inline(__always) private func child(_ node: Int32, _ scalar: UInt32) -> Int32? {
        if node == 0 && scalar < Self.rootSize {
            let target = root[Int(scalar)]
            return target == 0 ? nil : target
        }
        let key = UInt64(scalar) << 21 | UInt64(node)
        let mask = table.count - 1
        var slot = Int((key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let entry = table[slot]
            if entry == Self.empty { return nil }
            if entry >> 21 == key { return Int32(truncatingIfNeeded: entry & 0x1F_FFFF) }
            slot = (slot + 1) & mask
        }
    }

    /// Calls `found(pattern, start, end)` for every occurrence, in order of end position.
    func scan(_ text: [UInt32], _ found: (Int, Int, Int) -> Void) {
        var node: Int32 = 0
        for (position, scalar) in text.enumerated() {
            while true {
                if let next = child(node, scalar) { node = next; break }
                if node == 0 { break }
                node = failure[Int(node)]
            }
            let first = Int(outputStart[Int(node)]), last = Int(outputStart[Int(node) + 1])
            guard first < last else { continue }
            let end = position + 1
            for index in first..<last {
                let pattern = Int(outputs[index])
                found(pattern, end - lengths[pattern], end)
            }
        }
    }
}
