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

    /// The section's view from the fills the patient's page read (and audited); `today` is
    /// the console's day (China Standard Time).
    static func view(fills: [Fill], regimens: [Regimen], readings: [ObservationPoint], locale: AppLocale, today: LocalDate) -> MedicationView {
        let t = UIStrings.strings(for: locale)
        let window = today.adding(days: -29)...today
        let answers = readings.filter { $0.code == doseTaken }.map { point in
            (day: LocalDate(instant: point.effectiveAt, in: TaskConsole.consoleZone), taken: point.value >= 0.5, at: point.effectiveAt.timeIntervalSince1970)
        }
        let doses = DoseAdherence.compute(answers, window: window, regimens: regimens)
        let runsOut = Dictionary(grouping: fills, by: \.drug).compactMap { drug, fills -> MedicationView.RunOut? in
            guard let day = PDC.runOut(fills), day >= today else { return nil }
            return MedicationView.RunOut(drug: drug, date: day.description)
        }.sorted { $0.date < $1.date }
        return MedicationView(
            today: today.description,
            doseAdherence: doses.answeredDays > 0 ? MedicationView.DoseShare(doses, strings: t) : nil,
            adherence: AdherenceActions.classes(fills, start: today.adding(days: -364), end: today).map { .init(drugClass: $0.drugClass, $0.result, strings: t) },
            dispenses: fills.suffix(Self.shownDispenses).reversed().map {
                .init(filledOn: $0.filledOn.description, drug: $0.drug, drugClass: $0.drugClass ?? "", daysSupply: $0.daysSupply)
            },
            runsOut: runsOut,
            regimens: regimens.map { .init($0, today: today, strings: t, locale: locale) },
            frequencies: DoseFrequency.allCases.map { .init(code: $0.rawValue, label: $0.label.text(in: locale)) })
    }
}
