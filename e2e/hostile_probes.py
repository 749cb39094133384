"""The probes of the hostile-input suite: the reproductions of issue 11, the sweep of extreme
values over every operation of the served OpenAPI document, deep and wide bodies, cross-program
ids, outbound targets, redirects, undeclared methods and security headers.

Every request is followed by GET /healthz: a server that stops answering is a finding, and it
is started again so the suite goes on.
"""
import copy
import json
import random
import re
import time
import urllib.parse

import hostile_values as V
from hostile_lib import NOT_SET, Raw, Receiver, raw_exchange, request

SLOW_SECONDS = 10.0
# The HTTP layer (SwiftNIO's parser, as Hummingbird configures it) refuses a request head over
# 80 KiB with a bare 400 before Tend sees the request: no JSON body can name a field then.
HEAD_LIMIT = 80 * 1024
A, B, C = "gdm-camp", "lung-followup", "hostile-c"


def top_key(field):
    return re.split(r"[.\[]", field or "", maxsplit=1)[0]


def field_matches(got, expected):
    if not expected:
        return True
    if "|" in expected:
        return any(field_matches(got, option) for option in expected.split("|"))
    if not isinstance(got, str) or not got:
        return False
    return got == expected or top_key(got) == top_key(expected) or expected.startswith(got) or got.startswith(expected)


class Prober:
    def __init__(self, ctx):
        self.ctx = ctx
        self.rec = ctx.rec

    @property
    def server(self):
        return self.ctx.server

    def token(self, who):
        if who is None:
            return None
        return self.ctx.tokens.get(who, who)

    def send(self, endpoint, given, method, path, body=NOT_SET, *, who=NOT_SET, expect=V.ANY, field=None, kind="bounds",
             content_type=None, headers=None, cookies=None, timeout=30.0, server=None):
        server = server or self.server
        if who is NOT_SET:
            who = self.ctx.current_who
        response = request(server, method, path, body, token=self.token(who), headers=headers, cookies=cookies,
                           timeout=timeout, content_type=content_type)
        crashed = server.check()
        if crashed:
            self.rec.fail("crash", endpoint, given, crashed, "a 4xx, and the server still answering")
            self.ctx.after_restart()
            response.crashed = True
            return response
        response.crashed = False
        if response.status is None:
            if "timed out" in (response.error or ""):
                self.rec.fail("crash", endpoint, given, f"no answer within {timeout:.0f} s (the server still answers /healthz)",
                              "an answer within seconds")
            else:
                self.rec.fail("error-shape", endpoint, given, f"connection closed without an HTTP answer ({response.error})",
                              "a 4xx answer (e.g. 413, 414 or 431)")
            return response
        if response.elapsed > SLOW_SECONDS:
            self.rec.fail("crash", endpoint, given, f"answered {response.status} after {response.elapsed:.1f} s",
                          f"an answer within {SLOW_SECONDS:.0f} s (one request must not occupy the server)")
        if response.status >= 500:
            self.rec.fail("5xx", endpoint, given, response.describe(), "a 4xx naming the field" if field else "a 4xx")
            return response
        if isinstance(expect, (set, frozenset, tuple, list)):
            if response.status not in expect:
                self.rec.fail(kind, endpoint, given, response.describe(), f"status {' or '.join(map(str, sorted(expect)))}")
                return response
        elif expect is V.REJECT and response.status < 400:
            self.rec.fail(kind, endpoint, given, f"accepted: {response.describe()}", f"400 naming `{field or 'the field'}`")
            return response
        if 400 <= response.status < 500 and path.startswith("/api/"):
            if len(path) > HEAD_LIMIT and not response.body:
                self.rec.ok()
                return response
            # The field is only known to be at fault when the value is one that must be refused.
            self.check_error_body(endpoint, given, response, field if expect is V.REJECT else None)
            return response
        self.rec.ok()
        return response

    def check_error_body(self, endpoint, given, response, field):
        body = response.json()
        if not isinstance(body, dict) or not isinstance(body.get("error"), str) or not isinstance(body.get("message"), str):
            self.rec.fail("error-shape", endpoint, given, response.describe(), 'a JSON body {"error", "message", "field"}')
            return
        if field and response.status in (400, 422) and not field_matches(body.get("field"), field):
            self.rec.fail("error-shape", endpoint, given, f"{response.status} with field={body.get('field')!r} ({body.get('error')})",
                          f"field naming `{field}`")
            return
        self.rec.ok()


# --- the operations of the served document -------------------------------------------------

class Operation:
    def __init__(self, path, method, spec, document):
        self.path, self.method, self.spec, self.document = path, method.upper(), spec, document
        self.id = spec.get("operationId", f"{method} {path}")
        self.label = f"{self.method} {path}"
        self.path_params = [p["name"] for p in spec.get("parameters", []) if p.get("in") == "path"]
        self.query = [p for p in spec.get("parameters", []) if p.get("in") == "query"]
        content = (spec.get("requestBody") or {}).get("content") or {}
        self.content_types = list(content)
        self.json_body = "application/json" in content
        schema = (content.get("application/json") or next(iter(content.values()), {})).get("schema") or {}
        self.body_schema = resolve(document, schema)
        self.has_body = bool(content)
        self.body_required = bool((spec.get("requestBody") or {}).get("required", False))

    def url(self, values, query=None):
        path = self.path
        for name in self.path_params:
            path = path.replace("{" + name + "}", values[name])
        if query:
            path += "?" + "&".join(f"{k}={v}" for k, v in query)
        return path


def resolve(document, schema, depth=0):
    if depth > 8 or not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        target = document
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {})
        return resolve(document, target, depth + 1)
    return schema


def operations(document):
    result = []
    for path, methods in sorted(document.get("paths", {}).items()):
        for method, spec in methods.items():
            if method.lower() in ("get", "post", "put", "patch", "delete"):
                result.append(Operation(path, method, spec, document))
    return result


def schema_types(schema):
    kind = (schema or {}).get("type")
    if isinstance(kind, list):
        return set(kind)
    return {kind} if kind else set()


def property_schema(document, schema, key):
    schema = resolve(document, schema or {})
    if not isinstance(schema, dict):
        return {}
    if key in (schema.get("properties") or {}):
        return resolve(document, schema["properties"][key])
    extra = schema.get("additionalProperties")
    return resolve(document, extra) if isinstance(extra, dict) else {}


ENUM_NAMES = {"channel", "format", "level", "flag", "sex", "status", "locale", "role", "action", "outcome", "queue"}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T")


def kind_of(key, value, schema):
    types = schema_types(schema)
    if schema.get("format") == "date" or key in ("date", "birth_date") or (isinstance(value, str) and DATE_RE.match(value)):
        return "date"
    if schema.get("format") == "date-time" or key.endswith("_at") or (isinstance(value, str) and INSTANT_RE.match(value)):
        return "instant"
    if schema.get("enum") or (key in ENUM_NAMES and (value is None or isinstance(value, str))):
        return "enum"
    if isinstance(value, bool) or types == {"boolean"} or types == {"boolean", "null"}:
        return "boolean"
    if isinstance(value, int) or "integer" in types:
        return "integer"
    if isinstance(value, float) or "number" in types:
        return "number"
    if isinstance(value, list) or "array" in types:
        return "array"
    if isinstance(value, dict) or "object" in types:
        return "object"
    return "string"


def values_for(kind, base, schema=None):
    if kind == "date":
        return V.dates()
    if kind == "instant":
        return V.instants()
    if kind == "enum":
        return V.enum_values(base)
    if kind == "boolean":
        return V.booleans()
    if kind == "integer":
        return V.integers()
    if kind == "number":
        return V.numbers()
    if kind == "array":
        item = base[0] if isinstance(base, list) and base else "x"
        return V.arrays(item)
    if kind == "object":
        sample = next(iter(base.values())) if isinstance(base, dict) and base else "x"
        schema = schema or {}
        # A map (anchors, headers) or a closed object must bound its keys; an object with declared
        # properties that allows others may ignore unknown keys.
        closed = schema.get("additionalProperties") is False or not schema.get("properties")
        return V.objects(sample, closed=closed)
    return V.strings()


def body_nodes(document, body, schema, prefix="", depth=0):
    """(label, path, base value, schema) of every field of a base body, and of the document's
    fields the base leaves out."""
    schema = resolve(document, schema or {})
    nodes = []
    if not isinstance(body, dict):
        return nodes
    for key, value in body.items():
        sub = property_schema(document, schema, key)
        label = f"{prefix}.{key}" if prefix else key
        nodes.append((label, [key], value, sub))
        if depth < 3 and isinstance(value, dict):
            nodes += [(l, [key] + p, v, s) for l, p, v, s in body_nodes(document, value, sub, label, depth + 1)]
        if depth < 3 and isinstance(value, list) and value:
            items = resolve(document, sub.get("items") or {})
            if isinstance(value[0], dict):
                nodes += [(l, [key, 0] + p, v, s) for l, p, v, s in body_nodes(document, value[0], items, f"{label}[0]", depth + 1)]
            else:
                nodes.append((f"{label}[0]", [key, 0], value[0], items))
    for key, sub in ((schema.get("properties") or {}) if isinstance(schema, dict) else {}).items():
        if key not in body:
            label = f"{prefix}.{key}" if prefix else key
            nodes.append((label, [key], None, resolve(document, sub)))
    return nodes


def expected_field(label, value):
    """The field a refusal must name. Bytes that are not JSON at all (invalid UTF-8, a lone
    surrogate, NaN, nesting past any limit) break the document before any field is read, and a
    number beyond a double (1e400) is one RFC 8259 lets a parser refuse as a whole, so `body` is as
    good an answer there as the field."""
    if isinstance(value, Raw):
        return f"{label}|body"
    return label


def replaced(body, path, value):
    result = copy.deepcopy(body)
    target = result
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return result


def short(value, limit=60):
    if isinstance(value, Raw):
        return f"raw {value.data[:limit]!r}"
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} chars)"


# --- the context: ids of both programs ------------------------------------------------------

class Context:
    """Tokens, users and the ids of resources in program A (gdm-camp) and B (lung-followup)."""

    def __init__(self, binary, server, rec, tokens, receiver):
        self.binary, self.server, self.rec, self.tokens, self.receiver = binary, server, rec, tokens, receiver
        self.users = {}
        self.ids = {A: {}, B: {}, C: {}}
        self.counter = random.Random(11).randrange(10_000, 90_000)
        self.prober = Prober(self)
        self.current_who = "admin"
        self.huge_seen = set()
        self.section_prefix = ""

    def uniq(self, prefix="h"):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def phone(self):
        self.counter += 1
        return f"135{self.counter:08d}"

    def after_restart(self):
        pass

    def api(self, method, path, body=NOT_SET, who="admin", expect=(200, 201, 204)):
        response = request(self.server, method, path, body, token=self.tokens.get(who, who))
        if response.status not in expect:
            self.revive(f"{method} {path}", "a valid request the suite needs")
            raise RuntimeError(f"setup: {method} {path} answered {response.describe()}")
        return response.json()

    def revive(self, endpoint, given):
        """After a request outside Prober.send went unanswered: a hung or dead server is a
        finding, and it is started again so the next section has one."""
        crashed = self.server.check()
        if crashed:
            self.rec.fail("crash", endpoint, given, crashed, "an answer, and the server still answering")
            self.after_restart()
        return crashed

    def patient(self, program, tags=("hostile=sweep",), channels=("in_app",), who="admin"):
        body = {"name": f"敌意测试 {self.uniq('P')}", "phone": self.phone(), "external_id": self.uniq("HX-"),
                "tags": list(tags), "channels": list(channels), "time_zone": "Asia/Shanghai"}
        return self.api("POST", f"/api/v1/programs/{program}/patients", body, who=who)

    def task(self, program, patient):
        message = self.api("POST", f"/api/v1/programs/{program}/inbound",
                           {"channel": "in_app", "patient_id": patient, "text": "刚测血糖2.7，手抖心慌出冷汗"})["message"]
        if message.get("task_id"):
            return message["task_id"]
        tasks = self.api("GET", f"/api/v1/programs/{program}/tasks")["items"]
        return tasks[0]["id"]

    def prepare(self, minimal=False):
        for who in self.tokens:
            me = self.api("GET", "/api/v1/me", who=who)
            self.users[who] = me["user"]["id"]
        if minimal:
            return
        for program in (A, B):
            ids = self.ids[program]
            pathways = [p["pathway"] for p in self.api("GET", f"/api/v1/programs/{program}/pathways")["items"]]
            ids["pathways"] = pathways
            ids["pathway"] = "s1-revisit" if "s1-revisit" in pathways else pathways[0]
            patient = self.patient(program)
            ids["patient"] = patient["id"]
            ids["phone"] = patient["phone"]
            ids["patch_patient"] = self.patient(program)["id"]
            ids["spare_patient"] = self.patient(program)["id"]
            enrolled = self.api("POST", f"/api/v1/programs/{program}/enrolments",
                                {"pathway": "s1-revisit", "patient_id": ids["patient"], "anchors": {"revisit": "2027-01-15"}})
            ids["enrolment"] = enrolled["enrolment_ids"][0]
            enrolled = self.api("POST", f"/api/v1/programs/{program}/enrolments",
                                {"pathway": "s1-revisit", "patient_id": ids["spare_patient"], "anchors": {"revisit": "2027-01-20"}})
            ids["spare_enrolment"] = enrolled["enrolment_ids"][0]
            ids["consent"] = self.api("POST", f"/api/v1/programs/{program}/patients/{ids['patient']}/consents",
                                      {"kind": "follow-up", "version": "v1"})["id"]
            ids["message"] = self.api("POST", f"/api/v1/programs/{program}/inbound",
                                      {"channel": "in_app", "patient_id": ids["patient"], "text": "请问明天的课几点开始？"})["message"]["id"]
            ids["task"] = self.task(program, ids["patient"])
            ids["alert"] = self.api("POST", f"/api/v1/programs/{program}/observations", {"source": "device", "observations": [
                {"patient_id": ids["patient"], "code": "glucose-fasting", "value": 2.5, "unit": "mmol/L",
                 "effective_at": "2026-12-01T07:30:00+08:00"}]})["alerts"][0]["id"]
            binding = self.uniq("hostile-group-")
            ids["group"] = self.api("POST", f"/api/v1/programs/{program}/groups",
                                    {"name": "敌意测试群", "channel": "wecom", "binding": binding, "patient_ids": [ids["patient"]]})["id"]
            ids["binding"] = binding
            ids["segment"] = self.api("POST", f"/api/v1/programs/{program}/segments", {
                "slug": f"hostile-{program}", "name": {"zh": "敌意分群", "en": "Hostile segment"},
                "rule": "tag(cohort) or last(glucose-fasting, 14d) >= 7.0"})["segment"]["slug"]
            ids["regimen"] = self.api("POST", f"/api/v1/programs/{program}/patients/{ids['patient']}/regimens", {
                "drug": "二甲双胍", "dose": "1 片", "frequency": "bid", "start_on": "2026-11-01"})["id"]
        self.ids[B]["only_pathway"] = next((p for p in self.ids[B]["pathways"] if p not in self.ids[A]["pathways"]), "s2-chemo-cycles")
        tokens = self.api("GET", "/api/v1/tokens", who="admin")["items"]
        self.ids[A]["token"] = next(t["id"] for t in tokens if t["name"] == "revoke-me")
        self.ids[A]["member"] = self.api("POST", f"/api/v1/programs/{A}/members",
                                         {"email": "sweep-member@hostile.test", "role": "viewer", "display_name": "Sweep Member",
                                          "password": "sweep-member-password"})["user_id"]

    def path_values(self, program=A):
        ids = self.ids[program]
        return {"program": program, "patient": ids["patient"], "enrolment": ids["enrolment"], "task": ids["task"],
                "message": ids["message"], "consent": ids["consent"], "token": self.ids[A]["token"],
                "user": self.ids[A]["member"], "pathway": ids["pathway"], "channel": "webhook", "alert": ids["alert"],
                "questionnaire": "phq-9", "photo": "no-such-photo",
                "segment": ids["segment"], "regimen": ids["regimen"]}


# --- the base body of each operation --------------------------------------------------------

def pathway_yaml(pathway_id, version=1, step=None, anchors="[start]", steps_extra=""):
    step = step or ("  - id: first\n    anchor: start\n    offset: 0d\n    at: \"09:00\"\n    channels: [in_app]\n"
                    "    message:\n      zh: \"{{patient.name}}您好\"\n      en: \"Hello {{patient.name}}\"\n")
    return (f"pathway: {pathway_id}\nversion: {version}\nname: {{zh: 敌意测试, en: Hostile test}}\nanchors: {anchors}\n"
            f"steps:\n{step}{steps_extra}")


def bases(ctx):
    """operationId → (base body factory, options). Operations the document adds later get a body
    built from their schema's required fields."""
    ids = ctx.ids[A]
    admin = ctx.users.get("admin")
    receiver = ctx.receiver.url
    return {
        "createProgram": lambda: {"slug": ctx.uniq("hp-"), "name": "敌意测试项目 Hostile"},
        "setChannel": lambda: {"url": receiver, "secret": "hostile-secret-0123456789", "rate_per_minute": 20,
                               "headers": {"X-Api-Key": "k"}, "body_template": "{\"to\":\"{{phone}}\",\"text\":\"{{text}}\"}"},
        # A patient not yet enrolled each time: enrolling one already in the pathway plans nothing.
        "enrol": lambda: {"pathway": "s1-revisit", "patient_id": ctx.patient(A)["id"], "anchors": {"revisit": "2027-02-15"}},
        "moveAnchor": lambda: {"anchor": "revisit", "date": "2027-02-01"},
        "createGroup": lambda: {"name": "敌意测试群", "channel": "wecom", "binding": ctx.uniq("hb-"),
                                "patient_ids": [ids["patient"]], "staff_ids": [admin]},
        "postInbound": lambda: {"channel": "in_app", "patient_id": ids["patient"], "text": "你好，今天血糖6.1",
                                "sent_at": "2026-12-01T08:00:00+08:00", "sender_name": "敌意测试"},
        "addMember": lambda: {"email": f"{ctx.uniq('m')}@hostile.test", "role": "viewer", "display_name": "Hostile Member",
                              "password": "hostile-password-1"},
        "actOnMessage": lambda: {"action": "reply", "text": "好的，请按时测血糖"},
        "createPatient": lambda: {"name": "敌意测试患者", "phone": ctx.phone(), "external_id": ctx.uniq("HC-"),
                                  "id_number": f"1101011990{ctx.counter % 10000:04d}0011"[:18], "birth_date": "1990-05-01",
                                  "sex": "female", "address": "上海市徐汇区测试路 1 号", "locale": "zh-Hans",
                                  "time_zone": "Asia/Shanghai", "contact_window": "09:00-18:00", "quiet_hours": "22:00-07:00",
                                  "channels": ["in_app"], "caregivers": [{"name": "家属", "relation": "丈夫", "phone": ctx.phone()}],
                                  "status": "active", "tags": ["hostile=created"]},
        "searchPatients": lambda: {"phone": ids["phone"], "name": "敌意测试", "id_number": "110101199005010011"},
        "updatePatient": lambda: {},
        "recordConsent": lambda: {"kind": "data-sharing", "version": "v2"},
        "bindSenderIdentity": lambda: {"channel": "wecom", "user_id": ctx.uniq("wx-")},
        "changePatientTags": lambda: {"add": ["hostile=tagged"], "remove": ["hostile=none"]},
        "startRegimen": lambda: {"drug": "二甲双胍", "dose": "1 片", "frequency": "bid", "start_on": "2026-11-01"},
        "stopRegimen": lambda: {"stop_on": "2026-12-01"},
        "completeTask": lambda: {"outcome": "done", "note": "已处理"},
        "reassignTask": lambda: {"assignee_id": admin},
        "setTriageSettings": lambda: {
            "thresholds": {"glucose_low": 3.9, "glucose_high": 16.7, "temperature": 38.0, "oxygen_saturation": 92.0,
                           "systolic": 160.0, "diastolic": 110.0},
            "phrases": {"zh-Hans": [{"id": "hostile.rule", "level": "urgent", "phrases": ["胸口剧痛"], "negatable": True}]},
            "answers": [{"id": "hostile.answer", "keywords": ["停车"], "answer": {"zh": "医院有停车场", "en": "There is parking"}}],
            "on_call_staff_id": admin},
        "createToken": lambda: {"name": "敌意测试 token"},
        "triage": lambda: {"text": "刚测血糖2.7，手抖心慌", "locale": "zh"},
        "recordDispenses": lambda: {"source": "hostile", "dispenses": [{"patient_id": ids["patient"], "drug": "metformin", "filled_on": "2026-10-01",
                                                                         "days_supply": 30, "external_id": ctx.uniq("rx-")}]},
        "recordResponse": lambda: {"questionnaire": "gad-7", "answers": {str(item): 0 for item in range(1, 8)}},
        "acknowledgeAlert": lambda: {"note": "已电话联系患者"},
        "resolveAlert": lambda: {"note": "复测正常"},
        # A wrong current password: nothing can change even when a probe is accepted, and the
        # caller is an account of its own (pw@hostile.test), not one the other probes use.
        "changePassword": lambda: {"current_password": "not-the-password-1", "new_password": "hostile-new-password-1"},
    }


PATCH_FIELDS = {"name": "敌意测试患者", "external_id": "HX-PATCH", "sex": "female", "birth_date": "1990-05-01",
                "phone": "13599990001", "id_number": "110101199005010099", "address": "上海", "locale": "zh-Hans",
                "time_zone": "Asia/Shanghai", "contact_window": "09:00-18:00", "quiet_hours": "22:00-07:00",
                "channels": ["in_app"], "caregivers": [{"name": "家属", "relation": "丈夫", "phone": "13599990002"}],
                "status": "active", "tags": ["hostile=patched"]}


KNOWN_VALUES = {
    "secret": "hostile-secret-0123456789", "body_template": "{\"to\":\"{{phone}}\",\"text\":\"{{text}}\"}",
    "rate_per_minute": 20, "headers": {"X-Api-Key": "k"}, "format": "text", "name": "敌意测试", "text": "你好",
    "current_password": "not-the-password-1", "new_password": "hostile-new-password-1", "password": "hostile-password-1",
}


def channel_body(ctx, document, op):
    """A valid body for PUT …/channels/{name}: the receiver's URL and what that channel needs."""
    schema = op.body_schema or {}
    body = {"url": ctx.receiver.url}
    for key in (schema.get("properties") or {}):
        if key != "url" and key in KNOWN_VALUES:
            body[key] = KNOWN_VALUES[key]
    return body


def generated_body(document, schema, ctx=None):
    schema = resolve(document, schema or {})
    body = {}
    for key in schema.get("required") or []:
        sub = property_schema(document, schema, key)
        if key == "url" and ctx:
            body[key] = ctx.receiver.url
        elif key in KNOWN_VALUES:
            body[key] = KNOWN_VALUES[key]
        elif sub.get("enum"):
            body[key] = next(value for value in sub["enum"] if value is not None)
        elif "integer" in schema_types(sub):
            body[key] = 1
        elif "boolean" in schema_types(sub):
            body[key] = True
        elif "array" in schema_types(sub):
            body[key] = []
        elif "object" in schema_types(sub):
            body[key] = {}
        elif sub.get("format") == "date":
            body[key] = "2027-01-15"
        elif sub.get("format") == "date-time":
            body[key] = "2026-12-01T08:00:00Z"
        else:
            body[key] = "hostile"
    return body


def followups(ctx, op, response, path_values):
    """Reads that must still work after an operation accepted a value."""
    program = path_values.get("program", A)
    base = f"/api/v1/programs/{program}"
    ids = ctx.ids[A]
    body = response.json() or {}
    reads = {
        "createPatient": [f"{base}/patients/{body.get('id', 'x')}", f"{base}/patients?limit=5"],
        "updatePatient": [f"{base}/patients/{path_values.get('patient')}", f"{base}/patients/{path_values.get('patient')}/schedule"],
        "changePatientTags": [f"{base}/patients/{path_values.get('patient')}", f"{base}/patients?tags=hostile%3Dtagged&limit=5"],
        "recordConsent": [f"{base}/patients/{path_values.get('patient')}"],
        "enrol": [f"{base}/patients/{ids['patient']}/schedule", f"{base}/patients/{ids['patient']}/enrolments"],
        "moveAnchor": [f"{base}/patients/{ids['patient']}/schedule"],
        "setChannel": [f"{base}/channels"],
        "setTriageSettings": [f"{base}/triage/settings"],
        "createGroup": [f"{base}/groups"],
        "postInbound": [f"{base}/inbox?limit=20", f"{base}/tasks"],
        "actOnMessage": [f"{base}/inbox?limit=20"],
        "addMember": [f"{base}/members"],
        "createToken": ["/api/v1/tokens"],
        "createProgram": ["/api/v1/programs"],
    }.get(op.id, [])
    return reads


# --- sections -------------------------------------------------------------------------------

def section(ctx, name):
    ctx.rec.section = ctx.section_prefix + name
    print(f"\n== {ctx.rec.section}", flush=True)


def reproductions(ctx, channels=True):
    """The requests issue 11 lists, each as it was reported (without the outbound and redirect ones
    when `channels` is False: the PostgreSQL part runs outside the private network namespace)."""
    section(ctx, "issue 11 reproductions")
    p = ctx.prober
    a = ctx.ids[A]
    base = f"/api/v1/programs/{A}"
    for date in ("9999999999-01-01", "99999999999-01-01", "99999-01-01", "-2026-01-01"):
        p.send("POST /api/v1/programs/{program}/enrolments/{enrolment}/anchors", f"pharmacist moves anchor revisit to {date}",
               "POST", f"{base}/enrolments/{a['enrolment']}/anchors", {"anchor": "revisit", "date": date},
               who="pharmacist", expect=V.REJECT, field="date")
        p.send("POST /api/v1/programs/{program}/enrolments", f"pharmacist enrols with anchors.revisit = {date}",
               "POST", f"{base}/enrolments", {"pathway": "s1-revisit", "patient_id": ctx.patient(A)["id"], "anchors": {"revisit": date}},
               who="pharmacist", expect=V.REJECT, field="anchors.revisit")
    p.send("POST /api/v1/programs/{program}/pathways", "200,000 nested `[` (YAML)", "POST", f"{base}/pathways",
           b"[" * 200_000, content_type="application/yaml", expect=V.REJECT, field="body", timeout=30)
    p.send("POST /api/v1/programs/{program}/pathways", "YAML alias 'billion laughs' (9^9 expansion)", "POST", f"{base}/pathways",
           V.billion_laughs(), content_type="application/yaml", expect=V.REJECT, field="body", timeout=30)
    before = len(ctx.api("GET", f"{base}/groups")["items"])
    for ids in ([a["patient"], a["patient"], ctx.ids[B]["patient"]], [a["patient"], ctx.ids[B]["patient"]]):
        given = "patient_ids = " + ("[own, own, other program's]" if len(ids) == 3 else "[own, other program's]")
        response = p.send("POST /api/v1/programs/{program}/groups", given, "POST", f"{base}/groups",
                          {"name": "跨项目群", "channel": "wecom", "binding": ctx.uniq("x-"), "patient_ids": ids},
                          expect={400, 404}, field="patient_ids", kind="access")
    after = len(ctx.api("GET", f"{base}/groups")["items"])
    if after != before:
        ctx.rec.fail("access", "POST /api/v1/programs/{program}/groups", "patient_ids mixing programs",
                     f"{after - before} group(s) created holding another program's patient", "no group created")
    if not channels:
        return
    response = request(ctx.server, "POST", "/settings/language", "lang=en&next=/%09/evil.example",
                       content_type="application/x-www-form-urlencoded")
    check_location(ctx, "POST /settings/language", "next=/%09/evil.example", response)
    for method in ("TRACE", "PROPFIND"):
        for path in ("/api/v1/me", f"{base}/patients"):
            check_405(ctx, path, method, declared={"GET"} if path.endswith("/me") else {"GET", "POST"})


def reproduce_ssrf(ctx):
    """The issue's outbound targets, on a server without an allow-list."""
    section(ctx, "issue 11 reproductions: outbound targets")
    for url in ("http://169.254.169.254/latest/meta-data/", "http://127.0.0.1/", "http://[::1]/", "http://10.0.0.1/",
                "http://[fd00::1]/", "http://localhost/"):
        ctx.prober.send("PUT /api/v1/programs/{program}/channels/{channel}", f"webhook url {url}", "PUT",
                        f"/api/v1/programs/{A}/channels/webhook", {"url": url, "secret": "hostile-secret-0123456789"},
                        expect=V.REJECT, field="url", kind="ssrf")


def restore_channel(ctx, program):
    request(ctx.server, "PUT", f"/api/v1/programs/{program}/channels/webhook",
            {"url": ctx.receiver.url, "secret": "hostile-secret-0123456789"}, token=ctx.tokens["admin"])


def check_location(ctx, endpoint, given, response):
    crashed = ctx.server.check()
    if crashed:
        ctx.rec.fail("crash", endpoint, given, crashed, "a redirect to a same-origin path")
        return
    if response.status is None or response.status >= 500:
        ctx.rec.fail("5xx" if response.status else "error-shape", endpoint, given, response.describe(), "a redirect to a same-origin path")
        return
    location = response.header("location")
    if location is None:
        ctx.rec.ok()
        return
    raw = location
    problems = []
    if any(ord(ch) < 0x21 or ord(ch) == 0x7f for ch in raw):
        problems.append("control character or space")
    stripped = re.sub(r"[\x00-\x20\x7f]", "", raw)  # what a browser does before parsing
    stripped = stripped.replace("\\", "/")
    target = urllib.parse.urljoin(f"http://127.0.0.1:{ctx.server.port}/current/page", stripped)
    if urllib.parse.urlparse(target).netloc != f"127.0.0.1:{ctx.server.port}":
        problems.append(f"leads a browser to {urllib.parse.urlparse(target).netloc or target}")
    if not raw.startswith("/") or raw.startswith("//"):
        problems.append("not a path starting with a single /")
    if "set-cookie" in {k.lower() for k in response.headers} and "injected" in str(response.headers.get("set-cookie")):
        problems.append("a header was injected")
    if problems:
        ctx.rec.fail("redirect", endpoint, given, f"{response.status} Location: {raw!r} ({'; '.join(problems)})",
                     "Location: a same-origin path (e.g. /)")
    else:
        ctx.rec.ok()


def check_405(ctx, path, method, declared, timeout=10.0):
    response = request(ctx.server, method, path, token=ctx.tokens["admin"], timeout=timeout)
    crashed = ctx.server.check()
    label = f"{method} {path}"
    if crashed:
        ctx.rec.fail("crash", label, "undeclared method", crashed, "405")
        return
    if response.status != 405:
        ctx.rec.fail("method", label, "undeclared method", response.describe(), "405 with Allow: " + ", ".join(sorted(declared)))
        return
    allow = {m.strip().upper() for m in (response.header("allow") or "").split(",") if m.strip()}
    if not allow:
        ctx.rec.fail("method", label, "undeclared method", "405 without an Allow header", "Allow: " + ", ".join(sorted(declared)))
    elif not declared <= allow or allow - declared - {"HEAD", "OPTIONS"}:
        ctx.rec.fail("method", label, "undeclared method", f"405 with Allow: {', '.join(sorted(allow))}",
                     "Allow: " + ", ".join(sorted(declared)))
    else:
        ctx.rec.ok()


def sweep(ctx, document, quick=False):
    """Extreme values of every kind for every field, query parameter and path parameter of every
    operation in the served document."""
    section(ctx, "sweep: extreme values for every field of every operation")
    p = ctx.prober
    factories = bases(ctx)
    for op in operations(document):
        ctx.current_who = "pw" if op.id == "changePassword" and "pw" in ctx.tokens else "admin"
        values = ctx.path_values()
        if op.id in ("completeTask", "claimTask", "reassignTask"):
            try:
                values["task"] = ctx.task(A, ctx.ids[A]["spare_patient"])
            except RuntimeError:
                pass  # the shared open task then; the failure is recorded by Context.api
        if op.id == "updatePatient":
            values["patient"] = ctx.ids[A]["patch_patient"]
        if op.id == "removeMember":
            values["user"] = ctx.ids[A]["member"]
        if op.id in ("pauseEnrolment", "resumeEnrolment", "cancelEnrolment"):
            values["enrolment"] = ctx.ids[A]["spare_enrolment"]
        if op.id in ("withdrawConsent",):
            values["consent"] = ctx.ids[A]["consent"]
        url = op.url(values)
        started = time.time()
        count_before = ctx.rec.checked
        try:
            if op.id == "savePathway":
                pathway_probes(ctx, op, url)
            elif op.id in ("saveQuestionnaire", "saveAlertRules", "saveSegment"):
                definition_probes(ctx, op, url)
            elif op.id == "importPatients":
                import_probes(ctx, op, url)
            elif op.json_body:
                factory = factories.get(op.id)
                if factory is None and "/channels/" in op.path:
                    factory = lambda op=op: channel_body(ctx, document, op)
                if factory is None:
                    factory = lambda op=op: generated_body(document, op.body_schema, ctx)
                if op.id == "updatePatient":
                    patch_probes(ctx, op, url, values)
                else:
                    field_probes(ctx, document, op, url, factory, values, quick)
                body_shape_probes(ctx, op, url, factory)
            for parameter in op.query:
                query_probes(ctx, op, url, parameter, values, factories.get(op.id))
            for name in op.path_params:
                if name == "program" and op.path_params != ["program"] and quick:
                    continue
                for label, value, _ in V.PATH_VALUES:
                    # A request head of 100 kB is refused before routing: once per parameter name is enough.
                    if len(value) > 50_000:
                        if ("path", name) in ctx.huge_seen:
                            continue
                        ctx.huge_seen.add(("path", name))
                    other = dict(values)
                    other[name] = value
                    factory = factories.get(op.id)
                    body = factory() if (factory and op.json_body) else NOT_SET
                    p.send(op.label, f"path {{{name}}} = {label}", op.method, op.url(other), body, expect=V.ANY)
        except Exception as error:  # noqa: BLE001 - one operation the suite cannot finish must not stop the others
            ctx.rec.fail("error-shape", op.label, "the sweep of this operation", f"could not finish: {type(error).__name__}: {str(error)[:300]}",
                         "every probe of the operation to run")
            ctx.revive(op.label, "after the sweep of this operation stopped")
        print(f"   {op.label}: {ctx.rec.checked - count_before} checks in {time.time() - started:.1f}s", flush=True)
    ctx.current_who = "admin"


def field_probes(ctx, document, op, url, factory, path_values, quick):
    p = ctx.prober
    base = factory()
    required = set((op.body_schema or {}).get("required") or [])
    for label, path, value, schema in body_nodes(document, base, op.body_schema):
        kind = kind_of(str(path[-1]), value, schema)
        candidates = values_for(kind, value, schema)
        if value is not None or "null" in schema_types(schema) or label not in required:
            candidates = candidates + [("null", None, label in required and "null" not in schema_types(schema))]
        for given, extreme, must_reject in candidates:
            body = replaced(factory(), path, extreme)
            response = p.send(op.label, f"{label} = {given} ({short(extreme)})", op.method, url, body,
                              expect=must_reject, field=expected_field(label, extreme))
            if response.status and 200 <= response.status < 300 and op.id == "completeTask":
                url = op.url({**path_values, "task": ctx.task(A, ctx.ids[A]["spare_patient"])})
            if response.status and 200 <= response.status < 300 and not getattr(response, "crashed", False):
                for read in followups(ctx, op, response, path_values):
                    p.send(f"GET {read.split('?')[0]}", f"after {op.label} accepted {label} = {given}", "GET", read, expect=V.ANY)
                if op.id == "setChannel":
                    restore_channel(ctx, A)
        if quick:
            break
    p.send(op.label, "an unknown extra field", op.method, url, {**factory(), "zz_unknown": {"a": [1, 2]}}, expect=V.ANY)


def patch_probes(ctx, op, url, path_values):
    p = ctx.prober
    document = op.document
    for key, good in PATCH_FIELDS.items():
        schema = property_schema(document, op.body_schema, key)
        base = {key: good}
        nodes = body_nodes(document, base, op.body_schema)
        nodes = [n for n in nodes if n[1][0] == key]
        for label, path, value, sub in nodes:
            kind = kind_of(str(path[-1]), value, sub)
            for given, extreme, must_reject in values_for(kind, value, sub) + [("null", None, key == "name")]:
                body = replaced(base, path, extreme)
                response = p.send(op.label, f"{label} = {given} ({short(extreme)})", "PATCH", url, body, expect=must_reject,
                                  field=expected_field(label, extreme))
                if response.status and 200 <= response.status < 300 and not getattr(response, "crashed", False):
                    for read in followups(ctx, op, response, path_values):
                        p.send(f"GET {read.split('?')[0]}", f"after PATCH accepted {label} = {given}", "GET", read, expect=V.ANY)
                    p.send(op.label, f"restore {key} after {label} = {given} was accepted", "PATCH", url,
                           {key: good if key != "phone" else ctx.phone()}, expect=V.ANY)
        _ = schema


def body_shape_probes(ctx, op, url, factory):
    """Deep, wide, huge and malformed bodies."""
    p = ctx.prober
    base = factory()
    first_string = next((k for k, v in base.items() if isinstance(v, str)), None)
    first_key = next(iter(base), None)
    shapes = [
        ("JSON arrays nested 100,000 deep", V.deep_array(100_000), V.REJECT, "body"),
        ("JSON objects nested 100,000 deep", V.deep_object(100_000), V.REJECT, "body"),
        ("JSON nested 1,000 deep", V.deep_array(1000), V.REJECT, "body"),
        ("a 100,000-element array as the body", b"[" + b"0," * 99_999 + b"0]", V.REJECT, "body"),
        ("100,000 unknown keys", {f"k{index:x}": 0 for index in range(100_000)}, V.REJECT, None),
        ("the base body plus 90,000 unknown keys", {**base, **{f"k{index:x}": 0 for index in range(90_000)}}, V.ANY, None),
        # An optional body may be left out; a required one may not.
        ("empty body", b"", V.REJECT if op.body_required else V.ANY, "body" if op.body_required else None),
        ("not JSON", b"{not json", V.REJECT, "body"),
        ("JSON null", b"null", V.REJECT, "body"),
        ("a JSON string", b'"x"', V.REJECT, "body"),
        ("the number 1e400", b"1e400", V.REJECT, "body"),
        ("NaN as a value", b'{"x": NaN}', V.REJECT, "body"),
        ("invalid UTF-8 in a key", b'{"\xff\xfe": 1}', V.REJECT, "body"),
        ("a truncated body", json.dumps(base, ensure_ascii=False).encode()[:-3] if base else b"{", V.REJECT, "body"),
        ("UTF-16 encoded body", json.dumps(base, ensure_ascii=False).encode("utf-16"), V.ANY, None),
        ("UTF-8 BOM before the body", b"\xef\xbb\xbf" + json.dumps(base, ensure_ascii=False).encode(), V.ANY, None),
        ("duplicate keys", (json.dumps(base, ensure_ascii=False)[:-1] + (", " if base else "") +
                            json.dumps(base, ensure_ascii=False)[1:]).encode() if base else b"{}", V.ANY, None),
        ("body over 1 MiB (2 MiB of spaces before {})", b" " * (2 << 20) + b"{}", V.REJECT, None),
    ]
    if first_string:
        shapes.append((f"body over 1 MiB ({first_string} is a 1.5 MiB string)", {**base, first_string: "x" * (3 << 19)}, V.REJECT, None))
    if first_key:
        shapes.append((f"{first_key} nested 100,000 deep", {**base, first_key: Raw(V.deep_array(100_000))}, V.REJECT, f"{first_key}|body"))
    for given, body, must_reject, field in shapes:
        p.send(op.label, given, op.method, url, body, expect=must_reject, field=field, timeout=30)
    p.send(op.label, "Content-Type: text/plain", op.method, url, json.dumps(base).encode(), content_type="text/plain", expect=V.ANY)


def query_probes(ctx, op, url, parameter, path_values, factory=None):
    p = ctx.prober
    body, content_type = NOT_SET, None
    if op.method != "GET":
        if op.id == "importPatients":
            body, content_type = f"external_id,name,phone\nQ{ctx.counter},查询参数,{ctx.phone()}\n".encode(), "text/csv"
        elif op.id == "savePathway":
            body, content_type = pathway_yaml(ctx.uniq("hostile-q")), "application/yaml"
        elif op.id == "saveQuestionnaire":
            body, content_type = questionnaire_yaml(ctx.uniq("hostile-q")), "application/yaml"
        elif op.id == "saveAlertRules":
            body, content_type = alert_rules_yaml(), "application/yaml"
        elif op.id == "saveSegment":
            body, content_type = segment_yaml(), "application/yaml"
        elif factory:
            body = factory()
    name = parameter["name"]
    schema = resolve(op.document, parameter.get("schema") or {})
    types = schema_types(schema)
    if schema.get("enum"):
        values = V.query_enum()
    elif "integer" in types or "number" in types:
        values = V.query_integer()
        if schema.get("minimum", 1) <= 0:
            # The document allows 0 here (an offset): it must be taken, not refused.
            values = [(given, value, V.ANY if value == "0" else expect) for given, value, expect in values]
    elif "boolean" in types:
        values = V.query_boolean()
    else:
        values = V.query_string(name)
    base_query = [("q", "%E8%A1%80%E7%B3%96")] if op.id == "searchMessages" and name != "q" else []
    for given, value, must_reject in values:
        if len(value) > 50_000:
            if ("query", name) in ctx.huge_seen:
                continue
            ctx.huge_seen.add(("query", name))
        p.send(op.label, f"?{name}={given}", op.method, f"{url}?{'&'.join(f'{k}={v}' for k, v in base_query + [(name, value)])}",
               body, content_type=content_type, expect=must_reject, field=name, timeout=30)
    p.send(op.label, f"?{name} given twice", op.method, f"{url}?{name}=1&{name}=2", body, content_type=content_type, expect=V.ANY)


def questionnaire_yaml(name, items=None, version=1):
    items = items if items is not None else "  - {id: q1, type: yes_no, text: {zh: 是否, en: Yes or no}}\n"
    return f"questionnaire: {name}\nversion: {version}\nname: {{zh: 敌意问卷, en: Hostile form}}\nitems:\n{items}"


def alert_rules_yaml(rule=None):
    rule = rule or "  - {id: r1, code: glucose-fasting, at_least: 7, level: high, title: {zh: 高, en: High}}\n"
    return "rules:\n" + rule


def segment_yaml(rule="tag(cohort) and last(glucose-fasting, 14d) >= 7.0", extra=""):
    return f"slug: hostile-seg\nname: {{zh: 敌意分群, en: Hostile segment}}\nrule: {json.dumps(rule)}\n{extra}"


def definition_probes(ctx, op, url):
    """Questionnaire files and alert-rule documents (YAML or JSON): deep, wide, aliases, tags,
    extreme counts and numbers. Each must be refused with a 4xx naming the body, or taken."""
    p = ctx.prober
    questionnaire = op.id == "saveQuestionnaire"
    if questionnaire:
        base = lambda: questionnaire_yaml(ctx.uniq("hostile-q"))
    elif op.id == "saveSegment":
        base = lambda: segment_yaml()
    else:
        base = lambda: alert_rules_yaml()
    cases = [
        ("200,000 nested `[`", "[" * 200_000, V.REJECT),
        ("200,000 nested `{`", "{" * 200_000, V.REJECT),
        ("20,000 nested block sequences", "- " * 20_000 + "x\n", V.REJECT),
        ("1,000 nested mappings by indentation", "".join(" " * depth + "a:\n" for depth in range(1000)) + " " * 1000 + "b\n", V.REJECT),
        ("billion laughs (9 levels of 9 aliases)", V.billion_laughs(), V.REJECT),
        ("an alias inside its own anchor", "a: &a [*a]\n", V.REJECT),
        ("a !!python/object tag", "rules: !!python/object/apply:os.system [id]\n", V.REJECT),
        ("1.2 MiB (a long comment first)", "# " + "x" * 1_200_000 + "\n" + base(), V.REJECT),
        ("empty body", "", V.REJECT),
        ("invalid UTF-8", base().encode() + b"\xff\xfe\xc0\x80", V.REJECT),
        ("a mapping of 100,000 keys", "".join(f"k{index}: 1\n" for index in range(100_000)), V.REJECT),
        ("the valid base file", base(), V.ANY),
    ]
    if questionnaire:
        many = "".join(f"  - {{id: q{index}, type: yes_no, text: {{zh: 是否, en: Yes}}}}\n" for index in range(5000))
        cases += [
            ("5,000 items", questionnaire_yaml(ctx.uniq("hostile-q"), many), V.REJECT),
            ("version 2^63", questionnaire_yaml(ctx.uniq("hostile-q"), version=2 ** 63), V.REJECT),
            ("version .nan", questionnaire_yaml(ctx.uniq("hostile-q"), version=".nan"), V.REJECT),
            ("a number item with range 1e308", questionnaire_yaml(ctx.uniq("hostile-q"),
             "  - {id: n, type: number, unit: kg, min: -1e308, max: 1e308, text: {zh: 数, en: N}}\n"), V.ANY),
            ("a condition 10,000 deep", questionnaire_yaml(ctx.uniq("hostile-q"),
             "  - {id: a, type: yes_no, text: {zh: 是, en: Y}}\n  - {id: b, type: yes_no, text: {zh: 是, en: Y}, show_if: "
             + "{all: [" * 10_000 + "{item: a, equals: 'yes'}" + "]}" * 10_000 + "}\n"), V.REJECT),
            ("an id of 100 kB", questionnaire_yaml("q" * 100_000), V.REJECT),
        ]
    elif op.id == "saveSegment":
        cases += [
            ("a rule 10,000 parentheses deep", segment_yaml("(" * 10_000 + "tag(x)" + ")" * 10_000), V.REJECT),
            ("a rule of 10,000 nots", segment_yaml("not " * 10_000 + "tag(x)"), V.REJECT),
            ("a rule of 1,000 clauses", segment_yaml(" or ".join(f"tag(k{index})" for index in range(1000))), V.REJECT),
            ("a window of 9999999999d", segment_yaml("last(glucose-fasting, 9999999999d) > 7"), V.REJECT),
            ("a window of 99999999999999999999999d", segment_yaml("last(glucose-fasting, 99999999999999999999999d) > 7"), V.REJECT),
            ("an age of 1e308", segment_yaml("age >= 1e308"), V.REJECT),
            ("an age of 9223372036854775808", segment_yaml("age >= 9223372036854775808"), V.REJECT),
            ("a threshold of -0.0000000000000000001", segment_yaml("last(glucose-fasting) > -0.0000000000000000001"), V.REJECT),
            ("a list of 10,000 values", segment_yaml("cohort in (" + ", ".join(str(index) for index in range(10_000)) + ")"), V.REJECT),
            ("an unknown code", segment_yaml("last(no-such-code, 14d) > 7"), V.REJECT),
            ("a pathway the program lacks", segment_yaml("tag(x)", "on_enter:\n  - enrol: no-such-pathway\n"), V.REJECT),
            ("SQL in a tag value", segment_yaml("disease = \"x'); DROP TABLE patients; --\""), V.ANY),
            ("a NUL in the rule", segment_yaml("tag(x\u0000y)"), V.REJECT),
            ("1,000 actions", segment_yaml("tag(x)", "on_enter:\n" + "".join(f"  - tag: k{index}=v\n" for index in range(1000))), V.REJECT),
        ]
    else:
        cases += [
            ("sustained count 99999999999", alert_rules_yaml("  - {id: r1, code: glucose-fasting, sustained: {at_least: 7, count: 99999999999, of: 99999999999}, title: {zh: 高, en: High}}\n"), V.REJECT),
            ("change within 9999999999d", alert_rules_yaml("  - {id: r1, code: body-weight, change: {rise: 2, within: 9999999999d}, title: {zh: 高, en: High}}\n"), V.REJECT),
            ("a threshold of 1e308", alert_rules_yaml("  - {id: r1, code: glucose-fasting, at_least: 1e308, title: {zh: 高, en: High}}\n"), V.REJECT),
            ("10,000 rules", alert_rules_yaml("".join(f"  - {{id: r{index}, code: glucose-fasting, at_least: 7, title: {{zh: 高, en: High}}}}\n" for index in range(10_000))), V.REJECT),
            ("an unknown code", alert_rules_yaml("  - {id: r1, code: no-such-code, at_least: 7, title: {zh: 高, en: High}}\n"), V.REJECT),
        ]
    for given, text, expect in cases:
        p.send(op.label, f"YAML: {given}", op.method, url, text, content_type="application/yaml", expect=expect, field="body", timeout=30)



def pathway_probes(ctx, op, url):
    """YAML (and JSON) pathway files: deep, wide, aliases, and extreme offsets and counts. A file
    that is accepted is then used to enrol a patient, where a huge plan would show."""
    p = ctx.prober
    new = lambda: ctx.uniq("hostile-p")
    step = lambda **fields: ("  - " + "\n    ".join(f"{k}: {v}" for k, v in {
        "id": "s", "anchor": "start", "offset": "0d", "at": '"09:00"', "channels": "[in_app]", **fields}.items())
        + "\n    message: {zh: \"您好\", en: \"Hello\"}\n")
    many_steps = lambda count: "".join(step(id=f"s{index}") for index in range(count))
    cases = [
        ("200,000 nested `[`", "[" * 200_000, V.REJECT),
        ("200,000 nested `{`", "{" * 200_000, V.REJECT),
        ("20,000 nested block sequences (`- - - …`)", "- " * 20_000 + "x\n", V.REJECT),
        ("1,000 nested mappings by indentation", "".join(" " * depth + "a:\n" for depth in range(1000)) + " " * 1000 + "b\n", V.REJECT),
        ("`steps` holding 100,000 nested flow sequences", pathway_yaml(new(), step="  - " + "[" * 100_000 + "]" * 100_000 + "\n"), V.REJECT),
        ("billion laughs (9 levels of 9 aliases)", V.billion_laughs(), V.REJECT),
        ("an alias inside its own anchor", "a: &a [*a]\n", V.REJECT),
        ("100,000 aliases of one anchor", "x: &x y\nl: [" + ", ".join(["*x"] * 100_000) + "]\n", V.ANY),
        ("aliases used for real fields", pathway_yaml(new()).replace("name: {zh: 敌意测试, en: Hostile test}",
                                                                       "name: &n {zh: 敌意测试, en: Hostile test}\nx_unused: *n"), V.ANY),
        ("a merge key <<", "base: &b {at: \"09:00\"}\n" + pathway_yaml(new()), V.ANY),
        ("a !!python/object tag", "pathway: !!python/object/apply:os.system [id]\n", V.REJECT),
        ("a !!binary tag", pathway_yaml(new()).replace("version: 1", "version: !!binary aGVsbG8="), V.REJECT),
        ("10,000 steps", pathway_yaml(new(), step=many_steps(10_000)), V.REJECT),
        ("repeat count 99999999999", pathway_yaml(new(), step=step(repeat="{every: 1d, count: 99999999999}")), V.REJECT),
        ("repeat count 1e308", pathway_yaml(new(), step=step(repeat="{every: 1d, count: 1e308}")), V.REJECT),
        ("repeat count -1", pathway_yaml(new(), step=step(repeat="{every: 1d, count: -1}")), V.REJECT),
        ("repeat count 1,000,000 every day", pathway_yaml(new(), step=step(repeat="{every: 1d, count: 1000000}")), V.REJECT),
        ("repeat every 0d", pathway_yaml(new(), step=step(repeat="{every: 0d, count: 3}")), V.REJECT),
        ("repeat every -1d", pathway_yaml(new(), step=step(repeat="{every: -1d, count: 3}")), V.REJECT),
        ("repeat every 0d until stopped", pathway_yaml(new(), step=step(repeat="{every: 0d, until: stopped}")), V.REJECT),
        ("repeat every 1d for 99999999999d", pathway_yaml(new(), step=step(repeat="{every: 1d, for: 99999999999d}")), V.REJECT),
        ("offset 99999999999d", pathway_yaml(new(), step=step(offset="99999999999d")), V.REJECT),
        ("offset -99999999999d", pathway_yaml(new(), step=step(offset="-99999999999d")), V.REJECT),
        ("offset 9999999999y", pathway_yaml(new(), step=step(offset="9999999999y")), V.REJECT),
        ("offset 2147483648mo", pathway_yaml(new(), step=step(offset="2147483648mo")), V.REJECT),
        ("offset 9223372036854775807d", pathway_yaml(new(), step=step(offset="9223372036854775807d")), V.REJECT),
        ("offset 200y", pathway_yaml(new(), step=step(offset="200y")), V.REJECT),
        ("at 24:00", pathway_yaml(new(), step=step(at='"24:00"')), V.REJECT),
        ("at 99:99", pathway_yaml(new(), step=step(at='"99:99"')), V.REJECT),
        ("at -01:00", pathway_yaml(new(), step=step(at='"-01:00"')), V.REJECT),
        ("version 2^63", pathway_yaml(new(), version=2 ** 63), V.REJECT),
        ("version -1", pathway_yaml(new(), version=-1), V.REJECT),
        ("version 1e308", pathway_yaml(new(), version="1e308"), V.REJECT),
        ("version .nan", pathway_yaml(new(), version=".nan"), V.REJECT),
        ("a pathway id of 100 kB", pathway_yaml("p" * 100_000), V.REJECT),
        ("a step id of 100 kB", pathway_yaml(new(), step=step(id="s" * 100_000)), V.REJECT),
        ("a message of 500 kB", pathway_yaml(new(), step=step().replace('"您好"', '"' + "好" * 170_000 + '"')), V.REJECT),
        ("100,000 anchors", pathway_yaml(new(), anchors="[" + ", ".join(f"a{index}" for index in range(100_000)) + ", start]"), V.REJECT),
        ("a step with 100,000 channels", pathway_yaml(new(), step=step(channels="[" + ", ".join(["in_app"] * 100_000) + "]")), V.REJECT),
        ("a step with 50,000 only_tags", pathway_yaml(new(), step=step(only_tags="[" + ", ".join(f"k{index}=v" for index in range(50_000)) + "]")), V.REJECT),
        ("an escalation chain of 5,000 steps", pathway_yaml(new(), step=step(id="c0", confirm="true") + "".join(
            step(id=f"c{index}", if_unconfirmed=f"c{index - 1}") for index in range(1, 5000))), V.REJECT),
        ("an escalation cycle", pathway_yaml(new(), step=step(id="x1", if_unconfirmed="x2") + step(id="x2", if_unconfirmed="x1")), V.REJECT),
        ("a NUL byte", pathway_yaml(new()).replace("Hostile test", "Host\u0000ile"), V.ANY),
        ("invalid UTF-8", pathway_yaml(new()).encode().replace("敌意测试".encode(), b"\xff\xfe\xc0\x80"), V.REJECT),
        ("UTF-16 with BOM", pathway_yaml(new()).encode("utf-16"), V.ANY),
        ("UTF-8 BOM", b"\xef\xbb\xbf" + pathway_yaml(new()).encode(), V.ANY),
        ("CRLF line ends", pathway_yaml(new()).replace("\n", "\r\n"), V.ANY),
        ("tab indentation", pathway_yaml(new()).replace("    ", "\t"), V.ANY),
        ("two documents", pathway_yaml(new()) + "---\n" + pathway_yaml(new()), V.ANY),
        ("1.2 MiB (a long comment first)", "# " + "x" * (1_200_000) + "\n" + pathway_yaml(new()), V.REJECT),
        ("empty body", "", V.REJECT),
        ("only a comment", "# nothing\n", V.REJECT),
        ("a mapping of 100,000 keys", "".join(f"k{index}: 1\n" for index in range(100_000)), V.REJECT),
        ("the valid base file", pathway_yaml(new()), V.ANY),
    ]
    for given, text, must_reject in cases:
        response = p.send(op.label, f"YAML: {given}", "POST", url, text, content_type="application/yaml",
                          expect=must_reject, field="body", timeout=30)
        if response.status in (200, 201) and not response.crashed:
            enrol_with(ctx, response, given)
    json_cases = [
        ("JSON nested 200,000 deep", V.deep_array(200_000), V.REJECT),
        ("JSON with repeat count 99999999999", json.dumps({
            "pathway": new(), "version": 1, "name": {"zh": "敌意", "en": "Hostile"}, "anchors": ["start"],
            "steps": [{"id": "s", "anchor": "start", "offset": "0d", "at": "09:00", "channels": ["in_app"],
                       "repeat": {"every": "1d", "count": 99999999999}, "message": {"zh": "您好", "en": "Hello"}}]}), V.REJECT),
        ("JSON with version 1e400", json.dumps({"pathway": new(), "version": 1, "name": {"zh": "敌意", "en": "Hostile"}, "steps": []})
         .replace('"version": 1', '"version": 1e400'), V.REJECT),
        ("the valid base file as JSON", json.dumps({
            "pathway": new(), "version": 1, "name": {"zh": "敌意", "en": "Hostile"}, "anchors": ["start"],
            "steps": [{"id": "s", "anchor": "start", "offset": "0d", "at": "09:00", "channels": ["in_app"],
                       "message": {"zh": "您好", "en": "Hello"}}]}), V.ANY),
    ]
    for given, text, must_reject in json_cases:
        response = p.send(op.label, given, "POST", url, text, content_type="application/json", expect=must_reject, field="body", timeout=30)
        if response.status in (200, 201) and not response.crashed:
            enrol_with(ctx, response, given)


def enrol_with(ctx, response, given):
    """An accepted pathway is enrolled for one patient: a plan of billions must not stop the server."""
    body = response.json() or {}
    pathway = body.get("pathway")
    if not pathway:
        return
    anchors = {name: "2027-03-01" for name in body.get("anchors", []) if name != "enrolment"}
    ctx.prober.send("POST /api/v1/programs/{program}/enrolments", f"enrol one patient in the pathway accepted for: {given}",
                    "POST", f"/api/v1/programs/{A}/enrolments",
                    {"pathway": pathway, "patient_id": ctx.ids[A]["spare_patient"], "anchors": anchors}, expect=V.ANY, timeout=30)
    ctx.prober.send("GET /api/v1/programs/{program}/patients/{patient}/schedule", f"schedule after enrolling in: {given}",
                    "GET", f"/api/v1/programs/{A}/patients/{ctx.ids[A]['spare_patient']}/schedule", expect=V.ANY, timeout=30)


def import_probes(ctx, op, url):
    p = ctx.prober
    header = "external_id,name,phone,birth_date,tags\n"
    gb = "患者编号,姓名,手机号,标签\nGB1,张三,13612345678,hostile=gb18030\n".encode("gb18030")
    cases = [
        ("empty", b"", "text/csv", V.ANY),
        ("header only", header.encode(), "text/csv", V.ANY),
        ("a header of 100,000 columns", (",".join(f"c{index}" for index in range(100_000)) + "\n1\n").encode(), "text/csv", V.ANY),
        ("one field of 5 MB", (header + "I1," + "x" * 5_000_000 + ",13600000001,,\n").encode(), "text/csv", V.ANY),
        ("an unbalanced quote over 1 MB", (header + 'I2,"' + "y" * 1_000_000 + "\n").encode(), "text/csv", V.ANY),
        ("NUL bytes", (header + "I3,张\u0000三,13600000003,,\n").encode(), "text/csv", V.ANY),
        ("invalid UTF-8", header.encode() + b"I4,\xff\xfe\xc0\x80,13600000004,,\n", "text/csv", V.ANY),
        ("100,000 rows without a name", (header + "".join(f"R{index},,,,\n" for index in range(100_000))).encode(), "text/csv", V.ANY),
        ("NDJSON: a line nested 100,000 deep", V.deep_array(100_000) + b"\n", "application/x-ndjson", V.ANY),
        ("NDJSON: a line with 100,000 keys", json.dumps({f"k{index}": 1 for index in range(100_000)}).encode() + b"\n", "application/x-ndjson", V.ANY),
        ("NDJSON: numbers 1e308 and 1e400", b'{"external_id": 1e308, "name": 1e400}\n', "application/x-ndjson", V.ANY),
        ("over 10 MiB", b"x" * (11 << 20), "text/csv", V.REJECT),
    ]
    for given, data, content_type, must_reject in cases:
        p.send(op.label, f"import: {given}", "POST", url, data, content_type=content_type, expect=must_reject, timeout=30)
    for date in ("99999999999-01-01", "9999-12-31", "0000-01-01", "1899-12-31"):
        for content_type, data in (("text/csv", f"{header}FD{date[:4]},远期患者,{ctx.phone()},{date},hostile=import\n".encode()),
                                   ("application/x-ndjson", json.dumps({"external_id": f"FDJ{date[:4]}", "name": "远期患者",
                                                                        "phone": ctx.phone(), "birth_date": date}).encode() + b"\n")):
            response = p.send(op.label, f"import ({content_type}): birth_date {date}", "POST", url, data,
                              content_type=content_type, expect=V.ANY, timeout=30)
            body = response.json() or {}
            if response.status == 200 and body.get("created", 0) + body.get("updated", 0) > 0:
                ctx.rec.fail("bounds", op.label, f"import ({content_type}): birth_date {date}",
                             f"row imported: {response.describe()}", "the row rejected, naming birth_date")
    response = p.send(op.label, "import: a CSV saved in GB18030 (Excel on Chinese Windows)", "POST", url, gb,
                      content_type="text/csv", expect=V.ANY, timeout=30)
    body = response.json() or {}
    if response.status != 200 or body.get("created", 0) + body.get("updated", 0) != 1:
        ctx.rec.fail("bounds", op.label, "import: a CSV saved in GB18030", response.describe(),
                     "200 with the row created (GB18030 detected), or a 400 naming the encoding")


def transport_probes(ctx):
    """Broken HTTP: lying lengths, huge headers, garbage."""
    section(ctx, "transport: malformed HTTP")
    server = ctx.server
    cases = [
        ("Content-Length 10^11 with 10 bytes, then close",
         b"POST /api/v1/triage HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{\"text\":1}"),
        ("chunk size 2^64-1",
         b"POST /api/v1/triage HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc\r\n"),
        ("a negative Content-Length", b"POST /api/v1/triage HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
        ("a 100 kB header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"),
        ("10,000 headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(10_000)) + b"\r\n"),
        ("a 100 kB request line", b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("garbage bytes", bytes(range(256)) * 64),
        ("HTTP/0.9 style", b"GET /\r\n\r\n"),
        ("a NUL in a header value", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-N: a\x00b\r\n\r\n"),
        ("Authorization: Bearer with 100 kB", b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"t" * 100_000 + b"\r\n\r\n"),
        ("Authorization without a scheme", b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: \r\n\r\n"),
        ("a cookie of 100 kB", b"GET / HTTP/1.1\r\nHost: x\r\nCookie: tend_session=" + b"c" * 100_000 + b"\r\n\r\n"),
        ("Accept-Language of 50 kB", b"GET /login HTTP/1.1\r\nHost: x\r\nAccept-Language: " + b"zh-CN;q=0.9," * 4000 + b"\r\n\r\n"),
        ("1,000 pipelined requests", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 1000),
    ]
    for given, data in cases:
        answer = raw_exchange(server, data)
        crashed = server.check()
        if crashed:
            ctx.rec.fail("crash", "raw HTTP", given, crashed, "an error answer, and the server still answering")
            ctx.after_restart()
            continue
        status = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
        if status and status.group(1).startswith(b"5"):
            ctx.rec.fail("5xx", "raw HTTP", given, answer[:200].decode("latin-1"), "a 4xx")
        else:
            ctx.rec.ok()
    # Many idle connections must not starve others.
    import socket
    held = []
    try:
        for _ in range(300):
            held.append(socket.create_connection((server.host, server.port), timeout=5))
        started = time.time()
        response = request(server, "GET", "/healthz", timeout=10)
        if response.status != 200:
            ctx.rec.fail("crash", "GET /healthz", "with 300 idle connections open", response.describe(), "200 within a second")
        elif time.time() - started > 1:
            ctx.rec.fail("crash", "GET /healthz", "with 300 idle connections open", f"took {time.time() - started:.1f} s", "within a second")
        else:
            ctx.rec.ok()
    except OSError as error:
        ctx.rec.fail("crash", "connect", "300 idle connections", str(error), "connections accepted")
    finally:
        for sock in held:
            sock.close()
    server.check()


# --- cross-program ids ----------------------------------------------------------------------

def snapshot(ctx, program):
    ids = ctx.ids[program]
    base = f"/api/v1/programs/{program}"
    reads = {
        "patient": f"{base}/patients/{ids['patient']}",
        "enrolments": f"{base}/patients/{ids['patient']}/enrolments",
        "schedule": f"{base}/patients/{ids['patient']}/schedule",
        "tasks": f"{base}/tasks?status=open",
        "inbox": f"{base}/inbox?limit=2000",
        "groups": f"{base}/groups",
        "members": f"{base}/members",
        "channels": f"{base}/channels",
        "settings": f"{base}/triage/settings",
        "pathways": f"{base}/pathways",
    }
    result = {}
    for name, path in reads.items():
        response = request(ctx.server, "GET", path, token=ctx.tokens["admin"])
        data = response.json()
        if name == "inbox" and isinstance(data, dict):
            data = sorted((m["id"], m["status"], m.get("queue"), m.get("moved_to_private"), m.get("feedback_level"))
                          for m in data.get("items", []))
        if name == "tasks" and isinstance(data, dict):
            data = sorted((t["id"], t["status"], t.get("assignee_id")) for t in data.get("items", []))
        result[name] = data
    manager_tokens = request(ctx.server, "GET", "/api/v1/tokens", token=ctx.tokens["manager"]).json()
    result["manager tokens"] = sorted(t["id"] for t in (manager_tokens or {}).get("items", []))
    return result


def cross_program(ctx, document):
    """Ids of program B (lung-followup) used through program A (gdm-camp) by a caller who is in
    both: every one must be a 404 (the same answer as for an id that does not exist), and B must
    be unchanged afterwards."""
    section(ctx, "cross-program ids")
    p = ctx.prober
    a, b = ctx.ids[A], ctx.ids[B]
    before = snapshot(ctx, B)
    other = {"patient": b["patient"], "enrolment": b["enrolment"], "task": b["task"], "message": b["message"],
             "consent": b["consent"], "pathway": b["only_pathway"], "user": ctx.users["doctor"], "segment": b["segment"],
             "regimen": b["regimen"]}
    missing = {"patient": "0" * 32, "enrolment": "0" * 20, "task": "no-such-task", "message": "0" * 32,
               "consent": "0" * 32, "pathway": "no-such-pathway", "user": "0" * 32, "segment": "no-such-segment",
               "regimen": "0" * 32}
    factories = bases(ctx)
    for op in operations(document):
        for name in op.path_params:
            if name not in other:
                continue
            values = ctx.path_values()
            factory = factories.get(op.id)
            body = factory() if (factory and op.json_body) else NOT_SET
            if op.id in ("savePathway", "saveQuestionnaire", "saveAlertRules", "saveSegment"):
                body = NOT_SET
            for label, value in (("another program's", other[name]), ("a nonexistent", missing[name])):
                values[name] = value
                response = p.send(op.label, f"{{{name}}} = {label} id", op.method, op.url(values), body,
                                  expect={404} if label == "a nonexistent" else {404, 400, 409, 403}, kind="access")
                if label == "another program's":
                    foreign = response
            compare(ctx, op.label, f"{{{name}}} = another program's id", foreign, response)
            if name == "consent":
                # B's patient and B's consent, through A.
                values = ctx.path_values()
                values.update(patient=b["patient"], consent=b["consent"])
                p.send(op.label, "{patient} and {consent} of another program", op.method, op.url(values), expect={404}, kind="access")
    # Ids inside bodies.
    base = f"/api/v1/programs/{A}"
    fresh = lambda: ctx.uniq("xb-")
    body_cases = [
        ("POST /api/v1/programs/{program}/enrolments", "patient_id", f"{base}/enrolments",
         lambda v: {"pathway": "s1-revisit", "patient_id": v, "anchors": {"revisit": "2027-02-15"}}, b["patient"], "0" * 32),
        ("POST /api/v1/programs/{program}/groups", "patient_ids", f"{base}/groups",
         lambda v: {"name": "跨项目", "channel": "wecom", "binding": fresh(), "patient_ids": [v]}, b["patient"], "0" * 32),
        ("POST /api/v1/programs/{program}/groups", "patient_ids (own, own, other)", f"{base}/groups",
         lambda v: {"name": "跨项目", "channel": "wecom", "binding": fresh(), "patient_ids": [a["patient"], a["patient"], v]}, b["patient"], "0" * 32),
        ("POST /api/v1/programs/{program}/groups", "patient_ids (other, other, own)", f"{base}/groups",
         lambda v: {"name": "跨项目", "channel": "wecom", "binding": fresh(), "patient_ids": [v, v, a["patient"]]}, b["patient"], "0" * 32),
        ("POST /api/v1/programs/{program}/groups", "staff_ids", f"{base}/groups",
         lambda v: {"name": "跨项目", "channel": "wecom", "binding": fresh(), "staff_ids": [v]}, ctx.users["doctor"], "0" * 32),
        ("POST /api/v1/programs/{program}/groups", "staff_ids (own, own, other)", f"{base}/groups",
         lambda v: {"name": "跨项目", "channel": "wecom", "binding": fresh(), "staff_ids": [ctx.users["admin"], ctx.users["admin"], v]},
         ctx.users["doctor"], "0" * 32),
        ("POST /api/v1/programs/{program}/inbound", "patient_id", f"{base}/inbound",
         lambda v: {"channel": "in_app", "patient_id": v, "text": "你好"}, b["patient"], "0" * 32),
        ("POST /api/v1/programs/{program}/inbound", "group_id", f"{base}/inbound",
         lambda v: {"channel": "wecom", "group_id": v, "text": "你好"}, b["group"], "0" * 32),
        ("POST /api/v1/programs/{program}/inbound", "group_binding", f"{base}/inbound",
         lambda v: {"channel": "wecom", "group_binding": v, "text": "你好"}, b["binding"], "no-such-binding"),
        ("POST /api/v1/programs/{program}/inbound", "phone", f"{base}/inbound",
         lambda v: {"channel": "sms", "phone": v, "text": "1"}, b["phone"], "13511110000"),
        ("POST /api/v1/programs/{program}/tasks/{task}/reassign", "assignee_id", f"{base}/tasks/{a['task']}/reassign",
         lambda v: {"assignee_id": v}, ctx.users["doctor"], "0" * 32),
        ("PUT /api/v1/programs/{program}/triage/settings", "on_call_staff_id", f"{base}/triage/settings",
         lambda v: {"on_call_staff_id": v}, ctx.users["doctor"], "0" * 32),
    ]
    for endpoint, field, path, make, foreign_id, missing_id in body_cases:
        method = "PUT" if endpoint.startswith("PUT") else "POST"
        foreign = p.send(endpoint, f"{field} = another program's id", method, path, make(foreign_id), expect={400, 404},
                         field=field.split(" ")[0], kind="access")
        absent = p.send(endpoint, f"{field} = a nonexistent id", method, path, make(missing_id), expect={400, 404},
                        field=field.split(" ")[0], kind="access")
        compare(ctx, endpoint, f"{field} = another program's id", foreign, absent)
    for own_case in ([a["patient"], a["patient"]],):
        p.send("POST /api/v1/programs/{program}/groups", "patient_ids = [own, own] (duplicated)", "POST", f"{base}/groups",
               {"name": "重复", "channel": "wecom", "binding": fresh(), "patient_ids": own_case}, expect={201, 400}, field="patient_ids")
    # Filters naming another program's ids must find nothing.
    for endpoint, path in (("GET /api/v1/programs/{program}/audit", f"{base}/audit?patient={b['patient']}"),
                           ("GET /api/v1/programs/{program}/tasks", f"{base}/tasks?patient={b['patient']}"),
                           ("GET /api/v1/programs/{program}/inbox", f"{base}/inbox?group={b['group']}")):
        response = p.send(endpoint, "filter by another program's id", "GET", path, expect={200, 400, 404}, kind="access")
        items = (response.json() or {}).get("items")
        if response.status == 200 and items:
            ctx.rec.fail("access", endpoint, "filter by another program's id", f"{len(items)} item(s) returned", "no item")
    response = p.send("POST /api/v1/programs/{program}/patients/search", "phone of another program's patient", "POST",
                      f"{base}/patients/search", {"phone": b["phone"]}, expect={200}, kind="access")
    if (response.json() or {}).get("items"):
        ctx.rec.fail("access", "POST /api/v1/programs/{program}/patients/search", "phone of another program's patient",
                     "the patient was found", "no item")
    # Someone else's token.
    manager_token = next(t["id"] for t in request(ctx.server, "GET", "/api/v1/tokens", token=ctx.tokens["manager"]).json()["items"])
    p.send("DELETE /api/v1/tokens/{token}", "another user's token id", "DELETE", f"/api/v1/tokens/{manager_token}", expect={404}, kind="access")
    if request(ctx.server, "GET", "/api/v1/me", token=ctx.tokens["manager"]).status != 200:
        ctx.rec.fail("access", "DELETE /api/v1/tokens/{token}", "another user's token id", "the manager's token no longer works", "unchanged")
    after = snapshot(ctx, B)
    for name in before:
        if before[name] != after[name]:
            ctx.rec.fail("access", f"program {B}", f"{name} after the cross-program requests", "changed",
                         "nothing of the other program changed")
    roles(ctx)


def compare(ctx, endpoint, given, foreign, absent):
    if foreign.status is None or absent.status is None:
        return
    fb, ab = foreign.json() or {}, absent.json() or {}
    if foreign.status != absent.status or fb.get("error") != ab.get("error"):
        ctx.rec.fail("access", endpoint, given,
                     f"{foreign.status} {fb.get('error')} (a nonexistent id: {absent.status} {ab.get('error')})",
                     "the same answer as for an id that does not exist (404)")
    else:
        ctx.rec.ok()


def roles(ctx):
    """Staff of one program, a program admin and a platform admin outside the programs."""
    p = ctx.prober
    a, b = ctx.ids[A], ctx.ids[B]
    for who, program, ids in (("pharmacist", B, b), ("doctor", A, a), ("cadmin", A, a)):
        base = f"/api/v1/programs/{program}"
        for method, path, body in (("GET", f"{base}/patients/{ids['patient']}", NOT_SET), ("GET", f"{base}/patients", NOT_SET),
                                   ("GET", f"{base}/inbox", NOT_SET),
                                   ("POST", f"{base}/enrolments", {"pathway": ids["pathway"], "patient_id": ids["patient"],
                                                                   "anchors": {"revisit": "2027-02-15"}}),
                                   ("PATCH", f"{base}/patients/{ids['patient']}", {"address": "hacked"})):
            p.send(f"{method} {path.replace(program, '{program}')}", f"{who} (not in {program})", method, path, body,
                   who=who, expect={404}, kind="access")
    p.send("PUT /api/v1/programs/{program}/channels/{channel}", "pharmacist (may write patients, not settings)", "PUT",
           f"/api/v1/programs/{A}/channels/webhook", {"url": ctx.receiver.url, "secret": "hostile-secret-0123456789"},
           who="pharmacist", expect={403}, kind="access")
    p.send("POST /api/v1/programs/{program}/members", "pharmacist adds a member", "POST", f"/api/v1/programs/{A}/members",
           {"email": "pharm-added@hostile.test", "role": "admin", "display_name": "X", "password": "pharm-added-password"},
           who="pharmacist", expect={403}, kind="access")
    # A platform admin runs membership but cannot give themselves the patients.
    platform_id = ctx.users["platform"]
    p.send("GET /api/v1/programs/{program}/patients", "platform admin outside the program", "GET",
           f"/api/v1/programs/{A}/patients", who="platform", expect={404, 403}, kind="access")
    response = p.send("POST /api/v1/programs/{program}/members", "platform admin adds themselves as admin", "POST",
                      f"/api/v1/programs/{A}/members", {"email": "platform@hostile.test", "role": "admin"},
                      who="platform", expect={403, 400}, kind="access")
    if response.status and response.status < 300:
        reads = request(ctx.server, "GET", f"/api/v1/programs/{A}/patients?limit=1", token=ctx.tokens["platform"])
        if reads.status == 200:
            ctx.rec.fail("access", "GET /api/v1/programs/{program}/patients", "platform admin after adding themselves",
                         "200: the patients are readable", "no access to patients")
        request(ctx.server, "DELETE", f"/api/v1/programs/{A}/members/{platform_id}", token=ctx.tokens["admin"])
    # Adding a member by email reveals nothing about accounts outside the program.
    existing = p.send("POST /api/v1/programs/{program}/members", "email of an account outside the program (pharmacist@tend.demo)",
                      "POST", f"/api/v1/programs/{C}/members", {"email": "pharmacist@tend.demo", "role": "viewer"},
                      who="cadmin", expect=V.ANY)
    unknown = p.send("POST /api/v1/programs/{program}/members", "email with no account", "POST", f"/api/v1/programs/{C}/members",
                     {"email": "nobody-here@hostile.test", "role": "viewer"}, who="cadmin", expect=V.ANY)
    shown = (existing.json() or {}).get("display_name")
    if existing.status != unknown.status or shown:
        ctx.rec.fail("access", "POST /api/v1/programs/{program}/members",
                     "an email of an account in another program vs an email with no account",
                     f"{existing.status} {existing.text(160)!r} vs {unknown.status} {unknown.text(120)!r}",
                     "the same answer either way; no name or id of an account outside the program")
    if existing.status and existing.status < 300:
        request(ctx.server, "DELETE", f"/api/v1/programs/{C}/members/{ctx.users['pharmacist']}", token=ctx.tokens["cadmin"])
    # A session cookie without the CSRF header cannot write.
    session = console_login(ctx, "manager@tend.demo")
    if session:
        p.send("POST /api/v1/programs/{program}/patients", "session cookie without X-CSRF-Token", "POST",
               f"/api/v1/programs/{A}/patients", {"name": "CSRF 测试"}, who=None, cookies={"tend_session": session[0]},
               expect={403}, kind="access")


def console_login(ctx, email, password="tend-demo-2026"):
    page = request(ctx.server, "GET", "/login")
    cookie = re.search(r"tend_login_csrf=([^;]+)", page.header("set-cookie") or "")
    token = re.search(rb'name="csrf" value="([^"]+)"', page.body)
    if not cookie or not token:
        ctx.rec.note("GET /login gave no CSRF cookie or field")
        return None
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf": token.group(1).decode()})
    response = request(ctx.server, "POST", "/login", form, content_type="application/x-www-form-urlencoded",
                       cookies={"tend_login_csrf": cookie.group(1)})
    session = re.search(r"tend_session=([^;]+)", " ".join(response.headers.get("set-cookie", [])))
    if not session:
        ctx.rec.note(f"console login for {email} failed: {response.describe()}")
        ctx.revive("POST /login", f"sign-in of {email}")
        return None
    home = request(ctx.server, "GET", f"/p/{A}/patients/{ctx.ids[A]['patient']}", cookies={"tend_session": session.group(1)})
    csrf = re.search(rb'name="csrf" value="([^"]+)"', home.body)
    return session.group(1), (csrf.group(1).decode() if csrf else "")


# --- outbound targets -----------------------------------------------------------------------

SSRF_URLS = [
    "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1/", "http://[::1]/", "http://10.0.0.1/", "http://[fd00::1]/",
    "http://localhost/", "http://0.0.0.0/", "http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://017700000001/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::]/", "http://[fe80::1]/", "http://[fe80::1%25lo]/",
    "http://192.168.1.1/", "http://172.16.0.1/", "http://172.31.255.255/", "http://100.64.0.1/", "http://LOCALHOST./",
    "http://foo.localhost/", "http://127.0.0.1:22/", "http://user:pass@127.0.0.1/", "http://[0:0:0:0:0:ffff:a9fe:a9fe]/",
    "http://169.254.169.254.:80/", "http://[fd12:3456:789a::1]/", "http://[fc00::1]/", "http://224.0.0.1/",
    "http://255.255.255.255/", "http://127.0.0.1.nip.io/", "https://127.0.0.1:443/",
    "file:///etc/passwd", "gopher://127.0.0.1:25/", "ftp://127.0.0.1/", "http:///path-only", "http://%31%32%37.0.0.1/",
]


def outbound(ctx):
    """PUT …/channels/{channel} with loopback, link-local, private and unique-local targets,
    IPv4 and IPv6 and their disguises, on a server without an allow-list: each must be a 400
    naming `url`."""
    section(ctx, "outbound targets")
    p = ctx.prober
    bodies = {"webhook": {"secret": "hostile-secret-0123456789"}, "wecom": {"format": "text"},
              "sms": {"body_template": "{\"to\":\"{{phone}}\",\"text\":\"{{text}}\"}"}, "voice": {"secret": "hostile-secret-0123456789"}}
    for channel, extra in bodies.items():
        for url in SSRF_URLS:
            p.send("PUT /api/v1/programs/{program}/channels/{channel}", f"{channel} url {url}", "PUT",
                   f"/api/v1/programs/{A}/channels/{channel}", {"url": url, **extra}, expect=V.REJECT, field="url", kind="ssrf")
        listed = request(ctx.server, "GET", f"/api/v1/programs/{A}/channels", token=ctx.tokens["admin"]).json() or {}
        hosts = [c.get("url_host") for c in listed.get("items", []) if c.get("channel") == channel]
        if hosts:
            ctx.rec.note(f"after the probes, {channel} is stored with host {hosts[0]!r}")


def leak_through_dispatch(ctx, binary, common, allow):
    """A webhook receiver (allow-listed, on 127.0.0.1) that answers 500 with a private body: after a
    send by `tend dispatch --now`, staff must see a classified failure, never that body."""
    section(ctx, "outbound failure shown to staff")
    p = ctx.prober
    base = f"/api/v1/programs/{C}"
    put = p.send("PUT /api/v1/programs/{program}/channels/{channel}", "the allow-listed loopback receiver", "PUT",
                 f"{base}/channels/webhook", {"url": ctx.receiver.url, "secret": "hostile-secret-0123456789"},
                 who="cadmin", expect={200})
    if put.status != 200:
        ctx.rec.note(f"the allow-listed receiver was refused ({put.describe()}); is {allow} the allow-list setting?")
        return
    patient = ctx.patient(C, tags=("hostile=leak",), channels=("webhook",), who="cadmin")
    text = pathway_yaml("hostile-leak", step=("  - id: ping\n    anchor: start\n    offset: 0d\n    at: \"00:05\"\n    channels: [webhook]\n"
                                              "    message: {zh: \"您好\", en: \"Hello\"}\n"))
    saved = request(ctx.server, "POST", f"{base}/pathways", text, content_type="application/yaml", token=ctx.tokens["cadmin"])
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 2 * 86400))
    enrolled = request(ctx.server, "POST", f"{base}/enrolments", {"pathway": "hostile-leak", "patient_id": patient["id"],
                                                                  "anchors": {"start": tomorrow}}, token=ctx.tokens["cadmin"])
    if saved.status != 201 or enrolled.status != 201:
        ctx.rec.note(f"leak test setup failed: {saved.describe()} / {enrolled.describe()}")
        ctx.revive("POST /api/v1/programs/{program}/pathways", "a valid pathway (setup of the outbound-failure check)")
        return
    from hostile_lib import run_cli
    now = f"{tomorrow}T12:00:00+08:00"
    for _ in range(2):
        result = run_cli(binary, "dispatch", "--now", now, *common, env=allow, timeout=300)
        if result.returncode != 0:
            ctx.rec.fail("crash", "tend dispatch --now", "one pass", (result.stderr or result.stdout)[-300:], "exit 0")
            return
    if not ctx.receiver.requests:
        ctx.rec.note("the receiver got no request from `tend dispatch --now`")
    schedule = request(ctx.server, "GET", f"{base}/patients/{patient['id']}/schedule", token=ctx.tokens["cadmin"])
    errors = [t.get("last_error") for t in (schedule.json() or {}).get("items", []) if t.get("last_error")]
    ctx.rec.note(f"`tend dispatch --now` sent {len(ctx.receiver.requests)} request(s) to the receiver (answering 500); "
                 f"last_error shown to staff: {errors[:1]!r}")
    tasks = request(ctx.server, "GET", f"{base}/tasks?status=open", token=ctx.tokens["cadmin"], headers={"Accept-Language": "en"})
    for label, response in (("GET …/patients/{patient}/schedule (last_error)", schedule), ("GET …/tasks (titles)", tasks)):
        if Receiver.SECRET.encode() in response.body:
            excerpt = response.body[response.body.find(Receiver.SECRET.encode()) - 60:][:200].decode("utf-8", "replace")
            ctx.rec.fail("leak", label, "a webhook receiver answering 500 with a private body", f"…{excerpt}…",
                         "a classified failure (status code, fixed reason), never the other server's body")
        else:
            ctx.rec.ok()


# --- redirects, methods, headers ------------------------------------------------------------

REDIRECTS = ["/%09/evil.example", "/\t/evil.example", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example",
             "https://evil.example/", "http:evil.example", "/%5Cevil.example", "/%2F%2Fevil.example", " //evil.example",
             "%20//evil.example", "/\r\nSet-Cookie: injected=1", "/%0d%0aSet-Cookie:%20injected=1", "javascript:alert(1)",
             "/\u3000/evil.example", "/.//evil.example", "/%E3%80%80/evil.example", "/p/../..//evil.example", "/ok#//evil.example",
             "\u0000//evil.example", "/x" + "y" * 100_000]


def redirects(ctx):
    section(ctx, "redirects")
    session = console_login(ctx, "manager@tend.demo")
    for next_value in REDIRECTS:
        raw = next_value.replace("\r", "%0D").replace("\n", "%0A").replace("\t", "%09").replace("\u0000", "%00")
        if "%" not in next_value:
            raw = urllib.parse.quote(next_value, safe="/:")
        for who, cookies, csrf in (("anonymous", None, ""), ("signed in", session and {"tend_session": session[0]}, session and session[1])):
            if who == "signed in" and not session:
                continue
            form = f"lang=en&csrf={csrf}&next={raw}"
            response = request(ctx.server, "POST", "/settings/language", form, content_type="application/x-www-form-urlencoded",
                               cookies=cookies)
            check_location(ctx, "POST /settings/language", f"{who}, next={next_value[:60]!r}", response)


def methods(ctx, document):
    section(ctx, "undeclared methods")
    values = ctx.path_values()
    values["patient"] = ctx.ids[A]["spare_patient"]
    for path, operations_ in sorted(document.get("paths", {}).items()):
        declared = {m.upper() for m in operations_ if m.lower() in ("get", "post", "put", "patch", "delete")}
        concrete = path
        for name in re.findall(r"{(\w+)}", path):
            concrete = concrete.replace("{" + name + "}", values.get(name, "x"))
        for method in ["TRACE", "PROPFIND", "MKCOL"] + sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - declared):
            check_405(ctx, concrete, method, declared)
    # CONNECT asks for a tunnel: SwiftNIO's parser holds such a connection open without handing the
    # request to the router (the server closes it after a minute idle). What matters is that
    # it answers nothing else wrongly and everything else still gets answers.
    response = request(ctx.server, "CONNECT", "/api/v1/me", token=ctx.tokens["admin"], timeout=5.0)
    if ctx.server.check():
        ctx.rec.fail("crash", "CONNECT /api/v1/me", "undeclared method", ctx.server.check(), "no crash")
    elif response.status is not None and response.status not in (400, 405):
        ctx.rec.fail("method", "CONNECT /api/v1/me", "undeclared method", response.describe(), "405, 400 or no answer")
    elif request(ctx.server, "GET", "/healthz", timeout=10.0).status != 200:
        ctx.rec.fail("method", "CONNECT /api/v1/me", "undeclared method", "/healthz no longer answers", "the server still answering")
    else:
        ctx.rec.ok()
    for path, declared in (("/login", {"GET", "POST"}), ("/healthz", {"GET"}), ("/settings/language", {"POST"})):
        check_405(ctx, path, "TRACE", declared)


def security_headers(ctx):
    section(ctx, "security headers")
    for path, who in (("/login", None), ("/api/v1/me", "admin"), (f"/api/v1/programs/{A}/patients/nope", "admin")):
        response = request(ctx.server, "GET", path, token=ctx.tokens.get(who) if who else None)
        csp = response.header("content-security-policy") or ""
        checks = [("Content-Security-Policy with frame-ancestors 'none'", "frame-ancestors 'none'" in csp, csp or "absent"),
                  ("X-Content-Type-Options: nosniff", (response.header("x-content-type-options") or "").lower() == "nosniff",
                   response.header("x-content-type-options") or "absent"),
                  ("Referrer-Policy", bool(response.header("referrer-policy")), response.header("referrer-policy") or "absent")]
        for name, present, seen in checks:
            if present:
                ctx.rec.ok()
            else:
                ctx.rec.fail("headers", f"GET {path}", name, seen, name)


def console_forms(ctx):
    """The console forms reach the same code as the API (issue 11): far-future years there too."""
    section(ctx, "console forms")
    session = console_login(ctx, "pharmacist@tend.demo")
    if not session:
        return
    cookies = {"tend_session": session[0]}
    a = ctx.ids[A]
    fresh = [ctx.patient(A)["id"] for _ in range(2)]  # not yet enrolled, so enrolling plans touchpoints
    forms = [
        (f"/p/{A}/enrolments/{a['enrolment']}/anchors", {"anchor": "revisit", "date": "99999999999-01-01"}, "reschedule to year 99999999999"),
        (f"/p/{A}/enrolments/{a['enrolment']}/anchors", {"anchor": "revisit", "date": "9999999999-01-01"}, "reschedule to year 9999999999"),
        (f"/p/{A}/patients/{fresh[0]}/enrol", {"pathway": "s1-revisit", "anchors": "revisit=99999999999-01-01"}, "enrol with year 99999999999"),
        (f"/p/{A}/patients/{fresh[1]}/enrol", {"pathway": "s1-revisit", "anchors": "revisit=" + "1" * 60_000}, "enrol with a 60 kB anchor"),
        (f"/p/{A}/patients/{a['spare_patient']}", {"name": "远期", "birth_date": "99999999999-01-01"}, "patient form birth_date year 99999999999"),
        (f"/p/{A}/patients/{a['spare_patient']}/tags", {"add": "k=" + "v" * 100_000}, "tag of 100 kB"),
        (f"/p/{A}/patients/find", {"q": "x" * 100_000}, "find with 100 kB"),
    ]
    for path, fields, given in forms:
        form = urllib.parse.urlencode({"csrf": session[1], **fields})
        ctx.prober.send(f"POST {re.sub(r'/[0-9a-f]{20,}', '/{id}', path)}", given, "POST", path, form,
                        content_type="application/x-www-form-urlencoded", cookies=cookies, who=None,
                        headers={"Accept": "text/html"}, expect=V.REJECT)
    ctx.prober.send("POST /p/{program}/patients/{patient}", "form body of 2 MiB", "POST", f"/p/{A}/patients/{a['spare_patient']}",
                    "csrf=" + session[1] + "&name=" + "x" * (2 << 20), content_type="application/x-www-form-urlencoded",
                    cookies=cookies, who=None, headers={"Accept": "text/html"}, expect=V.REJECT)
    # The patient's questionnaire page behind /q/<token>: forged tokens, and form bodies that are
    # large, malformed multipart, or many fields. Each a 4xx, the server still answering.
    junk_form = [
        ("a forged token", "GET", "/q/tp~zz~" + "0" * 32, NOT_SET, None),
        ("a 10 kB token", "GET", "/q/" + "a" * 10_000, NOT_SET, None),
        ("a token of ~ only", "POST", "/q/~~", "fasting=2.7", "application/x-www-form-urlencoded"),
        ("multipart without a boundary", "POST", "/q/tp~zz~x", b"--x\r\n\r\n", "multipart/form-data"),
        ("multipart with a 10 kB boundary", "POST", "/q/tp~zz~x", b"--" + b"b" * 10_000 + b"\r\n", "multipart/form-data; boundary=" + "b" * 10_000),
        ("multipart never closed", "POST", "/q/tp~zz~x", b"--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + b"v" * 100_000,
         "multipart/form-data; boundary=X"),
        ("multipart with a 6 MiB photo", "POST", "/q/tp~zz~x", b"--X\r\nContent-Disposition: form-data; name=\"p\"; filename=\"p.jpg\"\r\n\r\n"
         + b"\xff\xd8\xff" + b"\x00" * (6 << 20) + b"\r\n--X--\r\n", "multipart/form-data; boundary=X"),
        ("a 20 MiB multipart body", "POST", "/q/tp~zz~x", b"--X\r\n\r\n" + b"x" * (20 << 20), "multipart/form-data; boundary=X"),
        ("10,000 form fields", "POST", "/q/tp~zz~x", "&".join(f"f{index}=1" for index in range(10_000)), "application/x-www-form-urlencoded"),
        ("a 2 MiB form", "POST", "/q/tp~zz~x", "fasting=" + "9" * (2 << 20), "application/x-www-form-urlencoded"),
    ]
    for given, method, path, body, content_type in junk_form:
        ctx.prober.send(f"{method} /q/{{token}}", given, method, path, body, content_type=content_type, who=None,
                        headers={"Accept": "text/html"}, expect=V.REJECT, timeout=60)
    # The patient portal: forged share and link tokens, junk sign-in forms, unknown programs.
    form_type = "application/x-www-form-urlencoded"
    junk_portal = [
        ("a forged share token", "GET", "/portal/s/" + "A" * 32, NOT_SET, None),
        ("a 10 kB share token", "GET", "/portal/s/" + "a" * 10_000, NOT_SET, None),
        ("a share passcode of 2 MiB", "POST", "/portal/s/" + "A" * 32, "passcode=" + "9" * (2 << 20), form_type),
        ("a share passcode of letters", "POST", "/portal/s/" + "A" * 32, "passcode=abcd%00", form_type),
        ("a forged link token", "GET", "/portal/enter/tp~zz~" + "0" * 32, NOT_SET, None),
        ("a 10 kB link token", "GET", "/portal/enter/" + "e" * 10_000, NOT_SET, None),
        ("an unknown program", "GET", "/portal/p/" + "no-such-program", NOT_SET, None),
        ("a 10 kB program slug", "GET", "/portal/p/" + "p" * 10_000, NOT_SET, None),
        ("a code request without its form token", "POST", f"/portal/p/{A}/code", "phone=13800000000", form_type),
        ("a 2 MiB phone", "POST", f"/portal/p/{A}/code", "csrf=x&phone=" + "1" * (2 << 20), form_type),
        ("10,000 form fields", "POST", f"/portal/p/{A}/sign-in", "&".join(f"f{index}=1" for index in range(10_000)), form_type),
        ("a sign-in without its form token", "POST", f"/portal/p/{A}/sign-in", "phone=13800000000&code=123456", form_type),
        ("a portal page without a session", "POST", f"/portal/p/{A}/{a['spare_patient']}/share", "hours=99999999999999999999", form_type),
    ]
    for given, method, path, body, content_type in junk_portal:
        route = re.sub(r"/portal/(s|enter)/[^/]+", r"/portal/\1/{token}", path)
        ctx.prober.send(f"{method} {route[:60]}", given, method, path, body, content_type=content_type, who=None,
                        headers={"Accept": "text/html"}, expect=V.REJECT if "without a session" not in given else V.ANY, timeout=60)
