#!/usr/bin/env python3
"""What people wait for, at scale (issue 13): builds a program of ROWS patients once through the
real binary (`tend import patients`, `tend pathway load`, `tend enrol`: tags on every patient,
ten touchpoints each), adds inbound messages and the tasks they raise for a few thousand
patients over the API, serves it with `tend serve`, and measures with wrk (8 connections):
`/healthz` (the floor, same run), the API's patient, list, tag list, phone search, create,
schedule, tasks and inbox, and the console's Today, inbox, patient list and patient page.

  bench/load.py --binary .build/release/tend --rows 1000000 --data /tmp/load-sqlite
  bench/load.py --binary .build/release/tend --rows 1000000 --data /tmp/load-pg --database postgres://…

The data folder is kept and reused when it already holds ROWS patients (building a million
takes a few minutes). Output: a table (req/s, p50, p99, non-2xx) on stdout and in
bench/results/load-<backend>-<rows>.txt; resident memory of the server before and after.
"""
import argparse
import http.cookiejar
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "load@tend.test"
PASSWORD = "load-password-1"
SLUG = "load"

PATHWAY = """pathway: load-ten
version: 1
name:
  zh: 压测方案
  en: Load pathway
anchors: [start]
steps:
""" + "".join(f"""  - id: step-{n}
    anchor: start
    offset: {n * 7}d
    at: "09:00"
    channels: [in_app]
    message:
      zh: "{{{{patient.name}}}}您好，第{n}次随访提醒。"
      en: "Hello {{{{patient.name}}}}, follow-up reminder {n}."
""" for n in range(1, 11))


def log(text):
    print(text, flush=True)


def run(binary, *args, common, check=True):
    result = subprocess.run([binary, *args, *common], capture_output=True, text=True)
    if check and result.returncode != 0:
        sys.exit(f"tend {' '.join(args)} failed: {result.stderr or result.stdout}")
    return result


def phone(index):
    return f"13{index:09d}"


def write_patients(path, rows):
    surnames, given = "王李张刘陈杨黄赵", "芳伟敏强静磊丽军"
    with open(path, "w", encoding="utf-8") as out:
        out.write("external_id,name,sex,birth_date,phone,time_zone,channels,tags\n")
        for index in range(rows):
            tags = f"disease=T2DM;cohort={index % 10}" + (";risk=high" if index % 100 == 7 else "")
            out.write(f"L{index},{surnames[index % 8]}{given[(index // 8) % 8]}{index % 100},{'女' if index % 2 else '男'},"
                      f"19{50 + index % 50}-0{1 + index % 9}-1{index % 10},{phone(index)},Asia/Shanghai,in_app,{tags}\n")


def build(binary, data, rows, common):
    """A program of `rows` patients with ten touchpoints each, built through the CLI."""
    run(binary, "migrate", common=common)
    run(binary, "program", "create", "--slug", SLUG, "--name", "压测项目 Load", common=common)
    run(binary, "user", "add", "--email", EMAIL, "--password", PASSWORD, "--program", SLUG, "--role", "manager", common=common)
    csv = data / "patients.csv"
    write_patients(csv, rows)
    started = time.monotonic()
    result = run(binary, "import", "patients", str(csv), "--program", SLUG, common=common)
    log(f"import: {rows} patients in {time.monotonic() - started:.1f} s ({result.stdout.strip().splitlines()[-1]})")
    csv.unlink()
    pathway = data / "load-ten.yaml"
    pathway.write_text(PATHWAY, encoding="utf-8")
    run(binary, "pathway", "load", str(pathway), "--program", SLUG, common=common)
    started = time.monotonic()
    result = run(binary, "enrol", "--program", SLUG, "--pathway", "load-ten", "--tags", "disease=T2DM", "--anchor", "start=2026-12-01", common=common)
    log(f"enrol: {time.monotonic() - started:.1f} s ({result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ''})")
    (data / "built").write_text(str(rows))


class Server:
    def __init__(self, binary, common):
        self.process = subprocess.Popen([binary, "serve", *common, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started = time.monotonic()
        self.url = None
        while self.url is None:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                sys.exit("tend serve exited before it printed its URL")
            match = re.search(r"running at (http://\S+)", line)
            self.url = match.group(1) if match else None
        while True:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.05)
        self.started_in = time.monotonic() - started
        # Keep reading its output so that it never blocks on a full pipe.
        import threading
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()

    def resident_mb(self):
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def api(server, method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def console_cookie(server):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(server.url + "/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"email": EMAIL, "password": PASSWORD, "csrf": csrf}).encode()
    opener.open(urllib.request.Request(server.url + "/login", data=form, method="POST"), timeout=10).read()
    session = next(cookie for cookie in jar if cookie.name == "tend_session")
    return f"tend_session={session.value}"


def seed_messages(server, token, patient_ids, count):
    """Inbound messages for `count` patients; the urgent ones raise tasks, as in a real morning."""
    texts = ["今天空腹血糖6.1，谢谢医生", "请问复诊需要空腹吗", "刚测血糖2.6，手抖出冷汗", "胸口很痛喘不上气", "打卡✅ 餐后两小时7.8"]
    for index, patient in enumerate(patient_ids[:count]):
        api(server, "POST", f"/api/v1/programs/{SLUG}/inbound", token,
            {"channel": "in_app", "patient_id": patient, "text": texts[index % len(texts)]})


LUA = r"""
local ids, phones = {}, {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
for line in io.lines("%(phones)s") do phones[#phones + 1] = line end
local kind = "%(kind)s"
local counter = 0
seed = 0
setup = function(thread) seed = seed + 1; thread:set("seed", seed) end
init = function(args) math.randomseed(seed * 7919 + os.time()) end
request = function()
  local id = ids[math.random(#ids)]
  local path = string.gsub("%(path)s", "{id}", id)
  if kind == "search" then
    return wrk.format("POST", path, nil, '{"phone":"' .. phones[math.random(#phones)] .. '"}')
  elseif kind == "create" then
    counter = counter + 1
    return wrk.format("POST", path, nil, string.format('{"name":"压测%%d","phone":"19%%d%%08d"}', counter, seed, counter))
  end
  return wrk.format("GET", path)
end
"""


def wrk(server, name, path, kind, headers, files, connections, duration, threads):
    script = files["dir"] / f"{name}.lua"
    script.write_text(LUA % {"ids": files["ids"], "phones": files["phones"], "kind": kind, "path": path})
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", "--timeout", "10s", "-s", str(script)]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [server.url], capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    def percentile(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    timeouts = re.search(r"timeout (\d+)", output)
    return {"name": name, "rate": rate, "p50": percentile("50"), "p99": percentile("99"),
            "non2xx": int(errors.group(1)) if errors else 0, "timeouts": int(timeouts.group(1)) if timeouts else 0}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(ROOT / ".build/release/tend"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", required=True, help="data folder, kept for the next run")
    parser.add_argument("--database", help="postgres://… (default: SQLite in the data folder)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    key = data / "master.key"
    if not key.exists():
        key.write_text("k1:" + "L" * 43 + "=\n")
    database = args.database or f"sqlite:{data}/tend.sqlite"
    backend = "postgres" if database.startswith("postgres") else "sqlite"
    common = ["--database", database, "--key-file", str(key)]
    built = data / "built"
    fresh = not (built.exists() and built.read_text() == str(args.rows))
    if fresh:
        build(args.binary, data, args.rows, common)
    token = run(args.binary, "token", "create", "--user", EMAIL, common=common).stdout.strip()

    server = Server(args.binary, common)
    log(f"serve: answered /healthz {server.started_in:.2f} s after start, {server.resident_mb():.0f} MB resident")
    work = Path(tempfile.mkdtemp())
    try:
        ids = []
        after = None
        while len(ids) < 20_000:
            page = api(server, "GET", f"/api/v1/programs/{SLUG}/patients?limit=500" + (f"&after={after}" if after else ""), token)
            ids += [patient["id"] for patient in page["items"]]
            after = page.get("next_after")
            if not after:
                break
        random.Random(13).shuffle(ids)
        if fresh:
            started = time.monotonic()
            seed_messages(server, token, ids, args.messages)
            log(f"messages: {args.messages} inbound over the API in {time.monotonic() - started:.1f} s")
        files = {"dir": work, "ids": work / "ids.txt", "phones": work / "phones.txt"}
        files["ids"].write_text("\n".join(ids) + "\n")
        files["phones"].write_text("\n".join(phone(random.Random(index).randrange(args.rows)) for index in range(20_000)) + "\n")
        bearer = [f"Authorization: Bearer {token}", "Content-Type: application/json"]
        cookie = [f"Cookie: {console_cookie(server)}"]
        base = f"/api/v1/programs/{SLUG}"
        paths = [
            ("healthz (floor)", "/healthz", "get", []),
            ("GET patient", base + "/patients/{id}", "get", bearer),
            ("list 20", base + "/patients?limit=20", "get", bearer),
            ("list 20 by tag", base + "/patients?limit=20&tags=cohort=3", "get", bearer),
            ("list 20 by rare tag", base + "/patients?limit=20&tags=risk=high", "get", bearer),
            ("phone search", base + "/patients/search", "search", bearer),
            ("schedule", base + "/patients/{id}/schedule", "get", bearer),
            ("tasks", base + "/tasks", "get", bearer),
            ("inbox", base + "/inbox", "get", bearer),
            ("console Today", f"/p/{SLUG}/today", "get", cookie),
            ("console inbox", f"/p/{SLUG}/inbox", "get", cookie),
            ("console patient list", f"/p/{SLUG}/patients", "get", cookie),
            ("console patient page", f"/p/{SLUG}/patients/{{id}}", "get", cookie),
            ("create patient", base + "/patients", "create", bearer),
        ]
        results = [wrk(server, re.sub(r"\W+", "-", name), path, kind, headers, files, args.connections, args.duration, args.threads) | {"name": name}
                   for name, path, kind, headers in paths]
        memory = server.resident_mb()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    floor = results[0]["rate"]
    lines = [f"load benchmark: {backend}, {args.rows} patients, {args.connections} connections, {args.duration} s a path, {args.binary}",
             f"serve answered /healthz {server.started_in:.2f} s after start; resident after the run {memory:.0f} MB",
             f"{'path':<24}{'req/s':>10}{'of floor':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'timeouts':>9}"]
    for result in results:
        lines.append(f"{result['name']:<24}{result['rate']:>10.0f}{result['rate'] / floor:>10.2f}{result['p50']:>9.2f}{result['p99']:>9.2f}"
                     f"{result['non2xx']:>9}{result['timeouts']:>9}")
    report = "\n".join(lines)
    log(report)
    out = ROOT / "bench/results" / f"load-{backend}-{args.rows}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")


if __name__ == "__main__":
    main()
