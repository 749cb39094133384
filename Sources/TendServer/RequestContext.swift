import Hummingbird
import TendCore
import TendStore

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

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    public var requestID: String { id }

    /// The signed-in identity, or 401.
    public func requireIdentity() throws -> Identity {
        guard let identity else { throw TendError.unauthenticated }
        return identity
    }
}
