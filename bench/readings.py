#!/usr/bin/env python3
"""A patient page with a year of daily readings (issue 14): a program with OTHERS patients holding
a month of readings each, and one patient with 365 daily fasting and 365 post-meal glucose
readings (some out of range, so the chart marks breaches and alerts are open), all recorded
over the API; then wrk on the console patient page and the patient's observations API, with
`/healthz` as the floor of the same run, at 1 and 8 connections.

  bench/readings.py --binary .build/release/tend [--database postgres://…]

Output: a table on stdout and in bench/results/readings-<backend>.txt.
"""
import argparse
import datetime
import random
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402  (the load benchmark's server, API and wrk helpers)

SLUG = "readings"


def readings_for(patient, days, start, rng, low_every=0):
    items = []
    for day in range(days):
        date = start + datetime.timedelta(days=day)
        fasting = 2.8 if low_every and day % low_every == 0 else round(rng.uniform(4.4, 6.2), 1)
        items.append({"patient_id": patient, "code": "glucose-fasting", "value": fasting, "unit": "mmol/L",
                      "effective_at": f"{date}T07:30:00+08:00", "external_id": f"{patient}-f-{day}"})
        items.append({"patient_id": patient, "code": "glucose-post-meal", "value": round(rng.uniform(5.5, 9.5), 1), "unit": "mmol/L",
                      "effective_at": f"{date}T09:30:00+08:00", "external_id": f"{patient}-p-{day}"})
    return items


def post_all(server, token, items):
    for start in range(0, len(items), 1000):
        result = load.api(server, "POST", f"/api/v1/programs/{SLUG}/observations", token,
                          {"source": "device", "observations": items[start:start + 1000]})
        assert result["recorded"] + result["duplicates"] == len(items[start:start + 1000]), result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(load.ROOT / ".build/release/tend"))
    parser.add_argument("--database", help="postgres://… (default: SQLite in a temporary folder)")
    parser.add_argument("--others", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--profile", help="record `perf` of the server during the page run into this file")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    data = Path(tempfile.mkdtemp())
    key = data / "master.key"
    key.write_text("k1:" + "R" * 43 + "=\n")
    database = args.database or f"sqlite:{data}/tend.sqlite"
    backend = "postgres" if database.startswith("postgres") else "sqlite"
    if backend == "postgres":
        # A throw-away schema state: the benchmark owns this database.
        import subprocess
        subprocess.run(["psql", database.split("?")[0], "-qc", "DROP SCHEMA public CASCADE; CREATE SCHEMA public"], check=True, capture_output=True)
    common = ["--database", database, "--key-file", str(key)]
    load.run(args.binary, "migrate", common=common)
    load.run(args.binary, "program", "create", "--slug", SLUG, "--name", "读数 Readings", common=common)
    load.run(args.binary, "user", "add", "--email", load.EMAIL, "--password", load.PASSWORD, "--program", SLUG, "--role", "manager", common=common)
    token = load.run(args.binary, "token", "create", "--user", load.EMAIL, common=common).stdout.strip()
    server = load.Server(args.binary, common)
    work = Path(tempfile.mkdtemp())
    try:
        rng = random.Random(14)
        start = datetime.date(2026, 1, 1)
        others = []
        for index in range(args.others):
            patient = load.api(server, "POST", f"/api/v1/programs/{SLUG}/patients", token,
                               {"name": f"读数{index}", "phone": f"139{index:08d}"})
            others.append(patient["id"])
        items = []
        for patient in others:
            items += readings_for(patient, 30, start + datetime.timedelta(days=rng.randrange(300)), rng)
        post_all(server, token, items)
        year = load.api(server, "POST", f"/api/v1/programs/{SLUG}/patients", token, {"name": "一年读数", "phone": "13800000365"})["id"]
        post_all(server, token, readings_for(year, 365, start, rng, low_every=40))
        load.log(f"data: {args.others} patients × 60 readings, one patient × 730 readings over 365 days")
        cookie = [f"Cookie: {load.console_cookie(server)}"]
        bearer = [f"Authorization: Bearer {token}"]
        files = {"dir": work, "ids": work / "ids.txt", "phones": work / "phones.txt"}
        files["ids"].write_text(year + "\n")
        files["phones"].write_text("13800000365\n")
        page = load.urllib.request.urlopen(load.urllib.request.Request(server.url + f"/p/{SLUG}/patients/{year}", headers={"Cookie": cookie[0][8:]})).read().decode()
        breaches = len(re.findall(r'class="breach"', page))
        assert '<svg class="chart"' in page and breaches >= 5, f"the page charts no breaches ({breaches})"
        paths = [("healthz (floor)", "/healthz", []), ("console patient page", f"/p/{SLUG}/patients/{{id}}", cookie),
                 ("observations API", f"/api/v1/programs/{SLUG}/patients/{{id}}/observations", bearer)]
        results = []
        if args.profile:
            import subprocess
            perf = subprocess.Popen(["perf", "record", "-g", "-o", args.profile, "-p", str(server.process.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            load.wrk(server, "profile", paths[1][1], "get", paths[1][2], files, 1, args.duration, 1)
            perf.send_signal(2)
            perf.wait()
        for connections in (1, 8):
            for name, path, headers in paths:
                result = load.wrk(server, re.sub(r"\W+", "-", name) + f"-{connections}", path, "get", headers, files, connections, args.duration, min(2, connections))
                results.append(result | {"name": name, "connections": connections})
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    lines = [f"readings benchmark: {backend}, one patient with 730 readings over 365 days (chart: {breaches} breaches marked), "
             f"{args.others} others with 60; {args.duration} s a path, {args.binary}",
             f"{'path':<24}{'conns':>6}{'req/s':>10}{'of floor':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"]
    for result in results:
        floor = next(r["rate"] for r in results if r["connections"] == result["connections"] and r["name"].startswith("healthz"))
        lines.append(f"{result['name']:<24}{result['connections']:>6}{result['rate']:>10.0f}{result['rate'] / floor:>10.2f}"
                     f"{result['p50']:>9.2f}{result['p99']:>9.2f}{result['non2xx']:>9}")
    report = "\n".join(lines)
    load.log(report)
    out = load.ROOT / "bench/results" / f"readings-{backend}.txt"
    out.write_text(report + "\n")


if __name__ == "__main__":
    main()
