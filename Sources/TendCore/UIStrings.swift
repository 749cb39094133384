/// Every string the console shows, in both languages. Templates refer to them as
/// `{{t.key}}`; a test checks that each key a template uses exists here.
public enum UIStrings {
    public static let table: [String: LocalizedText] = [
        "app_name": .init(en: "Tend", zh: "Tend 院外患者管理"),
        "app_tagline": .init(en: "Active out-of-hospital patient management", zh: "主动式院外患者管理"),
        "login_title": .init(en: "Sign in", zh: "登录"),
        "login_email": .init(en: "Email", zh: "邮箱"),
        "login_password": .init(en: "Password", zh: "密码"),
        "login_submit": .init(en: "Sign in", zh: "登录"),
        "login_failed": .init(en: "The email or password is not correct.", zh: "邮箱或密码不正确。"),
        "login_expired": .init(en: "The form expired. Please try again.", zh: "表单已过期，请重试。"),
        "logout": .init(en: "Sign out", zh: "退出登录"),
        "programs": .init(en: "Programs", zh: "项目"),
        "program_switch": .init(en: "Switch program", zh: "切换项目"),
        "program_current": .init(en: "Current program", zh: "当前项目"),
        "role": .init(en: "Role", zh: "角色"),
        "role_admin": .init(en: "Admin", zh: "管理员"),
        "role_manager": .init(en: "Health manager", zh: "健康管理师"),
        "role_pharmacist": .init(en: "Pharmacist", zh: "药师"),
        "role_doctor": .init(en: "Doctor", zh: "医生"),
        "role_viewer": .init(en: "Viewer", zh: "只读"),
        "no_programs_title": .init(en: "You are not in any program yet", zh: "您还没有加入任何项目"),
        "no_programs_body": .init(en: "Ask a program admin to add you.", zh: "请联系项目管理员将您加入项目。"),
        "home_title": .init(en: "Today", zh: "今日"),
        "home_empty_title": .init(en: "Nothing to do yet", zh: "暂无待办"),
        "home_empty_body": .init(en: "Patients, follow-up pathways and the inbox will appear here once the program has them.", zh: "项目添加患者、随访方案和消息后，会显示在这里。"),
        "nav_home": .init(en: "Today", zh: "今日"),
        "language": .init(en: "Language", zh: "语言"),
        "signed_in_as": .init(en: "Signed in as", zh: "当前用户"),
        "error_title": .init(en: "Something is not right", zh: "出了点问题"),
        "error_back": .init(en: "Back to the start", zh: "返回首页"),
        "not_found": .init(en: "This page does not exist or you cannot see it.", zh: "页面不存在或您无权访问。"),
        "forbidden": .init(en: "Your role does not allow this.", zh: "您的角色无权执行此操作。"),
        "members": .init(en: "Team", zh: "团队成员"),
    ]

    /// The table flattened for one language, as templates use it.
    public static func strings(for locale: AppLocale) -> [String: String] {
        table.mapValues { $0.text(in: locale) }
    }

    public static func roleName(_ role: StaffRole, in locale: AppLocale) -> String {
        table["role_\(role.rawValue)"]?.text(in: locale) ?? role.rawValue
    }
}
