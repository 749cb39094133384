import ArgumentParser
import Foundation
import TendCore

/// Benchmarks over the real stores, importer, enrolment and dispatcher; their figures go to
/// bench/README.md. A separate executable, so `tend` ships without them.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tend-bench", abstract: "Measure throughput (see bench/README.md) / 性能测试（见 bench/README.md）",
        subcommands: [ImportPatientsBench.self, EnrolBench.self, DispatchBench.self, ObservationBench.self, AdherenceBench.self, SegmentBench.self, TriageBench.self])
}

/// Runs a benchmark body and turns any failure into one line on stderr and exit status 1.
func runReporting(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as TendError {
        FileHandle.standardError.write(Data("tend-bench: \(error.message.en) / \(error.message.zh)\n".utf8))
        throw ExitCode.failure
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("tend-bench: \(String(describing: error).split(separator: "\n").first ?? "")\n".utf8))
        throw ExitCode.failure
    }
}

/// Writes a line to stdout unbuffered, so figures appear as each run ends.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A check on what a benchmark produced (every patient imported, every touchpoint sent), so a
/// figure is never reported for work that was not done.
struct BenchCheckFailed: Error, CustomStringConvertible {
    let en: String
    let zh: String
    var description: String { "\(en) / \(zh)" }
}

enum Measure {
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
