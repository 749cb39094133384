import ArgumentParser
import Foundation
import TendCore

/// `tend adherence pdc FILE --end YYYY-MM-DD [--start YYYY-MM-DD] [--class NAME]`: the PDC of
/// the fills in an NDJSON file (`{"drug", "class"?, "filled_on", "days_supply"}` a line), as
/// the Pharmacy Quality Alliance defines it.
struct AdherenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adherence", abstract: "Medication adherence / 用药依从性", subcommands: [PDCCommand.self])

    struct PDCCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pdc",
            abstract: "Proportion of days covered of the fills in an NDJSON file / 计算用药覆盖率（PDC）",
            discussion: """
                Prints {"pdc", "covered_days", "treatment_days", "adherent", "measurable"}. The treatment period runs from \
                the first fill in the period to --end; same-drug overlaps are shifted, drugs of one class are united; \
                adherent from 0.80; under 91 days not measurable (pdc null). Fills of several classes need --class.
                """)

        @Argument(help: "The fills, NDJSON (at most 200 MB)") var file: String
        @Option(help: "The measurement period's last day, YYYY-MM-DD") var end: String
        @Option(help: "The measurement period's first day (default: the first fill)") var start: String?
        @Option(name: .customLong("class"), help: "Only the fills of this class") var drugClass: String?

        func run() async throws {
            guard let endDate = LocalDate(end), Bounds.years.contains(endDate.year) else { fail("--end must be a date YYYY-MM-DD / --end 应为日期") }
            var startDate: LocalDate?
            if let start {
                guard let parsed = LocalDate(start), Bounds.years.contains(parsed.year), parsed <= endDate,
                      endDate.dayNumber - parsed.dayNumber < PDC.maximumPeriodDays else {
                    fail("--start must be a date YYYY-MM-DD on or before --end, at most \(PDC.maximumPeriodDays) days before it / --start 应为不晚于 --end 的日期")
                }
                startDate = parsed
            }
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file), let size = attributes[.size] as? Int, size <= 200 << 20,
                  let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                fail("cannot read \(file) as UTF-8 text of at most 200 MB / 无法读取文件")
            }
            let parsed = FillFile.parse(text)
            for problem in parsed.problems.prefix(100) {
                FileHandle.standardError.write(Data("\(file):\(problem)\n".utf8))
            }
            guard parsed.problems.isEmpty else { Foundation.exit(ExitCode.failure.rawValue) }
            var fills = parsed.fills
            if let drugClass {
                fills = fills.filter { ($0.drugClass ?? $0.drug) == drugClass }
            } else {
                // A drug without a class is its own: PDC is of one class.
                let classes = Set(fills.map { $0.drugClass ?? $0.drug })
                if classes.count > 1 {
                    fail("the fills are of several classes (\(classes.sorted().prefix(5).joined(separator: ", "))); choose one with --class / 含多个药物类别，请用 --class 指定")
                }
            }
            // Without --start, the period starts at the first fill but is held to ten years.
            if startDate == nil, let first = fills.map(\.filledOn).min(), endDate.dayNumber - first.dayNumber >= PDC.maximumPeriodDays {
                fail("the fills reach back more than \(PDC.maximumPeriodDays) days before --end; give --start / 时间跨度过长，请指定 --start")
            }
            let result = PDC.compute(fills, start: startDate, end: endDate)
            let pdc = result.pdc.map { String(format: "%.4f", $0) } ?? "null"
            say(#"{"pdc": \#(pdc), "covered_days": \#(result.coveredDays), "treatment_days": \#(result.treatmentDays), "adherent": \#(result.adherent), "measurable": \#(result.measurable)}"#)
        }

        func fail(_ message: String) -> Never {
            FileHandle.standardError.write(Data("tend: \(message)\n".utf8))
            Foundation.exit(ExitCode.failure.rawValue)
        }
    }
}
