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
            return renderList(page, patients: result.patients, nextURL: nextURL, error: error, filter: [
                "tags": parameters["tags"] ?? "",
                "not_tags": parameters["not_tags"] ?? "",
            ], status: query.status)
        }

        router.post("/p/:program/patients/find") { request, context -> Response in
            let page = try await page(.readPatients, request, context)
            let form = try await console.decodeForm(FindForm.self, request)
            try CSRF.verify(form.csrf, identity: page.grant.identity)
            let text = (form.q ?? "").trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { return .redirect(to: "/p/\(page.grant.program.slug)/patients") }
            let found = try await patients.find(programID: page.grant.program.id, text: text, by: page.actor)
            return renderList(page, patients: found, nextURL: nil, error: nil, filter: [:], status: nil)
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
            let patient = record.patient
            var values: [String: Any] = [
                "program": page.programValues, "patient": patientValues(patient, locale: page.locale),
                "can_write": page.canWrite, "show_audit": page.showAudit,
            ]
            values.merge(try await scheduleValues(page, record: record)) { _, new in new }
            let thread = record.thread
            let groupNames = Dictionary(uniqueKeysWithValues: try await stores.messages.groups(programID: page.grant.program.id).map { ($0.id, $0.name) })
            let t = UIStrings.strings(for: page.locale)
            values["has_thread"] = !thread.isEmpty
            values["thread"] = thread.map { message -> [String: Any] in
                [
                    "outgoing": message.direction == "out", "text": message.text, "at": TaskConsole.format(message.sentAt),
                    "where": message.groupID.flatMap { groupNames[$0] } ?? (t["inbox_one_to_one"] ?? "1:1"),
                    "level": message.level.map { t["level_\($0.rawValue)"] ?? $0.rawValue } ?? "",
                ]
            }
            let rules = try await console.dependencies.actions.observations.alertRules(programID: page.grant.program.id)
            let charts = ObservationChart.values(record.observations, rules: rules.rules, units: rules.displayUnits, locale: page.locale)
            values["has_charts"] = !charts.isEmpty
            values["charts"] = charts
            let unresolved = record.alerts.filter { $0.status != .resolved }
            values["has_alerts"] = !unresolved.isEmpty
            values["alerts"] = unresolved.map { alert -> [String: Any] in
                [
                    "rule": AlertConsole.title(alert, strings: t, locale: page.locale), "breaches_label": AlertConsole.breachesLabel(alert, strings: t),
                    "priority": alert.priority.label.text(in: page.locale),
                    "urgent": alert.priority == .urgent, "breaches": alert.breaches, "opened_at": TaskConsole.format(alert.openedAt),
                    "status": t["alert_status_\(alert.status.rawValue)"] ?? alert.status.rawValue,
                ]
            }
            let responses = try await ResponseConsole.values(record.responses, programID: page.grant.program.id, programSlug: page.grant.program.slug,
                                                             questionnaires: console.dependencies.actions.questionnaires, locale: page.locale)
            values["responses"] = responses
            values["has_responses"] = !responses.isEmpty
            values["segments"] = record.segments.map { SegmentConsole.whyValues($0, locale: page.locale) }
            values["has_segments"] = !record.segments.isEmpty
            let today = LocalDate(instant: console.dependencies.clock.now(), in: TaskConsole.consoleZone)
            values.merge(AdherenceConsole.values(fills: record.fills, regimens: record.regimens, readings: record.observations, locale: page.locale, today: today)) { _, new in new }
            let activity = try await console.dependencies.actions.portal.activity(programID: page.grant.program.id, patientID: patient.id)
            values["portal_activity"] = activity.prefix(30).map { event -> [String: Any] in
                ["at": TaskConsole.format(event.at), "action": event.action, "who": t["actor_\(event.actorKind.rawValue)"] ?? event.actorKind.rawValue]
            }
            values["has_portal_activity"] = !activity.isEmpty
            if page.showAudit {
                let events = try await stores.audit.events(programID: page.grant.program.id, subjectID: patient.id, limit: 50)
                var names: [String: String] = [:]
                for id in Set(events.compactMap(\.actorID)) {
                    names[id] = try await stores.staff.user(id: id)?.displayName
                }
                values["audit"] = events.map { event -> [String: Any] in
                    [
                        "at": TaskConsole.format(event.at), "action": event.action, "request_id": event.requestID ?? "",
                        "actor": event.actorID.flatMap { names[$0] } ?? event.actorKind.rawValue,
                    ]
                }
            }
            return renderer.render("patient", values, chrome: page.chrome, locale: page.locale)
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
            let pathways = try await stores.pathways.latest(programID: page.grant.program.id)
            let values: [String: Any] = [
                "program": page.programValues,
                "pathways": pathways.map { stored -> [String: Any] in
                    [
                        "slug": stored.pathway.id, "version": stored.pathway.version, "name": stored.pathway.name.text(in: page.locale),
                        "anchors": stored.pathway.allAnchors.joined(separator: ", "),
                        "steps": stored.pathway.steps.map { step -> [String: Any] in
                            let text: String, isTask: Bool
                            switch step.action {
                            case .message(let message): text = message.text(in: page.locale); isTask = false
                            case .task(let task, _): text = task.text(in: page.locale); isTask = true
                            }
                            var repeatText = ""
                            if let recurrence = step.recurrence {
                                switch recurrence.limit {
                                case .count(let count): repeatText = "↻ \(recurrence.every) × \(count)"
                                case .span(let span): repeatText = "↻ \(recurrence.every) / \(span)"
                                case .openEnded: repeatText = "↻ \(recurrence.every) …"
                                }
                            }
                            return [
                                "id": step.id, "when": "\(step.anchor) \(step.offset.days >= 0 && step.offset.months >= 0 ? "+" : "")\(step.offset) \(step.at)",
                                "task": isTask, "confirm": step.confirm, "escalation": step.ifUnconfirmed ?? false,
                                "channels": isTask ? t["task"] ?? "" : step.channels.map(\.rawValue).joined(separator: ", "),
                                "repeat": repeatText.isEmpty ? false : repeatText, "text": text,
                            ]
                        },
                    ]
                },
            ]
            return renderer.render("pathways", values, chrome: page.chrome, locale: page.locale)
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

    /// The schedule section: enrolments with their anchors, touchpoints, and the enrol form.
    private func scheduleValues(_ page: Page, record: PatientRecord) async throws -> [String: Any] {
        let t = UIStrings.strings(for: page.locale)
        let programID = page.grant.program.id
        let enrolments = record.enrolments
        let names = record.pathways.mapValues { $0.pathway.name.text(in: page.locale) }
        let touchpoints = record.touchpoints
        let recurring = Set(Dictionary(grouping: touchpoints, by: { "\($0.enrolmentID)|\($0.stepID)" }).filter { $0.value.count > 1 }.keys)
        let pathways = try await stores.pathways.latest(programID: programID)
        return [
            "enrolments": enrolments.map { enrolment -> [String: Any] in
                [
                    "id": enrolment.id, "pathway_name": names[enrolment.pathwayID] ?? enrolment.pathwayID,
                    "status_label": t["enrolment_\(enrolment.status.rawValue)"] ?? enrolment.status.rawValue,
                    "active": enrolment.status == .active, "paused": enrolment.status == .paused, "cancelled": enrolment.status == .cancelled,
                    // The pathway's own anchors (the revisit date …) before the enrolment date.
                    "anchors": enrolment.anchors.sorted { ($0.key == Pathway.enrolmentAnchor ? 1 : 0, $0.key) < ($1.key == Pathway.enrolmentAnchor ? 1 : 0, $1.key) }
                        .map { ["name": $0.key, "date": $0.value.description] },
                    "program": page.programValues, "csrf": page.chrome.csrf, "can_write": page.canWrite,
                ]
            },
            "has_touchpoints": !touchpoints.isEmpty,
            "touchpoints": touchpoints.map { touchpoint -> [String: Any] in
                [
                    "local_due": touchpoint.localDue, "step": touchpoint.stepID, "occurrence": touchpoint.occurrence,
                    "multiple": recurring.contains("\(touchpoint.enrolmentID)|\(touchpoint.stepID)"), "task": touchpoint.isTask,
                    "channels": touchpoint.isTask ? "—" : touchpoint.channels.map(\.rawValue).joined(separator: ", "),
                    "status": touchpoint.status.rawValue, "status_label": t["tp_\(touchpoint.status.rawValue)"] ?? touchpoint.status.rawValue,
                    "channel": touchpoint.channel?.rawValue ?? "", "last_error": touchpoint.lastError ?? "",
                ]
            },
            "has_pathways": !pathways.isEmpty,
            "pathways": pathways.map { ["slug": $0.pathway.id, "name": $0.pathway.name.text(in: page.locale)] },
        ]
    }

    private func renderList(_ page: Page, patients: [Patient], nextURL: String?, error: String?, filter: [String: String], status: PatientStatus?) -> Response {
        let t = UIStrings.strings(for: page.locale)
        var values: [String: Any] = [
            "program": page.programValues,
            "can_write": page.canWrite,
            "filter": filter,
            "statuses": PatientStatus.allCases.map { ["value": $0.rawValue, "label": t["status_\($0.rawValue)"] ?? $0.rawValue, "selected": $0 == status] as [String: Any] },
            "patients": patients.map { patient -> [String: Any] in
                [
                    "id": patient.id, "name": patient.profile.name, "external_id": patient.profile.externalID ?? "",
                    "status": patient.profile.status.rawValue, "status_label": t["status_\(patient.profile.status.rawValue)"] ?? "",
                    "tags": patient.tags.map(\.tag.text),
                ]
            },
        ]
        if let error { values["error"] = error }
        if let nextURL { values["next_url"] = nextURL }
        values["has_patients"] = !patients.isEmpty
        return renderer.render("patients", values, chrome: page.chrome, locale: page.locale)
    }

    private func patientValues(_ patient: Patient, locale: AppLocale) -> [String: Any] {
        let t = UIStrings.strings(for: locale)
        let profile = patient.profile
        return [
            "id": patient.id, "name": profile.name, "external_id": profile.externalID ?? "",
            "status": profile.status.rawValue, "status_label": t["status_\(profile.status.rawValue)"] ?? "",
            "sex_label": t["sex_\(profile.sex.rawValue)"] ?? "", "age": profile.age(on: console.dependencies.clock.now()).map { $0 as Any } ?? false,
            "phone": profile.phone ?? "—", "id_number": profile.idNumber ?? "—", "birth_date": profile.birthDate ?? "—",
            "address": profile.address ?? "—", "locale": profile.locale.rawValue, "time_zone": profile.timeZone,
            "contact_window": profile.contactWindow?.text ?? "—", "quiet_hours": profile.quietHours?.text ?? "—",
            "channels": profile.channels.map(\.rawValue).joined(separator: ", "),
            "caregivers": profile.caregivers.map { ["name": $0.name, "relation": $0.relation, "phone": $0.phone ?? ""] },
            "tags": patient.tags.map { ["text": $0.tag.text, "source": $0.source, "set_at": TaskConsole.format($0.setAt)] },
            "consents": patient.consents.map { consent -> [String: Any] in
                ["kind": consent.kind, "version": consent.version, "granted_at": TaskConsole.format(consent.grantedAt), "withdrawn_at": consent.withdrawnAt.map(TaskConsole.format) ?? false]
            },
        ]
    }

    private func renderForm(_ page: Page, profile: PatientProfile?, values form: PatientForm?, error: TendError?, patientID: String?) -> Response {
        let t = UIStrings.strings(for: page.locale)
        func text(_ formValue: String?, _ stored: String?) -> String { form == nil ? (stored ?? "") : (formValue ?? "") }
        let sex = form?.sex ?? profile?.sex.rawValue ?? Sex.unknown.rawValue
        let status = form?.status ?? profile?.status.rawValue ?? PatientStatus.active.rawValue
        let locale = form?.locale ?? profile?.locale.rawValue ?? AppLocale.zhHans.rawValue
        func field(_ name: String, _ label: String, _ value: String, placeholder: String = "", required: Bool = false) -> [String: Any] {
            ["name": name, "label": t[label] ?? label, "value": value, "placeholder": placeholder, "required": required, "invalid": error?.field == name]
        }
        func select(_ name: String, _ label: String, _ options: [(String, String)], _ selected: String) -> [String: Any] {
            ["name": name, "label": t[label] ?? label, "invalid": error?.field == name, "is_select": true,
             "options": options.map { ["value": $0.0, "label": $0.1, "selected": $0.0 == selected] as [String: Any] }]
        }
        var fields: [[String: Any]] = [
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
        var values: [String: Any] = [
            "program": page.programValues,
            "form_title": t[patientID == nil ? "patient_new_title" : "patient_edit_title"] ?? "",
            "action": patientID.map { "/p/\(slug)/patients/\($0)" } ?? "/p/\(slug)/patients",
            "fields": fields,
        ]
        if let error { values["error"] = error.message.text(in: page.locale) }
        return renderer.render("patient_form", values, chrome: page.chrome, locale: page.locale, status: error == nil ? .ok : .badRequest)
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
