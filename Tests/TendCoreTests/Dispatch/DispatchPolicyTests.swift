import Foundation
import Testing
import TendCore

/// What the dispatcher decides without I/O: back-off, how an HTTP answer counts, what a reply confirms.
@Suite struct DispatchPolicyTests {
    @Test func retriesBackOffWithJitterAndStop() {
        let policy = RetryPolicy(maxAttempts: 5, baseDelay: 30, maxDelay: 300, jitter: 0.2)
        let delays = (1...4).map { policy.delay(afterFailedAttempts: $0, key: "tp-1")! }
        for (index, delay) in delays.enumerated() {
            let nominal = min(300, 30 * pow(2, Double(index)))
            #expect(delay >= nominal * 0.8 && delay <= nominal * 1.2, "\(index): \(delay)")
        }
        #expect(policy.delay(afterFailedAttempts: 5, key: "tp-1") == nil)
        // The jitter differs between touchpoints, so a burst of failures does not retry in lockstep.
        #expect(Set((0..<20).map { policy.delay(afterFailedAttempts: 1, key: "tp-\($0)")! }).count > 10)
    }

    @Test func httpAnswersAreClassified() {
        #expect(DeliveryResult.fromHTTPStatus(204) == .sent)
        for status in [408, 429, 500, 502, 503] {
            guard case .retryable = DeliveryResult.fromHTTPStatus(status) else { Issue.record("\(status) should retry"); continue }
        }
        for status in [400, 401, 403, 404, 410, 422] {
            guard case .permanent = DeliveryResult.fromHTTPStatus(status) else { Issue.record("\(status) should be permanent"); continue }
        }
    }

    @Test func confirmationRepliesAreRecognised() {
        for text in ["1", "确认", "确认！", " confirm ", "CONFIRM", "１", "Confirmed."] {
            #expect(ConfirmationReply.isConfirmation(text), "\(text)")
        }
        for text in ["12", "不确认", "confirm later", "我确认不了", ""] {
            #expect(!ConfirmationReply.isConfirmation(text), "\(text)")
        }
    }
}
