import Foundation
import Testing
import TendCore
import TendEngine
import TendStore
import TendTestSupport

/// Claims under a lease, with several workers on one database: what keeps a touchpoint from
/// being sent twice, or lost when a worker stalls.
@Suite struct DispatchLeaseTests {
    @Test(arguments: TestBackend.available)
    func twoWorkersDispatchingAtOnceNeverSendATouchpointTwice(backend: TestBackend) async throws {
        try await DispatchFixture.with(backend) { fixture in
            let touchpoints = try await fixture.enrol(patients: 30, steps: 4)
            fixture.moveClock(toDay: 4, hour: 12)
            // Small batches and sends that take a moment, so the two workers' claims interleave.
            let first = RecordingChannels(sendTime: .milliseconds(2)), second = RecordingChannels(sendTime: .milliseconds(2))
            let workerA = try await fixture.worker("worker-a", channels: first, batchSize: 5)
            let workerB = try await fixture.worker("worker-b", channels: second, batchSize: 5)
            async let passA = workerA.runPass()
            async let passB = workerB.runPass()
            let (reportA, reportB) = try await (passA, passB)

            let keys = first.sent.map(\.idempotencyKey) + second.sent.map(\.idempotencyKey)
            #expect(keys.count == touchpoints.count, "every touchpoint sent once: \(keys.count) sends for \(touchpoints.count)")
            #expect(Set(keys) == Set(touchpoints.map(\.id)))
            #expect(reportA.claimed > 0 && reportB.claimed > 0, "both workers took part: \(reportA.claimed) and \(reportB.claimed)")
            #expect(reportA.claimed + reportB.claimed == touchpoints.count)
            #expect(try await fixture.stores.dispatch.pendingCount(dueBy: fixture.clock.now) == 0)
            for touchpoint in touchpoints {
                let stored = try #require(try await fixture.current(touchpoint))
                #expect(stored.status == .sent && stored.attempts == 1 && stored.channel == .webhook, "\(stored)")
            }
            #expect(try await fixture.stores.dispatch.leasedCount() == 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func anExpiredLeaseIsClaimedAgainAndSentWithTheSameIdempotencyKey(backend: TestBackend) async throws {
        try await DispatchFixture.with(backend) { fixture in
            let touchpoint = try #require(try await fixture.enrol(patients: 1, steps: 1).first)
            fixture.moveClock(toDay: 0, hour: 10)
            // Worker A sends and stalls before recording, as a worker does that dies mid-batch.
            let stalled = RecordingChannels()
            stalled.hold()
            let workerA = try await fixture.worker("worker-a", channels: stalled, lease: 60)
            let passA = Task { try await workerA.runPass() }
            try await stalled.waitForSends(1)
            let firstSend = try #require(stalled.sent.first)
            #expect(firstSend.idempotencyKey == touchpoint.id)

            // While A's lease runs, worker B leaves the touchpoint alone.
            let takeover = RecordingChannels()
            let workerB = try await fixture.worker("worker-b", channels: takeover, lease: 60)
            fixture.leases.advance(by: 59)
            let waiting = try await workerB.runPass()
            #expect(waiting.claimed == 0 && waiting.remaining == 1, "\(waiting)")
            #expect(takeover.sent.isEmpty)

            // Once it has run out, B claims the touchpoint again and sends it under the same key.
            fixture.leases.advance(by: 2)
            let retaken = try await workerB.runPass()
            #expect(retaken.claimed == 1 && retaken.sent == 1 && retaken.remaining == 0, "\(retaken)")
            let secondSend = try #require(takeover.sent.first)
            #expect(takeover.sent.count == 1)
            #expect(secondSend.idempotencyKey == firstSend.idempotencyKey)
            #expect(secondSend.text == firstSend.text)
            let stored = try #require(try await fixture.current(touchpoint))
            #expect(stored.status == .sent && stored.attempts == 1, "\(stored)")

            stalled.release(answering: .sent)
            _ = try await passA.value
            #expect(try await fixture.stores.dispatch.leasedCount() == 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func aBatchIsRecordedOnlyForTheTouchpointsItsWorkerStillHolds(backend: TestBackend) async throws {
        try await DispatchFixture.with(backend) { fixture in
            let touchpoints = try await fixture.enrol(patients: 1, steps: 2)
            let (takenOver, stillHeld) = (touchpoints[0], touchpoints[1])
            fixture.moveClock(toDay: 1, hour: 10)
            // Worker A claims both and stalls while sending them.
            let stalled = RecordingChannels()
            stalled.hold()
            let workerA = try await fixture.worker("worker-a", channels: stalled, lease: 60)
            let passA = Task { try await workerA.runPass() }
            try await stalled.waitForSends(2)
            #expect(Set(stalled.sent.map(\.idempotencyKey)) == [takenOver.id, stillHeld.id])

            // A's lease runs out; worker B, for which only the first is due yet, takes it over and sends it.
            fixture.leases.advance(by: 61)
            let beforeSecond = LocalDateTime(date: DispatchFixture.firstDay, time: LocalTime(hour: 12, minute: 0)).instant(in: TimeZone.shanghai)
            let takeover = RecordingChannels()
            let workerB = try await fixture.worker("worker-b", channels: takeover, dueBy: .fixed(beforeSecond))
            let reportB = try await workerB.runPass()
            #expect(reportB.claimed == 1 && reportB.sent == 1, "\(reportB)")
            #expect(takeover.sent.map(\.idempotencyKey) == [takenOver.id])

            // Then A's sends fail for good. A records its batch: only the touchpoint it still holds.
            stalled.release(answering: .permanent("HTTP 422"))
            let reportA = try await passA.value
            #expect(reportA.claimed == 2 && reportA.failed == 2, "\(reportA)")

            let sentByB = try #require(try await fixture.current(takenOver))
            #expect(sentByB.status == .sent && sentByB.attempts == 1 && sentByB.lastError == nil && sentByB.channel == .webhook, "\(sentByB)")
            let failedForA = try #require(try await fixture.current(stillHeld))
            #expect(failedForA.status == .failed && failedForA.attempts == 1 && failedForA.lastError == "HTTP 422", "\(failedForA)")
            // Staff are asked to follow up the failure A still owned, not the message B delivered.
            let followUps = try await fixture.tasks().filter { $0.kind == .deliveryFailed }
            #expect(followUps.map(\.touchpointID) == [stillHeld.id])
            #expect(try await fixture.stores.dispatch.leasedCount() == 0)
        }
    }
}
