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
                return render(.choose(choose(visitor)), request, context, visitor: visitor)
            }
            return signInPage(request, context, program: program)
        }
        router.post("/portal/p/:program/code") { request, context -> Response in
            let program = try await portal.program(slug: try context.parameters.require("program"))
            let fields = try await fields(request)
            guard sameSignInForm(request, fields) else { return signInPage(request, context, program: program, error: t(request, context)["portal_form_expired"] ?? "", status: .forbidden) }
            let phone = fields["phone"] ?? ""
            let outcome: PortalActions.CodeRequest
            do {
                outcome = try await portal.requestCode(programSlug: program.slug, phone: phone, address: context.clientAddress)
            } catch let error as TendError where error.kind == .invalidInput {
                return signInPage(request, context, program: program, error: error.message.text(in: locale(request, context, nil)), status: .unprocessableContent)
            }
            let strings = t(request, context)
            switch outcome {
            case .sent: return signInPage(request, context, program: program, codeStep: true, phone: phone, notice: strings["portal_code_sent"] ?? "")
            case .throttled:
                var response = signInPage(request, context, program: program, error: strings["portal_throttled"] ?? "", status: .tooManyRequests)
                response.headers[.retryAfter] = String(Int(PortalPolicy.phoneWindow))
                return response
            case .noChannel: return signInPage(request, context, program: program, error: strings["portal_no_sms"] ?? "", status: .conflict)
            case .sendFailed: return signInPage(request, context, program: program, error: strings["portal_send_failed"] ?? "", status: .badGateway)
            }
        }
        router.post("/portal/p/:program/sign-in") { request, context -> Response in
            let program = try await portal.program(slug: try context.parameters.require("program"))
            let fields = try await fields(request)
            guard sameSignInForm(request, fields) else { return signInPage(request, context, program: program, error: t(request, context)["portal_form_expired"] ?? "", status: .forbidden) }
            let phone = fields["phone"] ?? ""
            let strings = t(request, context)
            let outcome: PortalActions.SignIn
            do {
                outcome = try await portal.signIn(programSlug: program.slug, phone: phone, code: fields["code"] ?? "", requestID: context.requestID)
            } catch let error as TendError where error.kind == .invalidInput {
                return signInPage(request, context, program: program, codeStep: true, phone: phone, error: error.message.text(in: locale(request, context, nil)),
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
                return signInPage(request, context, program: program, codeStep: retry, phone: phone, error: message, status: .unauthorized)
            }
        }
        router.get("/portal/enter/:token") { request, context -> Response in
            guard let (secret, visitor) = try await portal.enter(link: try context.parameters.require("token"), requestID: context.requestID) else {
                return render(.gone(.init(linkInvalid: true)), request, context, visitor: nil, status: .notFound)
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
            let strings = UIStrings.strings(for: locale)
            let section = PortalPageView.Home(
                today: home.today.map { .init($0, strings: strings) }, toConfirm: home.toConfirm.map { .init($0, strings: strings) },
                questionnaires: home.questionnaires.map { .init($0, strings: strings) })
            return render(.home(section), request, context, visitor: visitor, patient: home.patient)
        }
        router.get("/portal/p/:program/:patient/schedule") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            let schedule = try await portal.schedule(visitor, patientID: patientID, language: chosenLocale(request), requestID: context.requestID)
            let locale = locale(request, context, schedule.patient)
            let strings = UIStrings.strings(for: locale)
            let section = PortalPageView.Schedule(coming: schedule.coming.map { .init($0, strings: strings) }, past: schedule.past.prefix(50).map { .init($0, strings: strings) })
            return render(.schedule(section), request, context, visitor: visitor, patient: schedule.patient)
        }
        router.get("/portal/p/:program/:patient/inbox") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            return try await inboxPage(request, context, visitor, patientID)
        }
        router.post("/portal/p/:program/:patient/inbox") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            let fields = try await fields(request)
            try verify(fields, visitor)
            do {
                _ = try await portal.reply(visitor, patientID: patientID, text: fields["text"] ?? "", requestID: context.requestID)
            } catch let error as TendError where error.kind == .invalidInput {
                return try await inboxPage(request, context, visitor, patientID, error: error.message.text(in: locale(request, context, visitor.patients[patientID])),
                                           status: .unprocessableContent)
            }
            return .redirect(to: "/portal/p/\(visitor.program.slug)/\(patientID)/inbox?sent=1")
        }
        router.get("/portal/p/:program/:patient/record") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            let record = try await portal.record(visitor, patientID: patientID, language: chosenLocale(request), requestID: context.requestID)
            let section = try await recordSection(record, program: visitor.program, locale: locale(request, context, record.patient))
            return render(.record(section), request, context, visitor: visitor, patient: record.patient)
        }
        router.get("/portal/p/:program/:patient/consent") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            let found = try await portal.consents(visitor, patientID: patientID, requestID: context.requestID)
            let section = PortalPageView.Consent(
                consents: found.consents.map { consent in
                    .init(kind: consent.kind, version: consent.version, grantedAt: time(consent.grantedAt, found.patient),
                          withdrawnAt: consent.withdrawnAt.map { time($0, found.patient) })
                },
                withdrawn: found.patient.profile.status == .withdrawn)
            return render(.consent(section), request, context, visitor: visitor, patient: found.patient)
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

    private func inboxPage(_ request: Request, _ context: TendRequestContext, _ visitor: PortalVisitor, _ patientID: String, error: String? = nil,
                           status: HTTPResponse.Status = .ok) async throws -> Response {
        let conversation = try await portal.conversation(visitor, patientID: patientID, requestID: context.requestID)
        typealias Message = PortalPageView.Inbox.Message
        var entries: [(Date, Message)] = conversation.delivered.map { ($0.createdAt, Message(outgoing: true, text: $0.body, at: time($0.createdAt, conversation.patient))) }
        entries += conversation.thread.map { message in
            (message.sentAt, Message(outgoing: message.direction == "out", text: message.text, at: time(message.sentAt, conversation.patient), sender: message.senderName))
        }
        let section = PortalPageView.Inbox(sent: request.uri.queryParameters["sent"] != nil, error: error,
                                           messages: entries.sorted { $0.0 > $1.0 }.prefix(100).map(\.1))
        return render(.inbox(section), request, context, visitor: visitor, patient: conversation.patient, status: status)
    }

    // MARK: Sharing

    private func registerSharing(on router: Router<TendRequestContext>) {
        router.get("/portal/p/:program/:patient/share") { request, context -> Response in
            let (visitor, patientID) = try await signedIn(request, context)
            return try await sharePage(request, context, visitor, patientID, PortalPageView.Share())
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
                let created = PortalPageView.Share.Created(shareURL: url, qr: qr, expiresAt: time(share.expiresAt, visitor.patients[patientID]), withPasscode: share.hasPasscode)
                return try await sharePage(request, context, visitor, patientID, PortalPageView.Share(created: created), status: .created)
            } catch let error as TendError where error.kind == .invalidInput || error.kind == .conflict {
                return try await sharePage(request, context, visitor, patientID, PortalPageView.Share(error: error.message.text(in: locale)), status: .unprocessableContent)
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

    private func sharePage(_ request: Request, _ context: TendRequestContext, _ visitor: PortalVisitor, _ patientID: String, _ section: PortalPageView.Share,
                           status: HTTPResponse.Status = .ok) async throws -> Response {
        let shares = try await portal.shares(visitor, patientID: patientID)
        let now = console.dependencies.clock.now()
        let strings = t(request, context, visitor.patients[patientID])
        let patient = visitor.patients[patientID]
        var section = section
        section.shares = shares.map { share in
            let state = share.revokedAt != nil ? "revoked" : share.lockedAt != nil ? "locked" : share.expiresAt <= now ? "expired" : "live"
            return .init(
                id: share.id, createdAt: time(share.createdAt, patient), expiresAt: time(share.expiresAt, patient),
                opened: share.firstOpenedAt != nil, openedCount: share.openedCount, lastOpenedAt: share.lastOpenedAt.map { time($0, patient) } ?? "",
                live: state == "live", state: strings["portal_share_\(state)"] ?? state, withPasscode: share.hasPasscode)
        }
        section.hourChoices = [(1, "1h"), (24, "24h"), (72, "3d"), (168, "7d"), (720, "30d")].map { hours, key in
            .init(hours: hours, label: strings["portal_share_\(key)"] ?? key, selected: hours == 24)
        }
        return render(.share(section), request, context, visitor: visitor, patient: patient, status: status)
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
            let section = try await recordSection(record, program: program, locale: locale)
            return render(.record(section), request, context, visitor: nil, patient: record.patient, program: program, shared: true)
        case .unavailable(let check):
            switch check {
            case .needsPasscode(let wrong, let remaining):
                // The language chosen with `?lang=` is carried through the passcode form.
                let chosen = request.uri.queryParameters["lang"].flatMap { AppLocale(identifier: String($0)) }.map { "?lang=\($0.rawValue)" } ?? ""
                return render(.passcode(.init(wrong: wrong, remaining: remaining, action: "/portal/s/\(token)\(chosen)")), request, context, visitor: nil,
                              status: wrong ? .unauthorized : .ok)
            case .revoked, .open: return render(.gone(.init(revoked: true)), request, context, visitor: nil, status: .gone)
            case .expired: return render(.gone(.init(expired: true)), request, context, visitor: nil, status: .gone)
            case .locked: return render(.gone(.init(locked: true)), request, context, visitor: nil, status: .gone)
            case .unknown: return render(.gone(.init(linkInvalid: true)), request, context, visitor: nil, status: .notFound)
            }
        }
    }

    private func recordSection(_ record: PortalRecord, program: Program, locale: AppLocale) async throws -> PortalPageView.Record {
        let actions = console.dependencies.actions
        let rules = try await actions.observations.alertRules(programID: program.id)
        var scores: [PortalPageView.Record.Score] = []
        var definitions: [String: Questionnaire?] = [:]
        for response in record.responses {
            let key = "\(response.questionnaireID)@\(response.version)"
            if definitions[key] == nil {
                definitions[key] = .some(try await actions.questionnaires.definition(programID: program.id, id: response.questionnaireID, version: response.version))
            }
            let definition = definitions[key] ?? nil
            let band = definition.flatMap { $0.total?.bands.first { $0.id == response.band } }
            scores.append(.init(name: definition?.name.text(in: locale) ?? response.questionnaireID, at: time(response.submittedAt, record.patient),
                                total: response.total.map { $0.text(decimals: 1) } ?? "", band: band?.label.text(in: locale) ?? ""))
        }
        let strings = UIStrings.strings(for: locale)
        return PortalPageView.Record(
            charts: ObservationChart.values(record.observations, rules: rules.rules, units: rules.displayUnits, locale: locale),
            scores: scores,
            enrolments: record.enrolments.map { enrolment in
                .init(pathway: record.pathways[enrolment.pathwayID]?.pathway.name.text(in: locale) ?? enrolment.pathwayID,
                      status: strings["enrolment_\(enrolment.status.rawValue)"] ?? enrolment.status.rawValue,
                      anchors: enrolment.anchors.sorted { $0.key < $1.key }.map { .init(name: $0.key, date: $0.value.description) })
            },
            history: record.history.prefix(100).map { .init($0, strings: strings) })
    }

    // MARK: Helpers

    private func choose(_ visitor: PortalVisitor) -> PortalPageView.Choose {
        PortalPageView.Choose(people: visitor.people.compactMap { person in
            guard let patient = visitor.patients[person.patientID] else { return nil }
            return .init(id: person.patientID, name: patient.profile.name, relation: person.relation ?? "", isCaregiver: person.relation != nil)
        })
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

    private func signInPage(_ request: Request, _ context: TendRequestContext, program: Program, codeStep: Bool = false, phone: String = "",
                            notice: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        let token = request.cookies[Self.csrfCookie]?.value ?? Secrets.random()
        let section = PortalPageView.SignIn(formCSRF: token, codeStep: codeStep, phone: phone, notice: notice, error: error)
        var response = render(.signIn(section), request, context, visitor: nil, program: program, status: status)
        response.setCookie(Cookie(name: Self.csrfCookie, value: token, maxAge: 3600, path: "/portal/", secure: config.secureCookies, httpOnly: true, sameSite: .lax))
        return response
    }

    /// The page with its frame: the visitor's session and the patient they act for, or for a
    /// page before sign-in or a shared record, only the program and the patient's name.
    private func render(_ content: PortalPageView.Content, _ request: Request, _ context: TendRequestContext, visitor: PortalVisitor?,
                        patient: Patient? = nil, program: Program? = nil, shared: Bool = false, status: HTTPResponse.Status = .ok) -> Response {
        var view = PortalPageView(content, here: request.uri.path)
        view.shared = shared
        view.programSlug = program?.slug
        view.programName = program?.name
        if let visitor {
            view.signedIn = true
            view.portalCSRF = visitor.session.csrfToken
            view.programSlug = visitor.program.slug
            view.programName = visitor.program.name
            view.several = visitor.people.count > 1
            if let patient, let person = visitor.person(patient.id) {
                view.patientID = patient.id
                view.patientName = patient.profile.name
                view.actingAs = person.relation ?? ""
                view.isCaregiver = person.relation != nil
            }
        } else if let patient, shared {
            view.patientName = patient.profile.name
        }
        return renderer.render("portal", view: view, chrome: PageRenderer.Chrome(path: request.uri.path), locale: locale(request, context, patient), status: status)
    }
}

/// Thrown by a portal page when the visitor is not signed in: answered with a redirect to sign-in.
struct PortalRedirect: Error {
    var location: String
}
