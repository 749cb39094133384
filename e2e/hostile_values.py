"""Hostile values, by kind of scalar, for the sweep in hostile_probes.py.

Each entry is (label, value, must_reject). must_reject=True: the value is outside any sane
bound (issue 11: years 1900–2200, finite numbers in the field's range, bounded strings, lists
and nesting) and anything but a 4xx naming the field is a finding. must_reject=False: the
value may be accepted or refused, but never with a 5xx, a crash or a hang.
"""
from hostile_lib import Raw

REJECT, ANY = True, False

KB100 = "x" * 100_000


def strings():
    return [
        ("empty string", "", ANY),
        ("only spaces", "   ", ANY),
        ("100 kB string", KB100, REJECT),
        ("40,000 CJK characters (120 kB)", "中" * 40_000, REJECT),
        ("NUL inside", "a\u0000b", ANY),
        ("control characters", "\u0001\u0007\u001b[31m\u007f", ANY),
        ("CR LF header injection", "a\r\nX-Injected: 1", ANY),
        ("RTL override marks", "\u202eabc\u202c\u200f", ANY),
        ("zero-width space and BOM", "\u200b\ufeff", ANY),
        ("lone UTF-16 surrogate (\\ud800)", Raw(b'"\\ud800"'), ANY),
        ("invalid UTF-8 bytes", Raw(b'"\xff\xfe\xc0\x80"'), REJECT),
        ("1,000 emoji", "\U0001F600" * 1000, ANY),
        ("template syntax", "{{patient.name}}{{#x}}{{", ANY),
        ("HTML", "<script>alert(1)</script>", ANY),
        ("number instead of a string", 12345, REJECT),
        ("1e308 instead of a string", 1e308, REJECT),
        ("true instead of a string", True, REJECT),
        ("array instead of a string", ["a"], REJECT),
        ("object instead of a string", {"a": "b"}, REJECT),
    ]


def enum_values(base):
    base = base if isinstance(base, str) else "x"
    return [
        ("a value not in the enum", "zzz-not-a-value", REJECT),
        ("an enum value with a NUL", base + "\u0000", REJECT),
        ("an enum value upper-cased", base.upper(), ANY),
        ("empty string", "", REJECT),
        ("100 kB string", KB100, REJECT),
        ("number instead", 7, REJECT),
        ("array instead", [base], REJECT),
    ]


def dates():
    return [
        ("year 0", "0000-01-01", REJECT),
        ("year 1", "0001-01-01", REJECT),
        ("year 1899", "1899-12-31", REJECT),
        ("year 2201", "2201-01-01", REJECT),
        ("year 9999", "9999-12-31", REJECT),
        ("year 99999", "99999-01-01", REJECT),
        ("year 9999999999", "9999999999-01-01", REJECT),
        ("year 99999999999", "99999999999-01-01", REJECT),
        ("negative year", "-2026-12-03", REJECT),
        ("negative year (6 digits)", "-000001-01-01", REJECT),
        ("+ sign", "+2026-12-03", REJECT),
        ("February 30", "2026-02-30", REJECT),
        ("month 13", "2026-13-01", REJECT),
        ("day 0", "2026-12-00", REJECT),
        ("date-time instead of date", "2026-12-03T00:00:00Z", REJECT),
        ("no separators", "20261203", REJECT),
        ("full-width digits", "２０２６-１２-０３", REJECT),
        ("1900-01-01 (first allowed)", "1900-01-01", ANY),
        ("2200-12-31 (last allowed)", "2200-12-31", ANY),
        ("100 kB string", KB100, REJECT),
        ("number instead", 20261203, REJECT),
        ("1e308 instead", 1e308, REJECT),
        ("array instead", ["2026-12-03"], REJECT),
    ]


def instants():
    return [
        ("year 0", "0000-01-01T00:00:00Z", REJECT),
        ("year 1", "0001-01-01T00:00:00Z", REJECT),
        ("year 1899", "1899-12-31T23:59:59Z", REJECT),
        ("year 2201", "2201-01-01T00:00:00Z", REJECT),
        ("year 9999", "9999-12-31T23:59:59Z", REJECT),
        ("year 99999999999", "99999999999-01-01T00:00:00Z", REJECT),
        ("extended year +275760", "+275760-09-13T00:00:00Z", REJECT),
        ("negative year", "-000001-01-01T00:00:00Z", REJECT),
        ("hour 25, minute 61", "2026-12-01T25:61:61Z", REJECT),
        ("offset +25:00", "2026-12-01T08:00:00+25:00", REJECT),
        ("offset -23:59", "2026-12-01T08:00:00-23:59", ANY),
        ("no zone", "2026-12-01T08:00:00", REJECT),
        ("date only", "2026-12-01", REJECT),
        ("12 fractional digits", "2026-12-01T08:00:00.123456789012Z", ANY),
        ("epoch seconds as a number", 1796150000, REJECT),
        ("1e308", 1e308, REJECT),
        ("100 kB string", KB100, REJECT),
    ]


def integers():
    return [
        ("0", 0, ANY),
        ("-1", -1, REJECT),
        ("2^31", 2 ** 31, ANY),
        ("2^63", 2 ** 63, REJECT),
        ("-2^63 - 1", -(2 ** 63) - 1, REJECT),
        ("10^30", 10 ** 30, REJECT),
        ("1e308", 1e308, REJECT),
        ("-1e308", -1e308, REJECT),
        ("1.5", 1.5, REJECT),
        ("1e400 (beyond a double)", Raw(b"1e400"), REJECT),
        ("NaN token", Raw(b"NaN"), REJECT),
        ("Infinity token", Raw(b"Infinity"), REJECT),
        ("string \"5\"", "5", REJECT),
        ("true", True, REJECT),
    ]


def numbers():
    return [
        ("0", 0, ANY),
        ("-0.0", -0.0, ANY),
        ("5e-324 (smallest double)", 5e-324, ANY),
        ("1e308", 1e308, REJECT),
        ("-1e308", -1e308, REJECT),
        ("1e400 (beyond a double)", Raw(b"1e400"), REJECT),
        ("10^400 as an integer literal", Raw(b"1" + b"0" * 400), REJECT),
        ("NaN token", Raw(b"NaN"), REJECT),
        ("-Infinity token", Raw(b"-Infinity"), REJECT),
        ("string \"38\"", "38", REJECT),
        ("true", True, REJECT),
    ]


def booleans():
    return [
        ("string \"true\"", "true", REJECT),
        ("1", 1, REJECT),
        ("string \"yes\"", "yes", REJECT),
    ]


def arrays(item):
    encoded = len(repr(item)) + 2
    huge = max(1000, min(100_000, 800_000 // max(encoded, 1)))
    return [
        ("empty list", [], ANY),
        (f"{huge:,} elements", [item] * huge, REJECT),
        ("1,000 copies of one element", [item] * 1000, ANY),
        ("list nested in the list", [[item]], REJECT),
        ("list of null", [None], REJECT),
        ("list holding a 100 kB string", [KB100], REJECT),
        ("object instead of a list", {"a": item}, REJECT),
        ("string instead of a list", "a", REJECT),
    ]


def objects(sample_value, closed=True):
    entry = len(repr(sample_value)) + 10
    wide = max(1000, min(100_000, 800_000 // entry))  # under the 1 MiB body limit, so the width is what is tested
    return [
        ("empty object", {}, ANY),
        (f"{wide:,} keys", {f"k{index:x}": sample_value for index in range(wide)}, REJECT if closed else ANY),
        ("a key of 100 kB", {KB100: sample_value}, REJECT if closed else ANY),
        ("array instead of an object", [sample_value], REJECT),
        ("string instead of an object", "a", REJECT),
    ]


def query_integer():
    return [
        ("0", "0", REJECT), ("-1", "-1", REJECT), ("1e308", "1e308", REJECT), ("NaN", "NaN", REJECT),
        ("99999999999999999999", "99999999999999999999", REJECT), ("1.5", "1.5", REJECT),
        ("0x10", "0x10", REJECT), ("' 5' (leading space)", "%205", ANY), ("empty", "", ANY),
        ("NUL", "%00", REJECT), ("invalid UTF-8", "%FF%FE", REJECT),
    ]


def query_boolean():
    return [("maybe", "maybe", REJECT), ("TRUE", "TRUE", ANY), ("1", "1", ANY), ("empty", "", ANY), ("NUL", "%00", REJECT)]


def query_enum():
    return [("not a value", "zzz-not-a-value", REJECT), ("empty", "", ANY), ("upper-case", "OPEN", ANY),
            ("NUL", "%00", REJECT), ("100 kB", "x" * 100_000, REJECT)]


def query_string(name):
    values = [
        ("empty", "", ANY), ("NUL", "%00", ANY), ("invalid UTF-8", "%FF%FE", ANY),
        ("RTL mark", "%E2%80%AE", ANY), ("SQL quote", "%27%20OR%20%271%27%3D%271", ANY),
        ("percent sign", "%25", ANY), ("wildcards", "%25_%2A", ANY),
        ("20 kB", "y" * 20_000, REJECT), ("100 kB", "x" * 100_000, REJECT),
    ]
    if "tags" in name:
        values += [
            ("10,000 tag terms", ",".join(f"k{index}%3Dv" for index in range(10_000)), REJECT),
            ("100 tag terms", ",".join(f"k{index}%3Dv" for index in range(100)), REJECT),
            ("65 tag terms (more than SQLite's 64 joins)", ",".join(f"k{index}%3Dv" for index in range(65)), ANY),
            ("only '='", "%3D", ANY), ("only commas", "%2C%2C%2C", ANY), ("key=*", "disease%3D%2A", ANY),
        ]
    return values


PATH_VALUES = [
    ("empty segment", "", ANY),
    ("2 kB id", "x" * 2000, ANY),
    ("100 kB id", "x" * 100_000, ANY),
    ("NUL", "%00", ANY),
    ("dot-dot", "..%2F..%2Fhealthz", ANY),
    ("encoded slash", "a%2Fb", ANY),
    ("invalid UTF-8", "%FF%FE", ANY),
    ("RTL mark", "%E2%80%AE", ANY),
    ("SQL quote", "%27%20OR%20%271%27%3D%271", ANY),
    ("Chinese", "%E6%82%A3%E8%80%85", ANY),
    ("*", "%2A", ANY),
]


def deep_array(depth):
    return ("[" * depth + "]" * depth).encode()


def deep_object(depth):
    return ('{"a":' * depth + "1" + "}" * depth).encode()


def billion_laughs():
    lines = ['lol0: &l0 "lol"']
    for level in range(1, 10):
        lines.append(f"lol{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    lines.append("pathway: *l9")
    return "\n".join(lines) + "\n"
