"""schemathesis 4 against the served OpenAPI document, with `--checks all`, real path parameters
and a real bearer token (e2e/schemathesis.toml), and a summary of its failures by kind."""
import base64
import glob
import json
import os
import subprocess
import sys
import time
from collections import OrderedDict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(ctx, server, out_dir, max_examples=25, seed=20261201, timeout=1200):
    rec = ctx.rec
    rec.section = "schemathesis"
    print("\n== schemathesis", flush=True)
    report_dir = Path(out_dir) / "schemathesis"
    report_dir.mkdir(parents=True, exist_ok=True)
    for old in report_dir.glob("*"):
        if old.is_file():
            old.unlink()
    a = ctx.ids["gdm-camp"]
    env = dict(os.environ)
    env.update({
        "TEND_ST_TOKEN": ctx.tokens["admin"], "TEND_ST_PROGRAM": "gdm-camp", "TEND_ST_PATIENT": a["patient"],
        "TEND_ST_ENROLMENT": a["enrolment"], "TEND_ST_TASK": a["task"], "TEND_ST_MESSAGE": a["message"],
        "TEND_ST_CONSENT": a["consent"], "TEND_ST_TOKEN_ID": a["token"], "TEND_ST_USER": a["member"],
        "TEND_ST_PATHWAY": a["pathway"], "TEND_ST_SEGMENT": a["segment"], "TEND_ST_REGIMEN": a["regimen"], "TEND_ST_MEMBER_EMAIL": "sweep-member@hostile.test", "NO_COLOR": "1",
    })
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(HERE / "schemathesis.toml"), "run",
               f"{server.url}/api/v1/openapi.json", "--checks", "all", "--max-examples", str(max_examples), "--seed", str(seed),
               "--report", "junit,ndjson", "--report-dir", str(report_dir), "--no-color"]
    started = time.time()
    with open(report_dir / "output.txt", "w") as output:
        try:
            result = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, env=env, timeout=timeout, cwd=str(HERE))
            code = result.returncode
        except subprocess.TimeoutExpired:
            code = None
    seconds = time.time() - started
    text = (report_dir / "output.txt").read_text(errors="replace")
    summary = {"exit": code, "seconds": round(seconds, 1), "command": " ".join(command[2:])}
    tail = [line for line in text.splitlines() if "generated" in line or "failures" in line or "passed" in line][-3:]
    summary["tail"] = tail
    print(f"   schemathesis exited {code} after {seconds:.0f}s: {' / '.join(tail)}", flush=True)
    crashed = server.check()
    if crashed:
        rec.fail("crash", "schemathesis run", "generated cases", crashed, "the server still answering")
    if code is None:
        rec.fail("schemathesis", "schemathesis", "the whole run", f"did not finish within {timeout} s", "a bounded run")
        return summary
    failures = parse(report_dir)
    summary["failures"] = failures
    if code not in (0, 1):
        rec.fail("schemathesis", "schemathesis", "the whole run", f"exit status {code}: {text[-800:]}", "exit 0")
    for failure in failures:
        kind = "5xx" if failure["code"] in ("ST101",) or failure["title"].lower().startswith("server error") else "schemathesis"
        rec.fail(kind, failure["operation"], f"{failure['code']} {failure['title']} ({failure['count']} case(s))",
                 failure["example"], "0 schemathesis failures")
    if code == 0 and not failures:
        rec.ok()
    elif code == 1 and not failures:
        rec.fail("schemathesis", "schemathesis", "the whole run", "exit 1 without a parsed failure: " + text[-600:], "exit 0")
    return summary


def parse(report_dir):
    """Distinct failures from the NDJSON event stream: (code, operation, title) with a count and one example."""
    distinct = OrderedDict()
    for path in sorted(glob.glob(str(Path(report_dir) / "*.ndjson"))):
        for line in open(path, encoding="utf-8", errors="replace"):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished.get("recorder") or {}
            cases = recorder.get("cases") or {}
            interactions = recorder.get("interactions") or {}
            for case_id, checks in (recorder.get("checks") or {}).items():
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    info = (check.get("failure_info") or {}).get("failure") or {}
                    code = info.get("code") or check.get("name")
                    operation = info.get("operation") or recorder.get("label")
                    title = info.get("title") or check.get("name")
                    key = (code, operation, title)
                    if key in distinct:
                        distinct[key]["count"] += 1
                        continue
                    case = (cases.get(case_id) or {}).get("value") or {}
                    interaction = interactions.get(case_id) or {}
                    response = interaction.get("response") or {}
                    content = response.get("content") or {}
                    body = ""
                    if "$base64" in content:
                        body = base64.b64decode(content["$base64"]).decode("utf-8", "replace")
                    elif "string" in content:
                        body = content["string"]
                    request_body = case.get("body")
                    example = (f"{case.get('method', '?')} {case.get('path', '')}"
                               + (f" query={json.dumps(case.get('query'), ensure_ascii=False)[:160]}" if case.get("query") else "")
                               + (f" body={json.dumps(request_body, ensure_ascii=False)[:240]}" if request_body not in (None, "") else "")
                               + f" → {response.get('status_code', '?')} {body[:200]!r}"
                               + f" — {(info.get('message') or '').splitlines()[0][:200] if info.get('message') else ''}")
                    distinct[key] = {"code": code, "operation": operation, "title": title, "count": 1, "check": check.get("name"),
                                     "example": example, "message": (info.get("message") or "")[:600]}
    return list(distinct.values())
