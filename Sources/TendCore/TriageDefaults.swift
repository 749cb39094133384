/// The rules Tend ships for Chinese and English. Programs extend them with their own
/// phrases (the same structure, as JSON) and thresholds.
public enum TriageDefaults {
    public static let rules: [AppLocale: TriageRules] = [.zhHans: chinese, .en: english]

    static let chinese = TriageRules(
        phrases: [
            TriagePhraseRule(id: "urgent.chest", level: .urgent, phrases: ["胸口很闷", "胸口痛", "胸痛", "胸闷", "心口痛"], negatable: true),
            TriagePhraseRule(id: "urgent.breathing", level: .urgent, phrases: ["喘不上气", "喘不过气", "呼吸困难", "嘴唇发紫", "憋气"], negatable: true),
            TriagePhraseRule(id: "urgent.neuro", level: .urgent, phrases: ["癫痫", "抽搐", "含糊不清", "口齿不清", "半边身子", "一边手没有力气", "昏迷", "叫不醒", "意识不清", "看东西模糊"], negatable: true),
            TriagePhraseRule(id: "urgent.bleeding", level: .urgent, phrases: ["吐血", "呕血", "吐了一点血", "大便是黑色", "黑便", "下面出血", "大出血", "出血不止"], negatable: true),
            TriagePhraseRule(id: "urgent.allergy", level: .urgent, phrases: ["嘴唇都肿", "嘴唇肿", "喉咙发紧", "全身起疹子"], negatable: true),
            TriagePhraseRule(id: "urgent.hypoglycaemia", level: .urgent, phrases: ["出冷汗", "一身冷汗", "手抖心慌"], negatable: true),
            TriagePhraseRule(id: "urgent.injury", level: .urgent, phrases: ["站不起来", "摔了一跤"], negatable: true),
            TriagePhraseRule(id: "urgent.self_harm", level: .urgent, phrases: ["一了百了", "不想活", "活着太累", "自杀", "轻生", "想死"]),
            TriagePhraseRule(id: "urgent.asthma_attack", level: .urgent, phrases: ["哮喘发作", "喘得"], negatable: true),
            TriagePhraseRule(id: "private.sensitive", level: .private, phrases: ["hiv", "艾滋", "梅毒", "夫妻生活", "性生活", "流过产", "流产", "抑郁", "收入"]),
            TriagePhraseRule(id: "private.request", level: .private, phrases: ["私下", "私聊", "单独问", "不方便在群里", "不想让群里", "不想在群里", "老公还不知道", "家里人不知道"]),
            TriagePhraseRule(id: "compliance.ads", level: nil, flag: .compliance, phrases: ["加我微信", "加微信", "祖传秘方", "秘方", "包治", "根治", "代购", "价格便宜", "需要的私我", "贷款", "保健品", "不用再打胰岛素"]),
            TriagePhraseRule(id: "social.greeting", level: .social, phrases: ["早上好", "大家好", "晚安", "谢谢", "感谢", "打卡", "✅", "一切都好", "辛苦了"]),
        ],
        negations: ["没有", "没", "无", "不再", "未"],
        resolved: ["已经好了", "已经好多了", "好了", "已缓解", "已经缓解", "上次"],
        glucoseWords: ["血糖", "空腹", "餐后", "早餐后", "午餐后", "晚餐后"],
        temperatureWords: ["体温", "发烧", "发热", "烧到"],
        oxygenWords: ["血氧", "spo2", "氧饱和"],
        pressureWords: ["血压", "bp"],
        questionMarkers: ["吗", "?", "怎么", "什么", "能不能", "可以", "要不要", "多久", "哪些", "呀"])

    static let english = TriageRules(
        phrases: [
            TriagePhraseRule(id: "urgent.chest", level: .urgent, phrases: ["chest pain", "crushing", "pain going down my left arm", "chest tightness"], negatable: true),
            TriagePhraseRule(id: "urgent.breathing", level: .urgent, phrases: ["can't breathe", "cannot breathe", "short of breath", "struggling to breathe", "lips are blue"], negatable: true),
            TriagePhraseRule(id: "urgent.neuro", level: .urgent, phrases: ["unconscious", "can't wake", "seizure", "slurred", "face drooping", "fainted"], negatable: true),
            TriagePhraseRule(id: "urgent.bleeding", level: .urgent, phrases: ["vomiting blood", "black stool", "coughing up blood", "heavy bleeding"], negatable: true),
            TriagePhraseRule(id: "urgent.allergy", level: .urgent, phrases: ["lips are swelling", "face is swelling", "hard to swallow", "throat is closing"], negatable: true),
            TriagePhraseRule(id: "urgent.self_harm", level: .urgent, phrases: ["point of going on", "kill myself", "end it all", "suicid", "want to die", "don't want to live"]),
            TriagePhraseRule(id: "urgent.vomiting", level: .urgent, phrases: ["and vomiting", "can't keep anything down"], negatable: true),
            TriagePhraseRule(id: "private.sensitive", level: .private, phrases: ["hiv", "pregnant", "income", "insurance", "depression", "sexual"]),
            TriagePhraseRule(id: "private.request", level: .private, phrases: ["privately", "in private", "not say this in the group", "haven't told my family", "one to one", "1:1"]),
            TriagePhraseRule(id: "compliance.ads", level: nil, flag: .compliance, phrases: ["whatsapp", "dm me", "buy cheap", "cures diabetes", "miracle", "stop your insulin", "loan", "discount drugs", "wechat me"]),
            TriagePhraseRule(id: "social.greeting", level: .social, phrases: ["good morning", "good night", "thanks", "thank you", "check-in done", "feeling much better", "all good"]),
        ],
        negations: ["no ", "not ", "without ", "never ", "don't have ", "didn't have ", "no more "],
        resolved: ["went away", "is gone", "has gone", "resolved", "last time", "better now"],
        glucoseWords: ["glucose", "blood sugar", "sugar", "fasting", "bg "],
        temperatureWords: ["fever", "temperature", "temp "],
        oxygenWords: ["spo2", "oxygen", "sats"],
        pressureWords: ["bp", "blood pressure"],
        questionMarkers: ["?", "should i", "do i", "is it", "what", "when", "how", "can i"])
}
