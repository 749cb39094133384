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
        ]
    }
}
