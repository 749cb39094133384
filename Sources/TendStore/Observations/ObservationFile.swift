import Foundation
public import TendCore

/// Rows of `tend import observations`: CSV with a header, or one JSON object per line. Columns
/// (English or Chinese): patient_id (患者ID) or patient_external_id (患者编号), code (指标),
/// value (数值), unit (单位), effective_at (测量时间), external_id (记录编号).
public struct ObservationFileRow: Sendable, Equatable {
    public var line: Int
    public var patientID: String?
    public var patientExternalID: String?
    public var input: ObservationInput
}

public enum ObservationFile {
    static let headers: [String: String] = [
        "patient_id": "patient_id", "患者id": "patient_id", "patient_external_id": "patient_external_id", "患者编号": "patient_external_id",
        "code": "code", "指标": "code", "value": "value", "数值": "value", "unit": "unit", "单位": "unit",
        "effective_at": "effective_at", "测量时间": "effective_at", "external_id": "external_id", "记录编号": "external_id",
    ]

    /// Every row, read or refused with its line and field; the file itself refused when it has
    /// no usable header.
    public static func rows(bytes raw: [UInt8], format: ImportFormat, encoding: TextEncoding? = nil) throws(TendError) -> [Result<ObservationFileRow, PatientImport.Reject>] {
        let bytes = try TextEncoding.utf8(raw, declared: encoding).text
        switch format {
        case .csv: return try csvRows(bytes)
        case .ndjson: return ndjsonRows(bytes)
        }
    }

    private static func csvRows(_ bytes: [UInt8]) throws(TendError) -> [Result<ObservationFileRow, PatientImport.Reject>] {
        var reader = CSVReader(bytes: bytes)
        guard let header = reader.next() else { throw TendError.invalid("file", .init(en: "is empty", zh: "为空")) }
        let names = header.fields.map { headers[$0.trimmed.lowercased()] }
        for required in ["code", "value", "effective_at"] where !names.contains(required) {
            throw TendError.missing("file.\(required)")
        }
        guard names.contains("patient_id") || names.contains("patient_external_id") else { throw TendError.missing("file.patient_id") }
        var rows: [Result<ObservationFileRow, PatientImport.Reject>] = []
        while let record = reader.next() {
            var values: [String: String] = [:]
            for (index, field) in record.fields.enumerated() where index < names.count {
                if let name = names[index], !field.trimmed.isEmpty { values[name] = field.trimmed }
            }
            rows.append(row(line: record.line, values.mapValues { .text($0) }))
        }
        if let problem = reader.problem {
            rows.append(.failure(PatientImport.Reject(line: 0, field: nil, reason: "\(problem)")))
        }
        return rows
    }

    private static func ndjsonRows(_ bytes: [UInt8]) -> [Result<ObservationFileRow, PatientImport.Reject>] {
        var rows: [Result<ObservationFileRow, PatientImport.Reject>] = []
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }) else { continue }
            guard line.count <= 64 * 1024, let object = try? JSONDecoder().decode([String: Member].self, from: Data(line)) else {
                rows.append(.failure(PatientImport.Reject(line: index + 1, field: nil, reason: "not a JSON object of text, numbers and true/false / 不是有效的 JSON 对象")))
                continue
            }
            var values: [String: ObservationInput.Value] = [:]
            for (key, member) in object {
                if let name = headers[key.lowercased()], case .value(let value) = member { values[name] = value }
            }
            rows.append(row(line: index + 1, values))
        }
        return rows
    }

    /// One member of an NDJSON line: a value a reading can have, or anything else (ignored).
    private enum Member: Decodable {
        case value(ObservationInput.Value)
        case other

        init(from decoder: any Decoder) throws {
            if let value = try? ObservationInput.Value(from: decoder) { self = .value(value) } else { self = .other }
        }
    }

    private static func row(line: Int, _ values: [String: ObservationInput.Value]) -> Result<ObservationFileRow, PatientImport.Reject> {
        func text(_ name: String) -> String? {
            switch values[name] {
            case .text(let text): text.trimmed.isEmpty ? nil : text.trimmed
            case .number(let number): number.formatted(.number.grouping(.never))
            default: nil
            }
        }
        guard let code = text("code") else { return .failure(PatientImport.Reject(line: line, field: "code", reason: "missing / 缺失")) }
        guard let effectiveAt = text("effective_at") else { return .failure(PatientImport.Reject(line: line, field: "effective_at", reason: "missing / 缺失")) }
        guard var value = values["value"] else { return .failure(PatientImport.Reject(line: line, field: "value", reason: "missing / 缺失")) }
        // A CSV cell is text: a plain number in it is a number.
        if case .text(let cell) = value, let number = Double(cell.trimmed), number.isFinite { value = .number(number) }
        let patientID = text("patient_id"), patientExternalID = text("patient_external_id")
        guard patientID != nil || patientExternalID != nil else {
            return .failure(PatientImport.Reject(line: line, field: "patient_id", reason: "missing / 缺失"))
        }
        for (name, value) in [("patient_id", patientID), ("patient_external_id", patientExternalID), ("external_id", text("external_id"))] {
            if let value, value.utf8.count > Bounds.identifierLength || value.contains(where: { $0.isWhitespace }) {
                return .failure(PatientImport.Reject(line: line, field: name, reason: "not an identifier / 不是有效编号"))
            }
        }
        return .success(ObservationFileRow(line: line, patientID: patientID, patientExternalID: patientExternalID,
                                           input: ObservationInput(code: code, value: value, unit: text("unit"), effectiveAt: effectiveAt, externalID: text("external_id"))))
    }
}
