public import TendCore

extension OutboundPolicy {
    /// Tests send only to receivers they start on this machine.
    public static let testReceivers = OutboundPolicy(allowedHosts: ["127.0.0.1", "localhost"])
}
