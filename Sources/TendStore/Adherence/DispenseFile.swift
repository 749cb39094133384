import Foundation
public import TendCore

/// Rows of `tend import dispenses`: CSV with a header, or one JSON object per line. Columns
/// (English or Chinese): patient_id (患者ID) or patient_external_id (患者编号), drug (药品),
/// class (药品类别), filled_on (发药日期), days_supply (用药天数), quantity (数量),
/// pharmacy (药房), external_id (记录编号). Values stay text here; the use case checks them.
public struct DispenseFileRow: Sendable, Equatable {
    public var line: Int
    public var patientID: String?
    public var patientExternalID: String?
    public var values: [String: String]
}

public enum DispenseFile {
    static let headers: [String: String] = [
        "patient_id": "patient_id", "患者id": "patient_id", "patient_external_id": "patient_external_id", "患者编号": "patient_external_id",
        "drug": "drug", "药品": "drug", "class": "class", "药品类别": "class", "filled_on": "filled_on", "发药日期": "filled_on",
        "days_supply": "days_supply", "用药天数": "days_supply", "quantity": "quantity", "数量": "quantity",
        "pharmacy": "pharmacy", "药房": "pharmacy", "external_id": "external_id", "记录编号": "external_id",
    ]

    /// Every row, read or refused with its line and field; the file itself refused when its
    /// header lacks a required column.
    public static func rows(bytes raw: [UInt8], format: ImportFormat) throws(TendError) -> [Result<DispenseFileRow, PatientImport.Reject>] {
        let bytes = try TextEncoding.utf8(raw, declared: nil).text
        switch format {
        case .csv:
            var reader = CSVReader(bytes: bytes)
            guard let header = reader.next() else { throw TendError.invalid("file", .init(en: "is empty", zh: "为空")) }
            let names = header.fields.map { headers[$0.trimmed.lowercased()] }
            for required in ["drug", "filled_on", "days_supply"] where !names.contains(required) { throw TendError.missing("file.\(required)") }
            guard names.contains("patient_id") || names.contains("patient_external_id") else { throw TendError.missing("file.patient_id") }
            var rows: [Result<DispenseFileRow, PatientImport.Reject>] = []
            while let record = reader.next() {
                var values: [String: String] = [:]
                for (index, field) in record.fields.enumerated() where index < names.count {
                    if let name = names[index], !field.trimmed.isEmpty { values[name] = field.trimmed }
                }
                rows.append(row(line: record.line, values))
            }
            if let problem = reader.problem { rows.append(.failure(PatientImport.Reject(line: 0, field: nil, reason: "\(problem)"))) }
            return rows
        case .ndjson:
            var rows: [Result<DispenseFileRow, PatientImport.Reject>] = []
            for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
                guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }) else { continue }
                guard line.count <= 64 * 1024, let object = try? JSONDecoder().decode([String: Member].self, from: Data(line)) else {
                    rows.append(.failure(PatientImport.Reject(line: index + 1, field: nil, reason: "not a JSON object of text and numbers / 不是有效的 JSON 对象")))
                    continue
                }
                var values: [String: String] = [:]
                for (key, member) in object {
                    if let name = headers[key.lowercased()], let text = member.text, !text.trimmed.isEmpty { values[name] = text.trimmed }
                }
                rows.append(row(line: index + 1, values))
            }
            return rows
        }
    }

    /// One member of an NDJSON line: text or a number as its text, anything else ignored.
    private enum Member: Decodable {
        case text(String)
        case other

        var text: String? { if case .text(let text) = self { text } else { nil } }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .text(text)
            } else if let whole = try? container.decode(Int64.self) {
                self = .text(String(whole))
            } else if let number = try? container.decode(Double.self), number.isFinite {
                self = .text(number.formatted(.number.grouping(.never)))
            } else {
                self = .other
            }
        }
    }

    private static func row(line: Int, _ values: [String: String]) -> Result<DispenseFileRow, PatientImport.Reject> {
        for required in ["drug", "filled_on", "days_supply"] where values[required] == nil {
            return .failure(PatientImport.Reject(line: line, field: required, reason: "missing / 缺失"))
        }
        let patientID = values["patient_id"], patientExternalID = values["patient_external_id"]
        guard patientID != nil || patientExternalID != nil else { return .failure(PatientImport.Reject(line: line, field: "patient_id", reason: "missing / 缺失")) }
        for name in ["patient_id", "patient_external_id"] {
            if let value = values[name], value.utf8.count > Bounds.identifierLength || value.contains(where: { $0.isWhitespace }) {
                return .failure(PatientImport.Reject(line: line, field: name, reason: "not an identifier / 不是有效编号"))
            }
        }
        return .success(DispenseFileRow(line: line, patientID: patientID, patientExternalID: patientExternalID, values: values))
    }
}
