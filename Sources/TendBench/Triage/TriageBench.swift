import ArgumentParser
import Foundation
import TendCore

/// `tend-bench triage`: the classifier on one core against a baseline that only reads each message.
struct TriageBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triage",
        abstract: "Classify a generated mix of Chinese and English messages on one core, against a baseline that only reads each message / 在单核上分级生成的中英文消息，并与只读取每条消息的基线比较")

    @Option(help: "Messages per run / 每次运行的消息数") var messages: Int = 200_000
    @Option(help: "Runs; the median is reported / 运行次数，报告中位数") var runs: Int = 5

    func validate() throws {
        guard messages >= 1, runs >= 1 else { throw ValidationError("--messages and --runs must be at least 1 / --messages 与 --runs 至少为 1") }
    }

    /// A morning's mix: greetings, questions, values with units, urgent reports, private
    /// matters, ads, personal data, in both languages, with varying numbers and lengths.
    static func generate(_ count: Int) -> [(String, AppLocale)] {
        var random = SplitMix(seed: 42)
        let zh = [
            "早上好，今天空腹血糖%g，餐后%g", "刚测血糖%g，手抖心慌出冷汗", "孕期可以吃水果吗？我空腹%g算高吗", "打卡✅ 早餐后两小时%g",
            "体温%g度，化疗后第7天，浑身没力气", "这周没有发烧，也没有胸痛，谢谢医生", "上次的胸痛已经好了，今天血压%g/80",
            "加我微信，祖传秘方包治糖尿病，不用再打胰岛素", "我想私下问一下流产的事，不方便在群里说", "我的手机号13812345678，麻烦回电",
            "宝宝最近胎动挺好的，晚安大家", "血氧%g%%，有点喘不上气", "请问复诊怎么预约挂号，需要空腹吗", "谢谢老师！辛苦了",
        ]
        let en = [
            "Good morning! fasting glucose %g today", "blood sugar %g mg/dL and shaky", "Can I eat fruit between meals? mine was %g",
            "temp %g C after chemo, feeling weak", "no chest pain today, thanks for checking", "BP %g/95 this morning, is that ok?",
            "DM me for discount drugs, cures diabetes fast", "can I ask privately about my insurance?", "SpO2 %g%% and short of breath",
            "thank you all, check-in done", "what time should I test after lunch?", "the chest pain went away last night",
        ]
        return (0..<count).map { _ in
            let english = random.next() % 3 == 0
            let templates = english ? en : zh
            var text = templates[Int(random.next() % UInt64(templates.count))]
            while let range = text.range(of: "%g") {
                let value = Double(random.next() % 2000) / 10
                text.replaceSubrange(range, with: String(format: "%.1f", value))
            }
            text = text.replacingOccurrences(of: "%%", with: "%")
            if random.next() % 4 == 0 { text += english ? " Thanks a lot, see you at the revisit next week." : "，下周复诊的时候再详细问问医生。" }
            return (text, english ? .en : .zhHans)
        }
    }

    func run() async throws {
        let mix = Self.generate(messages)
        let classifier = TriageClassifier()
        say("bench triage: \(messages) messages, \(mix.reduce(0) { $0 + $1.0.count } / messages) characters on average, one core")
        var baselineRates: [Double] = [], rates: [Double] = []
        var levels: [TriageLevel: Int] = [:]
        for run in 1...runs {
            // Baseline: fold and read every scalar once, as any classifier must.
            var checksum: UInt32 = 0
            var start = ContinuousClock.now
            for (text, _) in mix {
                for scalar in TextFolding.halfWidth(text).lowercased().unicodeScalars { checksum &+= scalar.value }
            }
            let baseline = Measure.seconds(ContinuousClock.now - start)
            start = ContinuousClock.now
            var counts: [TriageLevel: Int] = [:]
            for (text, locale) in mix {
                counts[classifier.classify(text, locale: locale).level, default: 0] += 1
            }
            let seconds = Measure.seconds(ContinuousClock.now - start)
            levels = counts
            baselineRates.append(Double(messages) / baseline)
            rates.append(Double(messages) / seconds)
            say(String(format: "run %d: baseline %.0f messages/s, classify %.0f messages/s (%.2f s) [%u]", run, Double(messages) / baseline, Double(messages) / seconds, seconds, checksum % 10))
        }
        let baselineMedian = Measure.median(baselineRates), median = Measure.median(rates)
        say("levels: " + TriageLevel.allCases.map { "\($0.rawValue) \(levels[$0, default: 0])" }.joined(separator: ", "))
        say(String(format: "median: baseline %.0f messages/s, classify %.0f messages/s, baseline/classify %.2f×", baselineMedian, median, baselineMedian / median))
    }
}
