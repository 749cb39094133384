import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

/// The medication section of a patient's page: PDC per class over the last twelve months, the
/// dispenses, when each followed supply runs out, and the pharmacist's form to record one.
struct AdherenceConsole: Sendable {
    let console: ConsoleRoutes

    private var adherence: AdherenceActions { console.dependencies.actions.adherence }

    struct DispenseForm: Decodable {
        var csrf: String?
        var drug: String?
        var `class`: String?
        var filled_on: String?
        var days_supply: String?
        var quantity: String?
        var pharmacy: String?
    }

    struct RegimenForm: Decodable {
        var csrf: String?
        var drug: String?
        var `class`: String?
        var strength: String?
        var dose: String?
        var frequency: String?
        var start_on: String?
        var stop_on: String?
        var prescriber: String?
    }

    struct StopForm: Decodable {
        var csrf: String?
        var stop_on: String?
    }

    static let shownDispenses = 20
    /// The daily "taken today?" answer a dose check-in records (`dose-check-in` questionnaire).
    static let doseTaken = ObservationCode(system: .program, code: "dose-taken")

    func register(on router: Router<TendRequestContext>) {
        router.post("/p/:program/patients/:patient/dispenses") { request, context -> Response in
            let page = try await console.programPage(.writePatients, request, context)
            let patientID = try context.parameters.require("patient")
            let form = try await console.decodeForm(DispenseForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            func blankToNil(_ text: String?) -> String? { text.flatMap { $0.trimmed.isEmpty ? nil : $0.trimmed } }
            let days = blankToNil(form.days_supply)
            guard let supply = Int(days ?? "") else {
                throw TendError.invalid("days_supply", .init(en: "must be 1 to \(Fill.daysSupplyRange.upperBound) days", zh: "应为 1 至 \(Fill.daysSupplyRange.upperBound) 天"))
            }
            let quantity = try blankToNil(form.quantity).map { text throws(TendError) in
                guard let value = Double(text) else { throw TendError.invalid("quantity", .init(en: "must be a number", zh: "应为数字")) }
                return value
            }
            _ = try await adherence.record(programID: page.grant.program.id, [
                DispenseSubmission(patientID: patientID, drug: form.drug ?? "", drugClass: blankToNil(form.class), filledOn: form.filled_on ?? "",
                                   daysSupply: supply, quantity: quantity, pharmacy: blankToNil(form.pharmacy)),
            ], source: "console", by: page.actor, field: "dispense")
            return .redirect(to: "/p/\(page.grant.program.slug)/patients/\(patientID)#medication-section")
        }

        router.post("/p/:program/patients/:patient/regimens") { request, context -> Response in
            let page = try await console.programPage(.writePatients, request, context)
            let patientID = try context.parameters.require("patient")
            let form = try await console.decodeForm(RegimenForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            func blankToNil(_ text: String?) -> String? { text.flatMap { $0.trimmed.isEmpty ? nil : $0.trimmed } }
            _ = try await adherence.startRegimen(programID: page.grant.program.id, patientID: patientID, RegimenSubmission(
                drug: form.drug ?? "", drugClass: blankToNil(form.class), strength: blankToNil(form.strength), dose: form.dose ?? "",
                frequency: form.frequency ?? "", startOn: form.start_on ?? "", stopOn: blankToNil(form.stop_on), prescriber: blankToNil(form.prescriber)), by: page.actor)
            return .redirect(to: "/p/\(page.grant.program.slug)/patients/\(patientID)#medication-section")
        }

        router.post("/p/:program/patients/:patient/regimens/:regimen/stop") { request, context -> Response in
            let page = try await console.programPage(.writePatients, request, context)
            let patientID = try context.parameters.require("patient")
            let form = try await console.decodeForm(StopForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            guard try await adherence.stopRegimen(programID: page.grant.program.id, patientID: patientID, regimenID: try context.parameters.require("regimen"),
                                                  stopOn: form.stop_on ?? "", by: page.actor) != nil else { throw TendError.notFound("regimen") }
            return .redirect(to: "/p/\(page.grant.program.slug)/patients/\(patientID)#medication-section")
        }
    }

    /// The section's values from the fills the patient's page read (and audited); `today` is
    /// the console's day (China Standard Time).
    static func values(fills: [Fill], regimens: [Regimen], readings: [ObservationPoint], locale: AppLocale, today: LocalDate) -> [String: Any] {
        let t = UIStrings.strings(for: locale)
        let window = today.adding(days: -29)...today
        let answers = readings.filter { $0.code == doseTaken }.map { point in
            (day: LocalDate(instant: point.effectiveAt, in: TaskConsole.consoleZone), taken: point.value >= 0.5, at: point.effectiveAt.timeIntervalSince1970)
        }
        let doses = DoseAdherence.compute(answers, window: window, regimens: regimens)
        var doseValues: [String: Any]?
        if doses.answeredDays > 0 {
            let summary = (t["dose_adherence_summary"] ?? "").replacingOccurrences(of: "{taken}", with: String(doses.takenDays))
                .replacingOccurrences(of: "{answered}", with: String(doses.answeredDays))
                .replacingOccurrences(of: "{expected}", with: doses.expectedDays.map(String.init) ?? "—")
            doseValues = ["share": doses.share.map { String(format: "%.0f %%", $0 * 100) } ?? "—", "summary": summary]
        }
        let classes = AdherenceActions.classes(fills, start: today.adding(days: -364), end: today).map { item -> [String: Any] in
            let result = item.result
            let verdict = !result.measurable ? t["not_measurable"] : result.adherent ? t["adherent"] : t["not_adherent"]
            return [
                "drug_class": item.drugClass, "pdc": result.pdc.map { String(format: "%.0f %%", $0 * 100) } ?? "—", "verdict": verdict ?? "",
                "covered_days": result.coveredDays, "treatment_days": result.treatmentDays,
                "gaps": result.gaps.suffix(3).map { "\($0.lowerBound)–\($0.upperBound)" }.joined(separator: ", "),
            ]
        }
        let runsOut = Dictionary(grouping: fills, by: \.drug).compactMap { drug, fills -> [String: Any]? in
            guard let day = PDC.runOut(fills), day >= today else { return nil }
            return ["drug": drug, "date": day.description]
        }.sorted { ($0["date"] as? String ?? "") < ($1["date"] as? String ?? "") }
        var values: [String: Any] = [
            "has_adherence": !classes.isEmpty, "adherence": classes,
            "has_dispenses": !fills.isEmpty, "today": today.description,
            "dispenses": fills.suffix(Self.shownDispenses).reversed().map { fill -> [String: Any] in
                ["filled_on": fill.filledOn.description, "drug": fill.drug, "drug_class": fill.drugClass ?? "", "days_supply": fill.daysSupply]
            },
            "runs_out": runsOut,
            "has_regimens": !regimens.isEmpty,
            "regimens": regimens.map { regimen -> [String: Any] in
                [
                    "id": regimen.id, "drug": regimen.drug, "drug_class": regimen.drugClass ?? "", "strength": regimen.strength ?? "", "dose": regimen.dose,
                    "frequency": regimen.frequency.label.text(in: locale), "start_on": regimen.startOn.description,
                    "stop_on": regimen.stopOn?.description ?? (t["regimen_open"] ?? ""), "prescriber": regimen.prescriber ?? "",
                    "active": regimen.isActive(on: today), "can_stop": regimen.stopOn.map { $0 >= today } ?? true,
                ]
            },
            "frequencies": DoseFrequency.allCases.map { ["code": $0.rawValue, "label": $0.label.text(in: locale)] },
        ]
        if let doseValues { values["dose_adherence"] = doseValues }
        return values
    }
}
