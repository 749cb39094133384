import Foundation

/// The learned backstop (`Rules/triage-model.json`): a logistic regression over hashed
/// character n-grams (Chinese: characters, pairs, triples) and English words and word pairs,
/// trained on the tuning split and the challenge files through `TriageChallenge11.tsv` (never the
/// validation split) by
/// `Tests/TendCoreTests/Triage/TriageCorpus/train_model.py` (fixed folds, deterministic optimiser).
///
/// Three heads: `urgent` (urgent vs the rest), `concern` (urgent or review vs the rest) and `ad`
/// (advertising, selling, schemes, miracle cures), each with the threshold above which only 1 % of
/// the training rows' negatives score (cross-validated). The `ad` head flags compliance only where
/// the rules found an ad's vocabulary but no combination of it, and nothing urgent.
/// The rules stay primary: the model lifts to urgent a message they hold for review above a lower
/// threshold (reached by 5 % of the tuning split's review rows of its language), one with a current body part or
/// symptom, or one they could not place at all, and nothing they explained above the main one; to review only what they could not place
/// at all; and it keeps open (general) what the rules would archive as social when its concern
/// score is above what 10 % of the tuning split's social rows reach. It never lowers a level to
/// social or below what the rules said, and stays out of hypotheticals, general questions and ads.
/// Its reason names the features that weighed most.
public struct TriageModel: Sendable, Codable, Equatable {
    public struct Head: Sendable, Codable, Equatable {
        public var bias: Double
        public var threshold: Double
        /// Urgent head: the lower threshold, by language (`zh`, `en`), for a message the rules
        /// already hold for review.
        public var thresholdFromReview: [String: Double]?
        /// Concern head: above it a message the rules would archive as social stays open (general).
        public var thresholdNotSocial: Double?
        /// Ad head: the stricter threshold for a message that asks something (buyers ask, sellers
        /// mostly announce).
        public var thresholdQuestion: Double?

        enum CodingKeys: String, CodingKey {
            case bias, threshold, index, weight
            case thresholdFromReview = "threshold_from_review", thresholdNotSocial = "threshold_not_social", thresholdQuestion = "threshold_question"
        }
        public var index: [Int]
        public var weight: [Double]
    }

    public struct Check: Sendable, Codable, Equatable {
        public var text: String
        public var urgent: Double?
        public var concern: Double?
        public var ad: Double?
    }

    public var buckets: Int
    /// Kept for the file's sake: features are English words and word pairs, Chinese characters
    /// and their pairs and triples (see train_model.py).
    public var orders: [Int]
    public var heads: [String: Head]
    /// Fixed strings with the scores the training script computed for them.
    public var checks: [Check]?

    struct Lift {
        var level: TriageLevel
        var rule: String
        var match: String
    }

    /// The shipped model, compiled once for every classifier that uses it.
    static let shipped: Compiled? = TriageDefaults.model?.compiled()

    /// The urgent and concern heads' probabilities for a message (what the classifier compares with the thresholds).
    public func scores(_ text: String) -> (urgent: Double, concern: Double) {
        guard let compiled = compiled() else { return (0, 0) }
        let result = compiled.score(TriageEngine.fold(text))
        return (result.urgent, result.concern)
    }

    /// The ad head's probability for a message (0 without an ad head).
    public func adScore(_ text: String) -> Double {
        guard let compiled = compiled(), heads["ad"] != nil else { return 0 }
        return compiled.score(TriageEngine.fold(text)).ad
    }

    /// Weights by bucket, the heads side by side (urgent, concern, ad), for one lookup per n-gram.
    struct Compiled: Sendable {
        var buckets: UInt32
        /// Dense: one entry per bucket (2¹⁸ × 16 bytes), so a feature costs one load.
        var weights: [SIMD4<Float>]
        var bias: SIMD4<Double>
        var threshold: SIMD2<Double>
        /// Chinese, English.
        var urgentFromReview: SIMD2<Double>
        var notSocial: Double
        /// Ad head: for a statement, for a question.
        var ad: SIMD2<Double>
    }

    func compiled() -> Compiled? {
        guard let urgent = heads["urgent"], let concern = heads["concern"], buckets > 0 else { return nil }
        var weights = [SIMD4<Float>](repeating: .zero, count: buckets)
        for (index, weight) in zip(urgent.index, urgent.weight) where index < buckets { weights[index].x = Float(weight) }
        for (index, weight) in zip(concern.index, concern.weight) where index < buckets { weights[index].y = Float(weight) }
        let ad = heads["ad"]
        for (index, weight) in zip(ad?.index ?? [], ad?.weight ?? []) where index < buckets { weights[index].z = Float(weight) }
        return Compiled(buckets: UInt32(buckets), weights: weights,
                        bias: SIMD4(urgent.bias, concern.bias, ad?.bias ?? -50, 0), threshold: SIMD2(urgent.threshold, concern.threshold),
                        urgentFromReview: SIMD2(urgent.thresholdFromReview?["zh"] ?? urgent.threshold, urgent.thresholdFromReview?["en"] ?? urgent.threshold),
                        notSocial: concern.thresholdNotSocial ?? 1,
                        ad: SIMD2(ad?.threshold ?? 2, ad?.thresholdQuestion ?? ad?.threshold ?? 2))
    }
}

extension TriageModel.Compiled {
    enum TokenKind: UInt32 {
        case word = 0x77, number = 0x6E, mark = 0x70, character = 0x63, boundary = 0
    }

    struct Token {
        var kind: TokenKind
        var start: Int
        var end: Int
    }

    /// As train_model.py: English words (apostrophes dropped), digit runs as one placeholder,
    /// "?" as a mark, other ASCII and CJK punctuation as boundaries, anything else one character.
    static func tokens(_ text: [UInt32]) -> [Token] {
        var tokens: [Token] = []
        var index = 0
        while index < text.count {
            let value = text[index]
            if (value >= 0x61 && value <= 0x7A) || value == 0x27 {
                let start = index
                while index < text.count, (text[index] >= 0x61 && text[index] <= 0x7A) || text[index] == 0x27 { index += 1 }
                tokens.append(Token(kind: .word, start: start, end: index))
            } else if value >= 0x30 && value <= 0x39 {
                let start = index
                while index < text.count, (text[index] >= 0x30 && text[index] <= 0x39) || text[index] == 0x2E { index += 1 }
                tokens.append(Token(kind: .number, start: start, end: index))
            } else if value < 0x80 || [0x3001, 0x3002, 0xFF0C, 0xFF1F, 0xFF01, 0xFF1A, 0xFF1B, 0x2026, 0xA0].contains(value) {
                tokens.append(Token(kind: value == 0x3F || value == 0xFF1F ? .mark : .boundary, start: index, end: index + 1))
                index += 1
            } else {
                tokens.append(Token(kind: .character, start: index, end: index + 1))
                index += 1
            }
        }
        return tokens
    }

    /// FNV-1a over the parts, a separator after each.
    struct Hasher {
        var hash: UInt32 = 0x811C_9DC5
        mutating func add(_ value: UInt32) {
            hash ^= value
            hash = hash &* 0x0100_0193
        }
        mutating func end() { add(0x1F) }
    }

    func value(_ token: Token, _ text: [UInt32], into hasher: inout Hasher) {
        switch token.kind {
        case .word:
            for index in token.start..<token.end where text[index] != 0x27 { hasher.add(text[index]) }
        case .number: hasher.add(0x23)
        case .mark: hasher.add(0x3F)
        case .character: hasher.add(text[token.start])
        case .boundary: break
        }
        hasher.end()
    }

    struct Scores {
        var urgent: Double
        var concern: Double
        var ad: Double
        /// The features that weighed most for urgency or concern, and for the ad head.
        var top: [(start: Int, length: Int, weight: Float)]
        var topAd: [(start: Int, length: Int, weight: Float)]
    }

    /// The probabilities of the heads for a folded text, and the features that weighed most.
    func score(_ text: [UInt32]) -> Scores {
        let tokens = Self.tokens(text)
        var features: [(bucket: UInt32, start: Int, end: Int)] = []
        features.reserveCapacity(tokens.count * 3)
        for (index, token) in tokens.enumerated() where token.kind != .boundary {
            var unigram = Hasher()
            unigram.add(token.kind.rawValue)
            unigram.end()
            value(token, text, into: &unigram)
            features.append((unigram.hash % buckets, token.start, token.end))
            if token.kind == .word {
                var next = index + 1
                while next < tokens.count, tokens[next].kind == .boundary { next += 1 }
                if next < tokens.count, tokens[next].kind == .word || tokens[next].kind == .number {
                    var pair = Hasher()
                    pair.add(0x32)
                    pair.end()
                    value(token, text, into: &pair)
                    value(tokens[next], text, into: &pair)
                    features.append((pair.hash % buckets, token.start, tokens[next].end))
                }
            }
            if token.kind == .character {
                for order in 2...3 where index + order <= tokens.count && tokens[index..<(index + order)].allSatisfy({ $0.kind == .character }) {
                    var gram = Hasher()
                    gram.add(0x30 + UInt32(order))
                    gram.end()
                    for offset in 0..<order { value(tokens[index + offset], text, into: &gram) }
                    features.append((gram.hash % buckets, token.start, tokens[index + order - 1].end))
                }
            }
        }
        features.sort { $0.bucket < $1.bucket }
        var sum = SIMD4<Double>.zero
        var unique = 0
        var top: [(start: Int, length: Int, weight: Float)] = []
        var topAd: [(start: Int, length: Int, weight: Float)] = []
        var previous: UInt32?
        for feature in features where feature.bucket != previous {
            previous = feature.bucket
            unique += 1
            let weight = weights[Int(feature.bucket)]
            guard weight != .zero else { continue }
            sum += SIMD4(Double(weight.x), Double(weight.y), Double(weight.z), 0)
            if weight.x > 0 || weight.y > 0 { top.append((feature.start, feature.end - feature.start, max(weight.x, weight.y))) }
            if weight.z > 0 { topAd.append((feature.start, feature.end - feature.start, weight.z)) }
        }
        let z = sum / Double(max(1, unique)).squareRoot() + bias
        top.sort { $0.weight > $1.weight }
        topAd.sort { $0.weight > $1.weight }
        return Scores(urgent: 1 / (1 + exp(-z.x)), concern: 1 / (1 + exp(-z.y)), ad: 1 / (1 + exp(-z.z)), top: Array(top.prefix(3)), topAd: Array(topAd.prefix(3)))
    }
}
