import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

/// Console pages for patients: the list with tag filters and search, a patient's page
/// (profile, tags, consent, audit trail) and the add/edit form.
struct PatientConsole: Sendable {
    let console: ConsoleRoutes

    private var stores: Stores { console.dependencies.stores }
    private var patients: PatientActions { console.dependencies.actions.patients }
    private var enrolments: EnrolmentActions { console.dependencies.actions.enrolments }
    private var renderer: PageRenderer { console.renderer }

    struct PatientForm: Decodable {
        var csrf: String?
        var name: String?
        var external_id: String?
        var sex: String?
        var birth_date: String?
        var phone: String?
        var id_number: String?
        var address: String?
        var locale: String?
        var time_zone: String?
        var contact_window: String?
        var quiet_hours: String?
        var status: String?
        var tags: String?
    }

    struct TagForm: Decodable {
        var csrf: String?
        var add: String?
        var remove: String?
    }

    struct ConsentForm: Decodable {
        var csrf: String?
        var kind: String?
        var version: String?
    }

    struct EnrolForm: Decodable {
        var csrf: String?
        var pathway: String?
        var anchors: String?
    }

    struct MoveAnchorForm: Decodable {
        var csrf: String?
        var anchor: String?
        var date: String?
    }

    struct StateForm: Decodable {
        var csrf: String?
        var action: String?
    }

    struct FindForm: Decodable {
        var csrf: String?
        var q: String?
    }

    typealias Page = ConsoleRoutes.ProgramPage

    private func page(_ permission: Permission, _ request: Request, _ context: TendRequestContext) async throws -> Page {
        try await console.programPage(permission, request, context)
    }

    func register(on router: Router<TendRequestContext>) {
        registerList(on: router)
        registerForm(on: router)
        registerRecord(on: router)
        registerFollowUp(on: router)
        registerPathways(on: router)
        registerConsents(on: router)
    }

    /// The list with its filters, and the search box.
    private func registerList(on router: Router<TendRequestContext>) {
        router.get("/p/:program/patients") { request, context -> Response in
            let page = try await page(.readPatients, request, context)
            let parameters = request.query
            var query = PatientQuery()
            var error: String?
            do throws(TendError) {
                query = try PatientRoutes.patientQuery(parameters)
            } catch let problem {
                error = problem.message.text(in: context.locale)
            }
            let result = try await patients.list(programID: page.grant.program.id, query: query, by: page.actor)
            var nextURL: String?
            if let next = result.nextAfter {
                var components = URLComponents()
                components.queryItems = ["tags", "not_tags", "any_tags", "status"].compactMap { name in
                    parameters[name].map { URLQueryItem(name: name, value: $0) }
                } + [URLQueryItem(name: "after", value: next)]
                nextURL = "/p/\(page.grant.program.slug)/patients?\(components.percentEncodedQuery ?? "")"
            }
            return renderList(page, patients: result.patients, nextURL: nextURL, error: error,
                              filter: .init(tags: parameters["tags"] ?? "", notTags: parameters["not_tags"] ?? ""), status: query.status)
        }

        router.post("/p/:program/patients/find") { request, context -> Response in
            let page = try await page(.readPatients, request, context)
            let form = try await console.decodeForm(FindForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            let text = (form.q ?? "").trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { return .redirect(to: "/p/\(page.grant.program.slug)/patients") }
            let found = try await patients.find(programID: page.grant.program.id, text: text, by: page.actor)
            return renderList(page, patients: found, nextURL: nil, error: nil, filter: .init(tags: "", notTags: ""), status: nil)
        }
    }

    /// Adding a patient.
    private func registerForm(on router: Router<TendRequestContext>) {
        router.get("/p/:program/patients/new") { request, context -> Response in
            let page = try await page(.writePatients, request, context)
            return renderForm(page, profile: nil, values: PatientForm(), error: nil, patientID: nil)
        }

        router.post("/p/:program/patients") { request, context -> Response in
            let page = try await page(.writePatients, request, context)
            let form = try await console.decodeForm(PatientForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            do {
                let (profile, tags) = try profile(from: form, current: nil)
                let patient = try await patients.create(programID: page.grant.program.id, profile: profile, tags: tags, by: page.actor)
                return .redirect(to: "/p/\(page.grant.program.slug)/patients/\(patient.id)")
            } catch let error as TendError where error.kind == .invalidInput || error.kind == .conflict {
                return renderForm(page, profile: nil, values: form, error: error, patientID: nil)
            }
        }
    }

    /// A patient's page, editing it, tags.
    private func registerRecord(on router: Router<TendRequestContext>) {
        router.get("/p/:program/patients/:patient") { request, context -> Response in
            let page = try await page(.readPatients, request, context)
            guard let record = try await patients.record(programID: page.grant.program.id, patientID: try context.parameters.require("patient"), by: page.actor) else {
                throw TendError.notFound("patient")
            }
            return renderer.render("patient", view: try await patientPage(page, record: record), chrome: page.chrome, locale: page.locale)
        }

        router.get("/p/:program/patients/:patient/edit") { request, context -> Response in
            let page = try await page(.writePatients, request, context)
            guard let patient = try await patients.read(programID: page.grant.program.id, patientID: try context.parameters.require("patient"), by: page.actor) else {
                throw TendError.notFound("patient")
            }
            return renderForm(page, profile: patient.profile, values: nil, error: nil, patientID: patient.id)
        }

        router.post("/p/:program/patients/:patient") { request, context -> Response in
            let page = try await page(.writePatients, request, context)
            let patientID = try context.parameters.require("patient")
            let form = try await console.decodeForm(PatientForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            do {
                guard try await patients.update(programID: page.grant.program.id, patientID: patientID, by: page.actor,
                                                change: { current throws(TendError) in try profile(from: form, current: current).0 }) != nil else {
                    throw TendError.notFound("patient")
                }
                return .redirect(to: "/p/\(page.grant.program.slug)/patients/\(patientID)")
            } catch let error as TendError where error.kind == .invalidInput || error.kind == .conflict {
                return renderForm(page, profile: nil, values: form, error: error, patientID: patientID)
            }
        }

        router.post("/p/:program/patients/:patient/tags") { request, context -> Response in
            let page = try await page(.writePatients, request, context)
            let patientID = try context.parameters.require("patient")
            let form = try await console.decodeForm(TagForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            let add = try form.add.flatMap { $0.trimmed.isEmpty ? nil : [try PatientTag.parse($0, field: "add")] } ?? []
            let remove = try form.remove.flatMap { $0.isEmpty ? nil : [try PatientTag.parse($0, field: "remove")] } ?? []
            guard try await patients.retag(programID: page.grant.program.id, patientID: patientID, add: add, remove: remove, by: page.actor) != nil else {
                throw TendError.notFound("patient")
            }
            return .redirect(to: "/p/\(page.grant.program.slug)/patients/\(patientID)")
        }
    }

    /// Enrolling and changing enrolments.
    private func registerFollowUp(on router: Router<TendRequestContext>) {
        router.post("/p/:program/patients/:patient/enrol") { request, context -> Response in
            let page = try await page(.writePatients, request, context)
            let patientID = try context.parameters.require("patient")
            let form = try await console.decodeForm(EnrolForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            var anchors: [String: LocalDate] = [:]
            for piece in (form.anchors ?? "").split(whereSeparator: { $0 == "," || $0 == ";" || $0 == " " }) {
                let parts = piece.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw TendError.invalid("anchors", .init(en: "must be written name=YYYY-MM-DD", zh: "格式应为 name=YYYY-MM-DD")) }
                anchors[parts[0].trimmed] = try PathwayRoutes.date(parts[1], field: "anchors.\(parts[0].trimmed)")
            }
            _ = try await enrolments.enrol(programID: page.grant.program.id, pathway: form.pathway ?? "", target: .patient(patientID), anchors: anchors, by: page.actor)
            return .redirect(to: "/p/\(page.grant.program.slug)/patients/\(patientID)#schedule-section")
        }

        router.post("/p/:program/enrolments/:enrolment/anchors") { request, context -> Response in
            let page = try await page(.writePatients, request, context)
            let form = try await console.decodeForm(MoveAnchorForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            let moved = try await enrolments.moveAnchor(
                programID: page.grant.program.id, enrolmentID: try context.parameters.require("enrolment"), anchor: form.anchor ?? "",
                to: try PathwayRoutes.date(form.date ?? "", field: "date"), by: page.actor)
            return .redirect(to: "/p/\(page.grant.program.slug)/patients/\(moved.patientID)#schedule-section")
        }

        router.post("/p/:program/enrolments/:enrolment/state") { request, context -> Response in
            let page = try await page(.writePatients, request, context)
            let form = try await console.decodeForm(StateForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            guard let change = form.action.flatMap(EnrolmentChange.init(rawValue:)) else {
                throw TendError.invalid("action", .init(en: "must be pause, resume or cancel", zh: "必须是 pause、resume 或 cancel"))
            }
            let changed = try await enrolments.change(programID: page.grant.program.id, enrolmentID: try context.parameters.require("enrolment"), change, by: page.actor)
            return .redirect(to: "/p/\(page.grant.program.slug)/patients/\(changed.patientID)#schedule-section")
        }
    }

    /// The program's pathways, step by step.
    private func registerPathways(on router: Router<TendRequestContext>) {
        router.get("/p/:program/pathways") { request, context -> Response in
            let page = try await page(.readProgram, request, context)
            let t = UIStrings.strings(for: page.locale)
            let pathways = try await stores.pathways.latest(programID: page.grant.program.id).map { stored in
                PathwaysView.PathwayLine(
                    slug: stored.pathway.id, version: stored.pathway.version, name: stored.pathway.name.text(in: page.locale),
                    anchors: stored.pathway.allAnchors.joined(separator: ", "),
                    steps: stored.pathway.steps.map { PathwaysView.Step($0, strings: t, locale: page.locale) })
            }
            return renderer.render("pathways", view: PathwaysView(program: page.programView, pathways: pathways), chrome: page.chrome, locale: page.locale)
        }
    }

    /// Recording a consent.
    private func registerConsents(on router: Router<TendRequestContext>) {
        router.post("/p/:program/patients/:patient/consents") { request, context -> Response in
            let page = try await page(.writePatients, request, context)
            let patientID = try context.parameters.require("patient")
            let form = try await console.decodeForm(ConsentForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            guard try await patients.recordConsent(programID: page.grant.program.id, patientID: patientID, kind: form.kind ?? "", version: form.version ?? "", by: page.actor) != nil else {
                throw TendError.notFound("patient")
            }
            return .redirect(to: "/p/\(page.grant.program.slug)/patients/\(patientID)")
        }
    }

    /// The patient page from the patient's record, plus what the page shows beside it: the
    /// program's pathways and alert rules, the group names, the portal activity and, for
    /// managers, the audit trail.
    private func patientPage(_ page: Page, record: PatientRecord) async throws -> PatientPageView {
        let programID = page.grant.program.id, locale = page.locale, t = UIStrings.strings(for: locale)
        let patient = record.patient
        let groupNames = Dictionary(uniqueKeysWithValues: try await stores.messages.groups(programID: programID).map { ($0.id, $0.name) })
        let rules = try await console.dependencies.actions.observations.alertRules(programID: programID)
        let today = LocalDate(instant: console.dependencies.clock.now(), in: TaskConsole.consoleZone)
        let activity = try await console.dependencies.actions.portal.activity(programID: programID, patientID: patient.id)
        return PatientPageView(
            program: page.programView, patient: PatientView(patient, now: console.dependencies.clock.now(), strings: t),
            canWrite: page.canWrite, showAudit: page.showAudit,
            schedule: ScheduleView(record, pathways: try await stores.pathways.latest(programID: programID), strings: t, locale: locale),
            alerts: record.alerts.filter { $0.status != .resolved }.map { .init($0, strings: t, locale: locale) },
            charts: ObservationChart.values(record.observations, rules: rules.rules, units: rules.displayUnits, locale: locale),
            medication: AdherenceConsole.view(fills: record.fills, regimens: record.regimens, readings: record.observations, locale: locale, today: today),
            segments: record.segments.map { SegmentConsole.why($0, locale: locale) },
            responses: try await ResponseConsole.values(record.responses, programID: programID, programSlug: page.grant.program.slug,
                                                       questionnaires: console.dependencies.actions.questionnaires, locale: locale),
            thread: record.thread.map { .init($0, groupNames: groupNames, strings: t) },
            portalActivity: activity.prefix(30).map {
                .init(at: TaskConsole.format($0.at), action: $0.action, actor: t["actor_\($0.actorKind.rawValue)"] ?? $0.actorKind.rawValue, requestID: "")
            },
            audit: page.showAudit ? try await auditTrail(programID: programID, patientID: patient.id) : [])
    }

    /// The patient's last 50 audit events, each with the staff member's name.
    private func auditTrail(programID: String, patientID: String) async throws -> [PatientPageView.EventLine] {
        let events = try await stores.audit.events(programID: programID, subjectID: patientID, limit: 50)
        var names: [String: String] = [:]
        for id in Set(events.compactMap(\.actorID)) {
            names[id] = try await stores.staff.user(id: id)?.displayName
        }
        return events.map { event in
            .init(at: TaskConsole.format(event.at), action: event.action, actor: event.actorID.flatMap { names[$0] } ?? event.actorKind.rawValue,
                  requestID: event.requestID ?? "")
        }
    }

    private func renderList(_ page: Page, patients: [Patient], nextURL: String?, error: String?, filter: PatientListView.Filter, status: PatientStatus?) -> Response {
        let t = UIStrings.strings(for: page.locale)
        let view = PatientListView(
            program: page.programView, canWrite: page.canWrite, filter: filter,
            statuses: PatientStatus.allCases.map { ChoiceView(value: $0.rawValue, label: t["status_\($0.rawValue)"] ?? $0.rawValue, selected: $0 == status) },
            rowsHTML: Self.rowsHTML(patients, programSlug: page.grant.program.slug, strings: t), patientCount: patients.count,
            error: error, nextURL: nextURL)
        return renderer.render("patients", view: view, chrome: page.chrome, locale: page.locale)
    }

    /// The list's rows in HTML, written here rather than in the template for the same reason as
    /// the inbox's (`InboxConsole.rowsHTML`): the engine's lookups were a third of the page.
    static func rowsHTML(_ patients: [Patient], programSlug: String, strings: [String: String]) -> String {
        var html = ""
        html.reserveCapacity(patients.count * 400)
        let slug = HTML.escape(programSlug)
        for patient in patients {
            let status = HTML.escape(patient.profile.status.rawValue)
            html += "<tr>\n<td><a href=\"/p/\(slug)/patients/\(HTML.escape(patient.id))\" class=\"patient-link\">\(HTML.escape(patient.profile.name))</a></td>\n"
            html += "<td>\(HTML.escape(patient.profile.externalID ?? ""))</td>\n"
            html += "<td><span class=\"badge status-\(status)\">\(HTML.escape(strings["status_\(patient.profile.status.rawValue)"] ?? ""))</span></td>\n<td>"
            for tag in patient.tags { html += "<span class=\"tag\">\(HTML.escape(tag.tag.text))</span> " }
            html += "</td>\n</tr>\n"
        }
        return html
    }

    private func renderForm(_ page: Page, profile: PatientProfile?, values form: PatientForm?, error: TendError?, patientID: String?) -> Response {
        let t = UIStrings.strings(for: page.locale)
        func text(_ formValue: String?, _ stored: String?) -> String { form == nil ? (stored ?? "") : (formValue ?? "") }
        let sex = form?.sex ?? profile?.sex.rawValue ?? Sex.unknown.rawValue
        let status = form?.status ?? profile?.status.rawValue ?? PatientStatus.active.rawValue
        let locale = form?.locale ?? profile?.locale.rawValue ?? AppLocale.zhHans.rawValue
        typealias Field = PatientFormView.Field
        func field(_ name: String, _ label: String, _ value: String, placeholder: String = "", required: Bool = false) -> Field {
            Field(name: name, label: t[label] ?? label, value: value, placeholder: placeholder, required: required, invalid: error?.field == name)
        }
        func select(_ name: String, _ label: String, _ options: [(String, String)], _ selected: String) -> Field {
            Field(name: name, label: t[label] ?? label, invalid: error?.field == name, isSelect: true,
                  options: options.map { ChoiceView(value: $0.0, label: $0.1, selected: $0.0 == selected) })
        }
        var fields: [Field] = [
            field("name", "patient_name", text(form?.name, profile?.name), required: true),
            field("external_id", "external_id", text(form?.external_id, profile?.externalID), placeholder: "MRN-0001"),
            select("sex", "sex", Sex.allCases.map { ($0.rawValue, t["sex_\($0.rawValue)"] ?? $0.rawValue) }, sex),
            field("birth_date", "birth_date", text(form?.birth_date, profile?.birthDate), placeholder: "1990-03-07"),
            field("phone", "phone", text(form?.phone, profile?.phone), placeholder: "13800138000"),
            field("id_number", "id_number", text(form?.id_number, profile?.idNumber)),
            field("address", "address", text(form?.address, profile?.address)),
            select("locale", "locale", [("zh-Hans", "中文"), ("en", "English")], locale),
            field("time_zone", "time_zone", form == nil ? (profile?.timeZone ?? "Asia/Shanghai") : (form?.time_zone ?? ""), placeholder: "Asia/Shanghai"),
            field("contact_window", "contact_window", text(form?.contact_window, profile?.contactWindow?.text), placeholder: "12:00-13:30"),
            field("quiet_hours", "quiet_hours", text(form?.quiet_hours, profile?.quietHours?.text), placeholder: "22:00-07:00"),
            select("status", "status", PatientStatus.allCases.map { ($0.rawValue, t["status_\($0.rawValue)"] ?? $0.rawValue) }, status),
        ]
        if patientID == nil {
            fields.append(field("tags", "tags", form?.tags ?? "", placeholder: "disease=T2DM;stage=chemo"))
        }
        let slug = page.grant.program.slug
        let view = PatientFormView(
            program: page.programView, formTitle: t[patientID == nil ? "patient_new_title" : "patient_edit_title"] ?? "",
            action: patientID.map { "/p/\(slug)/patients/\($0)" } ?? "/p/\(slug)/patients",
            fields: fields, error: error?.message.text(in: page.locale))
        return renderer.render("patient_form", view: view, chrome: page.chrome, locale: page.locale, status: error == nil ? .ok : .badRequest)
    }

    /// The form's text fields as a validated profile; blank optional fields clear the value.
    private func profile(from form: PatientForm, current: PatientProfile?) throws(TendError) -> (PatientProfile, [PatientTag]) {
        func blankToNil(_ text: String?) -> String? {
            guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        var profile = current ?? PatientProfile(name: "")
        profile.name = form.name ?? ""
        profile.externalID = blankToNil(form.external_id)
        guard let sex = Sex(loose: form.sex ?? "") else { throw TendError.invalid("sex", .init(en: "is not a known value", zh: "值无效")) }
        profile.sex = sex
        profile.birthDate = blankToNil(form.birth_date)
        profile.phone = blankToNil(form.phone)
        profile.idNumber = blankToNil(form.id_number)
        profile.address = blankToNil(form.address)
        profile.locale = AppLocale(identifier: form.locale ?? "") ?? profile.locale
        profile.timeZone = form.time_zone ?? ""
        profile.contactWindow = try blankToNil(form.contact_window).map { (text) throws(TendError) in try DailyWindow.parse(text, field: "contact_window") }
        profile.quietHours = try blankToNil(form.quiet_hours).map { (text) throws(TendError) in try DailyWindow.parse(text, field: "quiet_hours") }
        guard let status = PatientStatus(rawValue: form.status ?? "") else { throw TendError.invalid("status", .init(en: "is not a known value", zh: "值无效")) }
        profile.status = status
        var tags: [PatientTag] = []
        for piece in (form.tags ?? "").split(whereSeparator: { $0 == ";" || $0 == "," }) where !piece.trimmingCharacters(in: .whitespaces).isEmpty {
            tags.append(try PatientTag.parse(String(piece), field: "tags"))
        }
        return (try profile.validated(), tags)
    }
}
