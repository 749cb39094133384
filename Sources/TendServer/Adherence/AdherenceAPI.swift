import Foundation
import Hummingbird
import TendCore
import TendEngine

struct RecordDispensesRequest: Decodable {
    let source: String?
    let dispenses: [Item]

    struct Item: Decodable {
        let patient_id: String
        let drug: String
        let `class`: String?
        let filled_on: String
        let days_supply: Int
        let quantity: Double?
        let pharmacy: String?
        let external_id: String?
    }

    static let schema = InputSchema.object([
        .optional("source", .pattern(.slug, length: 2...48, description: "Who sends them (default pharmacy): external ids are unique per source")),
        .required("dispenses", .array(.object([
            .required("patient_id", .identifier),
            .required("drug", .text(1...200)),
            .optional("class", .nullable(.text(1...200, description: "The therapeutic class; drugs of one class cover the same days"))),
            .required("filled_on", .date),
            .required("days_supply", .integer(Int64(Fill.daysSupplyRange.lowerBound)...Int64(Fill.daysSupplyRange.upperBound))),
            .optional("quantity", .nullable(.number(0...1_000_000))),
            .optional("pharmacy", .nullable(.text(1...200))),
            .optional("external_id", .nullable(.identifier)),
        ]), count: 1...Bounds.observationsPerRequest)),
    ])
}

struct ClassAdherenceBody: Encodable {
    let `class`: String
    let pdc: Double?
    let covered_days: Int
    let treatment_days: Int
    let adherent: Bool
    let measurable: Bool
    let index_date: String?
    let gaps: [[String]]

    init(_ adherence: ClassAdherence) {
        `class` = adherence.drugClass
        pdc = adherence.result.pdc
        covered_days = adherence.result.coveredDays
        treatment_days = adherence.result.treatmentDays
        adherent = adherence.result.adherent
        measurable = adherence.result.measurable
        index_date = adherence.result.indexDate?.description
        gaps = adherence.result.gaps.map { [$0.lowerBound.description, $0.upperBound.description] }
    }

    static let schema = Schema.object([
        "class": Schema.string, "pdc": Schema.nullable("number"), "covered_days": Schema.integer, "treatment_days": Schema.integer,
        "adherent": Schema.boolean, "measurable": Schema.boolean, "index_date": Schema.nullable("string", format: "date"),
        "gaps": ["type": "array", "items": ["type": "array", "items": ["type": "string", "format": "date"]], "description": "Uncovered runs [first, last]"],
    ], required: ["class", "covered_days", "treatment_days", "adherent", "measurable", "gaps"])
}

struct StartRegimenRequest: Decodable {
    let drug: String
    let `class`: String?
    let strength: String?
    let dose: String
    let frequency: String
    let start_on: String
    let stop_on: String?
    let prescriber: String?

    static let schema = InputSchema.object([
        .required("drug", .text(1...200)),
        .optional("class", .nullable(.text(1...200, description: "The therapeutic class; refills of drugs of one class cover the same days"))),
        .optional("strength", .nullable(.text(1...200, description: "e.g. 160/4.5 µg"))),
        .required("dose", .text(1...200, description: "e.g. 2 puffs")),
        .required("frequency", .values(DoseFrequency.allCases.map(\.rawValue), description: "qd, bid, tid, qid, qn (nightly), qw (weekly), prn (as needed)")),
        .required("start_on", .date),
        .optional("stop_on", .nullable(.date)),
        .optional("prescriber", .nullable(.text(1...200))),
    ])

    var submission: RegimenSubmission {
        RegimenSubmission(drug: drug, drugClass: `class`, strength: strength, dose: dose, frequency: frequency, startOn: start_on, stopOn: stop_on, prescriber: prescriber)
    }
}

struct RegimenBody: Encodable {
    let id: String
    let drug: String
    let `class`: String?
    let strength: String?
    let dose: String
    let frequency: String
    let start_on: String
    let stop_on: String?
    let prescriber: String?

    init(_ regimen: Regimen) {
        id = regimen.id
        drug = regimen.drug
        `class` = regimen.drugClass
        strength = regimen.strength
        dose = regimen.dose
        frequency = regimen.frequency.rawValue
        start_on = regimen.startOn.description
        stop_on = regimen.stopOn?.description
        prescriber = regimen.prescriber
    }

    static let schema = Schema.object([
        "id": Schema.string, "drug": Schema.string, "class": Schema.nullable("string"), "strength": Schema.nullable("string"), "dose": Schema.string,
        "frequency": Schema.string, "start_on": Schema.string, "stop_on": Schema.nullable("string", format: "date"), "prescriber": Schema.nullable("string"),
    ], required: ["id", "drug", "dose", "frequency", "start_on"])
}

/// Dispenses from pharmacy systems, and a patient's adherence (PDC per class).
struct AdherenceRoutes: Sendable {
    let dependencies: AppDependencies
    private var adherence: AdherenceActions { dependencies.actions.adherence }

    func endpoints() -> [APIEndpoint] {
        [
            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/dispenses", operationID: "recordDispenses",
                summary: "Record dispenses or refills (a pharmacy system, a pharmacist); one resent with the same source and external id adds nothing",
                tag: "adherence", body: .json(RecordDispensesRequest.schema),
                response: Schema.object(["recorded": Schema.integer, "duplicates": Schema.integer], required: ["recorded", "duplicates"]), permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let body = try await JSONIO.decode(RecordDispensesRequest.self, from: request)
                let submissions = body.dispenses.map {
                    DispenseSubmission(patientID: $0.patient_id, drug: $0.drug, drugClass: $0.class, filledOn: $0.filled_on, daysSupply: $0.days_supply,
                                       quantity: $0.quantity, pharmacy: $0.pharmacy, externalID: $0.external_id)
                }
                let result = try await adherence.record(programID: grant.program.id, submissions, source: body.source ?? "pharmacy", by: context.actor)
                return try JSONIO.response(["recorded": result.recorded, "duplicates": result.duplicates])
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/patients/{patient}/adherence", operationID: "patientAdherence",
                summary: "The patient's PDC per drug class over a period (PQA): from the first fill in it to its end; adherent from 0.80, under 91 days not measurable",
                tag: "adherence",
                query: [
                    .init(name: "end", schema: .date, description: "The period's last day (default: today in China Standard Time)"),
                    .init(name: "start", schema: .date, description: "The period's first day (default: the first fill)"),
                ],
                response: Schema.list(of: "ClassAdherence"), permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let end = try request.query.get("end").map { text throws(TendError) in try Validate.date(text, field: "end") }
                    ?? LocalDate(instant: dependencies.clock.now(), in: TaskConsole.consoleZone)
                let start = try request.query.get("start").map { text throws(TendError) in try Validate.date(text, field: "start") }
                guard let found = try await adherence.patientAdherence(programID: grant.program.id, patientID: try context.parameters.require("patient"),
                                                                      start: start, end: end, by: context.actor) else { throw TendError.notFound("patient") }
                return try JSONIO.response(ItemsBody(items: found.map(ClassAdherenceBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/patients/{patient}/regimens", operationID: "startRegimen",
                summary: "Record what the patient is prescribed: drug, strength, dose, frequency, start and stop, prescriber",
                tag: "adherence", body: .json(StartRegimenRequest.schema), successStatus: 201, response: RegimenBody.schema, conflicts: true,
                permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                try await adherence.requirePatient(programID: grant.program.id, patientID: try context.parameters.require("patient"))
                let body = try await JSONIO.decode(StartRegimenRequest.self, from: request)
                let regimen = try await adherence.startRegimen(programID: grant.program.id, patientID: try context.parameters.require("patient"), body.submission,
                                                               by: context.actor)
                return try JSONIO.response(RegimenBody(regimen), status: .created)
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/patients/{patient}/regimens", operationID: "listRegimens",
                summary: "The patient's regimens, newest start first", tag: "adherence", response: Schema.list(of: "Regimen"), permission: .readPatients)
            ) { _, context in
                let grant = try context.requireGrant()
                guard let regimens = try await adherence.regimens(programID: grant.program.id, patientID: try context.parameters.require("patient"), by: context.actor) else {
                    throw TendError.notFound("patient")
                }
                return try JSONIO.response(ItemsBody(items: regimens.map(RegimenBody.init)))
            },

            APIEndpoint(operation: APIOperation(
                method: .post, path: "/api/v1/programs/{program}/patients/{patient}/regimens/{regimen}/stop", operationID: "stopRegimen",
                summary: "Stop a regimen on a day; refill reminders of its drug past that day are cancelled",
                tag: "adherence", body: .json(InputSchema.object([.required("stop_on", .date)])), response: RegimenBody.schema, conflicts: true,
                permission: .writePatients)
            ) { request, context in
                let grant = try context.requireGrant()
                try await adherence.requirePatient(programID: grant.program.id, patientID: try context.parameters.require("patient"))
                struct Body: Decodable { let stop_on: String }
                let body = try await JSONIO.decode(Body.self, from: request)
                guard let stopped = try await adherence.stopRegimen(programID: grant.program.id, patientID: try context.parameters.require("patient"),
                                                                    regimenID: try context.parameters.require("regimen"), stopOn: body.stop_on, by: context.actor) else {
                    throw TendError.notFound("regimen")
                }
                return try JSONIO.response(RegimenBody(stopped))
            },

            APIEndpoint(operation: APIOperation(
                method: .get, path: "/api/v1/programs/{program}/adherence/report", operationID: "adherenceReport",
                summary: "PDC over a period across the program (per class; for one drug, class or segment), who can still reach 0.80, and the S6 outcome",
                tag: "adherence",
                query: [
                    .init(name: "end", schema: .date, description: "The period's last day (default: today in China Standard Time)"),
                    .init(name: "start", schema: .date, description: "The period's first day (default: a year before the end)"),
                    .init(name: "drug", schema: .text(1...200), description: "One drug or class"),
                    .init(name: "segment", schema: .identifier, description: "One segment's current members (id or slug)"),
                    .init(name: "outcome_start", schema: .date, description: "S6: the follow-up's first day; the baseline is the same number of days before it"),
                    .init(name: "outcome_days", schema: .integer(Int64(AdherenceReportQuery.outcomeDaysRange.lowerBound)...Int64(AdherenceReportQuery.outcomeDaysRange.upperBound)),
                          description: "S6: the length of each window (default 75)"),
                ],
                response: AdherenceReportBody.schema, permission: .readPatients)
            ) { request, context in
                let grant = try context.requireGrant()
                let today = LocalDate(instant: dependencies.clock.now(), in: TaskConsole.consoleZone)
                let query = try AdherenceReportQuery.parse(request.query, today: today)
                let report = try await dependencies.actions.adherenceReports.report(programID: grant.program.id, query, today: today, zone: TaskConsole.consoleZone,
                                                                                    by: context.actor)
                return try JSONIO.response(AdherenceReportBody(report))
            },
        ]
    }
}

/// A report as the API answers it.
struct AdherenceReportBody: Encodable {
    struct Distribution: Encodable {
        let measurable: Int
        let not_measurable: Int
        let adherent: Int
        let share_adherent: Double?
        let mean_pdc: Double?
        let bands: [Int]

        init(_ figures: PDCDistribution) {
            measurable = figures.measurable
            not_measurable = figures.notMeasurable
            adherent = figures.adherent
            share_adherent = figures.shareAdherent.map { $0.rounded(decimals: 4) }
            mean_pdc = figures.meanPDC.map { $0.rounded(decimals: 4) }
            bands = figures.bands
        }

        static let schema = Schema.object([
            "measurable": Schema.integer, "not_measurable": Schema.integer, "adherent": Schema.integer,
            "share_adherent": Schema.nullable("number"), "mean_pdc": Schema.nullable("number"),
            "bands": ["type": "array", "items": Schema.integer, "description": "Patient-classes per PDC band of 0.1, the last 0.9–1.0"],
        ], required: ["measurable", "not_measurable", "adherent", "bands"])
    }

    struct ClassDistribution: Encodable {
        let `class`: String
        let figures: Distribution
    }

    struct CatchUp: Encodable {
        let patient_id: String
        let name: String
        let `class`: String
        let pdc: Double?
        let covered_days: Int
        let treatment_days: Int
    }

    struct Outcome: Encodable {
        let baseline: [String]
        let follow_up: [String]
        let as_of: String
        let patients: Int
        let mean_baseline_days: Double?
        let mean_follow_up_days: Double?
        let poorly_controlled: Int
        let reassessed: Int
        let improved: Int
        let share_improved: Double?
    }

    let start: String
    let end: String
    let overall: Distribution
    let classes: [ClassDistribution]
    let catch_up_count: Int
    let catch_up: [CatchUp]
    let outcome: Outcome?

    init(_ report: AdherenceReport) {
        start = report.query.start.description
        end = report.query.end.description
        overall = Distribution(report.overall)
        classes = report.byClass.map { ClassDistribution(class: $0.drugClass, figures: Distribution($0.distribution)) }
        catch_up_count = report.catchUpCount
        catch_up = report.catchUp.map {
            CatchUp(patient_id: $0.patient.id, name: $0.patient.profile.name, class: $0.drugClass, pdc: $0.result.pdc,
                    covered_days: $0.result.coveredDays, treatment_days: $0.result.treatmentDays)
        }
        outcome = report.outcome.map { found in
            let figures = found.outcome
            return Outcome(baseline: [found.baseline.lowerBound.description, found.baseline.upperBound.description],
                           follow_up: [found.followUp.lowerBound.description, found.followUp.upperBound.description], as_of: found.asOf.description,
                           patients: figures.patients, mean_baseline_days: figures.meanBaselineDays.map { $0.rounded(decimals: 2) },
                           mean_follow_up_days: figures.meanFollowUpDays.map { $0.rounded(decimals: 2) }, poorly_controlled: figures.poorlyControlled,
                           reassessed: figures.reassessed, improved: figures.improved, share_improved: figures.shareImproved.map { $0.rounded(decimals: 4) })
        }
    }

    static let schema = Schema.object([
        "start": Schema.string, "end": Schema.string, "overall": Distribution.schema,
        "classes": ["type": "array", "items": Schema.object(["class": Schema.string, "figures": Distribution.schema], required: ["class", "figures"])],
        "catch_up_count": Schema.integer,
        "catch_up": ["type": "array", "items": Schema.object([
            "patient_id": Schema.string, "name": Schema.string, "class": Schema.string, "pdc": Schema.nullable("number"),
            "covered_days": Schema.integer, "treatment_days": Schema.integer,
        ], required: ["patient_id", "name", "class", "covered_days", "treatment_days"])],
        "outcome": ["type": ["object", "null"], "description": "S6: days on therapy against the baseline, ACT < 20 at baseline and improved (+3 or to 20)"],
    ], required: ["start", "end", "overall", "classes", "catch_up_count", "catch_up"])
}
