import Foundation
import TendCore
import TendEngine

/// A portal page: who is signed in and for whom (the frame every page shares), and the one
/// section this page shows. `portal.mustache` reads these properties by name.
struct PortalPageView {
    var here: String
    var shared = false
    var signedIn = false
    var portalCSRF = ""
    var programSlug: String?
    var programName: String?
    /// The visitor acts for more than one patient, so the footer links to choosing.
    var several = false
    var patientID: String?
    var patientName: String?
    var actingAs = ""
    var isCaregiver = false
    var tabs = Tabs()

    var signIn: SignIn?
    var choose: Choose?
    var home: Home?
    var schedule: Schedule?
    var inbox: Inbox?
    var record: Record?
    var consent: Consent?
    var share: Share?
    var passcode: Passcode?
    var gone: Gone?

    /// What a page shows below the frame.
    enum Content {
        case signIn(SignIn), choose(Choose), home(Home), schedule(Schedule), inbox(Inbox), record(Record)
        case consent(Consent), share(Share), passcode(Passcode), gone(Gone)
    }

    init(_ content: Content, here: String) {
        self.here = here
        switch content {
        case .signIn(let section): signIn = section
        case .choose(let section): choose = section
        case .home(let section): home = section; tabs.home = true
        case .schedule(let section): schedule = section; tabs.schedule = true
        case .inbox(let section): inbox = section; tabs.inbox = true
        case .record(let section): record = section; tabs.record = true
        case .consent(let section): consent = section; tabs.consent = true
        case .share(let section): share = section; tabs.share = true
        case .passcode(let section): passcode = section
        case .gone(let section): gone = section
        }
    }

    /// Which tab of the patient's navigation is the current page.
    struct Tabs {
        var home = false
        var schedule = false
        var inbox = false
        var record = false
        var share = false
        var consent = false
    }

    struct SignIn {
        var formCSRF: String
        var codeStep = false
        var phone = ""
        var notice: String?
        var error: String?
    }

    struct Choose {
        var people: [Person]

        struct Person {
            var id: String
            var name: String
            var relation: String
            var isCaregiver: Bool
        }
    }

    /// A touchpoint as the patient sees it: what it says, when, and what to do about it.
    struct Item {
        var title: String
        var message: String
        var due: String
        var action: String?
        var isQuestionnaire: Bool
        var status: String

        init(_ item: PortalItem, strings: [String: String]) {
            title = item.title
            message = item.message
            due = item.touchpoint.localDue
            action = item.actionPath
            isQuestionnaire = item.isQuestionnaire
            status = strings["portal_status_\(item.touchpoint.status.rawValue)"] ?? item.touchpoint.status.rawValue
        }
    }

    struct Home {
        var today: [Item]
        var toConfirm: [Item]
        var questionnaires: [Item]
    }

    struct Schedule {
        var coming: [Item]
        var past: [Item]
    }

    struct Inbox {
        var sent: Bool
        var error: String?
        var messages: [Message]

        struct Message {
            var outgoing: Bool
            var text: String
            var at: String
            var sender: String?
        }
    }

    struct Record {
        var charts: [ChartView]
        var scores: [Score]
        var enrolments: [Enrolment]
        var history: [Item]

        struct Score {
            var name: String
            var at: String
            var total: String
            var band: String
        }

        struct Enrolment {
            var pathway: String
            var status: String
            var anchors: [Anchor]
        }

        struct Anchor {
            var name: String
            var date: String
        }
    }

    struct Consent {
        var consents: [Given]
        var withdrawn: Bool

        struct Given {
            var kind: String
            var version: String
            var grantedAt: String
            var withdrawnAt: String?
        }
    }

    struct Share {
        var error: String?
        var created: Created?
        var shares: [Link] = []
        var hourChoices: [HourChoice] = []

        /// The share just made: its link and QR code, shown once.
        struct Created {
            var shareURL: String
            var qr: String
            var expiresAt: String
            var withPasscode: Bool
        }

        struct Link {
            var id: String
            var createdAt: String
            var expiresAt: String
            var opened: Bool
            var openedCount: Int
            var lastOpenedAt: String
            var live: Bool
            var state: String
            var withPasscode: Bool
        }

        struct HourChoice {
            var hours: Int
            var label: String
            var selected: Bool
        }
    }

    struct Passcode {
        var wrong: Bool
        var remaining: Int
        var action: String
    }

    struct Gone {
        var revoked = false
        var expired = false
        var locked = false
        var linkInvalid = false
    }
}
