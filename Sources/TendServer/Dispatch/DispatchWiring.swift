import Foundation
import NIOCore
public import TendCore
public import TendEngine
public import TendStore

extension AppDependencies {
    /// The confirmation links messages carry, rooted at the public URL.
    public var confirmationLinks: ConfirmationLinks {
        actions.confirmations.links
    }

    /// A dispatcher for this configuration. `clock` decides what is due; leases and retry
    /// waits run on `leaseClock` (the system clock outside tests).
    public func makeDispatcher(clock: TendClock? = nil, leaseClock: TendClock = .system, settings: DispatchSettings? = nil, owner: String? = nil) -> Dispatcher {
        Dispatcher(
            stores: stores,
            channels: HTTPChannels(policy: config.outbound, timeout: .milliseconds(Int64(clamping: (settings ?? config.dispatch).requestTimeout * 1000)), clock: leaseClock),
            clock: clock ?? self.clock, leaseClock: leaseClock, links: confirmationLinks,
            settings: settings ?? config.dispatch,
            owner: owner ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(ids.next().suffix(6))",
            logger: logger)
    }
}
