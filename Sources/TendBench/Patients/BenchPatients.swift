import Foundation
import TendCore
import TendEngine
import TendStore

/// Generated patients, always written by the import use case (`tend import patients`' code), so
/// the benchmarks' rows are what the stores write and follow the schema as it changes.
enum BenchPatients {
    static let actor = AuditActor(id: nil, kind: .cli)

    /// The import benchmark's file: Chinese names, phone, ID number, address, birth date, zone,
    /// quiet hours and two tags per row.
    static func importFile(rows: Int) -> [UInt8] {
        var text = "external_id,name,sex,birth_date,phone,id_number,address,time_zone,quiet_hours,tags\n"
        text.reserveCapacity(rows * 160)
        let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵"], given = ["芳", "伟", "敏", "强", "静", "磊", "丽", "军"]
        for index in 0..<rows {
            text += "B\(index),\(surnames[index % 8])\(given[(index / 8) % 8])\(index % 100),\(index % 2 == 0 ? "女" : "男"),19\(50 + index % 50)-0\(1 + index % 9)-1\(index % 10),"
            text += "1\(String(format: "%010d", 3_000_000_000 + index)),ID\(String(format: "%012d", index)),示例市示例路\(index)号,Asia/Shanghai,22:00-07:00,"
            text += "disease=T2DM;cohort=\(index % 7)\n"
        }
        return Array(text.utf8)
    }

    /// A cohort to enrol and dispatch to: no contact details, a few zones, three contact
    /// windows and both languages, so planning sees several groups, as in a real program.
    static func cohortFile(rows: Int, channel: ContactChannel) -> [UInt8] {
        let zones = ["Asia/Shanghai", "Asia/Shanghai", "Asia/Shanghai", "America/New_York", "Europe/London"]
        let windows = ["", "12:00-13:30", "18:30-21:00"]
        var text = "external_id,name,sex,birth_date,locale,time_zone,contact_window,quiet_hours,channels,tags\n"
        text.reserveCapacity(rows * 100)
        for index in 0..<rows {
            text += "P\(index),张三\(index % 100),女,1970-01-01,\(index % 2 == 0 ? "zh-Hans" : "en"),\(zones[index % zones.count]),"
            text += "\(windows[index % windows.count]),22:00-07:00,\(channel.rawValue),disease=T2DM\n"
        }
        return Array(text.utf8)
    }

    /// Imports a generated file as `tend import patients` does and checks that every row was created.
    @discardableResult
    static func importAll(_ file: [UInt8], rows: Int, into programID: String, stores: Stores) async throws -> ImportSummary {
        let summary = try await PatientActions(stores: stores).importRows(
            try ImportRowReader(bytes: file, format: .csv), programID: programID, by: actor, reject: { _ in })
        guard summary.created == rows else {
            throw BenchCheckFailed(en: "imported \(summary.created) of \(rows) patients", zh: "仅导入 \(summary.created)/\(rows) 名患者")
        }
        return summary
    }
}
