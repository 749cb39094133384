import Foundation
import Synchronization
public import TendCore
public import TendEngine

/// A channel factory for a dispatcher under test: every sender it makes records the messages
/// handed to it and answers as the test says. Sends can be held mid-way, as when a worker
/// stalls after sending and before recording, until the test lets them finish.
public final class RecordingChannels: ChannelFactory {
    private struct State {
        var sent: [OutboundMessage] = []
        var holding = false
        var held: [CheckedContinuation<DeliveryResult, Never>] = []
        var answer: DeliveryResult
    }

    private let state: Mutex<State>
    /// How long each send takes, so that concurrent workers interleave.
    private let sendTime: Duration

    public init(answer: DeliveryResult = .sent, sendTime: Duration = .zero) {
        state = Mutex(State(answer: answer))
        self.sendTime = sendTime
    }

    public func channel(for config: ChannelConfig) -> any DeliveryChannel {
        Sender(channels: self)
    }

    /// Every message handed to a sender, in the order the sends began.
    public var sent: [OutboundMessage] { state.withLock { $0.sent } }

    /// From now on, sends wait until `release(answering:)`.
    public func hold() {
        state.withLock { $0.holding = true }
    }

    /// Lets the held sends (and any later ones) finish with this answer.
    public func release(answering answer: DeliveryResult) {
        let waiting = state.withLock { state in
            state.holding = false
            state.answer = answer
            defer { state.held = [] }
            return state.held
        }
        waiting.forEach { $0.resume(returning: answer) }
    }

    /// Waits until `count` sends have begun, or the time is up (the test then fails on what it sees).
    public func waitForSends(_ count: Int, within limit: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + limit
        while state.withLock({ $0.sent.count }) < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    fileprivate func send(_ message: OutboundMessage) async -> DeliveryResult {
        state.withLock { $0.sent.append(message) }
        if sendTime > .zero { try? await Task.sleep(for: sendTime) }
        return await withCheckedContinuation { continuation in
            let answer: DeliveryResult? = state.withLock { state in
                guard state.holding else { return state.answer }
                state.held.append(continuation)
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    private struct Sender: DeliveryChannel {
        let channels: RecordingChannels

        func send(_ message: OutboundMessage) async -> DeliveryResult {
            await channels.send(message)
        }
    }
}
