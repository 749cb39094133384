import Foundation
import Hummingbird
import TendCore
import TendEngine
import TendStore

/// The patient portal (`/portal/…`): phone-sized pages for patients and family members,
/// signed in with a code by SMS or through a link from a message. Its session cookie is its
/// own (name, path, lifetime), so nothing here authenticates a staff route, and every page
/// resolves which patients the visitor may act for before it reads anything.
struct PortalPages: Sendable {
    let console: ConsoleRoutes
    private var renderer: PageRenderer { console.renderer }
    private var portal: PortalActions { console.dependencies.actions.portal }
    private var config: AppConfig { console.dependencies.config }

    static let cookie = "tend_portal"
    static let csrfCookie = "tend_portal_csrf"

    func register(on router: Router<TendRequestContext>) {
        registerSignIn(on: router)
        registerPages(on: router)
        registerSharing(on: router)
    }

    // MARK: Signing in

    private func registerSignIn(on router: Router<TendRequestContext>) {
        router.get("/portal/p/:program") { request, context -> Response in
            let program = try await portal.program(slug: try context.parameters.require("program"))
            if let visitor = try await visitor(request, program: program) {
                if visitor.people.count == 1, let only = visitor.people.first { return .redirect(to: "/portal/p/\(program.slug)/\(only.patientID)") }
                return render("choose", chooseValues(visitor, locale: locale(request, context, nil)), request, context, visitor: visitor)
            }
            return signInPage(request, context, program: program, values: [:])
        }
        router.post("/portal/p/:program/code") { request, context -> Response in
            let program = try await portal.program(slug: try context.parameters.require("program"))
            let fields = try await fields(request)
            guard sameSignInForm(request, fields) else { return signInPage(request, context, program: program, values: ["error": t(request, context)["portal_form_expired"] ?? ""], status: .forbidden) }
            let phone = fields["phone"] ?? ""
            let outcome: PortalActions.CodeRequest
            do {
                outcome = try await portal.requestCode(programSlug: program.slug, phone: phone, address: context.clientAddress)
            } catch let error as TendError where error.kind == .invalidInput {
                return signInPage(request, context, program: program, values: ["error": error.message.text(in: locale(request, context, nil))], status: .unprocessableContent)
            }
            let strings = t(request, context)
            switch outcome {
            case .sent: return signInPage(request, context, program: program, values: ["code_step": true, "phone": phone, "notice": strings["portal_code_sent"] ?? ""])
            case .throttled:
                var response = signInPage(request, context, program: program, values: ["error": strings["portal_throttled"] ?? ""], status: .tooManyRequests)
                response.headers[.retryAfter] = String(Int(PortalPolicy.phoneWindow))
                return response
            case .noChannel: return signInPage(request, context, program: program, values: ["error": strings["portal_no_sms"] ?? ""], status: .conflict)
            case .sendFailed: return signInPage(request, context, program: program, values: ["error": strings["portal_send_failed"] ?? ""], status: .badGateway)
            }
        }
        router.post("/portal/p/:program/sign-in") { request, context -> Response in
            let program = try await portal.program(slug: try context.parameters.require("program"))
            let fields = try await fields(request)
            guard sameSignInForm(request, fields) else { return signInPage(request, context, program: program, values: ["error": t(request, context)["portal_form_expired"] ?? ""], status: .forbidden) }
            let phone = fields["phone"] ?? ""
            let strings = t(request, context)
            let outcome: PortalActions.SignIn
            do {
                outcome = try await portal.signIn(programSlug: program.slug, phone: phone, code: fields["code"] ?? "", requestID: context.requestID)
            } catch let error as TendError where error.kind == .invalidInput {
                return signInPage(request, context, program: program, values: ["code_step": true, "phone": phone, "error": error.message.text(in: locale(request, context, nil))],
                                  status: .unprocessableContent)
            }
            switch outcome {
            case .signedIn(let secret, _):
                var response = Response.redirect(to: "/portal/p/\(program.slug)")
                response.setCookie(sessionCookie(secret))
                return response
            case .refused(let check):
                let message: String = switch check {
                case .wrong(let remaining): (strings["portal_code_wrong"] ?? "") + " \(remaining)"
                case .expired: strings["portal_code_expired"] ?? ""
                case .spent: strings["portal_code_spent"] ?? ""
                case .none, .valid: strings["portal_code_none"] ?? ""
                }
                let retry: Bool = if case .wrong = check { true } else { false }
                return signInPage(request, context, program: program, values: ["code_step": retry, "phone": phone, "error": message], status: .unauthorized)
            }
        }
        router.get("/portal/enter/:token") { request, context -> Response in
            guard let (secret, visitor) = try await portal.enter(link: try context.parameters.require("token"), requestID: context.requestID) else {
                return render("gone", ["link_invalid": true], request, context, visitor: nil, status: .notFound)
            }
            var response = Response.redirect(to: "/portal/p/\(visitor.program.slug)")
            response.setCookie(sessionCookie(secret))
            return response
        }
        router.post("/portal/p/:program/sign-out") { request, context -> Response in
            let program = try await portal.program(slug: try context.parameters.require("program"))
            if let visitor = try await visitor(request, program: program) {
                try verify(try await fields(request), visitor)
                if let secret = request.cookies[Self.cookie]?.value { try await portal.signOut(secret: secret) }
            }
            var response = Response.redirect(to: "/portal/p/\(program.slug)")
            response.setCookie(Cookie(name: Self.cookie, value: "", maxAge: 0, path: "/portal/", secure: config.secureCookies, httpOnly: true, sameSite: .lax))
            return response
        }
    }

    // MARK: The patient's pages

    private func registerPages(on router: Router<TendRequestContext>) {
        router.get("/portal/p/:program/:patient") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            let home = try await portal.home(visitor, patientID: patientID, language: chosenLocale(request), requestID: context.requestID)
            let locale = locale(request, context, home.patient)
            return render("home", [
                "today": home.today.map { item($0, locale) }, "has_today": !home.today.isEmpty,
                "to_confirm": home.toConfirm.map { item($0, locale) }, "has_to_confirm": !home.toConfirm.isEmpty,
                "questionnaires": home.questionnaires.map { item($0, locale) }, "has_questionnaires": !home.questionnaires.isEmpty,
            ], request, context, visitor: visitor, patient: home.patient, tab: "home")
        }
        router.get("/portal/p/:program/:patient/schedule") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            let schedule = try await portal.schedule(visitor, patientID: patientID, language: chosenLocale(request), requestID: context.requestID)
            let locale = locale(request, context, schedule.patient)
            return render("schedule", [
                "coming": schedule.coming.map { item($0, locale) }, "has_coming": !schedule.coming.isEmpty,
                "past": schedule.past.prefix(50).map { item($0, locale) }, "has_past": !schedule.past.isEmpty,
            ], request, context, visitor: visitor, patient: schedule.patient, tab: "schedule")
        }
        router.get("/portal/p/:program/:patient/inbox") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            return try await inboxPage(request, context, visitor, patientID, values: [:])
        }
        router.post("/portal/p/:program/:patient/inbox") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            let fields = try await fields(request)
            try verify(fields, visitor)
            do {
                _ = try await portal.reply(visitor, patientID: patientID, text: fields["text"] ?? "", requestID: context.requestID)
            } catch let error as TendError where error.kind == .invalidInput {
                return try await inboxPage(request, context, visitor, patientID, values: ["error": error.message.text(in: locale(request, context, visitor.patients[patientID]))],
                                           status: .unprocessableContent)
            }
            return .redirect(to: "/portal/p/\(visitor.program.slug)/\(patientID)/inbox?sent=1")
        }
        router.get("/portal/p/:program/:patient/record") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            let record = try await portal.record(visitor, patientID: patientID, language: chosenLocale(request), requestID: context.requestID)
            let values = try await recordValues(record, program: visitor.program, locale: locale(request, context, record.patient))
            return render("record", values, request, context, visitor: visitor, patient: record.patient, tab: "record")
        }
        router.get("/portal/p/:program/:patient/consent") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            let found = try await portal.consents(visitor, patientID: patientID, requestID: context.requestID)
            return render("consent", [
                "consents": found.consents.map { consent -> [String: Any] in
                    ["kind": consent.kind, "version": consent.version, "granted_at": time(consent.grantedAt, found.patient),
                     "withdrawn_at": consent.withdrawnAt.map { time($0, found.patient) } ?? false]
                },
                "has_consents": !found.consents.isEmpty, "withdrawn": found.patient.profile.status == .withdrawn,
            ], request, context, visitor: visitor, patient: found.patient, tab: "consent")
        }
        router.post("/portal/p/:program/:patient/withdraw") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            let fields = try await fields(request)
            try verify(fields, visitor)
            guard fields["confirm"] == "yes" else { return .redirect(to: "/portal/p/\(visitor.program.slug)/\(patientID)/consent") }
            try await portal.withdraw(visitor, patientID: patientID, requestID: context.requestID)
            return .redirect(to: "/portal/p/\(visitor.program.slug)/\(patientID)/consent")
        }
    }

    private func inboxPage(_ request: Request, _ context: TendRequestContext, _ visitor: PortalVisitor, _ patientID: String, values extra: [String: Any],
                           status: HTTPResponse.Status = .ok) async throws -> Response {
        let conversation = try await portal.conversation(visitor, patientID: patientID, requestID: context.requestID)
        var entries: [(Date, [String: Any])] = conversation.delivered.map { ($0.createdAt, ["outgoing": true, "text": $0.body, "at": time($0.createdAt, conversation.patient)]) }
        entries += conversation.thread.map { message in
            (message.sentAt, ["outgoing": message.direction == "out", "text": message.text, "at": time(message.sentAt, conversation.patient), "sender": message.senderName ?? ""])
        }
        var values = extra
        values["messages"] = entries.sorted { $0.0 > $1.0 }.prefix(100).map(\.1)
        values["has_messages"] = !entries.isEmpty
        values["sent"] = request.uri.queryParameters["sent"] != nil
        return render("inbox", values, request, context, visitor: visitor, patient: conversation.patient, tab: "inbox", status: status)
    }

    // MARK: Sharing

    private func registerSharing(on router: Router<TendRequestContext>) {
        router.get("/portal/p/:program/:patient/share") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            return try await sharePage(request, context, visitor, patientID, values: [:])
        }
        router.post("/portal/p/:program/:patient/share") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            let fields = try await fields(request)
            try verify(fields, visitor)
            let locale = locale(request, context, visitor.patients[patientID])
            do {
                let lifetime = try PortalPolicy.shareLifetime(hours: fields["hours"] ?? "")
                let passcode = try PortalPolicy.passcode(fields["passcode"] ?? "")
                let (path, share) = try await portal.share(visitor, patientID: patientID, lifetime: lifetime, passcode: passcode, requestID: context.requestID)
                let url = origin(request) + path
                let label = (t(request, context, visitor.patients[patientID])["portal_share_qr"] ?? "QR").replacingOccurrences(of: "\"", with: "")
                let qr = ((try? QRCode(url))?.svg(moduleSize: 5) ?? "").replacingOccurrences(of: "role=\"img\"", with: "role=\"img\" aria-label=\"\(label)\"")
                return try await sharePage(request, context, visitor, patientID, values: [
                    "created": true, "share_url": url, "qr": qr, "expires_at": time(share.expiresAt, visitor.patients[patientID]), "with_passcode": share.hasPasscode,
                ], status: .created)
            } catch let error as TendError where error.kind == .invalidInput || error.kind == .conflict {
                return try await sharePage(request, context, visitor, patientID, values: ["error": error.message.text(in: locale)], status: .unprocessableContent)
            }
        }
        router.post("/portal/p/:program/:patient/shares/:share/revoke") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            try verify(try await fields(request), visitor)
            _ = try await portal.revoke(visitor, patientID: patientID, shareID: try context.parameters.require("share"), requestID: context.requestID)
            return .redirect(to: "/portal/p/\(visitor.program.slug)/\(patientID)/share")
        }
        router.get("/portal/s/:token") { request, context -> Response in
            try await sharedPage(request, context, passcode: nil)
        }
        router.post("/portal/s/:token") { request, context -> Response in
            try await sharedPage(request, context, passcode: try await fields(request)["passcode"] ?? "")
        }
    }

    private func sharePage(_ request: Request, _ context: TendRequestContext, _ visitor: PortalVisitor, _ patientID: String, values extra: [String: Any],
                           status: HTTPResponse.Status = .ok) async throws -> Response {
        let shares = try await portal.shares(visitor, patientID: patientID)
        let now = console.dependencies.clock.now()
        let strings = t(request, context, visitor.patients[patientID])
        var values = extra
        values["shares"] = shares.map { share -> [String: Any] in
            let state = share.revokedAt != nil ? "revoked" : share.lockedAt != nil ? "locked" : share.expiresAt <= now ? "expired" : "live"
            return [
                "id": share.id, "created_at": time(share.createdAt, visitor.patients[patientID]), "expires_at": time(share.expiresAt, visitor.patients[patientID]),
                "opened": share.firstOpenedAt.map { _ in true } ?? false, "opened_count": share.openedCount,
                "last_opened_at": share.lastOpenedAt.map { time($0, visitor.patients[patientID]) } ?? "", "live": state == "live",
                "state": strings["portal_share_\(state)"] ?? state, "with_passcode": share.hasPasscode,
            ]
        }
        values["has_shares"] = !shares.isEmpty
        values["hour_choices"] = [(1, "1h"), (24, "24h"), (72, "3d"), (168, "7d"), (720, "30d")].map { hours, key in
            ["hours": hours, "label": strings["portal_share_\(key)"] ?? key, "selected": hours == 24] as [String: Any]
        }
        return render("share", values, request, context, visitor: visitor, patient: visitor.patients[patientID], tab: "share", status: status)
    }

    /// A shared record, read-only: no navigation, no form that acts, nothing that names another patient.
    private func sharedPage(_ request: Request, _ context: TendRequestContext, passcode: String?) async throws -> Response {
        let token = try context.parameters.require("token")
        let view: PortalActions.SharedView
        do {
            view = try await portal.openShare(secret: String(token.prefix(100)), passcode: passcode, language: chosenLocale(request), requestID: context.requestID)
        } catch let error as TendError where error.kind == .invalidInput {
            view = .unavailable(.needsPasscode(wrong: true, remaining: PortalPolicy.sharePasscodeAttempts))
            _ = error
        }
        switch view {
        case .record(let program, let record):
            let locale = locale(request, context, record.patient)
            var values = try await recordValues(record, program: program, locale: locale)
            values["shared"] = true
            return render("record", values, request, context, visitor: nil, patient: record.patient, shared: true)
        case .unavailable(let check):
            switch check {
            case .needsPasscode(let wrong, let remaining):
                // The language chosen with `?lang=` is carried through the passcode form.
                let chosen = request.uri.queryParameters["lang"].flatMap { AppLocale(identifier: String($0)) }.map { "?lang=\($0.rawValue)" } ?? ""
                return render("passcode", ["wrong": wrong, "remaining": remaining, "action": "/portal/s/\(token)\(chosen)"], request, context, visitor: nil,
                              status: wrong ? .unauthorized : .ok)
            case .revoked, .open: return render("gone", ["revoked": true], request, context, visitor: nil, status: .gone)
            case .expired: return render("gone", ["expired": true], request, context, visitor: nil, status: .gone)
            case .locked: return render("gone", ["locked": true], request, context, visitor: nil, status: .gone)
            case .unknown: return render("gone", ["link_invalid": true], request, context, visitor: nil, status: .notFound)
            }
        }
    }

    private func recordValues(_ record: PortalRecord, program: Program, locale: AppLocale) async throws -> [String: Any] {
        let actions = console.dependencies.actions
        let rules = try await actions.observations.alertRules(programID: program.id)
        let charts = ObservationChart.values(record.observations, rules: rules.rules, units: rules.displayUnits, locale: locale)
        var scores: [[String: Any]] = []
        var definitions: [String: Questionnaire?] = [:]
        for response in record.responses {
            let key = "\(response.questionnaireID)@\(response.version)"
            if definitions[key] == nil {
                definitions[key] = .some(try await actions.questionnaires.definition(programID: program.id, id: response.questionnaireID, version: response.version))
            }
            let definition = definitions[key] ?? nil
            let band = definition.flatMap { $0.total?.bands.first { $0.id == response.band } }
            scores.append([
                "name": definition?.name.text(in: locale) ?? response.questionnaireID, "at": time(response.submittedAt, record.patient),
                "total": response.total.map { $0.text(decimals: 1) } ?? "", "band": band?.label.text(in: locale) ?? "",
            ])
        }
        let strings = UIStrings.strings(for: locale)
        return [
            "enrolments": record.enrolments.map { enrolment -> [String: Any] in
                [
                    "pathway": record.pathways[enrolment.pathwayID]?.pathway.name.text(in: locale) ?? enrolment.pathwayID,
                    "status": strings["enrolment_\(enrolment.status.rawValue)"] ?? enrolment.status.rawValue,
                    "anchors": enrolment.anchors.sorted { $0.key < $1.key }.map { ["name": $0.key, "date": $0.value.description] },
                ]
            },
            "has_enrolments": !record.enrolments.isEmpty,
            "history": record.history.prefix(100).map { item($0, locale) }, "has_history": !record.history.isEmpty,
            "charts": charts, "has_charts": !charts.isEmpty,
            "scores": scores, "has_scores": !scores.isEmpty,
            "program_name": program.name,
        ]
    }

    // MARK: Helpers

    private func item(_ item: PortalItem, _ locale: AppLocale) -> [String: Any] {
        let strings = UIStrings.strings(for: locale)
        return [
            "title": item.title, "message": item.message, "due": item.touchpoint.localDue, "action": item.actionPath ?? "",
            "has_action": item.actionPath != nil, "is_questionnaire": item.isQuestionnaire,
            "status": strings["portal_status_\(item.touchpoint.status.rawValue)"] ?? item.touchpoint.status.rawValue,
        ]
    }

    private func chooseValues(_ visitor: PortalVisitor, locale: AppLocale) -> [String: Any] {
        ["people": visitor.people.compactMap { person -> [String: Any]? in
            guard let patient = visitor.patients[person.patientID] else { return nil }
            return ["id": person.patientID, "name": patient.profile.name, "relation": person.relation ?? "", "is_caregiver": person.relation != nil]
        }]
    }

    private func visitor(_ request: Request, program: Program) async throws -> PortalVisitor? {
        guard let secret = request.cookies[Self.cookie]?.value, secret.utf8.count <= 100,
              let visitor = try await portal.visitor(secret: secret), visitor.program.id == program.id else { return nil }
        return visitor
    }

    /// The visitor and the patient in the path, or a 404 that looks the same for a patient who
    /// does not exist and one the visitor may not act for; without a session, to sign-in.
    private func signedIn(_ request: Request, _ context: TendRequestContext) async throws -> (PortalVisitor, String) {
        let program = try await portal.program(slug: try context.parameters.require("program"))
        guard let visitor = try await visitor(request, program: program) else {
            throw PortalRedirect(location: "/portal/p/\(program.slug)")
        }
        let patientID = try context.parameters.require("patient")
        guard visitor.person(patientID) != nil else { throw TendError.notFound("patient") }
        return (visitor, patientID)
    }

    private func verify(_ fields: [String: String], _ visitor: PortalVisitor) throws {
        guard let presented = fields["csrf"], Secrets.constantTimeEquals(presented, visitor.session.csrfToken) else {
            throw TendError(kind: .forbidden, code: "csrf_failed",
                            message: .init(en: "The form expired or came from another site; reload the page", zh: "表单已过期或来源不明，请刷新页面"))
        }
    }

    private func sameSignInForm(_ request: Request, _ fields: [String: String]) -> Bool {
        guard let cookie = request.cookies[Self.csrfCookie]?.value, let presented = fields["csrf"] else { return false }
        return Secrets.constantTimeEquals(cookie, presented)
    }

    private func fields(_ request: Request) async throws -> [String: String] {
        let buffer = try await JSONIO.collect(request, upTo: 64 * 1024)
        var fields: [String: String] = [:]
        for (name, value) in FormBody.urlEncoded(String(buffer: buffer)) where fields[name] == nil { fields[name] = value }
        return fields
    }

    /// Where the link points: the public URL when one is configured, else the address this
    /// browser used (a demo on a port picked at start-up).
    private func origin(_ request: Request) -> String {
        if let configured = config.publicURL { return configured.hasSuffix("/") ? String(configured.dropLast()) : configured }
        let host = request.head.authority.map { String($0.prefix(100)) }?.filter { $0.isLetter || $0.isNumber || ".:-[]".contains($0) } ?? ""
        return host.isEmpty ? config.baseURL : "http://\(host)"
    }

    private func sessionCookie(_ secret: String) -> Cookie {
        Cookie(name: Self.cookie, value: secret, maxAge: Int(PortalPolicy.sessionLifetime), path: "/portal/", secure: config.secureCookies, httpOnly: true, sameSite: .lax)
    }

    /// A moment as the patient's clock shows it (the console's zone when the patient's is unknown).
    private func time(_ date: Date, _ patient: Patient?) -> String {
        LocalDateTime(instant: date, in: patient.flatMap { TimeZone(identifier: $0.profile.timeZone) } ?? TaskConsole.consoleZone).description
    }

    /// The language the visitor chose (`?lang=`, then the language cookie), if any.
    private func chosenLocale(_ request: Request) -> AppLocale? {
        if let explicit = request.uri.queryParameters["lang"].flatMap({ AppLocale(identifier: String($0)) }) { return explicit }
        return request.cookies[CookieName.language].flatMap { AppLocale(identifier: $0.value) }
    }

    /// `?lang=`, then the language cookie, then the patient's language, then the browser's.
    private func locale(_ request: Request, _ context: TendRequestContext, _ patient: Patient?) -> AppLocale {
        chosenLocale(request) ?? patient?.profile.locale ?? context.locale
    }

    private func t(_ request: Request, _ context: TendRequestContext, _ patient: Patient? = nil) -> [String: String] {
        UIStrings.strings(for: locale(request, context, patient))
    }

    private func signInPage(_ request: Request, _ context: TendRequestContext, program: Program, values extra: [String: Any],
                            status: HTTPResponse.Status = .ok) -> Response {
        let token = request.cookies[Self.csrfCookie]?.value ?? Secrets.random()
        var values = extra
        values["program_name"] = program.name
        values["program_slug"] = program.slug
        values["form_csrf"] = token
        var response = render("sign_in", values, request, context, visitor: nil, status: status)
        response.setCookie(Cookie(name: Self.csrfCookie, value: token, maxAge: 3600, path: "/portal/", secure: config.secureCookies, httpOnly: true, sameSite: .lax))
        return response
    }

    private func render(_ page: String, _ values: [String: Any], _ request: Request, _ context: TendRequestContext, visitor: PortalVisitor?,
                        patient: Patient? = nil, tab: String? = nil, shared: Bool = false, status: HTTPResponse.Status = .ok) -> Response {
        let locale = locale(request, context, patient)
        var object = values
        object["page_\(page)"] = true
        if let tab { object["tab_\(tab)"] = true }
        object["shared"] = shared
        object["here"] = request.uri.path
        if let visitor {
            object["signed_in"] = true
            object["portal_csrf"] = visitor.session.csrfToken
            object["program_slug"] = visitor.program.slug
            object["program_name"] = visitor.program.name
            object["several"] = visitor.people.count > 1
            if let patient, let person = visitor.person(patient.id) {
                object["patient_id"] = patient.id
                object["patient_name"] = patient.profile.name
                object["acting_as"] = person.relation ?? ""
                object["is_caregiver"] = person.relation != nil
            }
        } else if let patient, shared {
            object["patient_name"] = patient.profile.name
        }
        return renderer.render("portal", object, chrome: PageRenderer.Chrome(path: request.uri.path), locale: locale, status: status)
    }
}

/// Thrown by a portal page when the visitor is not signed in: answered with a redirect to sign-in.
struct PortalRedirect: Error {
    var location: String
}
