import Foundation
import TendCore
import TendEngine

/// The medication section of a patient's page: regimens, dose-level adherence, PDC per class,
/// the latest dispenses and when followed supply runs out.
struct MedicationView {
    var today: String
    var doseAdherence: DoseShare?
    var adherence: [ClassPDC]
    var dispenses: [Dispensed]
    var runsOut: [RunOut]
    var regimens: [RegimenLine]
    var frequencies: [Frequency]

    struct DoseShare {
        var share: String
        var summary: String

        init(_ doses: DoseAdherence, strings t: [String: String]) {
            share = doses.share.map { String(format: "%.0f %%", $0 * 100) } ?? "—"
            summary = (t["dose_adherence_summary"] ?? "").replacingOccurrences(of: "{taken}", with: String(doses.takenDays))
                .replacingOccurrences(of: "{answered}", with: String(doses.answeredDays))
                .replacingOccurrences(of: "{expected}", with: doses.expectedDays.map(String.init) ?? "—")
        }
    }

    struct ClassPDC {
        var drugClass: String
        var pdc: String
        var verdict: String
        var coveredDays: Int
        var treatmentDays: Int
        var gaps: String

        init(drugClass: String, _ result: PDCResult, strings t: [String: String]) {
            self.drugClass = drugClass
            pdc = result.pdc.map { String(format: "%.0f %%", $0 * 100) } ?? "—"
            verdict = (!result.measurable ? t["not_measurable"] : result.adherent ? t["adherent"] : t["not_adherent"]) ?? ""
            coveredDays = result.coveredDays
            treatmentDays = result.treatmentDays
            gaps = result.gaps.suffix(3).map { "\($0.lowerBound)–\($0.upperBound)" }.joined(separator: ", ")
        }
    }

    struct Dispensed {
        var filledOn: String
        var drug: String
        var drugClass: String
        var daysSupply: Int
    }

    struct RunOut {
        var drug: String
        var date: String
    }

    struct RegimenLine {
        var id: String
        var drug: String
        var drugClass: String?
        var strength: String
        var dose: String
        var frequency: String
        var startOn: String
        var stopOn: String
        var prescriber: String
        var active: Bool
        var canStop: Bool

        init(_ regimen: Regimen, today: LocalDate, strings t: [String: String], locale: AppLocale) {
            id = regimen.id
            drug = regimen.drug
            drugClass = regimen.drugClass
            strength = regimen.strength ?? ""
            dose = regimen.dose
            frequency = regimen.frequency.label.text(in: locale)
            startOn = regimen.startOn.description
            stopOn = regimen.stopOn?.description ?? (t["regimen_open"] ?? "")
            prescriber = regimen.prescriber ?? ""
            active = regimen.isActive(on: today)
            canStop = regimen.stopOn.map { $0 >= today } ?? true
        }
    }

    struct Frequency {
        var code: String
        var label: String
    }
}
