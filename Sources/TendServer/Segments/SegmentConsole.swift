import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendFormats
import TendStore

/// The console's segments: the program's segments with live counts; a document editor that
/// previews who a rule takes in before it is saved; a segment's members, each with why.
struct SegmentConsole: Sendable {
    let console: ConsoleRoutes
    private var segments: SegmentActions { console.dependencies.actions.segments }

    struct EditForm: Decodable {
        var csrf: String?
        var source: String?
        var action: String?
    }

    static let example = """
        slug: poorly-controlled
        name: {zh: 血糖控制不佳, en: Poorly controlled glucose}
        rule: |
          disease = T2DM and last(glucose-fasting, 14d) >= 7.0
        on_enter:
          - tag: control=poor
        on_leave:
          - untag: control=poor
        """

    /// One explanation as the pages show it: in or out, since when, each clause with ✓ or ✗ and its value.
    static func why(_ explanation: SegmentExplanation, locale: AppLocale) -> SegmentWhyView {
        SegmentWhyView(
            slug: explanation.segment.slug, name: explanation.segment.name.text(in: locale),
            member: explanation.member.map { $0.leftAt == nil } ?? false,
            enteredAt: explanation.member.map { TaskConsole.format($0.enteredAt) } ?? "",
            leftAt: explanation.member?.leftAt.map(TaskConsole.format),
            clauses: explanation.clauses.map { clause in
                .init(text: clause.text, holds: clause.holds, value: clause.evidence?.value ?? "—", at: clause.evidence?.at.map { TaskConsole.format($0) })
            })
    }

    func register(on router: Router<TendRequestContext>) {
        router.get("/p/:program/segments") { request, context -> Response in
            let page = try await console.programPage(.readProgram, request, context)
            return try await render(page, source: Self.example, preview: nil, error: nil)
        }

        router.post("/p/:program/segments") { request, context -> Response in
            let page = try await console.programPage(.readPatients, request, context)
            let form = try await console.decodeForm(EditForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            let source = form.source ?? ""
            do {
                if form.action == "save" {
                    guard page.grant.role?.allows(.manageProgram) ?? false else {
                        throw TendError(kind: .forbidden, code: "forbidden", message: .init(en: "Saving a segment needs the program's manager", zh: "保存分群需要项目管理员权限"), field: nil)
                    }
                    let saved = try await segments.save(programID: page.grant.program.id, source: source, by: page.actor)
                    return .redirect(to: "/p/\(page.grant.program.slug)/segments/\(saved.segment.slug)")
                }
                let definition: SegmentDefinition
                do throws(PathwayProblems) { definition = try SegmentFile.parse(source) } catch {
                    let first = error.problems.first
                    throw TendError(kind: .invalidInput, code: "invalid_segment",
                                    message: .init(en: "line \(first?.line ?? 0): \(first?.message ?? "")", zh: "第 \(first?.line ?? 0) 行：\(first?.message ?? "")"), field: "source")
                }
                let preview = try await segments.preview(programID: page.grant.program.id, rule: definition.rule.source, limit: 20, by: page.actor)
                return try await render(page, source: source, preview: preview, error: nil)
            } catch let error as TendError where error.kind == .invalidInput {
                return try await render(page, source: source, preview: nil, error: error.message.text(in: page.locale))
            }
        }

        router.get("/p/:program/segments/:segment") { request, context -> Response in
            let page = try await console.programPage(.readPatients, request, context)
            let summary = try await segments.segment(programID: page.grant.program.id, id: try context.parameters.require("segment"))
            let members = try await segments.members(programID: page.grant.program.id, segmentID: summary.segment.id, limit: 50, offset: 0, by: page.actor)
            let definition = summary.segment.definition
            let view = SegmentPageView(
                program: page.programView,
                segment: .init(
                    slug: summary.segment.slug, name: summary.segment.name.text(in: page.locale), rule: definition.rule.source.trimmed,
                    members: summary.members, onEnter: definition.onEnter.map(\.text), onLeave: definition.onLeave.map(\.text),
                    evaluatedAt: summary.segment.evaluatedAt.map { TaskConsole.format($0) } ?? "—"),
                source: summary.segment.source,
                memberRows: members.map { patient, why in .init(id: patient.id, name: patient.profile.name, why: Self.why(why, locale: page.locale)) })
            return console.renderer.render("segment", view: view, chrome: page.chrome, locale: page.locale)
        }
    }

    private func render(_ page: ConsoleRoutes.ProgramPage, source: String, preview: SegmentPreview?, error: String?) async throws -> Response {
        let list = try await segments.list(programID: page.grant.program.id)
        let view = SegmentsView(
            program: page.programView, source: source, canManage: page.grant.role?.allows(.manageProgram) ?? false,
            segments: list.map { summary in
                .init(slug: summary.segment.slug, name: summary.segment.name.text(in: page.locale), members: summary.members,
                      rule: summary.segment.definition.rule.source.trimmed, slides: summary.segment.definition.rule.slides)
            },
            error: error,
            preview: preview.map { .init(count: $0.count, patients: $0.patients.map { .init(id: $0.id, name: $0.profile.name) }) })
        return console.renderer.render("segments", view: view, chrome: page.chrome, locale: page.locale)
    }
}

/// Whether a patient is in a segment, since when, and each clause with ✓ or ✗ and its value.
struct SegmentWhyView {
    var slug: String
    var name: String
    var member: Bool
    var enteredAt: String
    var leftAt: String?
    var clauses: [Clause]

    struct Clause {
        var text: String
        var holds: Bool
        var value: String
        var at: String?
    }
}

/// The program's segments with their live counts, and the editor with its preview.
struct SegmentsView {
    var program: ProgramView
    var source: String
    var canManage: Bool
    var segments: [Line]
    var error: String?
    var preview: Preview?

    struct Line {
        var slug: String
        var name: String
        var members: Int
        var rule: String
        /// The rule has a window, age or PDC clause, so the sweep moves patients in and out.
        var slides: Bool
    }

    struct Preview {
        var count: Int
        var patients: [PatientLink]
    }
}

/// A patient named by a link to their page.
struct PatientLink {
    var id: String
    var name: String
}

/// One segment: its rule, actions and current members, each with why.
struct SegmentPageView {
    var program: ProgramView
    var segment: Summary
    var source: String
    var memberRows: [Member]

    struct Summary {
        var slug: String
        var name: String
        var rule: String
        var members: Int
        var onEnter: [String]
        var onLeave: [String]
        var evaluatedAt: String
    }

    struct Member {
        var id: String
        var name: String
        var why: SegmentWhyView
    }
}
