import Foundation
import Testing
import TendCore

/// Table tests for the red-flag taxonomy (Rules/triage-taxonomy.json), the values, the cues and
/// the levels. The sentences are written for these tests — not taken from the corpus — the way
/// patients and relatives write: colloquial, unpunctuated, with typos.
@Suite struct TriageTaxonomyTests {
    let classifier = TriageClassifier()

    func level(_ text: String, _ locale: AppLocale, _ context: TriageContext? = nil) -> TriageLevel {
        classifier.classify(text, locale: locale, context: context).level
    }

    // MARK: The taxonomy as data

    static let guideCategories = ["cardiac", "stroke", "breathing", "anaphylaxis", "infusion_reaction", "oncology", "sepsis", "hypoglycaemia",
                                  "hyperglycaemia", "gi_bleeding", "bleeding", "obstetric", "self_harm", "seizure", "head_injury", "unconscious",
                                  "vte", "poisoning", "dehydration", "injury", "acute_pain", "blood_pressure", "vitals"]

    @Test func everyCategoryHasRulesAndSources() {
        let taxonomy = TriageDefaults.taxonomy
        #expect(taxonomy.categories.map(\.id) == Self.guideCategories)
        for category in taxonomy.categories {
            #expect(!category.sources.isEmpty && !category.covers.isEmpty, "\(category.id)")
            #expect(taxonomy.rules.contains { $0.category == category.id }, "\(category.id) has no rule")
        }
        #expect(Set(taxonomy.rules.map(\.id)).count == taxonomy.rules.count, "rule ids are unique")
        #expect(taxonomy.rules.allSatisfy { $0.category.map(Self.guideCategories.contains) ?? true })
    }

    /// Every concept a rule names has phrases in both languages, or is set by the engine itself
    /// (values, the program's context, cues).
    @Test func everyConceptARuleNamesExistsInBothLanguages() {
        let zh = TriageDefaults.rules[.zhHans]!.concepts, en = TriageDefaults.rules[.en]!.concepts
        var missing: [String] = []
        for rule in TriageDefaults.taxonomy.rules {
            for term in rule.all + rule.context + rule.none {
                for name in term.split(separator: "|").map(String.init) {
                    if ["value.", "ctx.", "cue.", "state."].contains(where: name.hasPrefix) { continue }
                    if zh[name]?.isEmpty ?? true { missing.append("zh \(name) (\(rule.id))") }
                    if en[name]?.isEmpty ?? true { missing.append("en \(name) (\(rule.id))") }
                }
            }
        }
        #expect(missing.isEmpty, "\(missing)")
    }

    // MARK: Urgent categories, both languages

    static let urgent: [(String, AppLocale, String)] = [
        ("透唔到气呀 喷咗几次药都冇用", .zhHans, "breathing"),
        // A pause (a space between Chinese characters) ends the negation of "不太好", also after an
        // English filler was dropped before it.
        ("回复 护士小周：不太好 凶口像压了块大石头 快半个钟了", .zhHans, "cardiac"),
        ("literally 我妈 不太好 凶口像压了块大石头", .zhHans, "cardiac"),
        ("脑壳突然炸开一样痛 这辈子没这么痛过 吐了一次 去年脑梗过的", .zhHans, "stroke"),
        ("she had a seizure, it stopped, and now she's having another one", .en, "seizure"),
        ("孩子吃了一口花生饼干 满身起疹子 一直咳 呼吸有点哮鸣音", .zhHans, "anaphylaxis"),
        // English fillers inside a phrase are read as absent (every one of them, the longest too).
        ("he is not literally answering me", .en, "unconscious"),
        ("she is not actually answering me", .en, "unconscious"),
        ("baby hasnt really moved since last night, 34 wks", .en, "obstetric"),
        ("38.9", .zhHans, "vitals"),
        ("101.8", .en, "vitals"),
        ("佢晕咗 叫极都唔醒", .zhHans, "unconscious"),
        ("外婆跌亲个头 而家呕咗 成个人懵懵哋", .zhHans, "head_injury"),
        ("knocked out for a minute after falling off bike, awake now but keeps vomiting", .en, "head_injury"),
        ("cut my hand on glass very deep can see inside", .en, "injury"),
        ("how many insulin pens would it take. asking for me", .en, "self_harm"),
        ("谢谢护士这几个月照顾我 以后不用再给我发随访了", .zhHans, "self_harm"),
        ("39.9 刚测的 还在升", .zhHans, "vitals"),
        ("脉搏只有三十几 人有点发懵", .zhHans, "vitals"),
        ("孙女给我量了一下说是一百八十五一百一十 头很涨", .zhHans, "blood_pressure"),
        ("I think I took my in Sullivan twice tonight the long acting one", .en, "poisoning"),
        ("dad choking on his food at the table cant get it out and the coughing has stopped", .en, "breathing"),
        ("阿姨吃抗凝药的 今天大腿上起了个巴掌大的青包 越来越大", .zhHans, "bleeding"),
        ("我爸胸口像有块大石头压着,脸色发白", .zhHans, "cardiac"),
        ("心脏那里一阵阵绞着疼还往左肩膀上窜", .zhHans, "cardiac"),
        ("my dads got really bad chest pains and his left arm is numb", .en, "cardiac"),
        ("Theres a heavy pressure in the middle of my chest that started 20 mins ago", .en, "cardiac"),
        ("我婆婆说话突然不清楚了,嘴也有点歪", .zhHans, "stroke"),
        ("我爸右边手脚突然不听使唤了", .zhHans, "stroke"),
        ("one side of my grandads face has dropped and he's drooling", .en, "stroke"),
        ("dad can't lift his left arm all of a sudden", .en, "stroke"),
        ("my nan is slurring and one side of her face has gone", .en, "stroke"),
        ("我妈憋得说不了话了,嘴唇都紫了", .zhHans, "breathing"),
        ("孩子呼吸很吃力,胸口往里凹", .zhHans, "breathing"),
        ("my little boy is breathing really hard and fast and his lips are going blue", .en, "breathing"),
        ("asthma attack, inhaler isnt doing anything", .en, "breathing"),
        ("吃了花生以后嘴巴肿起来了喉咙发紧", .zhHans, "anaphylaxis"),
        ("打了青霉素以后全身起疙瘩,喘不过气", .zhHans, "anaphylaxis"),
        ("lips swelling up after eating cashews and my throat feels funny", .en, "anaphylaxis"),
        ("face and tongue swelling, used the epipen", .en, "anaphylaxis"),
        ("我爸正在输化疗药,突然浑身发抖,脸通红", .zhHans, "infusion_reaction"),
        ("打点滴的地方肿得老大,还疼,是化疗药", .zhHans, "infusion_reaction"),
        ("mum started shaking and went red in the face halfway through her infusion", .en, "infusion_reaction"),
        ("during the drip I suddenly got tight chested and itchy all over", .en, "infusion_reaction"),
        ("刚做完化疗一周,今天发烧了,三十八度二", .zhHans, "oncology"),
        ("我爸骨转移,今天突然两条腿没力气,站不起来", .zhHans, "oncology"),
        ("day 9 after chemo, feeling hot and shivery, 38.3", .en, "oncology"),
        ("I have spinal mets and now my legs are going numb", .en, "oncology"),
        ("发高烧,人迷迷糊糊的,叫他答非所问", .zhHans, "sepsis"),
        ("烧了三天了,今天手脚冰凉发紫,尿也少了", .zhHans, "sepsis"),
        ("high fever and now she's confused and her skin looks blotchy", .en, "sepsis"),
        ("he's burning up and not making any sense", .en, "sepsis"),
        ("刚测血糖才3.2,出了一身冷汗", .zhHans, "hypoglycaemia"),
        ("打了胰岛素没吃饭,现在心慌手抖", .zhHans, "hypoglycaemia"),
        ("my sugar is 55 and I feel awful", .en, "hypoglycaemia"),
        ("took my insulin and skipped dinner, now sweaty and confused", .en, "hypoglycaemia"),
        ("血糖28,口渴得厉害", .zhHans, "hyperglycaemia"),
        ("血糖仪显示HI,一直吐", .zhHans, "hyperglycaemia"),
        ("sugar reading 410, really thirsty", .en, "hyperglycaemia"),
        ("his breath smells fruity and he's breathing deep and fast", .en, "hyperglycaemia"),
        ("吐出来的东西是咖啡色的", .zhHans, "gi_bleeding"),
        ("大便是黑的,像沥青一样,人没劲", .zhHans, "gi_bleeding"),
        ("my poo is black and sticky and I feel faint", .en, "gi_bleeding"),
        ("loads of blood in the toilet after I went", .en, "gi_bleeding"),
        ("咳嗽咳出一大口血", .zhHans, "bleeding"),
        ("鼻血一直流,半小时了止不住,吃华法林的", .zhHans, "bleeding"),
        ("nose has been bleeding for 40 minutes and won't stop", .en, "bleeding"),
        ("coughing up blood clots", .en, "bleeding"),
        ("怀孕30周,下面出血了", .zhHans, "obstetric"),
        ("孕36周了,今天一天都没感觉到胎动", .zhHans, "obstetric"),
        ("33 weeks, pounding headache and seeing flashing lights", .en, "obstetric"),
        ("just had my baby last week and the bleeding is getting heavier with big clots", .en, "obstetric"),
        ("活着太痛苦了,想一死了之", .zhHans, "self_harm"),
        ("如果我不在了,孩子们会过得更好", .zhHans, "self_harm"),
        ("my family would be better off if I was gone", .en, "self_harm"),
        ("I've got the pills ready, I'm going to do it tonight", .en, "self_harm"),
        ("孩子突然抽起来了,叫不应", .zhHans, "seizure"),
        ("我爸抽搐了十分钟还没停", .zhHans, "seizure"),
        ("he's been fitting for 6 minutes", .en, "seizure"),
        ("my husband just had his first ever seizure", .en, "seizure"),
        ("老人摔倒磕到头,现在一直吐", .zhHans, "head_injury"),
        ("孩子头撞到桌角,现在特别想睡", .zhHans, "head_injury"),
        ("banged her head on the floor and now she's being sick", .en, "head_injury"),
        ("grandma fell and hit her head, she's on blood thinners", .en, "head_injury"),
        ("人一下子昏过去了,怎么叫都没反应", .zhHans, "unconscious"),
        ("老人吃了降糖药没吃饭现在叫不太醒", .zhHans, "unconscious"),
        ("she passed out and we can't wake her", .en, "unconscious"),
        ("found him unresponsive on the floor", .en, "unconscious"),
        ("做完手术一周,小腿肿痛发红", .zhHans, "vte"),
        ("坐长途车回来一条腿肿得发亮", .zhHans, "vte"),
        ("my left leg is much bigger than my right and it's painful", .en, "vte"),
        ("my leg is swollen and sore since the long flight", .en, "vte"),
        ("孩子误吃了我的安眠药", .zhHans, "poisoning"),
        ("我爸胰岛素打了两次", .zhHans, "poisoning"),
        ("my son found my heart tablets and ate a few", .en, "poisoning"),
        ("she drank bleach", .en, "poisoning"),
        ("孩子吐了一天了,一次尿都没有", .zhHans, "dehydration"),
        ("宝宝拉稀一天了,没精神,尿布一直是干的", .zhHans, "dehydration"),
        ("can't keep any fluids down since yesterday", .en, "dehydration"),
        ("vomiting all day and haven't had a wee in 12 hours", .en, "dehydration"),
        ("老人摔了一跤,髋部疼得起不来", .zhHans, "injury"),
        ("被开水烫了一大片,起了很多水泡", .zhHans, "injury"),
        ("fell off my bike and my arm is bent the wrong way", .en, "injury"),
        ("nan tripped and now she can't put weight on her leg", .en, "injury"),
        ("肚子疼得要命,硬得像木板", .zhHans, "acute_pain"),
        ("一天没尿出来,小肚子胀得疼", .zhHans, "acute_pain"),
        ("sudden agonising pain in my lower back and groin", .en, "acute_pain"),
        ("my son has terrible pain in his testicles", .en, "acute_pain"),
        ("血压200/110,头很痛", .zhHans, "blood_pressure"),
        ("血压才75/45,人晕乎乎的", .zhHans, "blood_pressure"),
        ("bp 190/115 with a headache", .en, "blood_pressure"),
        ("my bp is 188/121", .en, "blood_pressure"),
        ("血氧只有85", .zhHans, "vitals"),
        ("心跳每分钟35下", .zhHans, "vitals"),
        ("temp 104F", .en, "vitals"),
        ("heart rate 145 sitting still", .en, "vitals"),
        ("我爸抽了快十分钟了还没停", .zhHans, "seizure"),
        ("每天晚上都想着要是睡过去不醒就好了", .zhHans, "self_harm"),
        ("感觉自己是个废人，活着也是浪费钱，还不如走了算了", .zhHans, "self_harm"),
        ("怀孕三十二周，下面突然流出一大股水，裤子都湿了", .zhHans, "obstetric"),
        ("我妈胸口疼得厉害，出冷汗，怎么处理", .zhHans, "cardiac"),
        ("孩子抽搐停不下来，急救方法是什么", .zhHans, "seizure"),
        ("血糖18，吐了好几次，呼吸很深", .zhHans, "hyperglycaemia"),
        ("nobody would miss me if I went to sleep and never woke up", .en, "self_harm"),
        // Session 13, from batch F: a pair without its slash, a relative who sees no response,
        // farewell wording, memory loss after a blow, a limp child.
        ("早上量的血压 196 118 头有点胀", .zhHans, "blood_pressure"),
        ("bp 205 122 just now on the home machine", .en, "blood_pressure"),
        ("我妈坐在椅子上 叫她她不应 推她也不动", .zhHans, "unconscious"),
        ("以后你们不用再为我操心了 存折在抽屉里", .zhHans, "self_harm"),
        ("you won't have to worry about me after tonight", .en, "self_harm"),
        ("dad slipped in the bath and knocked his head, now he keeps repeating himself", .en, "head_injury"),
        ("he was coughing and wheezing all night and now he's gone floppy on the sofa", .en, "unconscious"),
        // Batch G: a burden spoken of as a decision, fluid from the ear after a blow, pills taken
        // for sweets, pain in the privates.
        ("我想好了 以后不再给儿女添负担了", .zhHans, "self_harm"),
        ("爷爷早上摔了一跤 后脑勺磕了 现在耳朵里往外流水", .zhHans, "head_injury"),
        ("小孙子把奶奶的降糖药当糖豆吃了三颗", .zhHans, "poisoning"),
        ("my boy has bad pain in his privates since he woke, he's white and being sick", .en, "acute_pain"),
        // Batch H: passive and farewell wording, a bare temperature on chemotherapy, "w/" is no
        // unit, a curtain over the eye, a drug doubled for days, a toddler and vape liquid.
        ("最近老想着睡下去就别醒了 省得拖着一家人", .zhHans, "self_harm"),
        ("以后就不来群里打扰了 我的药也不用再开了", .zhHans, "self_harm"),
        ("谢谢你们的鼓励 这段日子谢谢大家 我先走一步了", .zhHans, "self_harm"),
        ("just a bit warm, 38.3, on cycle 2 of FOLFOX, probably nothing", .en, "oncology"),
        ("bg 420 w/ large ketones and throwing up", .en, "hyperglycaemia"),
        ("mum says it's like a curtain came down over her right eye", .en, "stroke"),
        ("he's been doubling his lithium all week, now shaky and muddled", .en, "poisoning"),
        ("the baby got into my vape liquid and drank some", .en, "poisoning"),
        ("我视频让她举手 她左手举不起来 说话也不利索", .zhHans, "stroke"),
        // Session 16 (batch I's kinds, in other words): a toddler and a grandparent's pills, bowel
        // obstruction, lying flat, dusky lips, tightenings in pregnancy, passive wish and a drop.
        ("孙女把她奶奶的降压药吃了几颗 药板空了三格", .zhHans, "poisoning"),
        ("my 3 year old got hold of grandad's pill box, some tablets missing", .en, "poisoning"),
        ("肚子胀得跟鼓一样 三天没放屁 还吐绿水", .zhHans, "acute_pain"),
        ("今晚喘得躺不平 只能坐着睡", .zhHans, "breathing"),
        ("his lips look dusky and he can't finish a sentence", .en, "breathing"),
        ("34 weeks, tightening every 4 mins for the last hour", .en, "obstetric"),
        ("天天想着睡着了不醒就好了 昨晚在阳台边上站了很久 抑郁症又犯了", .zhHans, "self_harm"),
        ("两天就尿了一点点 嘴干裂 站都站不住", .zhHans, "dehydration"),
        // Later batches of session 16: a parent living alone who answers neither phone nor door,
        // high potassium with palpitations, a wrong patient's sulfonylurea, settling affairs.
        ("我妈一个人住 打了十几个电话都不接 邻居敲门也没人应", .zhHans, "unconscious"),
        ("血钾6.5 现在心慌 手脚发麻", .zhHans, "cardiac"),
        ("护工把隔壁床的药给我爸吃了 有格列美脲 现在叫不太醒", .zhHans, "poisoning"),
        ("gave the cat to my sister and paid off my debts, you've all been kind", .en, "self_harm"),
        ("she lives alone and isn't answering her phone or the door since yesterday, she's diabetic", .en, "unconscious"),
    ]

    @Test(arguments: urgent)
    func urgentCategory(text: String, locale: AppLocale, category: String) {
        let result = classifier.classify(text, locale: locale)
        #expect(result.level == .urgent, "\(category): \(text) → \(result.level) \(result.reasons)")
        #expect(!result.reasons.isEmpty)
    }

    @Test func everyCategoryIsTestedInBothLanguages() {
        for category in Self.guideCategories {
            for locale in [AppLocale.zhHans, .en] {
                #expect(Self.urgent.filter { $0.2 == category && $0.1 == locale }.count >= 2, "\(category) \(locale)")
            }
        }
    }

    /// The same words, not an emergency: negated, over, hypothetical, a general question, named in passing.
    static let notUrgent: [(String, AppLocale, String)] = [
        ("made the low sugar banana bread from the recipe, hubby loved it", .en, "hypoglycaemia"),
        ("my last seizure was back in 2016, no fits since thank god", .en, "seizure"),
        ("怀老大的时候破水早产 这次一切正常 36周了", .zhHans, "obstetric"),
        ("冇胸口痛 冇气促 食得瞓得", .zhHans, "cardiac"),
        ("电视上说冬天烧炭取暖容易一氧化碳中毒", .zhHans, "self_harm"),
        ("Chest pain? Breathless? Our natural ayurvedic kadha clears heart blockage without surgery. 100% guarantee, call now", .en, "cardiac"),
        ("hip op was 3 wks ago, thigh still swollen and bruised, slowly getting better", .en, "vte"),
        ("睡前测了13.6 晚饭多吃了半碗饭 要不要补点胰岛素", .zhHans, "poisoning"),
        ("今天没有胸闷也没有心慌", .zhHans, "cardiac"),
        ("the chest pain last month turned out to be nothing, all fine now", .en, "cardiac"),
        ("我舅舅以前心梗过,抢救回来了", .zhHans, "cardiac"),
        ("my uncle had a heart attack years ago and is fine now", .en, "cardiac"),
        ("中风了会有哪些症状", .zhHans, "stroke"),
        ("what are the symptoms of a stroke?", .en, "stroke"),
        ("my grandmother had a stroke in 2015 and lived to 95", .en, "stroke"),
        ("要是家里老人嘴歪了该怎么办", .zhHans, "stroke"),
        ("今天不喘了,睡得很好", .zhHans, "breathing"),
        ("no wheezing today, lovely walk in the park", .en, "breathing"),
        ("in case I have an asthma attack at work, what should I tell my colleagues?", .en, "breathing"),
        ("输液过敏一般是什么表现", .zhHans, "anaphylaxis"),
        ("what should I do if my throat swells after a bee sting?", .en, "anaphylaxis"),
        ("万一化疗后发烧了要去哪个医院", .zhHans, "oncology"),
        ("What temperature counts as a fever on chemo?", .en, "oncology"),
        ("化疗第三天,没吐没发烧", .zhHans, "oncology"),
        ("如果血糖低了该吃什么", .zhHans, "hypoglycaemia"),
        ("what should I do if I have a hypo at night?", .en, "hypoglycaemia"),
        ("低血糖和高血糖有什么区别", .zhHans, "hypoglycaemia"),
        ("what does a hypo feel like?", .en, "hypoglycaemia"),
        ("假如半夜血糖突然很高怎么处理", .zhHans, "hyperglycaemia"),
        ("血糖仪一直显示HI,用质控液测也是HI,是不是坏了", .zhHans, "hyperglycaemia"),
        ("在吃补铁的药,大便发黑,正常吗", .zhHans, "gi_bleeding"),
        ("black stools since I started the iron tablets, is that expected?", .en, "gi_bleeding"),
        ("什么情况下流鼻血要去医院", .zhHans, "bleeding"),
        ("nosebleed earlier that stopped after five minutes of pinching", .en, "bleeding"),
        ("胎动多少次算正常", .zhHans, "obstetric"),
        ("宝宝胎动正常,没有胎动减少", .zhHans, "obstetric"),
        ("how do I know if my baby is moving enough?", .en, "obstetric"),
        ("what do I do if my waters break?", .en, "obstetric"),
        ("想死你们了!好久没来群里", .zhHans, "self_harm"),
        ("No thoughts of hurting myself, just feeling low", .en, "self_harm"),
        ("孩子小时候高热惊厥过一次", .zhHans, "seizure"),
        ("Can I drive now my epilepsy has been controlled for two years?", .en, "seizure"),
        ("前天磕到头了,现在没什么感觉了", .zhHans, "head_injury"),
        ("my brother had a head injury in his 20s and he's totally fine now", .en, "head_injury"),
        ("去年摔断了腿,现在走路没问题了", .zhHans, "injury"),
        ("What should I do if I fall and can't get up?", .en, "injury"),
        ("燃气报警器响了,开窗通风了,大家都没有头晕", .zhHans, "poisoning"),
        ("药不小心吃了双份会怎么样", .zhHans, "poisoning"),
        ("如果血压突然到200了,家里有什么药可以先吃", .zhHans, "blood_pressure"),
        ("if my blood pressure goes over 180 what should I do?", .en, "blood_pressure"),
        ("刚爬完六楼,心率110,正常吗", .zhHans, "vitals"),
        ("Is a resting pulse of 58 too low? I cycle most days", .en, "vitals"),
        ("Found sugar free jelly at Tesco, 2 for £1, the kids loved it", .en, "number_not_measurement"),
        ("I've run out of my metformin and the GP can't see me until next week", .en, "stroke"),
        ("今天抽血排队，抽了快十分钟还没轮到我", .zhHans, "seizure"),
        ("心梗有什么前兆，怎么处理", .zhHans, "cardiac"),
        ("如果明天好了就不去医院了", .zhHans, "hypothetical"),
        ("他晚上打呼噜声音很大 有时候还憋气 白天老犯困", .zhHans, "breathing"),
        ("my husband snores and stops breathing for a few seconds, should he get a sleep study?", .en, "breathing"),
        ("36 weeks, the tightenings come and go and stop when I rest, braxton hicks I think", .en, "obstetric"),
        ("sugar 3.7 before tea, had a banana and it's 5.9 now", .en, "hypoglycaemia"),
        ("心梗发作的时候是什么感觉 我想提前了解", .zhHans, "cardiac"),
        ("say I get a nosebleed on warfarin, how long do I pinch it?", .en, "bleeding"),
        ("能不能单独给我打个电话 群里说不清楚", .zhHans, "stroke"),
        ("the GP can't see me until next week, can I get a repeat of my inhaler?", .en, "stroke"),
        ("上回抽筋是三年前了 之后再没犯过", .zhHans, "seizure"),
        ("2 yrs ago I had thoughts of ending it, counselling helped and I'm doing well now", .en, "self_harm"),
        ("低血糖一般是啥样的 想提前知道好照顾老人", .zhHans, "hypoglycaemia"),
        ("孙子打电话说奶奶我想死你了 暑假就回来", .zhHans, "self_harm"),
        ("开会的各位 我先走一步了 明天见", .zhHans, "self_harm"),
        ("can I get blood ketone strips on prescription?", .en, "hyperglycaemia"),
        // Session 16: "his" is no meter HI; a high treated since; a target is no reading; a fall
        // checked at A&E; "last chemo" is no farewell; snacks are no poison.
        ("my dad says the soup was the best part of his day", .en, "hyperglycaemia"),
        ("sugar hit 410 after the wedding last night, corrected and it's 7.2 this morning", .en, "hyperglycaemia"),
        ("INR 1.6 today, my target is 2.0-3.0", .en, "hypoglycaemia"),
        ("Mum's fall on Tuesday: A&E x-rayed her, nothing broken, she's home", .en, "injury"),
        ("今天是最后一次化疗啦 谢谢各位护士", .zhHans, "self_harm"),
        ("老人晚上偷吃零食 血糖老是十一二", .zhHans, "poisoning"),
        // A denial after the question's words; a dose after a drug's name; a count after readings;
        // a pharmacy's supply; breathing fine with a fish bone.
        ("@王护士 您问的胸痛，没有哦，就是有点累", .zhHans, "cardiac"),
        ("bp 150/92 and 148/90 even on ramipril 5", .en, "blood_pressure"),
        ("bp 158/96 and 160/97 the last 3 mornings", .en, "blood_pressure"),
        ("pharmacy gave me 56 tablets, is that 28 days?", .en, "poisoning"),
        ("鱼刺卡住了 咽口水疼 喘气正常", .zhHans, "breathing"),
    ]

    @Test(arguments: notUrgent)
    func notUrgentForTheSameWords(text: String, locale: AppLocale, category: String) {
        let result = classifier.classify(text, locale: locale)
        #expect(result.level != .urgent, "\(category): \(text) → \(result.reasons)")
    }

    /// A current danger sign asked as a question is still urgent.
    @Test(arguments: [
        ("嘴唇肿喉咙紧正常吗", AppLocale.zhHans),
        ("胸口疼得厉害出冷汗,要紧吗", .zhHans),
        ("is it normal that my lips are swelling and my throat feels tight?", .en),
        ("should I be worried my wife can't wake up properly?", .en),
    ])
    func aCurrentDangerSignAskedAsAQuestion(text: String, locale: AppLocale) {
        #expect(level(text, locale) == .urgent, "\(text)")
    }

    // MARK: Values

    @Test(arguments: [
        ("血糖2.9,手抖", AppLocale.zhHans, TriageLevel.urgent, nil as TriageContext?),
        ("血糖 48 mg/dL", .en, .urgent, nil),
        ("sugar 320 mg/dl", .en, .urgent, nil),
        ("血糖16.7", .zhHans, .urgent, nil),
        ("glucose 70 mg/dL", .en, .general, nil),
        ("blood sugar 299 mg/dL", .en, .review, nil),
        ("测了好几次都是Lo", .zhHans, .urgent, nil),
        ("meter just says HI", .en, .urgent, nil),
        ("体温39.5", .zhHans, .urgent, nil),
        ("体温34.8度", .zhHans, .urgent, nil),
        ("temp 101.3F", .en, .urgent, nil),
        ("temp 99°F, is that normal?", .en, .general, nil),
        ("体温三十九度八", .zhHans, .urgent, nil),
        ("孩子发烧38.5,精神挺好,能吃能玩", .zhHans, .review, nil),
        ("38.2", .zhHans, .urgent, .oncology),
        ("心率 142", .zhHans, .urgent, nil),
        ("pulse 38", .en, .urgent, nil),
        ("resting HR 72", .en, .general, nil),
        ("血氧91%", .zhHans, .urgent, nil),
        ("sats 93 and a bit breathless walking", .en, .review, nil),
        ("血压182/100", .zhHans, .urgent, nil),
        ("BP 150 over 95", .en, .review, nil),
        ("血压165/100,头疼眼花", .zhHans, .urgent, nil),
        ("血压165/100", .zhHans, .review, nil),
        ("高压170低压115", .zhHans, .urgent, nil),
        ("血压一百九十多", .zhHans, .urgent, nil),
        ("血压78/50 站起来就晕", .zhHans, .urgent, nil),
        ("胎心一直只有100左右", .zhHans, .urgent, nil),
        ("早上2.6 手抖", .zhHans, .urgent, .glucose),
        ("2.6", .zhHans, .urgent, .glucose),
        ("2.8了", .zhHans, .urgent, .glucose),
        ("5.6 6.8 7.1", .zhHans, .social, .glucose),
        ("血糖三点二", .zhHans, .urgent, nil),
        ("血糖２．８", .zhHans, .urgent, nil),
        ("空腹十二点多", .zhHans, .review, nil),
        ("孕26周 餐后一小时8.9", .zhHans, .review, nil),
        ("餐后8.9", .zhHans, .social, nil),
        // A reply's option number is no reading, in a glucose camp too; a medicine someone wants to
        // stop is not resolved by feeling better.
        ("1 今早空腹6.3", .zhHans, .social, .glucose),
        ("舍曲林吃了半年感觉好了，想停掉，能直接停吗", .zhHans, .review, nil),
    ])
    func valuesReadInContext(text: String, locale: AppLocale, expected: TriageLevel, context: TriageContext?) {
        let result = classifier.classify(text, locale: locale, context: context)
        #expect(result.level == expected, "\(text) [\(context?.rawValue ?? "")] → \(result.level) \(result.reasons)")
    }

    /// Days, weeks, counts, distances, steps, money, prices, clock times, ages, doses, member
    /// counts, dates, floors and room numbers: never measurements.
    @Test(arguments: [
        ("住院第38天了", AppLocale.zhHans, "days"),
        ("Day 38 of the camp, still going", .en, "days"),
        ("孕38周了,一切都好", .zhHans, "weeks"),
        ("38 weeks today!", .en, "weeks"),
        ("我们群已经120人了", .zhHans, "member count"),
        ("we're at 39 members now", .en, "member count"),
        ("今天走了2.5公里", .zhHans, "distance"),
        ("walked 2.7 km this morning", .en, "distance"),
        ("今天走了12000步", .zhHans, "steps"),
        ("did 3500 steps today", .en, "steps"),
        ("试纸39块一盒", .zhHans, "price"),
        ("the strips were £38 a box", .en, "price"),
        ("花了3万6", .zhHans, "money"),
        ("parking was $39 for the day", .en, "money"),
        ("今天3点的直播", .zhHans, "clock time"),
        ("the session is at 2:30 on Tuesday", .en, "clock time"),
        ("早上6点半起来打卡", .zhHans, "clock time"),
        ("我今年72了", .zhHans, "age"),
        ("my dad is 88 and still gardening", .en, "age"),
        ("医生让吃2片,每片25mg", .zhHans, "dose"),
        ("I take 2 puffs twice a day", .en, "dose"),
        ("胰岛素每天打18个单位", .zhHans, "dose"),
        ("10月3号复查", .zhHans, "date"),
        ("my appointment is on the 14th", .en, "date"),
        ("住在38楼,电梯坏了", .zhHans, "floor"),
        ("排到了39号", .zhHans, "queue number"),
        ("Antenatal class in room 12", .en, "room"),
        ("Ward 7 visiting hours are 2 to 8", .en, "ward"),
        ("宝宝出生3.2公斤", .zhHans, "weight"),
        ("Lost 2.6 kg since the camp started", .en, "weight"),
        ("血糖仪显示E-3是什么意思", .zhHans, "error code"),
        ("Is a reading of 8.2 too high for type 2?", .en, "type 2"),
        ("My Medicare number is 2123 45670 1", .en, "an identity number"),
        ("１０月３号复查", .zhHans, "full-width date"),
        ("第三疗程第十一天打卡", .zhHans, "Chinese numerals"),
        ("my appointment says 16/7 at 10:30 is that tuesday?", .en, "the minutes of a clock time"),
        ("its 39 degrees outside in Perth today stay hydrated everyone", .en, "the weather"),
        ("外面气温39度 大家注意防暑", .zhHans, "the weather"),
        ("血压计双十一打完折才199 已经下单了", .zhHans, "a price and a shopping day"),
        ("想买个电子血压计 三百多的和一百多的有区别吗", .zhHans, "a price after the device"),
        ("Grandad says hi to everyone, he's doing his puzzles", .en, "a greeting is no meter code"),
        ("cinnamon + bitter melon capsules took my sugar from 300 to 90 in a week!! link in bio", .en, "an ad's claim"),
        ("震惊！这个方法让血糖从18降到5.6 点开看看 http://t.cn/A6xk2Lp", .zhHans, "an ad's claim"),
    ])
    func numbersThatAreNotMeasurements(text: String, locale: AppLocale, kind: String) {
        let result = classifier.classify(text, locale: locale)
        #expect(result.level != .urgent, "\(kind): \(text) → \(result.reasons)")
        #expect(!result.reasons.contains { $0.rule.hasPrefix("value.") }, "\(kind): \(text) → \(result.reasons)")
    }

    // MARK: Levels

    @Test(arguments: [
        ("这几天膝盖有点肿,走路疼", AppLocale.zhHans),
        ("咳嗽快一个月了还没好", .zhHans),
        ("吃了降压药以后总是干咳", .zhHans),
        ("漏吃了一次降压药", .zhHans),
        ("这几天餐后都在11左右", .zhHans),
        ("my cough has been going on for three weeks", .en),
        ("the wound is a bit red and weeping", .en),
        ("missed two doses of my metformin", .en),
        ("bp 148/94 this morning, a bit of a headache", .en),
        ("Chest pain on Tuesday night lasted ten minutes and went away, should someone know?", .en),
    ])
    func aCurrentConcernNoRuleResolvesIsReview(text: String, locale: AppLocale) {
        #expect(level(text, locale) == .review, "\(text) → \(classifier.classify(text, locale: locale).reasons)")
    }

    @Test(arguments: [
        ("大家早上好啊", AppLocale.zhHans, TriageLevel.social),
        ("谢谢张医生耐心解答", .zhHans, .social),
        ("打卡 空腹5.4 早餐后7.0 午餐后6.6", .zhHans, .social),
        ("morning everyone!", .en, .social),
        ("Day 12 done ✅", .en, .social),
        ("上个月发烧住院了,现在全好了", .zhHans, .social),
        ("降压药饭前吃还是饭后吃", .zhHans, .general),
        ("how long do I need to fast before the blood test?", .en, .general),
        ("化疗后开始掉头发了,正常吗", .zhHans, .general),
        ("a bit of nausea in the mornings at 10 weeks, is that normal?", .en, .general),
        ("医生,我想单独问个问题", .zhHans, .private),
        ("I'm struggling to pay for my medication, can we talk one to one", .en, .private),
        ("老公不知道我在吃抗抑郁药", .zhHans, .private),
        // A statement that asks nothing and names no body part or symptom is social.
        ("复诊约在10月18号下午2点", .zhHans, .social),
        ("外面气温39度 大家注意防暑", .zhHans, .social),
        ("Day 12 of the walking challenge, 8000 steps done", .en, .social),
        // ... but not when it names a medicine or a place of care: the team may want to see it.
        ("took 2 tablets at 7:30 like always", .en, .general),
        // The earlier of two readings joined by a change word is where the value was.
        ("A1c down to 6.6 from 8.1!!", .en, .social),
        ("糖化从7.8降到6.5了", .zhHans, .general),
        // Ranges and voice input in Chinese numerals.
        ("这几天空腹都在十一十二左右 降不下来", .zhHans, .review),
        // A low treated, then a normal reading "now": a recent event, not an emergency.
        ("sugar was 3.2 at 3am, had juice and toast, now 6.4", .en, .review),
        ("血糖3.1 吃了两块糖 现在5.6了", .zhHans, .review),
        // A medication problem, a slight tiredness with nothing else.
        ("down to my last 2 insulin pen needles and the pharmacy's shut till monday", .en, .review),
        ("我妈把早上的药和晚上的药弄混了", .zhHans, .review),
        ("no chest pain today just a bit tired", .en, .general),
    ])
    func levels(text: String, locale: AppLocale, expected: TriageLevel) {
        #expect(level(text, locale) == expected, "\(text) → \(classifier.classify(text, locale: locale).reasons)")
    }

    @Test func urgentIsNeverSocialAndReviewRanksRightAfterUrgent() {
        #expect(TriageLevel.allCases.reversed() == [.urgent, .review, .private, .general, .social])
        #expect(TriageLevel.review > .private && TriageLevel.review < .urgent)
        // A greeting does not hide an emergency, nor a worry.
        #expect(level("早上好,我爸刚才突然说不出话了", .zhHans) == .urgent)
        #expect(level("thanks all, by the way my chest has been really tight for an hour", .en) == .urgent)
        #expect(level("谢谢大家,我这两天老是头晕", .zhHans) == .review)
    }

    @Test(arguments: [
        ("专业代购进口药,价格优惠,需要的私我", AppLocale.zhHans, TriageLevel.general),
        ("免费领取血压计,扫码关注", .zhHans, .general),
        ("二手轮椅九成新,300出,同城自提", .zhHans, .general),
        ("Cure your diabetes in 30 days!! DM for details", .en, .general),
        ("Earn money from home, click the link in my bio", .en, .general),
        ("visit www.cheap-meds.example for 50% off", .en, .general),
        ("我的手机号是13912345678,麻烦联系我", .zhHans, .private),
        ("我电话是一五九零零一二三四五六", .zhHans, .private),
        ("my number is 07700 900123 if you need me", .en, .private),
        ("email me at jane.doe@example.com with the results", .en, .private),
        ("我的微信号 wang1988x", .zhHans, .private),
        ("北京市海淀区中关村大街27号,药寄这里", .zhHans, .private),
        ("I live at 22 Baker Street, London NW1 6XE", .en, .private),
        ("my DOB is 12/03/1961", .en, .private),
        ("住院号 12345678,麻烦查一下", .zhHans, .private),
        ("call me on (020) 7946 0018", .en, .private),
        ("强烈推荐这款益生菌,效果特别好,需要的朋友找我", .zhHans, .general),
        ("I sell collagen shakes with amazing results, check out my page", .en, .general),
        // Addresses spelt out to slip past filters.
        ("三天降血糖 不用吃药 点这里 h t t p s : / / tangniao . top", .zhHans, .general),
        ("free glucose meter for every member, just pay postage b i t . l y / freemeter", .en, .general),
    ])
    func compliance(text: String, locale: AppLocale, expected: TriageLevel) {
        let result = classifier.classify(text, locale: locale)
        #expect(result.flags == [.compliance], "\(text) → \(result.reasons)")
        #expect(result.level == expected, "\(text) → \(result.level) \(result.reasons)")
    }

    // MARK: Reasons, programs, the model

    @Test func reasonsNameWhatFired() {
        let result = classifier.classify("刚测血糖2.7,手抖心慌", locale: .zhHans)
        #expect(result.reasons.contains { $0.rule == "urgent.hypoglycaemia.low_glucose" && $0.match == "2.7" })
        #expect(result.reasons.contains { $0.rule == "value.glucose" && $0.match == "2.7" })
        #expect(result.categories == ["hypoglycaemia"])
        let chest = classifier.classify("胸口压着疼", locale: .zhHans)
        #expect(chest.reasons.first?.rule == "urgent.cardiac.chest_pain" && chest.reasons.first?.match == "胸口 + 压着")
    }

    @Test func programsStillAddPhrasesAndThresholds() throws {
        let settings = try JSONDecoder().decode(ProgramTriageSettings.self, from: Data(#"""
        {"phrases": {"zh-Hans": [{"id": "urgent.camp.word", "level": "urgent", "phrases": ["心里发毛"], "negatable": true}]},
         "thresholds": {"glucose_low": 4.4, "heart_rate_high": 120}}
        """#.utf8))
        let program = settings.classifier(base: TriageDefaults.rules)
        #expect(program.classify("心里发毛", locale: .zhHans).level == .urgent)
        #expect(program.classify("没有心里发毛", locale: .zhHans).level != .urgent)
        #expect(program.classify("空腹血糖4.2", locale: .zhHans).level == .urgent)
        #expect(classifier.classify("空腹血糖4.2", locale: .zhHans).level != .urgent)
        #expect(program.classify("心率125", locale: .zhHans).level == .urgent)
        #expect(program.thresholds.heartRateLow == 40, "thresholds left out keep their defaults")
    }

    /// The weights are read exactly as train_model.py computed them.
    @Test func theModelScoresAsTrained() throws {
        let model = try #require(TriageDefaults.model)
        let checks = try #require(model.checks)
        #expect(!checks.isEmpty && model.heads.keys.sorted() == ["ad", "concern", "urgent"])
        for check in checks {
            let scores = model.scores(check.text)
            #expect(abs(scores.urgent - (check.urgent ?? -1)) < 1e-4 && abs(scores.concern - (check.concern ?? -1)) < 1e-4, "\(check.text)")
            if let ad = check.ad { #expect(abs(model.adScore(check.text) - ad) < 1e-4, "\(check.text)") }
        }
    }
}
