import Testing
import TendCore

@Suite struct ChannelConfigTests {
    @Test func smsBodiesAreEscaped() {
        let body = ChannelConfig.fill(ChannelConfig.defaultSMSBody, ["phone": "13800138000", "text": "He said \"hi\"\n"])
        #expect(body == #"{"to":"13800138000","text":"He said \"hi\"\n"}"#)
        #expect(throws: TendError.self) { try ChannelConfig(channel: .webhook, url: "http://x.example/hook", secret: "short").validated(policy: OutboundPolicy()) }
        #expect(throws: TendError.self) { try ChannelConfig(channel: .sms, url: "ftp://x.example/").validated(policy: OutboundPolicy()) }
    }
}
