import Foundation
import Testing
import TendStore
import TendTestSupport

@Suite struct ConfirmationLinkTests {
    @Test func linksAreSignedAndExpire() throws {
        let signer = BlindIndexer(ring: try KeyRing.parse(TestKeys.ring, source: "test"))
        let links = ConfirmationLinks(signer: signer, publicURL: "https://tend.example.org/")
        let now = Date(timeIntervalSince1970: 1_796_112_000)
        let token = links.token(touchpointID: "e1.confirm.1", expires: now.addingTimeInterval(3600))
        #expect(links.url(touchpointID: "e1.confirm.1", expires: now.addingTimeInterval(3600)) == "https://tend.example.org/c/\(token)")
        #expect(links.verify(token, now: now) == .valid(touchpointID: "e1.confirm.1"))
        #expect(links.verify(token, now: now.addingTimeInterval(7200)) == .expired(touchpointID: "e1.confirm.1"))
        #expect(links.verify(token.replacingOccurrences(of: "e1.", with: "e2."), now: now) == .invalid)
        #expect(links.verify("nonsense", now: now) == .invalid)
    }
}
