import Foundation
import Hummingbird
import TendCore
import TendEngine

extension AdherenceReportQuery {
    /// The report's query string, the same for the API, the console page and its CSV: `end`
    /// (default today), `start` (default a year before the end), `drug` (a drug or class),
    /// `segment` (id or slug), `outcome_start` and `outcome_days` (default 75).
    static func parse(_ query: QueryValues, today: LocalDate) throws(TendError) -> AdherenceReportQuery {
        func text(_ name: String) -> String? { query.get(name).flatMap { $0.trimmed.isEmpty ? nil : $0.trimmed } }
        func date(_ name: String) throws(TendError) -> LocalDate? { try text(name).map { value throws(TendError) in try Validate.date(value, field: name) } }
        let end = try date("end") ?? today
        let start = try date("start") ?? end.adding(days: -364)
        let drug = try text("drug").map { value throws(TendError) in try Validate.text(value, field: "drug") }
        let segment = try text("segment").map { value throws(TendError) in try Validate.identifier(value, field: "segment") }
        var days = Self.defaultOutcomeDays
        if let value = text("outcome_days") {
            guard let parsed = Int(value), Self.outcomeDaysRange.contains(parsed) else {
                throw TendError.invalid("outcome_days", .init(en: "must be \(Self.outcomeDaysRange.lowerBound) to \(Self.outcomeDaysRange.upperBound) days",
                                                             zh: "应为 \(Self.outcomeDaysRange.lowerBound) 至 \(Self.outcomeDaysRange.upperBound) 天"))
            }
            days = parsed
        }
        return AdherenceReportQuery(start: start, end: end, drugOrClass: drug, segmentID: segment, outcomeStart: try date("outcome_start"), outcomeDays: days)
    }

    /// The query string that asks for this report again (the CSV link, the form's values).
    var queryString: String {
        var items = [URLQueryItem(name: "start", value: start.description), URLQueryItem(name: "end", value: end.description)]
        if let drugOrClass { items.append(URLQueryItem(name: "drug", value: drugOrClass)) }
        if let segmentID { items.append(URLQueryItem(name: "segment", value: segmentID)) }
        if let outcomeStart {
            items.append(URLQueryItem(name: "outcome_start", value: outcomeStart.description))
            items.append(URLQueryItem(name: "outcome_days", value: String(outcomeDays)))
        }
        var components = URLComponents()
        components.queryItems = items
        return components.percentEncodedQuery ?? ""
    }
}

/// The figures of a report as text: percentages and means the page, the CSV and the API share.
enum ReportNumbers {
    static func percent(_ share: Double?) -> String { share.map { "\(ObservationChart.oneDecimal($0 * 100)) %" } ?? "—" }
    static func days(_ mean: Double?) -> String { mean.map(ObservationChart.oneDecimal) ?? "—" }
}

/// Horizontal bar charts as inline SVG: one bar per label, the value written at its end.
enum BarChart {
    struct Bar {
        var label: String
        var value: Double
        var text: String
        var highlighted = false
    }

    static let width = 560.0, rowHeight = 22.0, labelWidth = 150.0, valueWidth = 70.0

    static func svg(_ bars: [Bar], title: String, id: String) -> String {
        let top = max(bars.map(\.value).max() ?? 0, 1)
        let height = rowHeight * Double(bars.count) + 8
        let span = width - labelWidth - valueWidth
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" id="\(id)" class="bar-chart" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(ObservationChart.escape(title))">
            """
        for (index, bar) in bars.enumerated() {
            let y = 4 + rowHeight * Double(index)
            let length = max(0, bar.value / top * span)
            svg += """
                <text x="\(Int(labelWidth - 6))" y="\(ObservationChart.oneDecimal(y + 15))" text-anchor="end" font-size="12">\(ObservationChart.escape(bar.label))</text>\
                <rect x="\(Int(labelWidth))" y="\(ObservationChart.oneDecimal(y + 3))" width="\(ObservationChart.oneDecimal(length))" height="\(Int(rowHeight - 6))" \
                fill="\(bar.highlighted ? "#2f7d4f" : "#4a78b5")"><title>\(ObservationChart.escape("\(bar.label): \(bar.text)"))</title></rect>\
                <text x="\(ObservationChart.oneDecimal(labelWidth + length + 4))" y="\(ObservationChart.oneDecimal(y + 15))" font-size="12">\(ObservationChart.escape(bar.text))</text>
                """
        }
        return svg + "</svg>"
    }
}

/// The adherence report page's view: what the template shows, already in the page's language.
struct AdherenceReportView {
    struct Figure {
        var label: String
        var value: String
        var id: String
    }

    struct ClassRow {
        var drugClass: String
        var measurable: Int
        var notMeasurable: Int
        var adherent: String
        var mean: String
    }

    struct CatchUpRow {
        var patientID: String
        var name: String
        var drugClass: String
        var pdc: String
        var covered: Int
        var treatment: Int
    }

    struct Outcome {
        var baseline: String
        var followUp: String
        var asOf: String
        var running: Bool
        var figures: [Figure]
        var daysChart: String
        var controlChart: String
    }

    var start: String
    var end: String
    var drug: String
    var segment: String
    var outcomeStart: String
    var outcomeDays: Int
    var csvQuery: String
    var figures: [Figure]
    var distributionChart: String
    var classes: [ClassRow]
    var hasClasses: Bool
    var catchUpCount: Int
    var catchUp: [CatchUpRow]
    var hasCatchUp: Bool
    var outcome: [Outcome]

    init(_ report: AdherenceReport, strings t: [String: String]) {
        func s(_ key: String) -> String { t[key] ?? key }
        let query = report.query
        start = query.start.description
        end = query.end.description
        drug = query.drugOrClass ?? ""
        segment = query.segmentID ?? ""
        outcomeStart = query.outcomeStart?.description ?? ""
        outcomeDays = query.outcomeDays
        csvQuery = query.queryString
        let overall = report.overall
        figures = [
            Figure(label: s("adherence_measurable"), value: String(overall.measurable), id: "figure-measurable"),
            Figure(label: s("adherence_share_adherent"), value: ReportNumbers.percent(overall.shareAdherent), id: "figure-adherent"),
            Figure(label: s("adherence_mean_pdc"), value: ReportNumbers.percent(overall.meanPDC), id: "figure-mean-pdc"),
            Figure(label: s("adherence_not_measurable"), value: String(overall.notMeasurable), id: "figure-not-measurable"),
        ]
        distributionChart = BarChart.svg((0..<PDCDistribution.bandCount).map { band in
            let label = band == PDCDistribution.bandCount - 1 ? "90–100 %" : "\(band * 10)–\(band * 10 + 10) %"
            return BarChart.Bar(label: label, value: Double(overall.bands[band]), text: String(overall.bands[band]), highlighted: band >= 8)
        }, title: s("adherence_distribution"), id: "pdc-distribution")
        classes = report.byClass.map { item in
            ClassRow(drugClass: item.drugClass, measurable: item.distribution.measurable, notMeasurable: item.distribution.notMeasurable,
                     adherent: ReportNumbers.percent(item.distribution.shareAdherent), mean: ReportNumbers.percent(item.distribution.meanPDC))
        }
        hasClasses = !classes.isEmpty
        catchUpCount = report.catchUpCount
        catchUp = report.catchUp.map { item in
            CatchUpRow(patientID: item.patient.id, name: item.patient.profile.name, drugClass: item.drugClass, pdc: ReportNumbers.percent(item.result.pdc),
                       covered: item.result.coveredDays, treatment: item.result.treatmentDays)
        }
        hasCatchUp = !catchUp.isEmpty
        outcome = report.outcome.map { found in
            let figures = found.outcome
            return [Outcome(
                baseline: "\(found.baseline.lowerBound) – \(found.baseline.upperBound)", followUp: "\(found.followUp.lowerBound) – \(found.followUp.upperBound)",
                asOf: found.asOf.description, running: found.asOf < found.followUp.upperBound,
                figures: [
                    Figure(label: s("outcome_patients"), value: String(figures.patients), id: "outcome-patients"),
                    Figure(label: s("outcome_baseline_days"), value: ReportNumbers.days(figures.meanBaselineDays), id: "outcome-baseline-days"),
                    Figure(label: s("outcome_follow_up_days"), value: ReportNumbers.days(figures.meanFollowUpDays), id: "outcome-follow-up-days"),
                    Figure(label: s("outcome_poorly_controlled"), value: String(figures.poorlyControlled), id: "outcome-poorly-controlled"),
                    Figure(label: s("outcome_reassessed"), value: String(figures.reassessed), id: "outcome-reassessed"),
                    Figure(label: s("outcome_share_improved"), value: ReportNumbers.percent(figures.shareImproved), id: "outcome-improved"),
                ],
                daysChart: BarChart.svg([
                    .init(label: s("outcome_baseline"), value: figures.meanBaselineDays ?? 0, text: ReportNumbers.days(figures.meanBaselineDays)),
                    .init(label: s("outcome_follow_up"), value: figures.meanFollowUpDays ?? 0, text: ReportNumbers.days(figures.meanFollowUpDays), highlighted: true),
                ], title: s("outcome_days_chart"), id: "outcome-days-chart"),
                controlChart: BarChart.svg([
                    .init(label: s("outcome_improved"), value: Double(figures.improved), text: String(figures.improved), highlighted: true),
                    .init(label: s("outcome_not_improved"), value: Double(figures.reassessed - figures.improved), text: String(figures.reassessed - figures.improved)),
                    .init(label: s("outcome_not_reassessed"), value: Double(figures.poorlyControlled - figures.reassessed),
                          text: String(figures.poorlyControlled - figures.reassessed)),
                ], title: s("outcome_control_chart"), id: "outcome-control-chart"))]
        } ?? []
    }
}

/// The report as CSV: one row per figure (section, group, metric, value), English metric
/// names with the page's label beside them, so a spreadsheet reads either.
enum AdherenceReportCSV {
    static func text(_ report: AdherenceReport, strings t: [String: String]) -> String {
        var lines = ["section,group,metric,label,value"]
        func add(_ section: String, _ group: String, _ metric: String, _ value: String) {
            lines.append([section, safe(group), metric, safe(t[metric] ?? metric), value].map(CSVReader.escape).joined(separator: ","))
        }
        func fraction(_ value: Double?) -> String { value.map { String($0.rounded(decimals: 4)) } ?? "" }
        func distribution(_ group: String, _ figures: PDCDistribution) {
            add("pdc", group, "adherence_measurable", String(figures.measurable))
            add("pdc", group, "adherence_not_measurable", String(figures.notMeasurable))
            add("pdc", group, "adherence_adherent", String(figures.adherent))
            add("pdc", group, "adherence_share_adherent", fraction(figures.shareAdherent))
            add("pdc", group, "adherence_mean_pdc", fraction(figures.meanPDC))
            for (band, count) in figures.bands.enumerated() { add("pdc", group, "adherence_band_\(band * 10)", String(count)) }
        }
        add("period", "", "adherence_start", report.query.start.description)
        add("period", "", "adherence_end", report.query.end.description)
        distribution("all", report.overall)
        for item in report.byClass { distribution(item.drugClass, item.distribution) }
        add("catch_up", "all", "adherence_catch_up", String(report.catchUpCount))
        if let found = report.outcome {
            let figures = found.outcome
            add("outcome", "", "outcome_baseline", "\(found.baseline.lowerBound)/\(found.baseline.upperBound)")
            add("outcome", "", "outcome_follow_up", "\(found.followUp.lowerBound)/\(found.followUp.upperBound)")
            add("outcome", "", "outcome_as_of", found.asOf.description)
            add("outcome", "", "outcome_patients", String(figures.patients))
            add("outcome", "", "outcome_baseline_days", figures.meanBaselineDays.map { String($0.rounded(decimals: 2)) } ?? "")
            add("outcome", "", "outcome_follow_up_days", figures.meanFollowUpDays.map { String($0.rounded(decimals: 2)) } ?? "")
            add("outcome", "", "outcome_poorly_controlled", String(figures.poorlyControlled))
            add("outcome", "", "outcome_reassessed", String(figures.reassessed))
            add("outcome", "", "outcome_improved", String(figures.improved))
            add("outcome", "", "outcome_share_improved", fraction(figures.shareImproved))
        }
        // A byte-order mark, so that spreadsheet programs read the Chinese labels as UTF-8.
        return "\u{FEFF}" + lines.joined(separator: "\r\n") + "\r\n"
    }

    /// A text a spreadsheet would run as a formula is written as text.
    static func safe(_ text: String) -> String {
        guard let first = text.first, "=+-@".contains(first) else { return text }
        return "'" + text
    }
}

/// The console's adherence report: `/p/:program/adherence` and its CSV.
struct AdherenceReportConsole: Sendable {
    let console: ConsoleRoutes
    private var reports: AdherenceReports { console.dependencies.actions.adherenceReports }

    func register(on router: Router<TendRequestContext>) {
        router.get("/p/:program/adherence") { request, context -> Response in
            let page = try await console.programPage(.readPatients, request, context)
            let t = UIStrings.strings(for: page.locale)
            do {
                let report = try await report(page, request)
                let view = AdherencePageView(program: page.programView, report: AdherenceReportView(report, strings: t))
                return console.renderer.render("adherence", view: view, chrome: page.chrome, locale: page.locale)
            } catch let error as TendError where error.kind == .invalidInput {
                let view = AdherencePageView(program: page.programView, error: error.message.text(in: page.locale))
                return console.renderer.render("adherence", view: view, chrome: page.chrome, locale: page.locale, status: .badRequest)
            }
        }

        router.get("/p/:program/adherence/report.csv") { request, context -> Response in
            let page = try await console.programPage(.readPatients, request, context)
            let report = try await report(page, request)
            let name = "adherence-\(page.grant.program.slug)-\(report.query.end).csv"
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(name)\"", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: AdherenceReportCSV.text(report, strings: UIStrings.strings(for: page.locale)))))
        }
    }

    private func report(_ page: ConsoleRoutes.ProgramPage, _ request: Request) async throws -> AdherenceReport {
        let today = LocalDate(instant: console.dependencies.clock.now(), in: TaskConsole.consoleZone)
        let query = try AdherenceReportQuery.parse(request.query, today: today)
        return try await reports.report(programID: page.grant.program.id, query, today: today, zone: TaskConsole.consoleZone, by: page.actor)
    }
}

/// The adherence page: the report, or why the request could not make one.
struct AdherencePageView {
    var program: ProgramView
    var report: AdherenceReportView?
    var error: String?
}
