/// Finds every occurrence of many phrases in one pass over a text (Aho–Corasick over Unicode
/// scalars). Built once per rule set; matching allocates nothing per phrase.
struct PhraseMatcher: Sendable {
    private var transitions: [[UInt32: Int32]] = [[:]]
    private var failure: [Int32] = [0]
    /// The patterns that end at each node, its failure chain included.
    private var outputs: [[Int32]] = [[]]
    private(set) var lengths: [Int] = []

    init(_ patterns: [String]) {
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
                    outputs.append([])
                    transitions[Int(node)][scalar.value] = created
                    node = created
                }
            }
            outputs[Int(node)].append(Int32(lengths.count))
            lengths.append(scalars.count)
        }
        // Breadth-first: each node's failure link is the longest proper suffix that is a prefix.
        var queue: [Int32] = Array(transitions[0].values)
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for (scalar, child) in transitions[Int(node)] {
                queue.append(child)
                var fallback = failure[Int(node)]
                while fallback != 0 && transitions[Int(fallback)][scalar] == nil {
                    fallback = failure[Int(fallback)]
                }
                let target = node == 0 ? 0 : (transitions[Int(fallback)][scalar] ?? 0)
                failure[Int(child)] = target == child ? 0 : target
                outputs[Int(child)] += outputs[Int(failure[Int(child)])]
            }
        }
    }

    /// Calls `found(pattern, start, end)` for every occurrence, in order of end position.
    func scan(_ text: [UInt32], _ found: (Int, Int, Int) -> Void) {
        var node: Int32 = 0
        for (position, scalar) in text.enumerated() {
            while node != 0 && transitions[Int(node)][scalar] == nil {
                node = failure[Int(node)]
            }
            node = transitions[Int(node)][scalar] ?? 0
            for pattern in outputs[Int(node)] {
                let end = position + 1
                found(Int(pattern), end - lengths[Int(pattern)], end)
            }
        }
    }
}
