public import Hummingbird
public import TendCore
import TendEngine
public import TendStore

/// Who is calling: a browser session or an API token, always a staff account.
public struct Identity: Sendable {
    public enum Credential: Sendable {
        case session(WebSession)
        case token(APIToken)
    }

    public var user: StaffUser
    public var credential: Credential

    public var actorKind: ActorKind {
        switch credential {
        case .session: .staff
        case .token: .apiToken
        }
    }
}

public struct TendRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Identity?
    public var locale: AppLocale = .zhHans
    /// The peer's IP address, for throttling sign-ins; never logged with a patient's data.
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// The caller's standing in the path's program, once the operation's permission was checked.
    var grant: ProgramAccess.Grant?

    public var requestID: String { id }

    /// Who the audit log names for this request.
    public var actor: AuditActor {
        AuditActor(id: identity?.user.id, kind: identity?.actorKind ?? .system, requestID: requestID)
    }

    func requireGrant() throws -> ProgramAccess.Grant {
        guard let grant else { throw TendError.forbidden }
        return grant
    }

    /// The signed-in identity, or 401.
    public func requireIdentity() throws -> Identity {
        guard let identity else { throw TendError.unauthenticated }
        return identity
    }
}
