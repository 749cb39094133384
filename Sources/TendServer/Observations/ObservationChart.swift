import Foundation
import TendCore
import TendStore

/// A small line chart of one code's readings, drawn by the server as SVG: the readings in time
/// order, the band between the program's lower and upper thresholds shaded (the target), the
/// thresholds as dashed lines, and a reading that crossed one drawn large and red.
/// It holds numbers only (no patient text), so the page can embed it as is.
enum ObservationChart {
    static let width = 560.0, height = 160.0, margin = 28.0

    struct Point {
        var at: Date
        var value: Double
        var breached: Bool
    }

    static func svg(points: [Point], thresholds: [Double], band: ClosedRange<Double>? = nil, unit: String, label: String) -> String {
        guard let first = points.first, let last = points.last else { return "" }
        let values = points.map(\.value) + thresholds
        let low = (values.min() ?? 0), high = (values.max() ?? 1)
        let span = max(high - low, 1e-9)
        let bottom = low - span * 0.1, top = high + span * 0.1
        let start = first.at.timeIntervalSince1970, length = max(last.at.timeIntervalSince1970 - start, 1)
        func x(_ date: Date) -> Double { margin + (date.timeIntervalSince1970 - start) / length * (width - 2 * margin) }
        func y(_ value: Double) -> Double { height - margin - (value - bottom) / (top - bottom) * (height - 2 * margin) }
        func number(_ value: Double) -> String { oneDecimal(value) }
        let unitText = escape(unit)
        var parts: [String] = []
        parts.reserveCapacity(points.count + 8)
        parts.append(##"<svg class="chart" viewBox="0 0 \##(Int(width)) \##(Int(height))" width="100%" role="img" aria-label="\##(escape(label))">"##)
        parts.append(##"<line x1="\##(margin)" y1="\##(height - margin)" x2="\##(width - margin)" y2="\##(height - margin)" stroke="#999" stroke-width="1"/>"##)
        if let band {
            parts.append(##"<rect class="target" x="\##(margin)" y="\##(number(y(band.upperBound)))" width="\##(width - 2 * margin)" height="\##(number(y(band.lowerBound) - y(band.upperBound)))" fill="#27ae60" fill-opacity="0.10"/>"##)
        }
        for threshold in thresholds {
            parts.append(##"<line x1="\##(margin)" y1="\##(number(y(threshold)))" x2="\##(width - margin)" y2="\##(number(y(threshold)))" stroke="#c0392b" stroke-dasharray="4 3" stroke-width="1"/>"##)
            parts.append(##"<text x="\##(width - margin + 2)" y="\##(number(y(threshold) + 4))" font-size="10" fill="#c0392b">\##(number(threshold))</text>"##)
        }
        let line = points.map { "\(number(x($0.at))),\(number(y($0.value)))" }.joined(separator: " ")
        parts.append(##"<polyline points="\##(line)" fill="none" stroke="#2c6e9b" stroke-width="1.5"/>"##)
        for point in points {
            let attributes = point.breached ? ##"r="4.5" fill="#c0392b" class="breach""## : ##"r="2.5" fill="#2c6e9b""##
            parts.append(##"<circle cx="\##(number(x(point.at)))" cy="\##(number(y(point.value)))" \##(attributes)><title>\##(number(point.value)) \##(unitText)</title></circle>"##)
        }
        parts.append(##"<text x="\##(margin)" y="14" font-size="11" fill="#555">\##(escape(label)) (\##(escape(unit)))</text>"##)
        parts.append("</svg>")
        return parts.joined()
    }

    /// `12.3`, `-0.5`, `40.0`: one decimal, as SVG coordinates and values need, without
    /// Foundation's formatting (a chart of a year of readings writes thousands of them).
    static func oneDecimal(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return "0" }
        let tenths = Int64((value * 10).rounded(.toNearestOrAwayFromZero))
        let whole = abs(tenths) / 10, fraction = abs(tenths) % 10
        return "\(tenths < 0 ? "-" : "")\(whole).\(fraction)"
    }

    static func escape(_ text: String) -> String { HTML.escape(text) }

    /// One chart per measured code of the patient, newest code first, with the program's rules,
    /// each in the unit the program reads it in (`units`; else the canonical one).
    static func values(_ observations: [ObservationPoint], rules: [ObservationAlertRule], units: [ObservationCode: String] = [:],
                       locale: AppLocale) -> [ChartView] {
        var byCode: [ObservationCode: [ObservationPoint]] = [:]
        var order: [ObservationCode] = []
        for point in observations {
            if byCode[point.code] == nil { order.append(point.code) }
            byCode[point.code, default: []].append(point)
        }
        return order.compactMap { code -> ChartView? in
            guard let readings = byCode[code]?.sorted(by: { $0.effectiveAt < $1.effectiveAt }), let latest = readings.last else { return nil }
            let codeRules = rules.filter { $0.codes.contains(code) }
            let thresholds = Array(Set(codeRules.flatMap { [$0.below, $0.atOrAbove].compactMap { $0 } })).sorted()
            // The target: above the highest lower threshold, below the lowest upper one.
            let floor = codeRules.compactMap(\.below).max(), ceiling = codeRules.compactMap(\.atOrAbove).min()
            let band = floor.flatMap { low in ceiling.flatMap { high in low < high ? low...high : nil } }
            let thresholdRules = codeRules.filter { $0.kind == .threshold }
            let definition = ObservationCatalog.definition(code: code)
            // Shown in the program's unit: every number, threshold and band through one conversion.
            let conversion = units[code].flatMap { unit in definition?.units.first { $0.unit == unit } }
            let shown: (Double) -> Double = { conversion?.fromCanonical($0) ?? $0 }
            let points = readings.map { reading in
                Point(at: reading.effectiveAt, value: shown(reading.value), breached: thresholdRules.contains { $0.crosses(reading.value) })
            }
            let name = definition?.name.text(in: locale) ?? code.description
            let unit = conversion?.unit ?? latest.unit ?? ""
            let shownBand = band.map { range in min(shown(range.lowerBound), shown(range.upperBound))...max(shown(range.lowerBound), shown(range.upperBound)) }
            return ChartView(
                name: name, count: readings.count,
                svg: svg(points: points, thresholds: thresholds.map(shown), band: shownBand, unit: unit, label: name),
                latest: oneDecimal(shown(latest.value)) + " " + unit, latestAt: TaskConsole.format(latest.effectiveAt))
        }
    }
}

/// One measured code's chart as the patient page and the portal record show it.
struct ChartView {
    var name: String
    var count: Int
    /// The chart, drawn and escaped by `ObservationChart.svg`.
    var svg: String
    var latest: String
    var latestAt: String
}
