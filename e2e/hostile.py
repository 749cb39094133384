#!/usr/bin/env python3
"""The permanent hostile-input suite of issue 11 (point 8, acceptance 1–3), against the real
binary: extremes of every scalar kind for every operation of GET /api/v1/openapi.json, deep and
wide bodies, the reproductions the issue lists, cross-program ids, outbound targets, open
redirects, undeclared methods, a sign-in flood while another request is timed, and schemathesis
with `--checks all` and real path parameters. Run by .ci/run after e2e/run.py:

    .venv-e2e/bin/python e2e/hostile.py --binary .build/debug/tend [--postgres-url postgres://...]

It exits non-zero on any 5xx, any process exit, any schemathesis failure, and every other
finding; e2e/out/hostile/ gets the findings (results.json, report.md), the servers' logs and
schemathesis' reports.

No request leaves the machine: everything but the PostgreSQL part runs in a network namespace of
its own that has only the loopback interface (`unshare --net`), every server runs with the
dispatcher off (TEND_DISPATCH_ENABLED=false), and the one channel that is ever sent to points
at a receiver on 127.0.0.1 that the suite starts. The PostgreSQL part (the cluster .ci/run starts
on 127.0.0.1) configures no channel.
"""
import argparse
import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hostile_flood  # noqa: E402
import hostile_probes as probes  # noqa: E402
import hostile_schemathesis  # noqa: E402
from hostile_lib import KINDS, KIND_ORDER, Receiver, Recorder, Server, cli_ok, request  # noqa: E402

SECTIONS = ["repro", "cross", "sweep", "transport", "outbound", "leak", "redirects", "methods", "headers", "console",
            "schemathesis", "flood"]
# The operator allow-list for outbound targets (issue 11, point 3), given to every server so that
# the suite's own receiver (and only its port) may be used.
DEFAULT_ALLOW_ENV = "TEND_OUTBOUND_ALLOW"


def enter_private_network():
    """Brings up `lo` in the fresh network namespace this process was started in."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    request_ = struct.pack("16sH", b"lo", 0)
    flags = struct.unpack("16sH", fcntl.ioctl(sock.fileno(), 0x8913, request_))[1]  # SIOCGIFFLAGS
    fcntl.ioctl(sock.fileno(), 0x8914, struct.pack("16sH", b"lo", flags | 0x1))  # SIOCSIFFLAGS, IFF_UP
    sock.close()
    interfaces = [name for _, name in socket.if_nameindex()]
    if interfaces != ["lo"]:
        raise RuntimeError(f"the network namespace has {interfaces}, expected only lo")


def seed(binary, workdir):
    """The demo's data (two programs, 600 patients, pathways, tasks, messages) plus a third
    program with its own admin and a platform admin who is in no program."""
    data = Path(workdir) / "seed"
    process = subprocess.Popen([binary, "demo", "--data-dir", str(data), "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if "Ctrl-C" in line:
            break
    process.terminate()
    process.wait(30)
    if not (data / "tend.sqlite").exists() or not any("Ctrl-C" in line for line in lines):
        raise RuntimeError("tend demo did not start: " + "".join(lines)[-2000:])
    common = ["--database", f"sqlite:{data}/tend.sqlite", "--key-file", f"{data}/master.key"]
    cli_ok(binary, "program", "create", "--slug", probes.C, "--name", "敌意测试 C Hostile", *common)
    cli_ok(binary, "user", "add", "--email", "cadmin@hostile.test", "--password", "hostile-password-c", "--name", "C Admin",
           "--program", probes.C, "--role", "admin", *common)
    cli_ok(binary, "user", "add", "--email", "platform@hostile.test", "--password", "hostile-password-p", "--name", "Platform",
           "--platform-admin", *common)
    cli_ok(binary, "user", "add", "--email", "pw@hostile.test", "--password", "hostile-password-w", "--name", "Password Probe",
           "--program", probes.C, "--role", "viewer", *common)
    return data


USERS = {"admin": "admin@tend.demo", "manager": "manager@tend.demo", "pharmacist": "pharmacist@tend.demo",
         "doctor": "doctor@tend.demo", "cadmin": "cadmin@hostile.test", "platform": "platform@hostile.test",
         "pw": "pw@hostile.test"}


def copy_with_tokens(binary, seed_dir, workdir, label):
    data = Path(workdir) / label
    shutil.copytree(seed_dir, data)
    common = ["--database", f"sqlite:{data}/tend.sqlite", "--key-file", f"{data}/master.key"]
    tokens = {who: cli_ok(binary, "token", "create", "--user", email, "--name", "hostile", *common).strip()
              for who, email in USERS.items()}
    cli_ok(binary, "token", "create", "--user", USERS["admin"], "--name", "revoke-me", *common)
    return data, common, tokens


def run_sections(args, rec, out_dir, workdir):
    binary = args.binary
    wanted = set(args.only.split(",")) if args.only else set(SECTIONS)
    started = time.time()
    seed_dir = seed(binary, workdir)
    print(f"seeded in {time.time() - started:.1f}s", flush=True)
    receiver = Receiver(status=500)
    # The allow-list names hosts: the main server may reach 127.0.0.1 (the suite's receiver, the
    # base of every channel the sweep configures); the "outbound" server has no allow-list, so
    # every loopback, link-local and private target must be refused there.
    allow = {args.outbound_allow_env: "127.0.0.1"}
    timings = {}
    summary = {}

    if "outbound" in wanted or "repro" in wanted:
        begun = time.time()
        data, common, tokens = copy_with_tokens(binary, seed_dir, workdir, "outbound")
        server = Server(binary, f"sqlite:{data}/tend.sqlite", f"{data}/master.key", "outbound", log_dir=str(out_dir)).start()
        try:
            ctx = probes.Context(binary, server, rec, tokens, receiver)
            ctx.prepare(minimal=True)
            if "repro" in wanted:
                probes.reproduce_ssrf(ctx)
            if "outbound" in wanted:
                probes.outbound(ctx)
        finally:
            server.stop()
        timings["outbound"] = round(time.time() - begun, 1)

    main_sections = [s for s in SECTIONS[:10] if s in wanted and s != "outbound"]
    if main_sections:
        data, common, tokens = copy_with_tokens(binary, seed_dir, workdir, "main")
        server = Server(binary, f"sqlite:{data}/tend.sqlite", f"{data}/master.key", "main", env=allow, log_dir=str(out_dir)).start()
        try:
            ctx = probes.Context(binary, server, rec, tokens, receiver)
            ctx.prepare()
            document = request(server, "GET", "/api/v1/openapi.json").json()
            summary["operations"] = len(probes.operations(document))
            steps = {
                "repro": lambda: probes.reproductions(ctx, channels=False),
                "cross": lambda: probes.cross_program(ctx, document),
                "sweep": lambda: probes.sweep(ctx, document, quick=args.quick),
                "transport": lambda: probes.transport_probes(ctx),
                "leak": lambda: probes.leak_through_dispatch(ctx, binary, common, allow),
                "redirects": lambda: probes.redirects(ctx),
                "methods": lambda: probes.methods(ctx, document),
                "headers": lambda: probes.security_headers(ctx),
                "console": lambda: probes.console_forms(ctx),
            }
            for name in main_sections:
                begun = time.time()
                try:
                    steps[name]()
                except Exception as error:  # noqa: BLE001 - a broken section is a finding; the others go on
                    traceback.print_exc()
                    rec.fail("crash" if not server.healthy() else "error-shape", f"section {name}", "the suite itself",
                             f"{type(error).__name__}: {error}", "the section to run to its end")
                    server.check()
                timings[name] = round(time.time() - begun, 1)
            summary["server_restarts"] = server.starts - 1
        finally:
            server.stop()

    if "schemathesis" in wanted:
        begun = time.time()
        data, common, tokens = copy_with_tokens(binary, seed_dir, workdir, "schemathesis")
        server = Server(binary, f"sqlite:{data}/tend.sqlite", f"{data}/master.key", "schemathesis", env=allow, log_dir=str(out_dir)).start()
        try:
            ctx = probes.Context(binary, server, rec, tokens, receiver)
            ctx.prepare()
            summary["schemathesis"] = hostile_schemathesis.run(ctx, server, out_dir, max_examples=args.max_examples)
        finally:
            server.stop()
        timings["schemathesis"] = round(time.time() - begun, 1)

    if "flood" in wanted:
        begun = time.time()
        data, common, tokens = copy_with_tokens(binary, seed_dir, workdir, "flood")
        server = Server(binary, f"sqlite:{data}/tend.sqlite", f"{data}/master.key", "flood", env=allow, log_dir=str(out_dir)).start()
        try:
            ctx = probes.Context(binary, server, rec, tokens, receiver)
            summary["flood"] = hostile_flood.flood(ctx, server, tokens["admin"], max_wait=args.flood_max_wait)
        finally:
            server.stop()
        timings["flood"] = round(time.time() - begun, 1)
    receiver.close()
    summary["seconds"] = timings
    return summary


def postgres_part(args, rec, out_dir, workdir):
    """The reproductions and a sweep of the date, instant and list fields on PostgreSQL, whose
    column types and errors differ from SQLite's. No channel is configured here."""
    url = args.postgres_url
    rec.section = "postgresql"
    print("\n== PostgreSQL", flush=True)
    if not shutil.which("psql"):
        rec.note("psql is not installed: PostgreSQL part skipped")
        return {}
    schema = f"hostile_{os.getpid()}"
    made = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"],
                          capture_output=True, text=True)
    if made.returncode != 0:
        rec.fail("crash", "PostgreSQL", "create a schema", made.stderr.strip()[:300], "a schema for the suite")
        return {}
    key = Path(workdir) / "pg.key"
    key.write_text("k1:" + "H" * 43 + "=\n")
    separator = "&" if "?" in url else "?"
    common = ["--database", f"{url}{separator}search_path={schema}", "--key-file", str(key)]
    binary = args.binary
    try:
        cli_ok(binary, "migrate", *common)
        pathway = HERE.parent / "Sources/TendServer/Assets/pathways/s1-revisit.yaml"
        csv = Path(workdir) / "pg.csv"
        csv.write_text("external_id,name,phone,tags\n" + "".join(f"PG{i},患者{i},137{i:08d},cohort=pg\n" for i in range(20)), encoding="utf-8")
        for slug in (probes.A, probes.B, probes.C):
            cli_ok(binary, "program", "create", "--slug", slug, "--name", f"PG {slug}", *common)
        for slug in (probes.A, probes.B):
            cli_ok(binary, "pathway", "load", str(pathway), "--program", slug, *common)
            cli_ok(binary, "import", "patients", str(csv), "--program", slug, *common)
        people = [("admin", "admin@tend.demo", [(probes.A, "admin"), (probes.B, "admin")], True),
                  ("manager", "manager@tend.demo", [(probes.A, "manager"), (probes.B, "manager")], False),
                  ("pharmacist", "pharmacist@tend.demo", [(probes.A, "pharmacist")], False),
                  ("doctor", "doctor@tend.demo", [(probes.B, "doctor")], False),
                  ("cadmin", "cadmin@hostile.test", [(probes.C, "admin")], False),
                  ("platform", "platform@hostile.test", [], True),
                  ("pw", "pw@hostile.test", [(probes.C, "viewer")], False)]
        tokens = {}
        for who, email, memberships, platform in people:
            first = True
            for slug, role in memberships or [(None, None)]:
                extra = ["--password", "tend-demo-2026"] if first else []
                extra += ["--program", slug, "--role", role] if slug else []
                extra += ["--platform-admin"] if platform and first else []
                cli_ok(binary, "user", "add", "--email", email, *extra, *common)
                first = False
            tokens[who] = cli_ok(binary, "token", "create", "--user", email, "--name", "hostile", *common).strip()
        cli_ok(binary, "token", "create", "--user", "admin@tend.demo", "--name", "revoke-me", *common)
    except Exception as error:  # noqa: BLE001
        rec.fail("crash", "PostgreSQL setup", "CLI", str(error)[:400], "the CLI to succeed")
        return {}
    server = Server(binary, common[1], str(key), "postgres", log_dir=str(out_dir)).start()
    receiver = Receiver()
    try:
        ctx = probes.Context(binary, server, rec, tokens, receiver)
        ctx.section_prefix = "PostgreSQL: "
        ctx.prepare()
        document = request(server, "GET", "/api/v1/openapi.json").json()
        probes.reproductions(ctx, channels=False)
        wanted = {"createPatient", "postInbound", "enrol", "moveAnchor", "createGroup", "listPatients", "getInbox", "listAudit",
                  "updatePatient", "changePatientTags", "completeTask"}
        probes.sweep(ctx, {**document, "paths": {path: {m: spec for m, spec in methods.items() if spec.get("operationId") in wanted}
                                                 for path, methods in document["paths"].items()}}, quick=False)
    finally:
        server.stop()
        receiver.close()
        subprocess.run(["psql", url, "-qc", f"DROP SCHEMA IF EXISTS {schema} CASCADE"], capture_output=True)
    return {"restarts": server.starts - 1}


def write_results(out_dir, rec, summary, elapsed):
    data = {"checked": rec.checked, "findings": rec.findings, "notes": rec.notes, "summary": summary, "seconds": round(elapsed, 1)}
    (out_dir / "results.json").write_text(json.dumps(data, ensure_ascii=False, indent=1))
    lines = ["# Hostile-input suite: findings", "",
             f"{rec.checked} checks, {len(rec.findings)} findings, {elapsed:.0f} s.", ""]
    titles = dict(KINDS)
    for kind in sorted({f["kind"] for f in rec.findings}, key=lambda k: KIND_ORDER.get(k, 99)):
        group = [f for f in rec.findings if f["kind"] == kind]
        lines += [f"## {titles.get(kind, kind)} ({len(group)})", ""]
        by_endpoint = {}
        for finding in group:
            by_endpoint.setdefault(finding["endpoint"], []).append(finding)
        for endpoint, items in by_endpoint.items():
            lines.append(f"- `{endpoint}` ({len(items)})")
            for finding in items[:12]:
                lines.append(f"  - [{finding['section']}] {finding['input']}: saw {finding['seen'][:400]}; expected {finding['expected']}")
            if len(items) > 12:
                lines.append(f"  - … {len(items) - 12} more")
        lines.append("")
    if rec.notes:
        lines += ["## Notes", ""] + [f"- [{section}] {text}" for section, text in rec.notes] + [""]
    lines += ["## Summary", "", "```", json.dumps(summary, ensure_ascii=False, indent=1, default=str)[:20000], "```", ""]
    (out_dir / "report.md").write_text("\n".join(lines))


def merge(out_dir, rec):
    inner = out_dir / "results-netns.json"
    if not inner.exists():
        return {}
    data = json.loads(inner.read_text())
    rec.findings = data["findings"] + rec.findings
    rec.checked += data["checked"]
    rec.notes = [tuple(note) for note in data["notes"]] + rec.notes
    return data["summary"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=".build/debug/tend")
    parser.add_argument("--postgres-url", default=os.environ.get("TEND_TEST_POSTGRES_URL"))
    parser.add_argument("--only", help=f"comma-separated sections: {','.join(SECTIONS)},postgres")
    parser.add_argument("--quick", action="store_true", help="one field per operation in the sweep")
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--flood-max-wait", type=int, default=150, help="the longest throttle window the suite waits out")
    parser.add_argument("--outbound-allow-env", default=DEFAULT_ALLOW_ENV)
    parser.add_argument("--out", default=str(HERE / "out" / "hostile"))
    parser.add_argument("--no-netns", action="store_true", help="run without a private network namespace (not in CI)")
    parser.add_argument("--inside-netns", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.binary = str(Path(args.binary).resolve())
    out_dir = Path(args.out)
    started = time.time()
    rec = Recorder()
    wanted = set(args.only.split(",")) if args.only else set(SECTIONS) | {"postgres"}

    if args.inside_netns:
        if not args.no_netns:
            enter_private_network()
        workdir = tempfile.mkdtemp(prefix="tend-hostile-")
        try:
            summary = run_sections(args, rec, out_dir, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        data = {"checked": rec.checked, "findings": rec.findings, "notes": rec.notes, "summary": summary}
        (out_dir / "results-netns.json").write_text(json.dumps(data, ensure_ascii=False))
        return 0

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    summary = {}
    if wanted - {"postgres"}:
        if args.no_netns:
            print("hostile: --no-netns: running in this machine's network namespace", flush=True)
            command = [sys.executable, __file__, "--inside-netns", "--no-netns"]
        else:
            probe = subprocess.run(["unshare", "--net", "--", "true"], capture_output=True, text=True)
            if probe.returncode != 0:
                print(f"hostile: cannot create a network namespace ({probe.stderr.strip()}); run as root, or pass --no-netns",
                      flush=True)
                return 2
            command = ["unshare", "--net", "--", sys.executable, __file__, "--inside-netns"]
        forwarded = ["--binary", args.binary, "--out", str(out_dir), "--max-examples", str(args.max_examples),
                     "--flood-max-wait", str(args.flood_max_wait), "--outbound-allow-env", args.outbound_allow_env]
        if args.only:
            forwarded += ["--only", args.only]
        if args.quick:
            forwarded.append("--quick")
        code = subprocess.call(command + forwarded)
        if code != 0:
            rec.fail("crash", "e2e/hostile.py", "the suite in its network namespace", f"exit status {code}", "exit 0")
        summary = merge(out_dir, rec)
    if "postgres" in wanted and args.postgres_url:
        workdir = tempfile.mkdtemp(prefix="tend-hostile-pg-")
        try:
            begun = time.time()
            summary["postgres"] = postgres_part(args, rec, out_dir, workdir)
            summary.setdefault("seconds", {})["postgres"] = round(time.time() - begun, 1)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.time() - started
    write_results(out_dir, rec, summary, elapsed)
    counts = {}
    for finding in rec.findings:
        counts[finding["kind"]] = counts.get(finding["kind"], 0) + 1
    print(f"\nhostile: findings by kind: {json.dumps(counts)}; {elapsed:.0f} s; details in {out_dir}/report.md")
    print(f"hostile: {rec.checked - len(rec.findings)} passed, {len(rec.findings)} failed")
    return 0 if not rec.findings else 1


if __name__ == "__main__":
    sys.exit(main())
