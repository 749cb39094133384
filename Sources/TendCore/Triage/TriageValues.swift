import Foundation

/// What a labelled number measures (`value_words` in the rule files).
enum ValueKind: String, Sendable {
    case glucose, fasting, meter, temperature, oxygen, pressure, systolic, diastolic
    case heartRate = "heart_rate", fetalHeart = "fetal_heart", respiration
    case hba1c, platelets, whiteCells = "white_cells", neutrophils, hemoglobin, inr, ketones, uricAcid = "uric_acid"
    /// "测了", "量了", "reading": a measurement whose kind the number's range tells.
    case measure
    /// Weight, steps, price, age …: the number is no clinical measurement.
    case other

    /// When two labels are as near, the more specific one wins ("空腹" over "血糖").
    var priority: Int {
        switch self {
        case .measure, .meter: 0
        case .glucose, .temperature, .oxygen, .pressure, .other: 1
        default: 2
        }
    }
}

/// What follows a number (`units` in the rule files).
enum UnitKind: String, Sendable {
    case mmol, mgdl, celsius, fahrenheit, degree, percent, perMinute = "per_minute", over, times
    /// Durations: no measurement, but "抽了七八分钟", "nosebleed for 35 minutes", "孕30周" say something.
    case minutes, hours, weeks
    /// Tablets, pills, or a painkiller's name after a count: "吃了十几片", "took 20 paracetamol".
    case tablets
    /// "88号", "3单元": part of an address (with a road and a district it is one).
    case houseNumber = "house_number"
    case notMeasurement = "not_measurement"
}

/// The concepts values set (`value.*` in the taxonomy), in the order of their indexes.
enum ValueConcept: Int, CaseIterable, Sendable {
    case glucoseLow
    case glucoseHigh
    case glucoseRaised
    case glucoseLowish
    case glucoseNormal
    case meterHi
    case meterLo
    case tempHigh
    case tempLow
    case fever
    case tempRaised
    case tempNormal
    case spo2Low
    case spo2Borderline
    case spo2Normal
    case hrHigh
    case hrLow
    case hrRaised
    case hrNormal
    case bpSevere
    case bpHigh
    case bpStage2
    case bpRaised
    case bpVeryLow
    case bpLow
    case bpNormal
    case fhrAbnormal
    case fhrNormal
    case rrHigh
    case plateletsCritical
    case plateletsLow
    case neutropenia
    case wbcLow
    case ketonesHigh
    case ketonesRaised
    case labAbnormal
    case labNormal
    case normal
    case gestation
    case minutes5
    case minutes20
    case manyTimes
    case normalLog
    case manyTablets
    case houseNumber

    var name: String { TriageEngine.valueConcepts[rawValue] }
}

extension TriageEngine {
    struct NumberToken {
        var value: Double
        var start: Int
        var end: Int
        var decimal: Bool
        /// "十二点多", "3点": could be a clock time; a measurement only with a label.
        var clockLike = false
        /// Spelled-out or long digit strings ("一三八…", 11+ digits): never a measurement.
        var digitString = false
    }

    /// 零〇一二两三四五六七八九 → their digit.
    @inline(__always) static func chineseDigit(_ value: UInt32) -> Int? {
        switch value {
        case 0x96F6, 0x3007: 0
        case 0x4E00: 1
        case 0x4E8C, 0x4E24: 2
        case 0x4E09: 3
        case 0x56DB: 4
        case 0x4E94: 5
        case 0x516D: 6
        case 0x4E03: 7
        case 0x516B: 8
        case 0x4E5D: 9
        default: nil
        }
    }

    /// 十百千 → 10, 100, 1000.
    @inline(__always) static func chineseUnit(_ value: UInt32) -> Int? {
        switch value {
        case 0x5341: 10
        case 0x767E: 100
        case 0x5343: 1000
        default: nil
        }
    }
    static let dian: UInt32 = 0x70B9     // 点
    static let letterUnits: [UInt32: UnitKind] = [
        0x63: .celsius, 0x66: .fahrenheit, 0x68: .hours, 0x6D: .notMeasurement, 0x67: .notMeasurement, 0x6B: .notMeasurement,
        0x75: .notMeasurement, 0x77: .notMeasurement, 0x78: .times,
    ]
    static let duo: UInt32 = 0x591A      // 多
    static let ji: UInt32 = 0x51E0       // 几
    static let du: UInt32 = 0x5EA6       // 度

    @inline(__always) static func digit(_ value: UInt32) -> Int? {
        if isDigit(value) { return Int(value - 0x30) }
        return chineseDigit(value)
    }

    /// Every number in the text: ASCII digits (39.2, 2点6, 38 point 1) and Chinese numerals
    /// (三十八度五, 一百九十多, 五点三, 二十点三).
    static func numbers(_ text: [UInt32]) -> [NumberToken] {
        var tokens: [NumberToken] = []
        var index = 0
        while index < text.count {
            let value = text[index]
            if isDigit(value) {
                tokens.append(digitNumber(text, at: &index))
            } else if chineseDigit(value) != nil || chineseUnit(value) != nil {
                if let token = chineseNumber(text, at: &index) { tokens.append(token) }
            } else {
                index += 1
            }
        }
        return tokens
    }

    /// After "点" / "." / " point ": digits as tenths, hundredths (at most three).
    static func fraction(_ text: [UInt32], at position: inout Int, into value: inout Double) -> Bool {
        var scale = 0.1
        var any = false
        while position < text.count, let d = digit(text[position]), isDigit(text[position]) || chineseDigit(text[position]) != nil {
            value += Double(d) * scale
            scale /= 10
            position += 1
            any = true
            if scale < 0.001 { break }
        }
        return any
    }

    /// "180多", "二十几", "三十余", "十来斤": about that much; where the number then ends.
    static func approximate(_ text: [UInt32], _ position: Int) -> Int {
        guard position < text.count else { return position }
        let next = text[position]
        if next == duo || next == ji || next == 0x4F59 { return position + 1 }
        if next == 0x6765, position + 1 < text.count, ![0x4E86, 0x7684, 0x8BF4, 0x8FC7, 0x5230].contains(text[position + 1]) { return position + 1 }
        return position
    }

    /// A number in ASCII digits from `index` (which it moves past it): "39.2", "2点6", "12点多"
    /// (clock-like), "38 point 1"; more than six digits is a digit string.
    static func digitNumber(_ text: [UInt32], at index: inout Int) -> NumberToken {
        let count = text.count
        let start = index
        var number = 0.0
        var digits = 0
        while index < count, isDigit(text[index]) {
            number = number * 10 + Double(text[index] - 0x30)
            digits += 1
            index += 1
        }
        var token = NumberToken(value: number, start: start, end: index, decimal: false)
        if digits > 6 { token.digitString = true }
        if index + 1 < count, text[index] == 0x2E, isDigit(text[index + 1]) {
            index += 1
            var fractionValue = number
            _ = fraction(text, at: &index, into: &fractionValue)
            token.value = fractionValue
            token.decimal = true
        } else if index + 1 < count, text[index] == dian {
            let next = text[index + 1]
            if isDigit(next), !(index + 2 < count && isDigit(text[index + 2])) {
                token.value = number + Double(next - 0x30) / 10
                token.decimal = true
                index += 2
            } else if let d = chineseDigit(next), !(index + 2 < count && (chineseDigit(text[index + 2]) != nil || chineseUnit(text[index + 2]) != nil)) {
                token.value = number + Double(d) / 10
                token.decimal = true
                index += 2
            } else if next == ji || next == duo {
                token.value = number + 0.5
                token.decimal = true
                token.clockLike = true
                index += 2
            } else {
                token.clockLike = true
            }
        } else if index + 7 < count, text[index] == 0x20, text[index + 1] == 0x70, text[index + 2] == 0x6F, text[index + 3] == 0x69,
                  text[index + 4] == 0x6E, text[index + 5] == 0x74, text[index + 6] == 0x20, isDigit(text[index + 7]) {
            // "38 point 1"
            index += 7
            var fractionValue = number
            _ = fraction(text, at: &index, into: &fractionValue)
            token.value = fractionValue
            token.decimal = true
        }
        index = approximate(text, index)
        token.end = index
        return token
    }

    /// A number in Chinese numerals from `index` (which it moves past them): "三十八", "一百九十多",
    /// "五点三", "二十点三"; seven or more spelled digits ("一三八…") are a digit string; nil for
    /// numerals that make no number ("一", "三四").
    static func chineseNumber(_ text: [UInt32], at index: inout Int) -> NumberToken? {
        let count = text.count
        let start = index
        var total = 0
        var current = -1
        var lastUnit = 0
        var sawUnit = false
        var zeroAfterUnit = false
        var spelled = 0
        while index < count {
            let scalar = text[index]
            if let d = chineseDigit(scalar) {
                if current >= 0 && !(current == 0 && zeroAfterUnit) {
                    if !sawUnit {
                        spelled += 1
                        current = d
                        index += 1
                        continue
                    }
                    // "一百八十五一百一十": not the next digit, so the next number begins here.
                    if d != current + 1 { break }
                    // "一百五六十", "十一二": a range; keep the first.
                    index += 1
                    while index < count, chineseDigit(text[index]) != nil || chineseUnit(text[index]) != nil { index += 1 }
                    break
                }
                if d == 0 && sawUnit { zeroAfterUnit = true }
                current = d
                spelled += 1
                index += 1
            } else if let unit = chineseUnit(scalar) {
                if spelled > 1 && !sawUnit { break }
                // "十一十二" (eleven or twelve): a unit as large as the last one after a digit starts the next number.
                if sawUnit && current >= 0 && unit >= lastUnit { break }
                sawUnit = true
                total += (current < 0 ? 1 : current) * unit
                current = -1
                lastUnit = unit
                zeroAfterUnit = false
                index += 1
            } else {
                break
            }
        }
        if !sawUnit {
            if spelled >= 7 { return NumberToken(value: 0, start: start, end: index, decimal: false, digitString: true) }
            // "五点三", "三点零", "三点多": one numeral, 点, then numerals or 几/多.
            guard spelled == 1, current >= 0 else { return nil }
            var value = Double(current)
            guard let tail = decimalTail(text, at: &index, value: &value) else { return nil }
            return NumberToken(value: value, start: start, end: index, decimal: true, clockLike: tail == .approximate)
        }
        if current >= 0 {
            total += zeroAfterUnit || lastUnit <= 10 ? current : current * lastUnit / 10
        }
        var value = Double(total)
        let tail = decimalTail(text, at: &index, value: &value)
        var token = NumberToken(value: value, start: start, end: index, decimal: tail != nil, clockLike: tail == .approximate)
        index = approximate(text, index)
        token.end = index
        return token
    }

    enum DecimalTail { case digits, approximate }

    /// What follows a Chinese number after 点: numerals are its fraction ("三十八点五"); 几 or 多
    /// ("十二点多") add half a unit and may be a clock time. Nil, and `index` unmoved, otherwise.
    static func decimalTail(_ text: [UInt32], at index: inout Int, value: inout Double) -> DecimalTail? {
        guard index + 1 < text.count, text[index] == dian else { return nil }
        if chineseDigit(text[index + 1]) != nil {
            var position = index + 1
            _ = fraction(text, at: &position, into: &value)
            index = position
            return .digits
        }
        guard text[index + 1] == ji || text[index + 1] == duo else { return nil }
        value += 0.5
        index += 2
        return .approximate
    }

    struct ValueReading {
        var kind: ValueKind
        var value: Double
        var second: Double?
        var unit: UnitKind?
        var start: Int
        var end: Int
        var clause: Int32
        var state: UInt8
    }

    /// Reads the numbers of a message as measurements and adds the value concepts they make.
    func values(_ reading: inout Reading, context: TriageContext?, personal: [Range<Int>] = []) {
        let text = reading.text
        let tokens = reading.numbers
        // A glucose program, or a message that speaks of glucose or diabetes treatment: a bare
        // "2.7" is a glucose. In pregnancy the targets are tighter (NICE NG3).
        let diabetes = context == .glucose || reading.labels.contains { $0.kind == .glucose || $0.kind == .fasting }
            || reading.occurrences.contains { occurrence in diabetesConcepts[Int(occurrence.concept)] && occurrence.present }
        let hypoSigns = reading.occurrences.contains { hypoSignConcepts[Int($0.concept)] && $0.present }
        // "a bit warm, 38.1, cycle 3 of FOLFOX": on chemotherapy a bare decimal of a body's heat is a temperature.
        let onChemo = context == .oncology || reading.occurrences.contains { chemoConcepts[Int($0.concept)] && $0.present }
        let pregnant = context == .pregnancy || reading.occurrences.contains { pregnancyConcepts[Int($0.concept)] && $0.present }
        var readings = meterReadings(reading, context: context)
        guard !tokens.isEmpty else {
            emit(readings, &reading, pregnant: pregnant)
            return
        }
        let bareReading = tokens.count == 1 && text.indices.allSatisfy { index in
            (tokens[0].start..<tokens[0].end).contains(index) || !(Self.isLetter(text[index]) || Self.isHan(text[index]) || Self.isDigit(text[index]))
        }
        var consumed = [Bool](repeating: false, count: tokens.count)
        var durations: [(concept: ValueConcept, start: Int, end: Int, clause: Int32)] = []
        var previousKind: (kind: ValueKind, end: Int, sentence: Int32)?
        for index in tokens.indices {
            let token = tokens[index]
            if consumed[index] || token.digitString { continue }
            if personal.contains(where: { $0.contains(token.start) }) { continue }
            let clause = reading.clause(token.start)
            guard clause >= 0, !isPartOfWordOrPrice(token, reading) else { continue }
            var after = unit(at: token.end, reading)
            if let after, [.minutes, .hours, .weeks, .tablets, .houseNumber].contains(after.kind) || (after.kind == .times && token.value >= 6) {
                if let name = Self.countConcept(token, unit: after.kind) { durations.append((name, token.start, after.end, clause)) }
                if after.kind != .times { continue }
            }
            // "40+3", "34+5": weeks and days of pregnancy.
            if token.end + 1 < text.count, text[token.end] == 0x2B, Self.isDigit(text[token.end + 1]), (20...42).contains(token.value), !token.decimal {
                durations.append((.gestation, token.start, token.end + 2, clause))
                continue
            }
            let label = self.label(for: token, clause: clause, in: reading)
            if isNoMeasurement(token, after: after, labelled: label != nil && label != .measure && label != .other, reading) { continue }
            if after?.kind == .notMeasurement { after = nil }
            // Blood pressure: 120/80, 190 over 120.
            if index + 1 < tokens.count, let second = pressureSecond(token, next: tokens[index + 1], after: after, labelled: label == .pressure, reading) {
                consumed[index + 1] = true
                if let pressure = pressureReading(token, second: second, label: label, clause: clause, reading) {
                    readings.append(pressure)
                    previousKind = (.pressure, second.end, reading.sentence(ofClause: clause))
                }
                continue
            }
            var kind = label
            if kind == nil, let previous = previousKind, previous.sentence == reading.sentence(ofClause: clause), token.start - previous.end <= 40 {
                kind = previous.kind
            }
            var unitKind = after?.kind
            // A reply that is only a decimal in a body's range ("38.9", "101.8"): a temperature.
            if bareReading, kind == nil, unitKind == nil, token.decimal {
                if (35...43).contains(token.value) { unitKind = .celsius } else if (95...109).contains(token.value) { unitKind = .fahrenheit }
            }
            guard let measured = measuredKind(token, kind: kind, label: label, after: unitKind, diabetes: diabetes, hypoSigns: hypoSigns, onChemo: onChemo, context: context) else { continue }
            let (value, end) = Self.valueAndEnd(token, after: after, text)
            // No cuff reads a systolic of 300 ("血压计三百多" is its price).
            if [.pressure, .systolic].contains(measured), value >= 300 { continue }
            if measured == .diastolic, value >= 200 { continue }
            readings.append(ValueReading(kind: measured, value: value, unit: unitKind, start: token.start, end: end, clause: clause,
                                         state: state(reading, start: token.start, end: end, clause: clause, negatable: false)))
            previousKind = (measured, end, reading.sentence(ofClause: clause))
        }
        for duration in durations {
            reading.occurrences.append(Occurrence(concept: Int32(duration.concept.rawValue), start: Int32(duration.start), end: Int32(duration.end), clause: duration.clause,
                                                  state: state(reading, start: duration.start, end: duration.end, clause: duration.clause, negatable: false)))
        }
        markEarlierOfChange(&readings, text)
        markTreatedExtremes(&readings, reading)
        emit(readings, &reading, pregnant: pregnant)
    }

    /// "从18降到5.6", "from 300 to 90", "8.1 → 6.6": the first of two readings of one kind joined
    /// by a change word is where the value was, not where it is (read as past).
    func markEarlierOfChange(_ readings: inout [ValueReading], _ text: [UInt32]) {
        guard readings.count > 1 else { return }
        for index in 0..<(readings.count - 1) {
            let first = readings[index], second = readings[index + 1]
            guard first.kind == second.kind, first.clause == second.clause || second.start - first.end <= 12,
                  first.end <= second.start, second.start - first.end <= 14 else { continue }
            let between = String(String.UnicodeScalarView(text[first.end..<second.start].compactMap(Unicode.Scalar.init)))
                .trimmingCharacters(in: .whitespaces)
            if Self.changeWords.contains(between) {
                readings[index].state |= 16
            } else if between == "from" || between == "从" || between == "比" {
                readings[index + 1].state |= 16   // "down to 6.6 from 8.1": the one after "from" is the earlier
            }
        }
    }

    /// "sugar was 3.2, had juice … now I'm 6.4", "低血糖3.1 吃了糖 现在5.6", "went to 400 last night …
    /// 132 this morning": a low or very high glucose followed, after a "now", by a normal one is over
    /// (read as resolved: a recent event, not an emergency).
    func markTreatedExtremes(_ readings: inout [ValueReading], _ reading: Reading) {
        func mmol(_ value: ValueReading) -> Double { value.unit == .mgdl ? value.value / 18 : value.value }
        for index in readings.indices where readings[index].kind == .glucose
            && (mmol(readings[index]) < thresholds.glucoseLow || mmol(readings[index]) >= thresholds.glucoseHigh) {
            let extreme = readings[index]
            guard let later = readings[(index + 1)...].first(where: { $0.kind == .glucose && $0.start > extreme.end }),
                  mmol(later) >= thresholds.glucoseLow, mmol(later) < 10 else { continue }
            // The "now" between the two ("… now 6.4") or right after the later one ("it's 6.2 now").
            if reading.cues.contains(where: { $0.cue == .current && $0.start >= extreme.end && ($0.end <= later.start || ($0.start >= later.end && $0.start - later.end <= 2)) }) {
                readings[index].state |= 2
            }
        }
    }

    static let changeWords: Set<String> = [
        "到", "降到", "降至", "降为", "降成", "升到", "升至", "涨到", "变成", "变为", "掉到", "降到了", "到了", "→", "->", "=>", "~>",
        "to", "down to", "up to", "dropped to", "fell to", "went to", "came down to", "went down to", "went up to", "now",
    ]

    /// Meter codes: HI / LO next to a glucose word (or in a glucose program).
    func meterReadings(_ reading: Reading, context: TriageContext?) -> [ValueReading] {
        var readings: [ValueReading] = []
        for code in reading.meterCodes {
            let clause = reading.clause(code.start)
            guard clause >= 0 else { continue }
            let labelled = reading.labels.contains { label in
                reading.clause(label.start) == clause && [.glucose, .fasting, .meter, .measure].contains(label.kind)
            }
            guard labelled || context == .glucose else { continue }
            readings.append(ValueReading(kind: .meter, value: code.high ? 1 : 0, unit: nil, start: code.start, end: code.end, clause: clause,
                                         state: state(reading, start: code.start, end: code.end, clause: clause, negatable: false)))
        }
        return readings
    }

    /// Up to two spaces on from a position.
    static func skipSpaces(_ text: [UInt32], _ position: Int) -> Int {
        var index = position
        while index < text.count, isSpace(text[index]), index - position < 2 { index += 1 }
        return index
    }

    /// The longest unit right after a position (spaces skipped).
    func unit(at position: Int, _ reading: Reading) -> (kind: UnitKind, end: Int)? {
        let text = reading.text, count = text.count
        let at = Self.skipSpaces(text, position)
        var best: (UnitKind, Int)?
        for unit in reading.units where unit.start == at && (best == nil || unit.end > best!.1) { best = (unit.kind, unit.end) }
        // A single letter as a word: 37.1 c, 101.8f, 5 h, 2 m, 500 g, 3 x.
        // Not "w/" ("bg 450 w/ large ketones": with).
        if best == nil, at < count, Self.isLetter(text[at]), at + 1 >= count || (!Self.isLetter(text[at + 1]) && text[at + 1] != 0x2F),
           let kind = Self.letterUnits[text[at]] {
            best = (kind, at + 1)
        }
        return best
    }

    /// Inside a word ("spo2", "hba1c"), glued to letters ("e-3", "pd-1", "cycle3"), or a price ("£5", "$ 20").
    func isPartOfWordOrPrice(_ token: NumberToken, _ reading: Reading) -> Bool {
        let text = reading.text
        if reading.words.contains(where: { $0.start <= token.start && token.end <= $0.end && $0.end - $0.start > token.end - token.start }) { return true }
        guard token.start > 0 else { return false }
        let before = text[token.start - 1]
        let labelEndsHere = reading.labels.contains { $0.end == token.start }
        if !labelEndsHere, Self.isLetter(before) || ((before == 0x2D || before == 0x23) && token.start > 1 && Self.isLetter(text[token.start - 2])) { return true }
        if [0xA3, 0x24, 0xA5, 0xFFE5, 0x20AC, 0x23].contains(before) { return true }   // £ $ ¥ ￥ € #
        if token.start > 1, Self.isSpace(before), [0xA3, 0x24, 0xA5, 0x20AC, 0x23].contains(text[token.start - 2]) { return true }
        return false
    }

    /// What a number before a count or duration unit stands for: many tablets, minutes, weeks of
    /// pregnancy, many times, a house number; nil when it is none of these.
    static func countConcept(_ token: NumberToken, unit: UnitKind) -> ValueConcept? {
        switch unit {
        case .houseNumber: return .houseNumber
        case .tablets: return token.value >= 8 && !token.decimal ? .manyTablets : nil
        case .minutes: return token.value >= 20 ? .minutes20 : (token.value >= 5 ? .minutes5 : nil)
        case .hours: return .minutes20
        case .weeks: return (4...42).contains(token.value) ? .gestation : nil
        default: return .manyTimes
        }
    }

    /// Numbers that are no measurement by what follows or precedes them: glued to a word, "30-day",
    /// "7:30", a not-a-measurement unit, "2 for £1", "第3", "room 12".
    func isNoMeasurement(_ token: NumberToken, after: (kind: UnitKind, end: Int)?, labelled: Bool, _ reading: Reading) -> Bool {
        let text = reading.text, count = text.count
        if token.end < count, Self.isLetter(text[token.end]), after == nil { return true }
        // "30-day plan", "2-hour", "5-year": a number joined to a word is no measurement.
        if token.end + 1 < count, text[token.end] == 0x2D, Self.isLetter(text[token.end + 1]) { return true }
        if token.end + 1 < count, text[token.end] == 0x3A, Self.isDigit(text[token.end + 1]) { return true }   // 7:30
        if token.start >= 2, text[token.start - 1] == 0x3A, Self.isDigit(text[token.start - 2]) { return true }   // the 30 of 10:30
        if token.start >= 1, text[token.start - 1] == 0x5E { return true }   // the 3 of 10^3
        if token.end < count, text[token.end] == 0x5E { return true }   // the 10 of 10^3
        if let after, after.kind == .notMeasurement {
            // A count is never a decimal: in "测了个3.2 人发飘" the 人 begins the next words.
            let next = Self.skipSpaces(text, token.end)
            // "脉搏只有三十几人有点发懵": after a vital's label 人 begins the next words too.
            if !(next < count && text[next] == 0x4EBA && (token.decimal || labelled)) { return true }
        }
        if Self.isDeal(text, after: token.end) { return true }
        // "1 今早空腹6.3": a reply's option number opens the message, a reading follows it.
        if token.start == 0, token.end == 1, !token.decimal, count > 2, Self.isSpace(text[1]), text[2...].contains(where: Self.isDigit) { return true }
        var before = token.start
        while before > 0, Self.isSpace(text[before - 1]), token.start - before < 2 { before -= 1 }
        return reading.notMeasurement.contains(where: { $0.end == before || $0.end == token.start })
    }

    /// The second number of a pair written as a blood pressure ("120/80", "190 over 120"), if any.
    func pressureSecond(_ token: NumberToken, next: NumberToken, after: (kind: UnitKind, end: Int)?, labelled: Bool, _ reading: Reading) -> (value: Double, end: Int)? {
        let text = reading.text
        var cursor = Self.skipSpaces(text, token.end)
        var joined = false
        if cursor < text.count, text[cursor] == 0x2F { cursor = Self.skipSpaces(text, cursor + 1); joined = cursor == next.start }
        else if let over = after, over.kind == .over { joined = Self.skipSpaces(text, over.end) == next.start }
        // "血压 210 125", "bp 150 95" (voice input drops the slash): after a pressure label, two
        // whole numbers a space apart, the first the larger.
        else if labelled, cursor > token.end, cursor == next.start, token.value > next.value, (70...300).contains(token.value), (30...200).contains(next.value) { joined = true }
        // "一百八十五一百一十" (voice input): two Chinese numerals back to back, the first in the hundreds.
        else if next.start == token.end, token.value >= 100, Self.isHan(text[token.start]), Self.isHan(text[next.start]) { joined = true }
        guard joined, !next.decimal, !token.decimal else { return nil }
        return (next.value, next.end)
    }

    /// A pair as a blood pressure when plausible (wider ranges with a pressure label).
    func pressureReading(_ token: NumberToken, second: (value: Double, end: Int), label: ValueKind?, clause: Int32, _ reading: Reading) -> ValueReading? {
        let systolic = token.value, diastolic = second.value
        let labelled = label == .pressure || label == .systolic || label == .measure
        let plausible = labelled ? (50...300).contains(systolic) && (20...200).contains(diastolic) && systolic > diastolic
            : (70...300).contains(systolic) && (30...200).contains(diastolic) && systolic - diastolic >= 10
        guard plausible else { return nil }
        return ValueReading(kind: .pressure, value: systolic, second: diastolic, unit: nil, start: token.start, end: second.end, clause: clause,
                            state: state(reading, start: token.start, end: second.end, clause: clause, negatable: false))
    }

    /// What a number measures, from its label (or the previous value's kind), its unit, and the
    /// message's context; nil for no measurement.
    func measuredKind(_ token: NumberToken, kind labelled: ValueKind?, label: ValueKind?, after: UnitKind?, diabetes: Bool, hypoSigns: Bool,
                      onChemo: Bool = false, context: TriageContext?) -> ValueKind? {
        var kind = labelled
        if kind == nil || kind == .measure || kind == .meter, let after {
            switch after {
            case .mmol, .mgdl: kind = .glucose
            case .celsius, .fahrenheit: kind = .temperature
            case .degree: kind = (34...43).contains(token.value) ? .temperature : kind
            case .perMinute: kind = .heartRate
            default: break
            }
        }
        if kind == nil, token.decimal, !token.clockLike {
            if diabetes, (1...35).contains(token.value) { kind = .glucose }
            // "woke up soaked, 2.6": a low decimal with the signs of a hypo is a glucose.
            if kind == nil, (1...3.8).contains(token.value), hypoSigns { kind = .glucose }
            if context == .oncology, (35...42.5).contains(token.value) { kind = .temperature }
            else if kind == nil, onChemo, (37...42.5).contains(token.value) { kind = .temperature }
        }
        guard var measured = kind else { return nil }
        if token.clockLike && label == nil { return nil }
        if measured == .measure || measured == .meter {
            if (34...43).contains(token.value) && token.decimal && measured == .measure { measured = .temperature }
            else if token.decimal || measured == .meter || (1...35).contains(token.value) { measured = .glucose }
            else { return nil }
        }
        if after == .times && measured != .heartRate && measured != .respiration { return nil }
        return measured
    }

    /// The value with its tenths after 度 ("三十八度五", "38度5", "38度多"), and where it ends.
    static func valueAndEnd(_ token: NumberToken, after: (kind: UnitKind, end: Int)?, _ text: [UInt32]) -> (Double, Int) {
        var value = token.value
        var end = after?.end ?? token.end
        if after?.kind == .degree, end < text.count, let d = digit(text[end]), !(end + 1 < text.count && digit(text[end + 1]) != nil), !token.decimal {
            value += Double(d) / 10
            end += 1
        } else if after?.kind == .degree, end < text.count, text[end] == duo {
            value += 0.5
            end += 1
        }
        return (value, end)
    }

    /// The measurement a number is labelled as: the nearest value word before it in its clause,
    /// or one just after it ("3.1 on the meter").
    func label(for token: NumberToken, clause: Int32, in reading: Reading) -> ValueKind? {
        // The nearest label before the number in its sentence (within 12 characters, 30 for
        // English words); a generic "测了" / "reading" only when no specific label is near.
        var best: (kind: ValueKind, distance: Int)?
        var generic: ValueKind?
        let sentence = reading.sentence(ofClause: clause)
        for label in reading.labels where label.end <= token.start && reading.sentence(ofClause: reading.clause(label.start)) == sentence {
            let distance = token.start - label.end
            let ascii = reading.text[label.end - 1] < 0x80
            guard distance <= (ascii ? 30 : 12) else { continue }
            if label.kind.priority == 0 { generic = generic ?? label.kind; continue }
            if best == nil || distance < best!.distance || (distance == best!.distance && label.kind.priority > best!.kind.priority) { best = (label.kind, distance) }
        }
        if let best { return best.kind }
        if let generic { return generic }
        for label in reading.labels where label.start >= token.end && label.start - token.end <= 16 && reading.clause(label.start) == clause {
            if label.kind == .other { continue }
            // "39.9 刚测的": a decimal followed by a measuring word is a reading; a whole number
            // ("3 测了") more likely counts something.
            if label.kind == .measure && !token.decimal { continue }
            return label.kind
        }
        return nil
    }

    /// The value concepts of the readings: blood pressure from the last reading, each other value
    /// graded against the thresholds, HbA1c, and a check-in log of normal readings.
    func emit(_ readings: [ValueReading], _ reading: inout Reading, pregnant: Bool) {
        func add(_ concept: ValueConcept, _ value: ValueReading) {
            reading.occurrences.append(Occurrence(concept: Int32(concept.rawValue), start: Int32(value.start), end: Int32(value.end), clause: value.clause, state: value.state))
        }
        if let (bp, systolic, diastolic) = Self.lastBloodPressure(readings) {
            for concept in bloodPressureConcepts(systolic: systolic, diastolic: diastolic) { add(concept, bp) }
        }
        var hba1c: ValueReading?
        for value in readings {
            if value.kind == .hba1c {
                if (3...20).contains(value.value) { hba1c = value }
                continue
            }
            for concept in grade(value, pregnant: pregnant) { add(concept, value) }
        }
        if let hba1c {
            if hba1c.value >= 7.5 { add(.labAbnormal, hba1c) } else { add(.labNormal, hba1c); add(.normal, hba1c) }
        }
        // Two or more normal readings and nothing else: a check-in log ("空腹5.3 午餐后7.8").
        let normal = ValueConcept.normal.rawValue
        let normals = reading.occurrences.filter { Int($0.concept) == normal }
        if normals.count >= 2, let first = normals.first {
            let start = normals.map(\.start).min()!, end = normals.map(\.end).max()!
            reading.occurrences.append(Occurrence(concept: Int32(ValueConcept.normalLog.rawValue), start: start, end: max(start, end), clause: first.clause, state: first.state))
        }
    }

    /// Blood pressure: the last reading counts ("180/100, rested, 148/90"); a lone diastolic
    /// ("低压110") has systolic 0.
    static func lastBloodPressure(_ readings: [ValueReading]) -> (reading: ValueReading, systolic: Double, diastolic: Double)? {
        var lastSystolic: ValueReading?
        var lastDiastolic: Double?
        for value in readings where value.kind == .pressure || value.kind == .systolic || value.kind == .diastolic {
            switch value.kind {
            case .pressure:
                lastSystolic = value
                lastDiastolic = value.second
            case .systolic:
                // A lone small number after readings ("… 160/97 the last 3 mornings") is no pressure.
                guard value.value >= 40 else { continue }
                lastSystolic = value
            default:
                lastDiastolic = value.value
                if lastSystolic == nil { lastSystolic = ValueReading(kind: .diastolic, value: 0, unit: nil, start: value.start, end: value.end, clause: value.clause, state: value.state) }
            }
        }
        guard var bp = lastSystolic else { return nil }
        let systolic = bp.kind == .diastolic ? 0 : bp.value
        if bp.kind == .diastolic { bp.value = 0 }
        return (bp, systolic, lastDiastolic ?? 0)
    }

    func bloodPressureConcepts(systolic: Double, diastolic: Double) -> [ValueConcept] {
        let t = thresholds
        if diastolic == 0 && systolic > 0 && systolic < 40 { return [] }   // no pressure
        if systolic >= t.systolicSevere || diastolic >= t.diastolicSevere { return [.bpSevere] }
        if systolic >= t.systolic && diastolic >= t.diastolic { return [.bpHigh] }
        if systolic >= t.systolic || diastolic >= t.diastolic { return [.bpStage2] }
        if systolic >= 140 || diastolic >= 90 { return [.bpRaised] }
        if systolic > 0 && systolic < t.systolicVeryLow { return [.bpVeryLow] }
        if systolic > 0 && systolic < t.systolicLow { return [.bpLow] }
        if systolic > 0 || diastolic > 0 { return [.bpNormal, .normal] }
        return []
    }

    /// One reading (other than blood pressure and HbA1c) graded against the thresholds; nothing
    /// for a value out of the plausible range.
    func grade(_ value: ValueReading, pregnant: Bool) -> [ValueConcept] {
        let t = thresholds
        let v = value.value
        switch value.kind {
        case .meter:
            return [v > 0 ? .meterHi : .meterLo]
        case .glucose, .fasting:
            return gradeGlucose(value, pregnant: pregnant)
        case .temperature:
            var celsius = v
            if value.unit == .fahrenheit || (value.unit != .celsius && (93...112).contains(v)) { celsius = (v - 32) * 5 / 9 }
            guard (30...44).contains(celsius) else { return [] }
            if celsius >= t.temperatureHigh { return [.tempHigh] }
            if celsius < t.temperatureLow { return [.tempLow] }
            if celsius >= t.temperature { return [.fever] }
            if celsius >= 37.3 { return [.tempRaised] }
            return [.tempNormal, .normal]
        case .oxygen:
            guard (50...100).contains(v) else { return [] }
            if v < t.oxygenSaturation { return [.spo2Low] }
            if v < 95 { return [.spo2Borderline] }
            return [.spo2Normal, .normal]
        case .heartRate:
            guard (20...260).contains(v) else { return [] }
            if v > t.heartRateHigh { return [.hrHigh] }
            if v < t.heartRateLow { return [.hrLow] }
            if v >= 100 { return [.hrRaised] }
            return [.hrNormal, .normal]
        case .fetalHeart:
            guard (40...260).contains(v) else { return [] }
            return v < t.fetalHeartLow || v > t.fetalHeartHigh ? [.fhrAbnormal] : [.fhrNormal, .normal]
        case .respiration:
            guard (5...80).contains(v) else { return [] }
            return v >= t.respiratoryRate ? [.rrHigh] : []
        case .platelets:
            return v < 20 ? [.plateletsCritical] : v < 100 ? [.plateletsLow] : [.labNormal]
        case .whiteCells:
            guard v < 100 else { return [] }
            return v < 2 ? [.neutropenia] : v < 4 ? [.wbcLow] : [.labNormal]
        case .neutrophils:
            guard v < 50 else { return [] }
            return v < 1 ? [.neutropenia] : v < 1.5 ? [.wbcLow] : [.labNormal]
        case .hemoglobin:
            return (v > 25 ? v < 100 : v < 10) ? [.labAbnormal] : [.labNormal]
        case .inr:
            return v > 3.5 ? [.labAbnormal] : [.labNormal]
        case .ketones:
            return v >= 1.5 ? [.ketonesHigh] : v >= 0.6 ? [.ketonesRaised] : [.labNormal]
        case .uricAcid:
            return v > 420 ? [.labAbnormal] : [.labNormal]
        default:
            return []
        }
    }

    /// Glucose in mmol/L, or in mg/dL when so written or above 35; in pregnancy the lower targets.
    func gradeGlucose(_ value: ValueReading, pregnant: Bool) -> [ValueConcept] {
        let t = thresholds
        let v = value.value
        let mg = value.unit == .mgdl || (value.unit == nil && v > 35)
        if mg {
            guard (15...1000).contains(v) else { return [] }
            let low = (t.glucoseLow * 18 + 1e-9).rounded(.down), high = (t.glucoseHigh * 18 + 1e-9).rounded(.down)
            if v < low { return [.glucoseLow] }
            if v >= high { return [.glucoseHigh] }
            if v >= 180 { return [.glucoseRaised] }
            if v < 80 { return [.glucoseLowish] }
            return [.glucoseNormal, .normal]
        }
        guard (0.5...40).contains(v) else { return [] }
        if v < t.glucoseLow { return [.glucoseLow] }
        if v >= t.glucoseHigh { return [.glucoseHigh] }
        if v >= 10 || (value.kind == .fasting && v >= 7) || (pregnant && (v > 7.8 || (value.kind == .fasting && v > 5.3))) { return [.glucoseRaised] }
        if v < 4.4 { return [.glucoseLowish] }
        return [.glucoseNormal, .normal]
    }

    /// "2 for £1", "3 for $10": a number before "for" and a price is an offer, no measurement.
    static func isDeal(_ text: [UInt32], after end: Int) -> Bool {
        var index = end
        while index < text.count, isSpace(text[index]), index - end < 2 { index += 1 }
        guard index + 3 < text.count, text[index] == 0x66, text[index + 1] == 0x6F, text[index + 2] == 0x72, isSpace(text[index + 3]) else { return false }
        index += 3
        let afterFor = index
        while index < text.count, isSpace(text[index]), index - afterFor < 2 { index += 1 }
        return index < text.count && [0xA3, 0x24, 0xA5, 0xFFE5, 0x20AC].contains(text[index])
    }

    /// The reason a value gives, named as before the taxonomy: `value.glucose`, `value.temperature` …
    static let valueReasonNames: [String: String] = [
        "value.glucose_low": "value.glucose", "value.glucose_high": "value.glucose", "value.meter_hi": "value.glucose_meter_code",
        "value.meter_lo": "value.glucose_meter_code", "value.temp_high": "value.temperature", "value.temp_low": "value.temperature",
        "value.fever": "value.temperature", "value.spo2_low": "value.oxygen_saturation", "value.hr_high": "value.heart_rate",
        "value.hr_low": "value.heart_rate", "value.bp_severe": "value.blood_pressure", "value.bp_high": "value.blood_pressure",
        "value.bp_stage2": "value.blood_pressure", "value.bp_very_low": "value.blood_pressure", "value.bp_low": "value.blood_pressure",
        "value.fhr_abnormal": "value.fetal_heart", "value.rr_high": "value.respiratory_rate", "value.platelets_critical": "value.platelets",
        "value.neutropenia": "value.white_cells", "value.ketones_high": "value.ketones",
        "value.glucose_raised": "value.glucose", "value.bp_raised": "value.blood_pressure", "value.temp_raised": "value.temperature",
        "value.hr_raised": "value.heart_rate", "value.spo2_borderline": "value.oxygen_saturation",
    ]
    /// By value concept index.
    static let valueReasons: [String?] = valueConcepts.map { valueReasonNames[$0] }

    // MARK: Personal data

    @inline(__always) static func isWordish(_ value: UInt32) -> Bool { isLetter(value) || isDigit(value) || value == 0x5F }

    /// Top-level domains that make a dotted word a web address; `pathOnly` ones only with a path
    /// after them ("wa.me/44…", "t.co/x").
    static let domains: Set<String> = ["com", "cn", "net", "org", "info", "shop", "xyz", "top", "vip", "io", "ly", "store", "site", "online", "link", "club", "biz", "cc", "tv", "live", "uk", "hk", "tk", "icu", "buzz", "fun", "life", "health", "care", "pro", "ink", "work", "tw", "ru"]
    static let pathOnlyDomains: Set<String> = ["me", "co", "app", "gl", "gd", "ws", "to", "in", "us", "de", "la"]

    /// Web addresses: `name.tld` (and `name.tld/path`), `http(s)://…`, `www.…` — not e-mail
    /// addresses, decimals or abbreviations.
    static func webAddresses(_ text: [UInt32]) -> [Range<Int>] {
        var found: [Range<Int>] = []
        let count = text.count
        var index = 0
        @inline(__always) func hostChar(_ value: UInt32) -> Bool { isAlnum(value) || value == 0x2D || value == 0x5F }
        while index < count {
            guard text[index] == 0x2E, index > 0, index + 1 < count, isAlnum(text[index - 1]), isLetter(text[index + 1]) else { index += 1; continue }
            var start = index
            while start > 0, hostChar(text[start - 1]) || (text[start - 1] == 0x2E && start > 1 && hostChar(text[start - 2])) { start -= 1 }
            // "://" before the host: take the scheme too.
            if start >= 3, text[start - 1] == 0x2F, text[start - 2] == 0x2F, text[start - 3] == 0x3A {
                var scheme = start - 3
                while scheme > 0, isLetter(text[scheme - 1]) { scheme -= 1 }
                start = scheme
            }
            if start > 0, text[start - 1] == 0x40 { index += 1; continue }   // an e-mail's domain
            var end = index + 1
            while end < count, hostChar(text[end]) || (text[end] == 0x2E && end + 1 < count && hostChar(text[end + 1])) { end += 1 }
            // The host's last label.
            var labelStart = end
            while labelStart > index + 1, text[labelStart - 1] != 0x2E { labelStart -= 1 }
            let tld = String(String.UnicodeScalarView(text[labelStart..<end].compactMap(Unicode.Scalar.init)))
            let hasPath = end < count && text[end] == 0x2F
            let hostStart = start
            var firstLabelEnd = hostStart
            while firstLabelEnd < index, text[firstLabelEnd] != 0x2E { firstLabelEnd += 1 }
            let first = text[hostStart..<firstLabelEnd]
            let scheme = first.count >= 4 && text[hostStart..<min(count, hostStart + 4)].elementsEqual([0x68, 0x74, 0x74, 0x70])
            let www = first.elementsEqual([0x77, 0x77, 0x77])
            let plausible = (domains.contains(tld) && (first.count >= 3 || hasPath)) || (pathOnlyDomains.contains(tld) && hasPath) || scheme || www
            if plausible, !text[hostStart..<end].contains(0x40) {
                if hasPath { while end < count, !isSpace(text[end]), text[end] < 0x3000 || text[end] > 0x9FFF, text[end] != 0xFF0C, text[end] != 0x3002 { end += 1 } }
                found.append(start..<end)
            }
            index = end
        }
        return found
    }

    /// Addresses spelt out to slip past filters: "h t t p s : / / jiangya . top", "b i t . l y / x".
    /// A space goes when it stands between two single characters of an address, or beside a
    /// dot that stands alone (" . "); what is left is read as `webAddresses` reads it, and only an
    /// address that lost a space counts (an ordinary one is found already). A sentence's full stop
    /// has no space before it, so "fine. top marks" stays apart.
    static func spacedWebAddresses(_ text: [UInt32]) -> [Range<Int>] {
        guard text.contains(0x20) else { return [] }
        @inline(__always) func addressChar(_ value: UInt32) -> Bool { isAlnum(value) || value == 0x2E || value == 0x3A || value == 0x2F }
        let count = text.count
        var compact: [UInt32] = [], origin: [Int] = []
        compact.reserveCapacity(count)
        origin.reserveCapacity(count)
        var removed = false
        var index = 0
        while index < count {
            if text[index] == 0x20, index > 0, index + 1 < count, addressChar(text[index - 1]), addressChar(text[index + 1]) {
                var leftStart = index - 1
                while leftStart > 0, text[leftStart - 1] != 0x20 { leftStart -= 1 }
                var rightEnd = index + 1
                while rightEnd < count, text[rightEnd] != 0x20 { rightEnd += 1 }
                let left = text[leftStart..<index], right = text[(index + 1)..<rightEnd]
                let allAddress = left.allSatisfy(addressChar) && right.allSatisfy(addressChar)
                let spelt = left.count == 1 && right.count == 1
                let loneDot = left.elementsEqual([0x2E]) || right.elementsEqual([0x2E])
                if allAddress, spelt || loneDot {
                    removed = true
                    index += 1
                    continue
                }
            }
            compact.append(text[index])
            origin.append(index)
            index += 1
        }
        guard removed else { return [] }
        return webAddresses(compact).compactMap { link in
            guard let first = link.first, let last = link.last.map({ origin[$0] }) else { return nil }
            let span = origin[first]..<(last + 1)
            return span.count > link.count ? span : nil
        }
    }

    static let streetWords: Set<String> = ["road", "rd", "street", "st", "avenue", "ave", "lane", "ln", "drive", "dr", "close", "crescent", "way", "place", "court", "terrace", "grove", "gardens", "boulevard", "blvd", "parade", "highway"]

    /// A UK postcode standing alone: one or two letters, one or two digits (and a letter), a
    /// space, a digit and two letters ("ls6 2ab", "sw1a 1aa").
    static func ukPostcode(_ text: [UInt32]) -> Range<Int>? {
        var start = 0
        while start < text.count {
            if start > 0 && isWordish(text[start - 1]) { start += 1; continue }
            var index = start
            var letters = 0
            while index < text.count, isLetter(text[index]), letters < 3 { index += 1; letters += 1 }
            guard (1...2).contains(letters) else { start += 1; continue }
            var digits = 0
            while index < text.count, isDigit(text[index]), digits < 3 { index += 1; digits += 1 }
            guard (1...2).contains(digits) else { start += 1; continue }
            if index < text.count, isLetter(text[index]) { index += 1 }
            guard index + 3 < text.count, text[index] == 0x20, isDigit(text[index + 1]), isLetter(text[index + 2]), isLetter(text[index + 3]),
                  index + 4 >= text.count || !isWordish(text[index + 4]) else { start += 1; continue }
            return start..<(index + 4)
        }
        return nil
    }

    /// Phone, ID, card and account numbers standing in the text: 9 or more digits in groups
    /// (`139 1234 5678`, `+44 7412 556 901`, `123-45-6789`), 18-digit ID numbers, numbers spelled
    /// out in Chinese (一三八…), a letter and 8 digits (passports), and shorter numbers right
    /// after a word that names them (账号, account, QQ).
    func personalData(_ reading: inout Reading) -> [(reason: TriageReason, span: Range<Int>)] {
        let text = reading.text
        let count = text.count
        var reasons = numberRuns(&reading)
        emailsAndHandles(text, into: &reasons)
        labelledAccounts(reading, into: &reasons)
        latinAccounts(text, into: &reasons)
        // Account names and handles are personal data the rules can combine with an offer.
        for (reason, span) in reasons where reason.rule.hasPrefix("contact.") || reason.rule == "pii.email" {
            reading.occurrences.append(Occurrence(concept: Int32(special.personalData), start: Int32(span.lowerBound), end: Int32(span.upperBound), clause: max(0, reading.clause(span.lowerBound))))
        }
        streetAddresses(text, into: &reasons)
        if let postcode = Self.ukPostcode(text) {
            reasons.append((TriageReason(rule: "pii.address", match: Self.string(text[postcode])), postcode))
        }
        // Numbers spelled out digit by digit: 一三八零零一三八零零零.
        for token in reading.numbers where token.digitString && token.start < count && !Self.isDigit(text[token.start]) {
            reasons.append((TriageReason(rule: "pii.mobile", match: Self.string(text[token.start..<token.end])), token.start..<token.end))
            reading.occurrences.append(Occurrence(concept: Int32(special.personalData), start: Int32(token.start), end: Int32(token.end), clause: max(0, reading.clause(token.start))))
        }
        return reasons
    }

    /// Runs of digits that are personal data: phone numbers, ID numbers, long account or card
    /// numbers, and dates or shorter numbers right after a word that names personal data.
    func numberRuns(_ reading: inout Reading) -> [(reason: TriageReason, span: Range<Int>)] {
        let text = reading.text
        let count = text.count
        var reasons: [(reason: TriageReason, span: Range<Int>)] = []
        var index = 0
        let labelConcept = piiLabelConcept
        while index < count {
            guard Self.isDigit(text[index]) || ((text[index] == 0x2B || text[index] == 0x28) && index + 1 < count && Self.isDigit(text[index + 1])) else { index += 1; continue }
            let start = index
            if text[index] == 0x2B || text[index] == 0x28 { index += 1 }
            var slashes = 0
            var digits = 0
            var end = index
            var groups = 0
            while index < count {
                if Self.isDigit(text[index]) {
                    digits += 1
                    index += 1
                    end = index
                    continue
                }
                // One space, hyphen or bracket between digit groups: "(020) 1234 5678", "139-1234-5678";
                // a slash or dot only as in dates of birth ("12/03/1961"), counted apart.
                if (text[index] == 0x20 || text[index] == 0x2D), index + 1 < count, Self.isDigit(text[index + 1]), digits > 0 {
                    groups += 1
                    index += 1
                    continue
                }
                if text[index] == 0x29, index + 2 < count, text[index + 1] == 0x20 || text[index + 1] == 0x2D, Self.isDigit(text[index + 2]), digits > 0 {
                    groups += 1
                    index += 2
                    continue
                }
                if text[index] == 0x2F, index + 1 < count, Self.isDigit(text[index + 1]), digits > 0, digits <= 4 {
                    slashes += 1
                    index += 1
                    continue
                }
                break
            }
            let run = text[start..<end]
            // A date after a word that names personal data ("DOB 12/03/1961", "出生日期1961-03-12").
            if slashes >= 1 || (groups >= 2 && digits == 8) {
                if let labelConcept, digits >= 6,
                   reading.occurrences.contains(where: { $0.concept == labelConcept && $0.present && Int($0.end) <= start && start - Int($0.end) <= 20 }) {
                    reasons.append((TriageReason(rule: "pii.number", match: Self.string(run)), start..<end))
                }
                index = max(index, end)
                continue
            }
            let decimalNext = end < count && (text[end] == 0x2E || text[end] == Self.dian) && end + 1 < count && Self.isDigit(text[end + 1])
            let decimalBefore = start > 0 && (text[start - 1] == 0x2E || text[start - 1] == Self.dian)
            let letterBefore = start > 0 && Self.isLetter(text[start - 1])
            let isDate = run.count >= 8 && (run.starts(with: [0x32, 0x30]) || run.starts(with: [0x31, 0x39])) && run.count > 4 && run[start + 4] == 0x2D
            if !decimalNext && !decimalBefore && !isDate {
                let plain = run.filter(Self.isDigit)
                var rule: String?
                if digits == 17, end < count, text[end] == 0x78, groups == 0 { rule = "pii.id_number"; end += 1 }
                else if digits == 18, groups == 0, run.first != 0x30 { rule = "pii.id_number" }
                else if digits == 11, plain.first == 0x31, (0x33...0x39).contains(plain[plain.startIndex + 1]) { rule = "pii.mobile" }
                else if digits >= 9 && !(letterBefore && digits < 8) { rule = "pii.number" }
                else if letterBefore && digits >= 8 { rule = "pii.number" }
                else if digits >= 6, let labelConcept,
                        reading.occurrences.contains(where: { $0.concept == labelConcept && $0.present && Int($0.end) <= start && start - Int($0.end) <= 20 }) {
                    rule = "pii.number"
                }
                if let rule {
                    reasons.append((TriageReason(rule: rule, match: Self.string(text[start..<end])), start..<end))
                    let clause = reading.clause(start)
                    reading.occurrences.append(Occurrence(concept: Int32(special.personalData), start: Int32(start), end: Int32(end), clause: max(0, clause)))
                }
            }
            index = max(index, end)
            if index == start { index += 1 }
        }
        return reasons
    }

    /// E-mail addresses and "@handles".
    func emailsAndHandles(_ text: [UInt32], into reasons: inout [(reason: TriageReason, span: Range<Int>)]) {
        let count = text.count
        var position = 0
        while position < count {
            guard text[position] == 0x40 else { position += 1; continue }
            var left = position
            while left > 0, Self.isWordish(text[left - 1]) { left -= 1 }
            var right = position + 1
            while right < count, Self.isWordish(text[right]) || (text[right] == 0x2E && right + 1 < count && Self.isWordish(text[right + 1])) { right += 1 }
            let domain = text[(position + 1)..<right]
            if position - left >= 1, domain.contains(0x2E) {
                reasons.append((TriageReason(rule: "pii.email", match: Self.string(text[left..<right])), left..<right))
            } else if position - left == 0, right - position > 3 {
                reasons.append((TriageReason(rule: "contact.handle", match: Self.string(text[position..<right])), position..<right))
            }
            position = max(right, position + 1)
        }
    }

    /// Account names after a word that names them ("vx: tang2024", "WeChat hipcure888", "微信是 abc123").
    func labelledAccounts(_ reading: Reading, into reasons: inout [(reason: TriageReason, span: Range<Int>)]) {
        let text = reading.text
        let count = text.count
        if let labelConcept = contactLabelConcept {
            for occurrence in reading.occurrences where occurrence.concept == labelConcept && occurrence.present {
                var start = Int(occurrence.end)
                // "微信: abc123", "微信是 abc123", "微信号是abc", "wechat is abc123", "vx：abc".
                while start < count {
                    let value = text[start]
                    if value == 0x20 || value == 0x3A || value == 0xFF1A || value == 0x2D || value == 0x662F || value == 0x53F7 { start += 1; continue }
                    if value == 0x69, start + 2 < count, text[start + 1] == 0x73, text[start + 2] == 0x20 { start += 3; continue }   // "is "
                    break
                }
                var end = start
                while end < count, Self.isWordish(text[end]) { end += 1 }
                let token = text[start..<end]
                if token.count >= 5, token.contains(where: Self.isLetter), token.contains(where: Self.isDigit) || token.count >= 6,
                   !reasons.contains(where: { $0.span.overlaps(start..<end) }) {
                    reasons.append((TriageReason(rule: "contact.account", match: Self.string(token)), start..<end))
                }
            }
        }
    }

    /// In Chinese text, a Latin word with three letters and three digits (or an underscore) is
    /// an account name: "tangyou668", "sugar_free_life" (drug and test names are shorter: PD-1, HbA1c, CA125).
    func latinAccounts(_ text: [UInt32], into reasons: inout [(reason: TriageReason, span: Range<Int>)]) {
        let count = text.count
        if text.contains(where: { $0 >= 0x4E00 && $0 <= 0x9FFF }) {
            var start = 0
            while start < count {
                guard Self.isWordish(text[start]), start == 0 || !(Self.isWordish(text[start - 1]) || text[start - 1] == 0x2E || text[start - 1] == 0x40 || text[start - 1] == 0x2D) else { start += 1; continue }
                var end = start
                var letters = 0, digits = 0, underscore = false
                while end < count, Self.isWordish(text[end]) {
                    if Self.isLetter(text[end]) { letters += 1 } else if Self.isDigit(text[end]) { digits += 1 } else { underscore = true }
                    end += 1
                }
                let joined = end < count && (text[end] == 0x2E || text[end] == 0x40 || text[end] == 0x2D)
                if !joined, (letters >= 3 && digits >= 3) || (underscore && letters >= 3 && end - start >= 6),
                   !reasons.contains(where: { $0.span.overlaps(start..<end) }) {
                    reasons.append((TriageReason(rule: "contact.account", match: Self.string(text[start..<end])), start..<end))
                }
                start = max(end, start + 1)
            }
        }
    }

    /// Street addresses: "14 Oak Road", "221b Baker Street".
    func streetAddresses(_ text: [UInt32], into reasons: inout [(reason: TriageReason, span: Range<Int>)]) {
        let count = text.count
        var word = 0
        while word < count {
            guard Self.isDigit(text[word]), word == 0 || !Self.isWordish(text[word - 1]) else { word += 1; continue }
            var cursor = word
            while cursor < count, Self.isDigit(text[cursor]) { cursor += 1 }
            if cursor < count, Self.isLetter(text[cursor]), cursor + 1 < count, !Self.isLetter(text[cursor + 1]) { cursor += 1 }
            let numberEnd = cursor
            var words = 0
            var found = false
            while words < 3, cursor < count, text[cursor] == 0x20 {
                var next = cursor + 1
                let wordStart = next
                while next < count, Self.isLetter(text[next]) { next += 1 }
                guard next > wordStart else { break }
                words += 1
                if Self.streetWords.contains(String(String.UnicodeScalarView(text[wordStart..<next].compactMap(Unicode.Scalar.init)))) , words >= 2 {
                    reasons.append((TriageReason(rule: "pii.address", match: Self.string(text[word..<next])), word..<next))
                    found = true
                    break
                }
                cursor = next
            }
            word = found ? cursor + 1 : max(numberEnd, word + 1)
        }
    }
}
