import Foundation
import Hummingbird
public import Prometheus

/// The server's own Prometheus registry, owned by the application rather than a global.
public struct ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    func recordRequest(method: String, statusClass: String, duration: Duration) {
        registry.makeCounter(name: "tend_http_requests_total", labels: [("method", method), ("status", statusClass)]).increment()
        registry.makeDurationHistogram(
            name: "tend_http_request_duration_seconds", labels: [("method", method)],
            buckets: [.milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10)]
        ).record(duration)
    }

    public func exposition() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

/// Counts requests by method and status class and times them. Labels never carry paths,
/// so patient ids cannot end up in metrics.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = TendRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        metrics.recordRequest(method: request.method.rawValue, statusClass: "\(response.status.code / 100)xx", duration: ContinuousClock.now - start)
        return response
    }
}
