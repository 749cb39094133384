import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TendCore
import TendEngine
import TendServer
import TendServerTestSupport
import TendStore
import TendTestSupport

/// S6 over generated data: 2,000 asthma patients with a baseline and a follow-up window of 75
/// days, dispenses of an ICS/LABA and ACT scores. The report's figures are checked against a
/// day-by-day count made here, on the console page, in its CSV and over the API, on both backends.
@Suite struct AdherenceReportTests {
    static let patients = 2_000
    static let drug = "budesonide-formoterol", drugClass = "ics-laba"
    static func day(_ text: String) -> LocalDate { LocalDate(text)! }
    // The test clock's today is 2026-12-01; the programme started on 2026-09-01.
    static let followUpStart = day("2026-09-01")
    static let baseline = day("2026-06-18")...day("2026-08-31"), followUp = day("2026-09-01")...day("2026-11-14")

    struct Generated {
        var fills: [Int: [Fill]] = [:]
        var baselineACT: [Int: Double] = [:]
        var followUpACT: [Int: Double] = [:]
    }

    /// Baseline: one or two 30-day fills (a third also had supply carried in from May); follow-up:
    /// three monthly fills for most, one for every fourth. ACT 12–23 at baseline; four in five
    /// assessed again on 11-01, from one point lower to four higher.
    static func generate() -> Generated {
        var generated = Generated()
        for index in 0..<patients {
            var fills: [Fill] = []
            let first = day("2026-06-18").adding(days: index % 20)
            if index % 3 == 0 { fills.append(Fill(drug: drug, drugClass: drugClass, filledOn: day("2026-05-25"), daysSupply: 30)) }
            fills.append(Fill(drug: drug, drugClass: drugClass, filledOn: first, daysSupply: 30))
            if index % 2 == 0 { fills.append(Fill(drug: drug, drugClass: drugClass, filledOn: first.adding(days: 35), daysSupply: 30)) }
            let refills = index % 4 == 3 ? 1 : 3
            for month in 0..<refills {
                fills.append(Fill(drug: drug, drugClass: drugClass, filledOn: followUpStart.adding(days: index % 7 + 30 * month), daysSupply: 30))
            }
            generated.fills[index] = fills
            let score = Double(12 + index % 12)
            generated.baselineACT[index] = score
            if index % 5 != 4 { generated.followUpACT[index] = min(25, max(5, score + Double(index % 6) - 1)) }
        }
        return generated
    }

    /// Covered days of each window, counted day by day: each fill starts the day after the
    /// earlier supply of the same drug ends.
    static func daysOnTherapy(_ fills: [Fill], asOf: LocalDate) -> (baseline: Int, followUp: Int) {
        var covered = Set<Int>(), nextFree = Int.min
        for fill in fills.sorted(by: { $0.filledOn < $1.filledOn }) where fill.filledOn <= asOf {
            let start = max(fill.filledOn.dayNumber, nextFree)
            for day in start..<(start + fill.daysSupply) { covered.insert(day) }
            nextFree = start + fill.daysSupply
        }
        let inBaseline = covered.filter { (baseline.lowerBound.dayNumber...baseline.upperBound.dayNumber).contains($0) }.count
        let inFollowUp = covered.filter { (followUp.lowerBound.dayNumber...asOf.dayNumber).contains($0) }.count
        return (inBaseline, inFollowUp)
    }

    struct Expected {
        var meanBaselineDays: Double
        var meanFollowUpDays: Double
        var poorlyControlled: Int
        var reassessed: Int
        var improved: Int
    }

    static func expected(_ generated: Generated) -> Expected {
        var baselineDays = 0, followUpDays = 0, poorly = 0, reassessed = 0, improved = 0
        for index in 0..<patients {
            let days = daysOnTherapy(generated.fills[index] ?? [], asOf: followUp.upperBound)
            baselineDays += days.baseline
            followUpDays += days.followUp
            let before = generated.baselineACT[index] ?? 25
            guard before < 20 else { continue }
            poorly += 1
            guard let after = generated.followUpACT[index] else { continue }
            reassessed += 1
            if after - before >= 3 || after >= 20 { improved += 1 }
        }
        return Expected(meanBaselineDays: Double(baselineDays) / Double(patients), meanFollowUpDays: Double(followUpDays) / Double(patients),
                        poorlyControlled: poorly, reassessed: reassessed, improved: improved)
    }

    /// Loads the generated patients into gdm-camp through the use cases an import calls.
    static func load(_ generated: Generated, into app: TestApp) async throws -> [Int: String] {
        let actions = app.dependencies.actions, program = try #require(try await app.stores.programs.find(slug: "gdm-camp"))
        let csv = "external_id,name\n" + (0..<patients).map { "AS\($0),哮喘\($0)\n" }.joined()
        let summary = try await actions.patients.importRows(try ImportRowReader(bytes: Array(csv.utf8), format: .csv), programID: program.id, by: .cli, reject: { _ in })
        #expect(summary.created == patients)
        let ids = try await app.stores.patients.ids(programID: program.id, externalIDs: (0..<patients).map { "AS\($0)" })
        var idOf: [Int: String] = [:]
        for index in 0..<patients { idOf[index] = ids["AS\(index)"] }
        var dispenses: [DispenseSubmission] = []
        var readings: [ObservationSubmission] = []
        for index in 0..<patients {
            let patientID = try #require(idOf[index])
            for (number, fill) in (generated.fills[index] ?? []).enumerated() {
                dispenses.append(DispenseSubmission(patientID: patientID, drug: fill.drug, drugClass: fill.drugClass, filledOn: fill.filledOn.description,
                                                    daysSupply: fill.daysSupply, externalID: "as-\(index)-\(number)"))
            }
            if let score = generated.baselineACT[index] {
                readings.append(ObservationSubmission(patientID: patientID, input: ObservationInput(code: "act", value: .number(score), effectiveAt: "2026-08-25T10:00:00+08:00")))
            }
            if let score = generated.followUpACT[index] {
                readings.append(ObservationSubmission(patientID: patientID, input: ObservationInput(code: "act", value: .number(score), effectiveAt: "2026-11-01T10:00:00+08:00")))
            }
        }
        for start in stride(from: 0, to: dispenses.count, by: Bounds.observationsPerRequest) {
            _ = try await actions.adherence.record(programID: program.id, Array(dispenses[start..<min(start + Bounds.observationsPerRequest, dispenses.count)]),
                                                   source: "his", by: .cli)
        }
        for start in stride(from: 0, to: readings.count, by: Bounds.observationsPerRequest) {
            _ = try await actions.observations.record(programID: program.id, Array(readings[start..<min(start + Bounds.observationsPerRequest, readings.count)]),
                                                      source: .import, by: .cli)
        }
        return idOf
    }

    /// One decimal, halves away from zero, as the page writes figures.
    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded(.toNearestOrAwayFromZero))
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func percent(_ share: Double) -> String { "\(oneDecimal(share * 100)) %" }

    @Test(arguments: TestBackend.available)
    func theS6ReportShowsDaysOnTherapyAndImprovedControlAndExportsThem(backend: TestBackend) async throws {
        try await withClient(backend) { app, client in
            let generated = Self.generate()
            _ = try await Self.load(generated, into: app)
            let want = Self.expected(generated)
            #expect(want.poorlyControlled > 1000 && want.reassessed < want.poorlyControlled && want.improved > 0 && want.improved < want.reassessed)
            #expect(want.meanFollowUpDays > want.meanBaselineDays)

            let jar = CookieJar()
            _ = try await signIn(client, jar: jar, email: "manager@tend.demo")
            let query = "drug=\(Self.drugClass)&outcome_start=2026-09-01"
            let auditBefore = try await app.stores.audit.events(programID: try #require(try await app.stores.programs.find(slug: "gdm-camp")).id, limit: 1000)
                .filter { $0.action == AuditAction.adherenceReport.rawValue }.count
            let html = try await client.execute(uri: "/p/gdm-camp/adherence?\(query)", method: .get, headers: merged(jar.header, [.accept: "text/html"])) { response in
                #expect(response.status == .ok)
                return String(buffer: response.body)
            }
            let shareImproved = Double(want.improved) / Double(want.reassessed)
            #expect(html.contains(#"id="outcome-patients">\#(Self.patients)<"#))
            #expect(html.contains(#"id="outcome-baseline-days">\#(Self.oneDecimal(want.meanBaselineDays))<"#), "\(want)")
            #expect(html.contains(#"id="outcome-follow-up-days">\#(Self.oneDecimal(want.meanFollowUpDays))<"#), "\(want)")
            #expect(html.contains(#"id="outcome-poorly-controlled">\#(want.poorlyControlled)<"#))
            #expect(html.contains(#"id="outcome-reassessed">\#(want.reassessed)<"#))
            #expect(html.contains(#"id="outcome-improved">\#(Self.percent(shareImproved))<"#))
            #expect(html.contains(#"<svg xmlns="http://www.w3.org/2000/svg" id="outcome-days-chart""#) && html.contains(#"id="pdc-distribution""#))
            #expect(html.contains("report.csv?"))
            let program = try #require(try await app.stores.programs.find(slug: "gdm-camp"))
            let events = try await app.stores.audit.events(programID: program.id, limit: 1000).filter { $0.action == AuditAction.adherenceReport.rawValue }
            let catchUpShown = html.components(separatedBy: "#medication-section\">").count - 1
            #expect(events.count - auditBefore == 1 + catchUpShown, "one summary event and one per patient named")

            let csv = try await client.execute(uri: "/p/gdm-camp/adherence/report.csv?\(query)", method: .get, headers: merged(jar.header, [.accept: "text/csv"])) { response in
                #expect(response.status == .ok && response.headers[.contentType]?.hasPrefix("text/csv") == true)
                #expect(response.headers[.contentDisposition]?.contains("attachment") == true)
                return String(buffer: response.body)
            }
            let rows = Dictionary(csv.split(whereSeparator: \.isNewline).map { line in
                let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                return ("\(fields[0])|\(fields[1])|\(fields[2])", fields.last ?? "")
            }, uniquingKeysWith: { first, _ in first })
            #expect(rows["outcome||outcome_patients"] == "\(Self.patients)")
            #expect(rows["outcome||outcome_poorly_controlled"] == "\(want.poorlyControlled)")
            #expect(rows["outcome||outcome_improved"] == "\(want.improved)")
            #expect(rows["outcome||outcome_share_improved"].flatMap(Double.init) == (shareImproved * 10_000).rounded() / 10_000)
            #expect(rows["outcome||outcome_baseline_days"].flatMap(Double.init) == (want.meanBaselineDays * 100).rounded() / 100)
            #expect(rows["outcome||outcome_follow_up_days"].flatMap(Double.init) == (want.meanFollowUpDays * 100).rounded() / 100)

            // PDC over the default year (2025-12-02 … 2026-12-01): the same figures TendCore gives each patient.
            var distribution = PDCDistribution()
            for index in 0..<Self.patients { distribution.add(PDC.compute(generated.fills[index] ?? [], start: Self.day("2025-12-02"), end: Self.day("2026-12-01"))) }
            #expect(rows["pdc|all|adherence_measurable"] == "\(distribution.measurable)")
            #expect(rows["pdc|all|adherence_adherent"] == "\(distribution.adherent)")
            #expect(rows["pdc|\(Self.drugClass)|adherence_measurable"] == "\(distribution.measurable)")

            let manager = try await app.token(for: "manager@tend.demo")
            try await client.execute(uri: "/api/v1/programs/gdm-camp/adherence/report?\(query)", method: .get, headers: bearer(manager)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let body = object(response)
                let outcome = try #require(body["outcome"] as? [String: Any])
                #expect(outcome["patients"] as? Int == Self.patients && outcome["improved"] as? Int == want.improved)
                #expect(outcome["baseline"] as? [String] == ["2026-06-18", "2026-08-31"] && outcome["as_of"] as? String == "2026-11-14")
                #expect((body["overall"] as? [String: Any])?["bands"] as? [Int] == distribution.bands)
            }
            // A period ending before it starts holds nothing; one over ten years is cut to ten; a follow-up not yet begun has no outcome.
            for (query, measurable, hasOutcome) in [("start=2026-12-02&end=2026-12-01", 0, false), ("start=1900-01-01", distribution.measurable, false),
                                                    ("outcome_start=2027-01-01", distribution.measurable, false)] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/adherence/report?\(query)", method: .get, headers: bearer(manager)) { response in
                    #expect(response.status == .ok, "\(query): \(String(buffer: response.body))")
                    #expect((object(response)["overall"] as? [String: Any])?["measurable"] as? Int == measurable, "\(query)")
                    #expect((object(response)["outcome"] != nil && !(object(response)["outcome"] is NSNull)) == hasOutcome, "\(query)")
                }
            }
            for (bad, field) in [("outcome_days=5", "outcome_days"), ("end=2026-02-30", "end"), ("segment=none", "segment")] {
                try await client.execute(uri: "/api/v1/programs/gdm-camp/adherence/report?\(bad)", method: .get, headers: bearer(manager)) { response in
                    #expect([400, 404].contains(response.status.code), "\(bad): \(String(buffer: response.body))")
                    if response.status.code == 400 { #expect(object(response)["field"] as? String == field, "\(bad)") }
                }
            }
        }
    }
}
