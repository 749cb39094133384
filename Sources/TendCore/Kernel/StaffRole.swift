/// A staff member's role within one program. Roles are ordered by what they may do;
/// each capability check names the least role that grants it.
public enum StaffRole: String, Codable, Sendable, CaseIterable, Comparable {
    case viewer
    case doctor
    case pharmacist
    case manager
    case admin

    private var rank: Int {
        switch self {
        case .viewer: 0
        case .doctor, .pharmacist: 1
        case .manager: 2
        case .admin: 3
        }
    }

    public static func < (lhs: StaffRole, rhs: StaffRole) -> Bool { lhs.rank < rhs.rank }

    public func allows(_ permission: Permission) -> Bool {
        switch permission {
        case .readProgram, .readPatients: true
        case .writePatients: self.rank >= StaffRole.doctor.rank
        case .manageMembers, .manageProgram, .readAudit: self == .admin
        }
    }
}

public enum Permission: String, Sendable, CaseIterable {
    case readProgram
    case readPatients
    case writePatients
    case manageMembers
    case manageProgram
    case readAudit
}
